"""Starlette app of the chaos provider: routes, request validation, fault resolution, playback, log."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Optional

import anyio
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from otel_streamslo.chaos import anthropic_sse, openai_sse
from otel_streamslo.chaos.faults import Fault, FaultError, FaultPicker, parse_fault, split_model
from otel_streamslo.chaos.plan import (
    Frame,
    Pause,
    Plan,
    Reset,
    Step,
    expected_outcome,
    input_tokens_for,
    json_bytes,
)

__all__ = [
    "ChaosReset",
    "ChaosSettings",
    "ChaosState",
    "build_app",
    "install_log_filter",
]

logger = logging.getLogger("otel_streamslo.chaos")

_MAX_TOKENS = 1_000_000
_MAX_SECONDS = 3600.0


# --- settings, log and shared state ------------------------------------------------------------


@dataclass(frozen=True)
class ChaosSettings:
    """Server-wide defaults; per-request ``x-chaos-*`` headers override them."""

    tokens: int = 16
    chunk_delay: float = 0.0
    ttft_seconds: float = 2.5
    stall_seconds: float = 30.0
    fault_rate: float = 0.0
    mix: Optional[Mapping[str, float]] = None
    seed: Optional[int] = None
    picker_stall_seconds: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.tokens <= _MAX_TOKENS:
            raise ValueError(f"tokens must be in [0, {_MAX_TOKENS}], got {self.tokens}")
        for name in ("chunk_delay", "ttft_seconds", "stall_seconds", "picker_stall_seconds"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= _MAX_SECONDS):
                raise ValueError(f"{name} must be in [0, {_MAX_SECONDS:g}] seconds, got {value}")


@dataclass
class LogEntry:
    """One served request as the server knows it."""

    id: str
    endpoint: str
    model: Optional[str] = None
    stream: Optional[bool] = None
    fault: Optional[str] = None
    fault_source: Optional[str] = None
    tokens_sent: int = 0
    status: Optional[int] = None
    outcome: str = "in_progress"
    error: Optional[str] = None
    started: float = field(default_factory=time.time)
    duration: Optional[float] = None


class ChaosState:
    """Shared, thread-safe state: settings, fault picker, request log and live streams."""

    def __init__(self, settings: Optional[ChaosSettings] = None) -> None:
        self.settings = settings or ChaosSettings()
        s = self.settings
        self.picker = FaultPicker(s.fault_rate, s.mix, s.seed, stall_seconds=s.picker_stall_seconds)
        self.stopping = False
        self._lock = threading.Lock()
        self._entries: list[LogEntry] = []
        self._serial = 0
        self._scopes: set[anyio.CancelScope] = set()

    def open_entry(self, endpoint: str) -> tuple[int, LogEntry]:
        """Allocate the next serial and log a new in-progress entry for it."""
        with self._lock:
            self._serial += 1
            entry = LogEntry(id=f"req_chaos{self._serial:06d}", endpoint=endpoint)
            self._entries.append(entry)
            return self._serial, entry

    def update(self, entry: LogEntry, **fields: Any) -> None:
        """Set fields of an entry under the lock."""
        with self._lock:
            for name, value in fields.items():
                setattr(entry, name, value)

    def add_tokens(self, entry: LogEntry, tokens: int) -> None:
        """Count delivered content tokens."""
        if tokens:
            with self._lock:
                entry.tokens_sent += tokens

    def settle(self, entry: LogEntry, outcome: str, status: Optional[int] = None) -> None:
        """Record the final outcome of a request (first terminal outcome wins)."""
        with self._lock:
            if entry.outcome != "in_progress":
                return
            entry.outcome = outcome
            if status is not None:
                entry.status = status
            entry.duration = time.time() - entry.started
        logger.info(
            "%s %s model=%s fault=%s status=%s outcome=%s tokens=%d",
            entry.id,
            entry.endpoint,
            entry.model,
            entry.fault,
            entry.status,
            entry.outcome,
            entry.tokens_sent,
        )

    def snapshot(self) -> list[dict[str, Any]]:
        """Copy of the request log as plain dicts."""
        with self._lock:
            return [asdict(entry) for entry in self._entries]

    def reset_log(self) -> None:
        """Forget logged requests (serials keep increasing)."""
        with self._lock:
            self._entries.clear()

    def busy(self) -> bool:
        """Whether some logged request is still in progress."""
        with self._lock:
            return any(entry.outcome == "in_progress" for entry in self._entries)

    def track(self, scope: anyio.CancelScope) -> None:
        """Register a live stream so that :meth:`cancel_all` can end it (event-loop thread)."""
        self._scopes.add(scope)

    def untrack(self, scope: anyio.CancelScope) -> None:
        """Forget a live stream (event-loop thread)."""
        self._scopes.discard(scope)

    def cancel_all(self) -> None:
        """Stop accepting work and end every live stream now (call in the event-loop thread)."""
        self.stopping = True
        for scope in list(self._scopes):
            scope.cancel()


# --- intentional connection drops --------------------------------------------------------------


class ChaosReset(Exception):
    """Raised after a response started to make uvicorn drop the connection mid-body."""


def _is_chaos_reset(exc: object) -> bool:
    if isinstance(exc, ChaosReset):
        return True
    inner = getattr(exc, "exceptions", None)  # an ExceptionGroup wrapping only ChaosReset
    return isinstance(exc, BaseException) and isinstance(inner, tuple) and all(map(_is_chaos_reset, inner))


class ChaosResetFilter(logging.Filter):
    """Drops uvicorn's "Exception in ASGI application" records caused by :class:`ChaosReset`."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc_info = record.exc_info
        return not (exc_info and _is_chaos_reset(exc_info[1]))


