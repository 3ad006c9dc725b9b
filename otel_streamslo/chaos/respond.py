"""Fault application: one request through parsing to an HTTP error, a played stream or a body."""

from __future__ import annotations

from typing import Optional

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from otel_streamslo.chaos.dialect import Dialect
from otel_streamslo.chaos.fields import BadRequest, read_body
from otel_streamslo.chaos.parsing import ParsedRequest, parse_request
from otel_streamslo.chaos.plan import Frame, Pause, Reset, Step, expected_outcome, json_bytes
from otel_streamslo.chaos.playback import PlayResponse
from otel_streamslo.chaos.state import ChaosState, LogEntry

__all__ = ["error_response", "handle", "post_route", "unary_steps"]


def error_response(
    dialect: Dialect,
    status: int,
    headers: dict[str, str],
    message: Optional[str] = None,
    param: Optional[str] = None,
) -> JSONResponse:
    """Provider-shaped error; 429, 503 and 529 carry ``retry-after: 0``."""
    headers = {**headers, **dialect.error_headers(status)}
    if status in {429, 503, 529}:
        headers["retry-after"] = "0"
    return JSONResponse(dialect.error(status, message, param), status_code=status, headers=headers)


def unary_steps(parsed: ParsedRequest, dialect: Dialect) -> tuple[list[Step], str, int]:
    """Steps of a non-streamed response, its outcome and its content length."""
    if dialect.body is None:
        raise RuntimeError(f"{dialect.endpoint} always streams")
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


def _headers(dialect: Dialect, request_id: str, fault: str) -> dict[str, str]:
    headers = {"x-request-id": request_id, "x-chaos-fault": fault}
    headers.update(dict.fromkeys(dialect.request_id_headers, request_id))
    return headers


def _respond(parsed: ParsedRequest, dialect: Dialect, state: ChaosState, entry: LogEntry) -> Response:
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
        status = dialect.error_frame_status
    if status is not None:
        state.settle(entry, "http_error", status)
        return error_response(dialect, status, headers)
    if parsed.stream:
        headers["cache-control"] = "no-cache"
        stream = dialect.stream(parsed.plan)
        outcome = expected_outcome(fault)
        return PlayResponse(
            stream, state=state, entry=entry, outcome=outcome, headers=headers, media_type=dialect.media_type
        )
    steps, outcome, length = unary_steps(parsed, dialect)
    headers["content-length"] = str(length)
    return PlayResponse(
        steps, state=state, entry=entry, outcome=outcome, headers=headers, media_type="application/json"
    )


async def handle(request: Request, dialect: Dialect) -> Response:
    """Serve one request of ``dialect``: validate, resolve the fault, answer (and log it)."""
    state: ChaosState = request.app.state.chaos
    serial, entry = state.open_entry(dialect.endpoint)
    try:
        body = await read_body(request)
        parsed = parse_request(request, body, dialect, state, serial)
    except ClientDisconnect:
        state.settle(entry, "client_disconnected")
        return Response(status_code=499)
    except BadRequest as exc:
        state.update(entry, error=exc.message)
        state.settle(entry, "rejected", exc.status)
        return error_response(dialect, exc.status, {"x-request-id": entry.id}, exc.message, exc.param)
    return _respond(parsed, dialect, state, entry)


def post_route(path: str, dialect: Dialect) -> Route:
    """The ``POST`` route that serves ``dialect`` at ``path``."""

    async def endpoint(request: Request) -> Response:
        return await handle(request, dialect)

    return Route(path, endpoint, methods=["POST"], name=dialect.endpoint)
