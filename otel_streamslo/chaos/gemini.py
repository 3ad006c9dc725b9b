"""Gemini API (google-genai): ``:streamGenerateContent?alt=sse`` and ``:generateContent``.

Every streamed chunk is a whole ``GenerateContentResponse``; ``usageMetadata`` carries running
totals; the last chunk has the candidate's ``finishReason`` (Gemini has no end marker).
``content_filter@0`` blocks the prompt (``promptFeedback.blockReason``, no candidates).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any, Optional

from otel_streamslo.chaos.dialect import Dialect
from otel_streamslo.chaos.fields import BadRequest, field_limits, message_list
from otel_streamslo.chaos.plan import (
    TOOL_CALLS,
    Frame,
    Pause,
    Reset,
    TextWire,
    content_tokens,
    full_text,
    sse,
    text_finish,
    text_steps,
)
from otel_streamslo.chaos.respond import post_route
from otel_streamslo.chaos.toolcalls import scripted_calls, uses_tools

if TYPE_CHECKING:
    from otel_streamslo.chaos.plan import Finish, Step, StreamPlan

__all__ = ["ERROR_STATUSES", "GEMINI_GENERATE", "GEMINI_STREAM", "ROUTES", "GeminiWire", "error_body"]

#: HTTP status -> Google RPC status name (error bodies and in-stream error frames).
ERROR_STATUSES: dict[int, str] = {
    400: "INVALID_ARGUMENT",
    404: "NOT_FOUND",
    405: "INVALID_ARGUMENT",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
    529: "UNAVAILABLE",
}

#: ``x-chaos-error-type`` values of the in-stream error frame (default ``INTERNAL``).
_FRAME_ERRORS: dict[str, int] = {
    "INTERNAL": 500,
    "UNAVAILABLE": 503,
    "RESOURCE_EXHAUSTED": 429,
    "DEADLINE_EXCEEDED": 504,
    "INVALID_ARGUMENT": 400,
}

_FINISH: dict[str, str] = {
    "stop": "STOP",
    "length": "MAX_TOKENS",
    "content_filter": "SAFETY",
    "tool_calls": "STOP",
}

_SAFETY = [{"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]


def error_body(status: int, message: Optional[str] = None, param: Optional[str] = None) -> dict[str, Any]:
    """Google-shaped error ``{"error": {"code", "message", "status"}}`` (``error`` key first)."""
    text = message or f"chaos: injected error ({status})."
    return {"error": {"code": status, "message": text, "status": ERROR_STATUSES.get(status, "UNKNOWN")}}


def _usage(plan: StreamPlan, sent: int) -> dict[str, Any]:
    return {
        "promptTokenCount": plan.input_tokens,
        "candidatesTokenCount": sent,
        "totalTokenCount": plan.input_tokens + sent,
    }


def _response(plan: StreamPlan, sent: int, **fields: Any) -> dict[str, Any]:
    """A ``GenerateContentResponse`` with running usage."""
    return {
        **fields,
        "usageMetadata": _usage(plan, sent),
        "modelVersion": plan.model,
        "responseId": plan.sid,
    }


def _candidate(parts: list[dict[str, Any]], finish: Optional[str] = None) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"parts": parts, "role": "model"}, "index": 0}
    if finish is not None:
        candidate["finishReason"] = finish
        if finish == "SAFETY":
            candidate["safetyRatings"] = _SAFETY
    return candidate


def _blocked(plan: StreamPlan) -> dict[str, Any]:
    """The prompt was blocked: no candidates, ``promptFeedback.blockReason``."""
    return _response(plan, 0, promptFeedback={"blockReason": "SAFETY", "safetyRatings": _SAFETY})


class GeminiWire(TextWire):
    """``data:`` lines, each a ``GenerateContentResponse``; no event names, no end marker."""

    def __init__(self, plan: StreamPlan) -> None:
        self.plan = plan
        self.sent = 0

    def chunk(self, parts: list[dict[str, Any]], finish: Optional[str] = None, tokens: int = 0) -> Frame:
        """One chunk with one candidate; ``tokens`` adds to the running usage."""
        self.sent += tokens
        payload = _response(self.plan, self.sent, candidates=[_candidate(parts, finish)])
        return Frame(sse(payload), tokens)

    def prelude(self) -> list[Frame]:
        return []

    def token(self, index: int, text: str) -> Frame:
        return self.chunk([{"text": text}], tokens=1)

    def finish(self, finish: Finish, sent: int) -> list[Frame]:
        if finish == "content_filter" and sent == 0:
            return [Frame(sse(_blocked(self.plan)))]
        return [self.chunk([{"text": ""}], _FINISH[finish])]

    def error(self) -> Frame:
        status = self.plan.error_type or "INTERNAL"
        code = _FRAME_ERRORS[status]
        body = {"error": {"code": code, "message": "chaos: injected in-stream error.", "status": status}}
        return Frame(sse(body))

    def malformed(self) -> Frame:
        return Frame(b'data: {"candidates":[{"content":{"parts":[{"text":"tok\n\n')

    def unknown(self) -> Frame:
        payload = _response(self.plan, self.sent, candidates=[_candidate([{"text": ""}])])
        return Frame(sse({**payload, "chaosUnknownField": {"kind": "mystery"}}))

    def missing(self) -> Frame:
        return Frame(sse(_response(self.plan, self.sent)))


def _call_part(index: int) -> dict[str, Any]:
    call = TOOL_CALLS[index]
    return {"functionCall": {"name": call.name, "args": json.loads(call.arguments)}}


def gemini_stream(plan: StreamPlan) -> Iterator[Step]:
    """Steps of a streamed ``generateContent`` under the plan's fault."""
    return _tool_steps(plan) if uses_tools(plan) else text_steps(plan, GeminiWire(plan))