def install_log_filter() -> None:
    """Attach :class:`ChaosResetFilter` to uvicorn's error logger (idempotent)."""
    target = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ChaosResetFilter) for f in target.filters):
        target.addFilter(ChaosResetFilter())


# --- playback ----------------------------------------------------------------------------------


class PlayResponse(Response):
    """Plays a list of steps: flushes frames, sleeps pauses, drops the connection on reset.

    Watches for client disconnects and server stop while playing, so a stall never
    outlives its client nor the server.
    """

    def __init__(
        self,
        steps: Iterable[Step],
        *,
        state: ChaosState,
        entry: LogEntry,
        outcome: str,
        headers: Mapping[str, str],
        media_type: str,
    ) -> None:
        self.steps = steps
        self.state = state
        self.entry = entry
        self.outcome = outcome
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.client_gone = False
        finished, reached_reset = await self._play_watched(receive, send)
        if finished:
            if reached_reset:
                raise ChaosReset("scripted connection reset")
            return
        stopped = self.state.stopping
        self.state.settle(self.entry, "server_stopped" if stopped else "client_disconnected")
        if stopped and not self.client_gone:
            raise ChaosReset("server stopping")

    async def _play_watched(self, receive: Receive, send: Send) -> tuple[bool, bool]:
        """Play while watching for a disconnect or a stop; return (finished, reached_reset)."""
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                self.client_gone = True
                group.cancel_scope.cancel()

            group.start_soon(watch)
            self.state.track(group.cancel_scope)
            try:
                if not self.state.stopping:
                    return True, await self._play(send)
            finally:
                self.state.untrack(group.cancel_scope)
                group.cancel_scope.cancel()
        return False, False

    async def _play(self, send: Send) -> bool:
        """Send the steps; return True when a :class:`Reset` step ends the response.

        The outcome is settled just before the last step, so the log already shows it when
        the client sees the end of the stream.
        """
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        self.state.update(self.entry, status=self.status_code)
        steps = iter(self.steps)
        step = next(steps, None)
        while step is not None:
            following = next(steps, None)
            if isinstance(step, Frame):
                self.state.add_tokens(self.entry, step.tokens)
            if following is None:
                self.state.settle(self.entry, self.outcome, self.status_code)
            if isinstance(step, Reset):
                return True
            if isinstance(step, Pause):
                await anyio.sleep(step.seconds)
            else:
                await send({"type": "http.response.body", "body": step.data, "more_body": True})
            step = following
        self.state.settle(self.entry, self.outcome, self.status_code)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return False


