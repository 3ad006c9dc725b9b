"""Anthropic Messages wire format: SSE events and the non-streamed Message (pure builders)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any, Optional

from otel_streamslo.chaos.plan import (
    TOOL_CALLS,
    Finish,
    Frame,
    Pause,
    Plan,
    Reset,
    Step,
    TextWire,
    arg_fragments,
    content_tokens,
    full_text,
    sse,
    text_finish,
    text_steps,
    token_text,
)

__all__ = ["error_body", "message_body", "messages_stream"]

_STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "content_filter": "refusal",
    "tool_calls": "tool_use",
}

_ERRORS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "chaos: injected bad request (http_400)."),
    429: ("rate_limit_error", "Number of requests has exceeded your rate limit (chaos http_429)."),
    500: ("api_error", "Internal server error"),
    503: ("api_error", "Service unavailable"),
    529: ("overloaded_error", "Overloaded"),
}

#: Text tokens the ``tool_calls`` faults stream before their tool_use blocks.
TOOL_PREAMBLE_TOKENS = 2


def error_body(
    status: int,
    message: Optional[str] = None,
    *,
    type_: Optional[str] = None,
    request_id: Optional[str] = None,
) -> dict[str, Any]:
    """Anthropic-shaped error body ``{"type": "error", "error": {"type", "message"}}``."""
    default_type, default_message = _ERRORS.get(status, ("api_error", "Internal server error"))
    body: dict[str, Any] = {
        "type": "error",
        "error": {"type": type_ or default_type, "message": message or default_message},
    }
    if request_id:
        body["request_id"] = request_id
    return body


def _usage(plan: Plan, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": plan.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _message(
    plan: Plan, content: list[dict[str, Any]], stop: Optional[str], output_tokens: int
) -> dict[str, Any]:
    return {
        "id": f"msg_{plan.sid}",
        "type": "message",
        "role": "assistant",
        "model": plan.model,
        "content": content,
        "stop_reason": stop,
        "stop_sequence": None,
        "usage": _usage(plan, output_tokens),
    }


class MessagesWire(TextWire):
    """Anthropic Messages stream events (``event:`` + ``data:``)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.block = 0

    @staticmethod
    def event(type_: str, tokens: int = 0, **fields: Any) -> Frame:
        """One event frame whose ``event:`` name equals its data ``type``."""
        return Frame(sse({"type": type_, **fields}, event=type_), tokens)

    def opening(self) -> list[Frame]:
        """``message_start`` (usage: input tokens, output_tokens 1)."""
        return [self.event("message_start", message=_message(self.plan, [], None, 1))]

    def start_block(self, block: dict[str, Any]) -> Frame:
        """``content_block_start`` at the current block index."""
        return self.event("content_block_start", index=self.block, content_block=block)

    def stop_block(self) -> Frame:
        """``content_block_stop`` of the current block; the next block gets the next index."""
        frame = self.event("content_block_stop", index=self.block)
        self.block += 1
        return frame

    def delta(self, delta: dict[str, Any], tokens: int = 1) -> Frame:
        """``content_block_delta`` on the current block."""
        return self.event("content_block_delta", tokens=tokens, index=self.block, delta=delta)

    def prelude(self) -> list[Frame]:
        return [
            *self.opening(),
            self.start_block({"type": "text", "text": ""}),
            self.event("ping"),
        ]

    def token(self, index: int, text: str) -> Frame:
        return self.delta({"type": "text_delta", "text": text})

    def closing(self, finish: Finish, sent: int) -> list[Frame]:
        """``message_delta`` (stop reason, cumulative output tokens) and ``message_stop``."""
        return [
            self.event(
                "message_delta",
                delta={"stop_reason": _STOP_REASONS[finish], "stop_sequence": None},
                usage={"output_tokens": sent},
            ),
            self.event("message_stop"),
        ]

    def finish(self, finish: Finish, sent: int) -> list[Frame]:
        return [self.stop_block(), *self.closing(finish, sent)]

    def error(self) -> Frame:
        return self.event("error", error={"type": "overloaded_error", "message": "Overloaded"})

    def malformed(self) -> Frame:
        return Frame(b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta\n\n')

    def unknown(self) -> Frame:
        return self.event("mystery", detail="an event type the SDK does not know")

    def missing(self) -> Frame:
        return self.event("content_block_delta", index=self.block)


def messages_stream(plan: Plan) -> Iterator[Step]:
    """Steps of a streamed Anthropic Messages call under the plan's fault."""
    if plan.fault.name in {"tool_calls", "tool_calls_reset"}:
        return _tool_steps(plan)
    return text_steps(plan, MessagesWire(plan))


def _tool_steps(plan: Plan) -> Iterator[Step]:
    wire = MessagesWire(plan)
    yield from wire.prelude()
    preamble = min(plan.tokens, TOOL_PREAMBLE_TOKENS)
    sent = 0
    for index in range(preamble):
        yield wire.token(index, token_text(index, plan))
        sent += 1
    yield wire.stop_block()
    resets = plan.fault.name == "tool_calls_reset"
    calls = TOOL_CALLS if resets else TOOL_CALLS[:1]
    for index, call in enumerate(calls):
        block = {"type": "tool_use", "id": f"toolu_{plan.sid}_{index}", "name": call.name, "input": {}}
        yield wire.start_block(block)
        fragments = arg_fragments(call.arguments)
        cut = len(fragments) // 2 if resets and index == len(calls) - 1 else len(fragments)
        for fragment in fragments[:cut]:
            if plan.chunk_delay > 0:
                yield Pause(plan.chunk_delay)
            yield wire.delta({"type": "input_json_delta", "partial_json": fragment})
            sent += 1
        if cut < len(fragments):
            yield Reset()
            return
        yield wire.stop_block()
    yield from wire.closing("tool_calls", sent)


def message_body(plan: Plan) -> tuple[dict[str, Any], int]:
    """Non-streamed ``message`` for the plan, and its output tokens."""
    if plan.fault.name in {"tool_calls", "tool_calls_reset"}:
        calls = TOOL_CALLS if plan.fault.name == "tool_calls_reset" else TOOL_CALLS[:1]
        preamble = min(plan.tokens, TOOL_PREAMBLE_TOKENS)
        content: list[dict[str, Any]] = (
            [{"type": "text", "text": full_text(plan, preamble)}] if preamble else []
        )
        content += [
            {
                "type": "tool_use",
                "id": f"toolu_{plan.sid}_{i}",
                "name": c.name,
                "input": json.loads(c.arguments),
            }
            for i, c in enumerate(calls)
        ]
        sent = preamble + sum(len(arg_fragments(c.arguments)) for c in calls)
        return _message(plan, content, "tool_use", sent), sent
    sent = content_tokens(plan)
    text_block = {"type": "text", "text": full_text(plan, sent)}
    return _message(plan, [text_block], _STOP_REASONS[text_finish(plan)], sent), sent
