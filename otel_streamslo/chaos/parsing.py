"""Request parsing: model, stream flag, ``x-chaos-*`` headers and the fault, into a :class:`StreamPlan`."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from starlette.requests import Request

from otel_streamslo.chaos.dialect import Dialect
from otel_streamslo.chaos.faults import Fault, FaultError, parse_fault, split_model
from otel_streamslo.chaos.fields import BadRequest, optional_bool, require_model
from otel_streamslo.chaos.plan import StreamPlan, input_tokens_for
from otel_streamslo.chaos.state import MAX_SECONDS, MAX_TOKENS, ChaosState

__all__ = ["ParsedRequest", "first_set", "header_number", "parse_request", "resolve_fault"]


def header_number(request: Request, name: str, *, integer: bool = False) -> Optional[float]:
    """A numeric ``x-chaos-*`` header, or None when absent."""
    text = request.headers.get(name)
    if text is None or not text.strip():
        return None
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise BadRequest(f"Header '{name}' must be {kind}, got {text!r}.", name) from None
    limit = MAX_TOKENS if integer else MAX_SECONDS
    if not (math.isfinite(value) and 0 <= value <= limit):
        raise BadRequest(f"Header '{name}' must be in [0, {limit:g}], got {text!r}.", name)
    return value


def first_set(value: Optional[float], *defaults: Optional[float]) -> float:
    """The first value that is not None."""
    for candidate in (value, *defaults):
        if candidate is not None:
            return candidate
    raise ValueError("no value")


def _model(request: Request, body: Mapping[str, Any], dialect: Dialect) -> str:
    """The model asked for: a path parameter (Gemini, Bedrock) or the body's ``model``."""
    if dialect.model_param is None:
        return require_model(body)
    model = str(request.path_params.get(dialect.model_param, "")).strip()
    if not model:
        raise BadRequest("The model id in the path is empty.", "model")
    return model


def _check_served(model: str, dialect: Dialect) -> None:
    """Reject a model id the dialect does not serve (a bad fault suffix is resolve_fault's to report)."""
    try:
        base, _ = split_model(model)
    except FaultError:
        return
    unserved = dialect.model_error(base)
    if unserved is not None:
        raise BadRequest(unserved, "model")


def _flag(request: Request, name: str) -> bool:
    """A boolean ``x-chaos-*`` header (``1``/``true``/``0``/``false``), False when absent."""
    text = (request.headers.get(name) or "").strip().lower()
    if text in {"", "0", "false"}:
        return False
    if text in {"1", "true"}:
        return True
    raise BadRequest(f"Header '{name}' must be 1, true, 0 or false; got {text!r}.", name)


def _error_type(request: Request, dialect: Dialect) -> Optional[str]:
    """The in-stream error kind of ``x-chaos-error-type``, for dialects that have several."""
    text = request.headers.get("x-chaos-error-type")
    if not dialect.error_types or text is None or not text.strip():
        return None
    if text.strip() not in dialect.error_types:
        known = ", ".join(dialect.error_types)
        message = f"Header 'x-chaos-error-type' must be one of {known}; got {text!r}."
        raise BadRequest(message, "x-chaos-error-type")
    return text.strip()


@dataclass(frozen=True)
class ParsedRequest:
    """A validated request."""

    model: str
    stream: bool
    fault: Fault
    fault_source: str
    plan: StreamPlan


def resolve_fault(request: Request, model: str, state: ChaosState) -> tuple[str, Fault, str]:
    """Base model, fault and its source: header, model suffix, picker, else none."""
    try:
        base, suffix = split_model(model)
        from_model = parse_fault(suffix) if suffix is not None else None
    except FaultError as exc:
        raise BadRequest(str(exc), "model") from None
    header = request.headers.get("x-chaos-fault")
    if header is not None and header.strip():
        try:
            return base, parse_fault(header), "header"
        except FaultError as exc:
            raise BadRequest(f"Header 'x-chaos-fault': {exc}", "x-chaos-fault") from None
    if from_model is not None:
        return base, from_model, "model"
    picked = state.picker.pick()
    if picked is not None:
        return base, picked, "picker"
    return base, Fault("none"), "none"


def parse_request(
    request: Request, body: Mapping[str, Any], dialect: Dialect, state: ChaosState, serial: int
) -> ParsedRequest:
    """Validate body and headers, then resolve the fault (the picker draws only for valid requests)."""
    model = _model(request, body, dialect)
    stream = optional_bool(body, "stream") if dialect.streamed is None else dialect.streamed
    prompt = dialect.prompt(body)
    limits = dialect.limits(body)
    tokens, delay, ttft, stall = (
        header_number(request, f"x-chaos-{name}", integer=name == "tokens")
        for name in ("tokens", "chunk-delay", "ttft-seconds", "stall-seconds")
    )
    error_type = _error_type(request, dialect)
    drop_after_finish = _flag(request, "x-chaos-drop-after-finish")
    _check_served(model, dialect)
    base, fault, source = resolve_fault(request, model, state)
    s = state.settings
    options = body.get("stream_options")
    plan = StreamPlan(
        fault=fault,
        model=base,
        tokens=int(min([first_set(tokens, s.tokens), *limits])),
        serial=serial,
        created=int(time.time()),
        input_tokens=input_tokens_for(prompt),
        chunk_delay=first_set(delay, s.chunk_delay),
        ttft_seconds=first_set(ttft, s.ttft_seconds),
        stall_seconds=first_set(stall, fault.seconds, s.stall_seconds),
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
        error_type=error_type,
        drop_after_finish=drop_after_finish,
    )
    return ParsedRequest(base, stream, fault, source, plan)