def _tool_steps(plan: StreamPlan) -> Iterator[Step]:
    """Gemini streams each function call whole; ``tool_calls_reset`` drops before the second."""
    wire = GeminiWire(plan)
    yield wire.chunk([_call_part(0)], tokens=1)
    if plan.fault.name == "tool_calls_reset":
        if plan.chunk_delay > 0:
            yield Pause(plan.chunk_delay)
        yield Reset()
        return
    yield wire.chunk([{"text": ""}], "STOP")


def gemini_body(plan: StreamPlan) -> tuple[dict[str, Any], int]:
    """Non-streamed ``GenerateContentResponse`` for the plan, and its output tokens."""
    if uses_tools(plan):
        count = len(scripted_calls(plan))
        parts = [_call_part(i) for i in range(count)]
        return _response(plan, count, candidates=[_candidate(parts, "STOP")]), count
    sent = content_tokens(plan)
    finish = text_finish(plan)
    if finish == "content_filter" and sent == 0:
        return _blocked(plan), 0
    candidate = _candidate([{"text": full_text(plan, sent)}], _FINISH[finish])
    return _response(plan, sent, candidates=[candidate]), sent


def _prompt(body: Mapping[str, Any]) -> Any:
    """``contents`` (non-empty array of objects) and optional ``systemInstruction``."""
    contents = message_list(body, "contents")
    system = body.get("systemInstruction")
    if system is not None and not isinstance(system, (dict, str)):
        raise BadRequest("'systemInstruction' must be a Content object.", "systemInstruction")
    return [system, contents]


GEMINI_STREAM = Dialect(
    endpoint="gemini.stream_generate_content",
    prompt=_prompt,
    limits=field_limits("generationConfig.maxOutputTokens"),
    stream=gemini_stream,
    body=gemini_body,
    error=error_body,
    model_param="model",
    streamed=True,
    error_types=tuple(_FRAME_ERRORS),
)
GEMINI_GENERATE = replace(GEMINI_STREAM, endpoint="gemini.generate_content", streamed=False)


ROUTES = [
    post_route(f"/{version}/models/{{model}}:{action}", dialect)
    for version in ("v1beta", "v1")
    for action, dialect in (("streamGenerateContent", GEMINI_STREAM), ("generateContent", GEMINI_GENERATE))
]
