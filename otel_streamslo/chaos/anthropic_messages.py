"""Anthropic Messages: ``POST /v1/messages``, its SSE events and its non-streamed ``message``."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Optional

from otel_streamslo.chaos.dialect import Dialect
from otel_streamslo.chaos.fields import BadRequest, field_limits, message_list
from otel_streamslo.chaos.plan import Frame, content_tokens, full_text, sse, text_finish, token_text
from otel_streamslo.chaos.respond import post_route
from otel_streamslo.chaos.toolcalls import ToolWire, argument_tokens, scripted_calls, uses_tools, wire_stream

if TYPE_CHECKING:
    from otel_streamslo.chaos.plan import Finish, Step, StreamPlan, ToolCall

__all__ = [
    "MESSAGES",
    "ROUTES",
    "MessagesWire",
    "error_body",
    "message_body",
    "messages_prompt",
    "messages_stream",
]

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
    404: ("not_found_error", "Not found"),
    405: ("invalid_request_error", "Method not allowed"),
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


def _usage(plan: StreamPlan, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": plan.input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _message(
    plan: StreamPlan, content: list[dict[str, Any]], stop: Optional[str], output_tokens: int
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


class MessagesWire(ToolWire):
    """Anthropic Messages stream events (``event:`` + ``data:``)."""

    decided_at = 1  # message_delta (stop_reason), before message_stop

    def __init__(self, plan: StreamPlan) -> None:
        self.plan = plan
        self.block = 0
        self.preamble = 0

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

    def tools_opening(self) -> list[Frame]:
        """The prelude, a short text block (``TOOL_PREAMBLE_TOKENS``), its stop."""
        self.preamble = min(self.plan.tokens, TOOL_PREAMBLE_TOKENS)
        tokens = [self.token(index, token_text(index, self.plan)) for index in range(self.preamble)]
        return [*self.prelude(), *tokens, self.stop_block()]

    def call_start(self, index: int, call: ToolCall) -> list[Frame]:
        block = {"type": "tool_use", "id": f"toolu_{self.plan.sid}_{index}", "name": call.name, "input": {}}
        return [self.start_block(block)]

    def call_delta(self, index: int, fragment: str) -> Frame:
        return self.delta({"type": "input_json_delta", "partial_json": fragment})

    def call_end(self, index: int, call: ToolCall) -> list[Frame]:
        return [self.stop_block()]

    def tools_closing(self, sent: int) -> list[Frame]:
        return self.closing("tool_calls", self.preamble + sent)


def messages_stream(plan: StreamPlan) -> Iterator[Step]:
    """Steps of a streamed Anthropic Messages call under the plan's fault."""
    return wire_stream(plan, MessagesWire(plan))


def message_body(plan: StreamPlan) -> tuple[dict[str, Any], int]:
    """Non-streamed ``message`` for the plan, and its output tokens."""
    if uses_tools(plan):
        calls = scripted_calls(plan)
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
        sent = preamble + argument_tokens(calls)
        return _message(plan, content, "tool_use", sent), sent
    sent = content_tokens(plan)
    text_block = {"type": "text", "text": full_text(plan, sent)}
    return _message(plan, [text_block], _STOP_REASONS[text_finish(plan)], sent), sent


def messages_prompt(body: Mapping[str, Any]) -> Any:
    """``messages`` and optional ``system`` (also the Anthropic-on-Bedrock body)."""
    messages = message_list(body)
    system = body.get("system")
    if system is not None and not isinstance(system, (str, list)):
        raise BadRequest("'system' must be a string or an array of text blocks.", "system")
    return [system, messages]


def _error_reply(status: int, message: Optional[str], param: Optional[str]) -> dict[str, Any]:
    return error_body(status, message)


MESSAGES = Dialect(
    endpoint="messages",
    prompt=messages_prompt,
    limits=field_limits("max_tokens"),
    stream=messages_stream,
    body=message_body,
    error=_error_reply,
    error_frame_status=529,
    request_id_headers=("request-id",),
)


ROUTES = [post_route("/v1/messages", MESSAGES)]