# --- request parsing ---------------------------------------------------------------------------


class BadRequest(Exception):
    """A request the provider rejects with a 4xx and a provider-shaped error."""

    def __init__(self, message: str, param: Optional[str] = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status


async def _read_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("The request body is empty; expected a JSON object.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def _require_model(body: Mapping[str, Any]) -> str:
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("'model' is required and must be a non-empty string.", "model")
    return model.strip()


def _optional_bool(body: Mapping[str, Any], name: str) -> bool:
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"'{name}' must be a boolean, got {type(value).__name__}.", name)
    return value


def _optional_positive_int(body: Mapping[str, Any], name: str) -> Optional[int]:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"'{name}' must be an integer >= 1, got {value!r}.", name)
    return value


def _message_list(body: Mapping[str, Any], name: str = "messages") -> list[Any]:
    value = body.get(name)
    if value is None:
        raise BadRequest(f"'{name}' is required.", name)
    if not isinstance(value, list) or not value:
        raise BadRequest(f"'{name}' must be a non-empty array.", name)
    if not all(isinstance(item, dict) for item in value):
        raise BadRequest(f"Every item of '{name}' must be an object.", name)
    return value


def _chat_prompt(body: Mapping[str, Any]) -> Any:
    messages = _message_list(body)
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest("'stream_options' must be an object.", "stream_options")
    return messages


def _responses_prompt(body: Mapping[str, Any]) -> Any:
    value = body.get("input")
    if value is None:
        raise BadRequest("'input' is required.", "input")
    if isinstance(value, str):
        if not value:
            raise BadRequest("'input' must not be empty.", "input")
    elif not isinstance(value, list) or not value:
        raise BadRequest("'input' must be a string or a non-empty array.", "input")
    instructions = body.get("instructions")
    if instructions is not None and not isinstance(instructions, str):
        raise BadRequest("'instructions' must be a string.", "instructions")
    return [instructions, value]


def _anthropic_prompt(body: Mapping[str, Any]) -> Any:
    messages = _message_list(body)
    system = body.get("system")
    if system is not None and not isinstance(system, (str, list)):
        raise BadRequest("'system' must be a string or an array of text blocks.", "system")
    return [system, messages]


def _header_number(request: Request, name: str, *, integer: bool = False) -> Optional[float]:
    """A numeric ``x-chaos-*`` header, or None when absent."""
    text = request.headers.get(name)
    if text is None or not text.strip():
        return None
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        kind = "an integer" if integer else "a number"
        raise BadRequest(f"Header '{name}' must be {kind}, got {text!r}.", name) from None
    limit = _MAX_TOKENS if integer else _MAX_SECONDS
    if not (math.isfinite(value) and 0 <= value <= limit):
        raise BadRequest(f"Header '{name}' must be in [0, {limit:g}], got {text!r}.", name)
    return value


def _pick(value: Optional[float], *defaults: Optional[float]) -> float:
    """The first value that is not None."""
    for candidate in (value, *defaults):
        if candidate is not None:
            return candidate
    raise ValueError("no value")


# --- dialects ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """What differs between the three endpoints."""

    endpoint: str
    provider: str
    prompt: Callable[[Mapping[str, Any]], Any]
    max_fields: tuple[str, ...]
    stream: Callable[[Plan], Iterator[Step]]
    body: Callable[[Plan], tuple[dict[str, Any], int]]

    def error(
        self, status: int, message: Optional[str] = None, param: Optional[str] = None
    ) -> dict[str, Any]:
        """Provider-shaped error body."""
        if self.provider == "anthropic":
            return anthropic_sse.error_body(status, message)
        return openai_sse.error_body(status, message, param=param)

    def error_frame_status(self) -> int:
        """Status a non-streamed request gets for ``error_frame`` (there is no stream to break)."""
        return 529 if self.provider == "anthropic" else 500


