"""OpenAI Responses API: ``POST /v1/responses``, its events and its non-streamed ``response``."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Optional

from otel_streamslo.chaos.dialect import Dialect
from otel_streamslo.chaos.fields import BadRequest, field_limits
from otel_streamslo.chaos.openai_errors import ERROR_MESSAGE, error_reply
from otel_streamslo.chaos.plan import TOOL_CALLS, Frame, content_tokens, full_text, sse, text_finish
from otel_streamslo.chaos.respond import post_route
from otel_streamslo.chaos.toolcalls import ToolWire, argument_tokens, scripted_calls, uses_tools, wire_stream

if TYPE_CHECKING:
    from otel_streamslo.chaos.plan import Finish, Step, StreamPlan, ToolCall

__all__ = ["RESPONSES", "ROUTES", "ResponsesWire", "response_body", "responses_stream"]


def _responses_prompt(body: Mapping[str, Any]) -> Any:
    """``input`` (string or array) and optional ``instructions``."""
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


def _responses_usage(plan: StreamPlan, sent: int) -> dict[str, Any]:
    return {
        "input_tokens": plan.input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": sent,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": plan.input_tokens + sent,
    }


def response_object(
    plan: StreamPlan,
    status: str,
    output: list[dict[str, Any]],
    usage: Optional[dict[str, Any]] = None,
    incomplete_reason: Optional[str] = None,
) -> dict[str, Any]:
    """A ``response`` object as the Responses API returns it."""
    done = status in {"completed", "incomplete"}
    return {
        "id": f"resp_{plan.sid}",
        "object": "response",
        "created_at": plan.created,
        "status": status,
        "background": False,
        "completed_at": plan.created if done else None,
        "error": None,
        "incomplete_details": {"reason": incomplete_reason} if incomplete_reason else None,
        "instructions": None,
        "max_output_tokens": None,
        "model": plan.model,
        "output": output,
        "parallel_tool_calls": True,
        "previous_response_id": None,
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": True,
        "temperature": 1.0,
        "text": {"format": {"type": "text"}, "verbosity": "medium"},
        "tool_choice": "auto",
        "tools": [],
        "top_p": 1.0,
        "truncation": "disabled",
        "usage": usage,
        "user": None,
        "metadata": {},
    }


def _text_part(text: str) -> dict[str, Any]:
    return {"type": "output_text", "annotations": [], "logprobs": [], "text": text}


def _message_item(plan: StreamPlan, status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": f"msg_{plan.sid}",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def _function_item(plan: StreamPlan, index: int, status: str, arguments: str) -> dict[str, Any]:
    return {
        "id": f"fc_{plan.sid}_{index}",
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": f"call_{plan.sid}_{index}",
        "name": TOOL_CALLS[index].name,
    }


def _finish_status(finish: Finish) -> tuple[str, Optional[str]]:
    if finish == "length":
        return "incomplete", "max_output_tokens"
    if finish == "content_filter":
        return "incomplete", "content_filter"
    return "completed", None


class ResponsesWire(ToolWire):
    """Responses API events (``event:`` + ``data:`` with increasing ``sequence_number``)."""

    decided_at = 3  # response.completed / response.incomplete

    def __init__(self, plan: StreamPlan) -> None:
        self.plan = plan
        self.seq = 0
        self.text: list[str] = []
        self.items: list[dict[str, Any]] = []

    def event(self, type_: str, tokens: int = 0, **fields: Any) -> Frame:
        """One event frame; takes the next sequence number."""
        payload = {"type": type_, "sequence_number": self.seq, **fields}
        self.seq += 1
        return Frame(sse(payload, event=type_), tokens)

    def _loc(self) -> dict[str, Any]:
        return {"item_id": f"msg_{self.plan.sid}", "output_index": 0, "content_index": 0}

    def opening(self) -> list[Frame]:
        """``response.created`` and ``response.in_progress``."""
        response = response_object(self.plan, "in_progress", [])
        return [
            self.event("response.created", response=response),
            self.event("response.in_progress", response=response),
        ]

    def prelude(self) -> list[Frame]:
        item = _message_item(self.plan, "in_progress", [])
        return [
            *self.opening(),
            self.event("response.output_item.added", output_index=0, item=item),
            self.event("response.content_part.added", **self._loc(), part=_text_part("")),
        ]

    def token(self, index: int, text: str) -> Frame:
        self.text.append(text)
        return self.event("response.output_text.delta", tokens=1, **self._loc(), delta=text, logprobs=[])

    def finish(self, finish: Finish, sent: int) -> list[Frame]:
        status, reason = _finish_status(finish)
        text = "".join(self.text)
        item = _message_item(self.plan, status, [_text_part(text)])
        final = response_object(self.plan, status, [item], _responses_usage(self.plan, sent), reason)
        return [
            self.event("response.output_text.done", **self._loc(), text=text, logprobs=[]),
            self.event("response.content_part.done", **self._loc(), part=_text_part(text)),
            self.event("response.output_item.done", output_index=0, item=item),
            self.event(f"response.{status}", response=final),
        ]

    def error(self) -> Frame:
        return self.event("error", code="server_error", message=ERROR_MESSAGE, param=None)

    def malformed(self) -> Frame:
        return Frame(
            b'event: response.output_text.delta\ndata: {"type":"response.output_text.delta","delta\n\n'
        )

    def unknown(self) -> Frame:
        return self.event("response.chaos_mystery", detail="an event type the SDK does not know")

    def missing(self) -> Frame:
        return self.event("response.output_text.delta", **self._loc())

    def _call_loc(self, index: int) -> dict[str, Any]:
        return {"item_id": f"fc_{self.plan.sid}_{index}", "output_index": index}

    def tools_opening(self) -> list[Frame]:
        return self.opening()

    def call_start(self, index: int, call: ToolCall) -> list[Frame]:
        item = _function_item(self.plan, index, "in_progress", "")
        return [self.event("response.output_item.added", output_index=index, item=item)]

    def call_delta(self, index: int, fragment: str) -> Frame:
        loc = self._call_loc(index)
        return self.event("response.function_call_arguments.delta", tokens=1, **loc, delta=fragment)

    def call_end(self, index: int, call: ToolCall) -> list[Frame]:
        loc = self._call_loc(index)
        item = _function_item(self.plan, index, "completed", call.arguments)
        self.items.append(item)
        return [
            self.event("response.function_call_arguments.done", **loc, arguments=call.arguments),
            self.event("response.output_item.done", output_index=index, item=item),
        ]

    def tools_closing(self, sent: int) -> list[Frame]:
        final = response_object(self.plan, "completed", self.items, _responses_usage(self.plan, sent))
        return [self.event("response.completed", response=final)]


def responses_stream(plan: StreamPlan) -> Iterator[Step]:
    """Steps of a streamed Responses API call under the plan's fault."""
    return wire_stream(plan, ResponsesWire(plan))


def response_body(plan: StreamPlan) -> tuple[dict[str, Any], int]:
    """Non-streamed ``response`` object for the plan, and its output tokens."""
    if uses_tools(plan):
        calls = scripted_calls(plan)
        output = [_function_item(plan, i, "completed", c.arguments) for i, c in enumerate(calls)]
        sent = argument_tokens(calls)
        return response_object(plan, "completed", output, _responses_usage(plan, sent)), sent
    sent = content_tokens(plan)
    status, reason = _finish_status(text_finish(plan))
    item = _message_item(plan, status, [_text_part(full_text(plan, sent))])
    return response_object(plan, status, [item], _responses_usage(plan, sent), reason), sent


RESPONSES = Dialect(
    endpoint="responses",
    prompt=_responses_prompt,
    limits=field_limits("max_output_tokens"),
    stream=responses_stream,
    body=response_body,
    error=error_reply,
)


ROUTES = [post_route("/v1/responses", RESPONSES)]