CHAT = Dialect(
    "chat.completions",
    "openai",
    _chat_prompt,
    ("max_tokens", "max_completion_tokens"),
    openai_sse.chat_stream,
    openai_sse.chat_completion_body,
)
RESPONSES = Dialect(
    "responses",
    "openai",
    _responses_prompt,
    ("max_output_tokens",),
    openai_sse.responses_stream,
    openai_sse.response_body,
)
MESSAGES = Dialect(
    "messages",
    "anthropic",
    _anthropic_prompt,
    ("max_tokens",),
    anthropic_sse.messages_stream,
    anthropic_sse.message_body,
)


# --- request handling --------------------------------------------------------------------------


@dataclass(frozen=True)
class Parsed:
    """A validated request."""

    model: str
    stream: bool
    fault: Fault
    fault_source: str
    plan: Plan


def _resolve_fault(request: Request, model: str, state: ChaosState) -> tuple[str, Fault, str]:
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


def _parse(
    request: Request, body: Mapping[str, Any], dialect: Dialect, state: ChaosState, serial: int
) -> Parsed:
    """Validate body and headers, then resolve the fault (the picker draws only for valid requests)."""
    model = _require_model(body)
    stream = _optional_bool(body, "stream")
    prompt = dialect.prompt(body)
    limits = [v for v in (_optional_positive_int(body, f) for f in dialect.max_fields) if v is not None]
    tokens, delay, ttft, stall = (
        _header_number(request, f"x-chaos-{name}", integer=name == "tokens")
        for name in ("tokens", "chunk-delay", "ttft-seconds", "stall-seconds")
    )
    base, fault, source = _resolve_fault(request, model, state)
    s = state.settings
    options = body.get("stream_options")
    plan = Plan(
        fault=fault,
        model=base,
        tokens=int(min([_pick(tokens, s.tokens), *limits])),
        serial=serial,
        created=int(time.time()),
        input_tokens=input_tokens_for(prompt),
        chunk_delay=_pick(delay, s.chunk_delay),
        ttft_seconds=_pick(ttft, s.ttft_seconds),
        stall_seconds=_pick(stall, fault.seconds, s.stall_seconds),
        include_usage=isinstance(options, dict) and options.get("include_usage") is True,
    )
    return Parsed(base, stream, fault, source, plan)


def _headers(dialect: Dialect, request_id: str, fault: str) -> dict[str, str]:
    headers = {"x-request-id": request_id, "x-chaos-fault": fault}
    if dialect.provider == "anthropic":
        headers["request-id"] = request_id
    return headers


def _error_response(
    dialect: Dialect,
    status: int,
    headers: dict[str, str],
    message: Optional[str] = None,
    param: Optional[str] = None,
) -> JSONResponse:
    if status in {429, 503, 529}:
        headers = {**headers, "retry-after": "0"}
    return JSONResponse(dialect.error(status, message, param), status_code=status, headers=headers)


def _unary_steps(parsed: Parsed, dialect: Dialect) -> tuple[list[Step], str, int]:
    """Steps of a non-streamed response, its outcome and its content length."""
    plan, name = parsed.plan, parsed.fault.name
    body, sent = dialect.body(plan)
    data = json_bytes(body)
    steps: list[Step] = []
    if name == "stall":
        steps.append(Pause(plan.stall_seconds, "stall"))
    elif name == "slow_ttft":
        steps.append(Pause(plan.ttft_seconds, "ttft"))
    if name in {"reset", "tool_calls_reset"}:
        return [*steps, Frame(data[: len(data) // 2]), Reset()], "reset", len(data)
    outcome = name if name in {"length", "content_filter"} else "completed"
    return [*steps, Frame(data, sent)], outcome, len(data)


def _respond(parsed: Parsed, dialect: Dialect, state: ChaosState, entry: LogEntry) -> Response:
    fault = parsed.fault
    resolved = fault.resolved(parsed.plan.tokens)
    headers = _headers(dialect, entry.id, resolved)
    state.update(
        entry,
        model=parsed.model,
        stream=parsed.stream,
        fault=resolved,
        fault_source=parsed.fault_source,
    )
    status = fault.http_status
    if status is None and fault.name == "error_frame" and not parsed.stream:
        status = dialect.error_frame_status()
    if status is not None:
        state.settle(entry, "http_error", status)
        return _error_response(dialect, status, headers)
    if parsed.stream:
        headers["cache-control"] = "no-cache"
        stream = dialect.stream(parsed.plan)
        outcome = expected_outcome(fault)
        return PlayResponse(
            stream, state=state, entry=entry, outcome=outcome, headers=headers, media_type="text/event-stream"
        )
    steps, outcome, length = _unary_steps(parsed, dialect)
    headers["content-length"] = str(length)
    return PlayResponse(
        steps, state=state, entry=entry, outcome=outcome, headers=headers, media_type="application/json"
    )


async def _handle(request: Request, dialect: Dialect) -> Response:
    state: ChaosState = request.app.state.chaos
    serial, entry = state.open_entry(dialect.endpoint)
    try:
        body = await _read_body(request)
        parsed = _parse(request, body, dialect, state, serial)
    except ClientDisconnect:
        state.settle(entry, "client_disconnected")
        return Response(status_code=499)
    except BadRequest as exc:
        state.update(entry, error=exc.message)
        state.settle(entry, "rejected", exc.status)
        return _error_response(dialect, exc.status, {"x-request-id": entry.id}, exc.message, exc.param)
    return _respond(parsed, dialect, state, entry)


async def chat_completions(request: Request) -> Response:
    """``POST /v1/chat/completions``."""
    return await _handle(request, CHAT)


async def responses(request: Request) -> Response:
    """``POST /v1/responses``."""
    return await _handle(request, RESPONSES)


async def messages(request: Request) -> Response:
    """``POST /v1/messages`` (also ``?beta=true``)."""
    return await _handle(request, MESSAGES)


async def healthz(request: Request) -> Response:
    """``GET /healthz``."""
    return JSONResponse({"status": "ok"})


async def chaos_log(request: Request) -> Response:
    """``GET /_chaos/log`` lists served requests; ``DELETE`` clears the list."""
    state: ChaosState = request.app.state.chaos
    if request.method == "DELETE":
        state.reset_log()
        return Response(status_code=204)
    return JSONResponse(state.snapshot())


async def _http_error(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    detail = exc.detail if isinstance(exc, HTTPException) else "Internal server error"
    message = f"{detail}: {request.method} {request.url.path}"
    if request.url.path.startswith("/v1/messages"):
        kind = "not_found_error" if status == 404 else "invalid_request_error"
        return JSONResponse(anthropic_sse.error_body(status, message, type_=kind), status)
    return JSONResponse(openai_sse.error_body(status, message, type_="invalid_request_error"), status)


def build_app(settings: Optional[ChaosSettings] = None, state: Optional[ChaosState] = None) -> Starlette:
    """The chaos provider ASGI app; its :class:`ChaosState` is ``app.state.chaos``."""
    routes = [
        Route("/v1/chat/completions", chat_completions, methods=["POST"]),
        Route("/v1/responses", responses, methods=["POST"]),
        Route("/v1/messages", messages, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/_chaos/log", chaos_log, methods=["GET", "DELETE"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _http_error, 405: _http_error})
    app.state.chaos = state or ChaosState(settings)
    return app
