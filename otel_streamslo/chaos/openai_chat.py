"""OpenAI Chat Completions: ``POST /v1/chat/completions``, its chunks and its non-streamed body."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any, Optional

from otel_streamslo.chaos.dialect import Dialect
from otel_streamslo.chaos.fields import BadRequest, field_limits, message_list
from otel_streamslo.chaos.openai_errors import ERROR_MESSAGE, error_reply
from otel_streamslo.chaos.plan import Frame, content_tokens, full_text, sse, text_finish
from otel_streamslo.chaos.respond import post_route
from otel_streamslo.chaos.toolcalls import ToolWire, argument_tokens, scripted_calls, uses_tools, wire_stream

if TYPE_CHECKING:
    from otel_streamslo.chaos.plan import Finish, Step, StreamPlan, ToolCall

__all__ = ["CHAT", "ROUTES", "ChatWire", "chat_completion_body", "chat_stream"]


def _chat_prompt(body: Mapping[str, Any]) -> Any:
    """The ``messages``; ``stream_options`` must be an object when present."""
    messages = message_list(body)
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise BadRequest("'stream_options' must be an object.", "stream_options")
    return messages


def _chat_usage(plan: StreamPlan, sent: int) -> dict[str, Any]:
    return {
        "prompt_tokens": plan.input_tokens,
        "completion_tokens": sent,
        "total_tokens": plan.input_tokens + sent,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


class ChatWire(ToolWire):
    """Chat Completions chunks (``data:`` lines only, ``[DONE]`` at the end)."""

    def __init__(self, plan: StreamPlan) -> None:
        self.plan = plan

    def _base(self) -> dict[str, Any]:
        plan = self.plan
        chunk: dict[str, Any] = {
            "id": f"chatcmpl-{plan.sid}",
            "object": "chat.completion.chunk",
            "created": plan.created,
            "model": plan.model,
            "system_fingerprint": "fp_chaos",
        }
        if plan.include_usage:
            chunk["usage"] = None
        return chunk

    def chunk(self, delta: dict[str, Any], finish: Optional[str] = None, tokens: int = 0) -> Frame:
        """One ``chat.completion.chunk`` with a single choice."""
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return Frame(sse({**self._base(), "choices": [choice]}), tokens)

    def prelude(self) -> list[Frame]:
        return [self.chunk({"role": "assistant", "content": "", "refusal": None})]

    def token(self, index: int, text: str) -> Frame:
        return self.chunk({"content": text}, tokens=1)

    def finish(self, finish: Finish, sent: int) -> list[Frame]:
        frames = [self.chunk({}, finish)]
        if self.plan.include_usage:
            usage = {**self._base(), "choices": [], "usage": _chat_usage(self.plan, sent)}
            frames.append(Frame(sse(usage)))
        frames.append(Frame(sse("[DONE]")))
        return frames

    def error(self) -> Frame:
        return Frame(
            sse({"error": {"message": ERROR_MESSAGE, "type": "server_error", "code": "server_error"}})
        )

    def malformed(self) -> Frame:
        return Frame(
            f'data: {{"id":"chatcmpl-{self.plan.sid}","choices":[{{"delta":{{"content":"tok\n\n'.encode()
        )

    def unknown(self) -> Frame:
        choice = {"index": 0, "delta": {}, "logprobs": None, "finish_reason": None}
        extra = {"chaos_unknown_field": {"kind": "mystery", "note": "not in the OpenAI schema"}}
        return Frame(sse({**self._base(), "choices": [choice], **extra}))

    def missing(self) -> Frame:
        return Frame(sse(self._base()))

    def call_start(self, index: int, call: ToolCall) -> list[Frame]:
        head = {"index": index, "id": f"call_{self.plan.sid}_{index}", "type": "function"}
        return [self.chunk({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})]

    def call_delta(self, index: int, fragment: str) -> Frame:
        return self.chunk({"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}, tokens=1)


def chat_stream(plan: StreamPlan) -> Iterator[Step]:
    """Steps of a streamed chat completion under the plan's fault."""
    return wire_stream(plan, ChatWire(plan))


def chat_completion_body(plan: StreamPlan) -> tuple[dict[str, Any], int]:
    """Non-streamed ``chat.completion`` body for the plan, and its output tokens."""
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
    if uses_tools(plan):
        calls = scripted_calls(plan)
        message["tool_calls"] = [
            {
                "id": f"call_{plan.sid}_{i}",
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for i, c in enumerate(calls)
        ]
        sent = argument_tokens(calls)
        finish: str = "tool_calls"
    else:
        sent = content_tokens(plan)
        message["content"] = full_text(plan, sent)
        finish = text_finish(plan)
    body = {
        "id": f"chatcmpl-{plan.sid}",
        "object": "chat.completion",
        "created": plan.created,
        "model": plan.model,
        "system_fingerprint": "fp_chaos",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
        "usage": _chat_usage(plan, sent),
        "service_tier": "default",
    }
    return body, sent


CHAT = Dialect(
    endpoint="chat.completions",
    prompt=_chat_prompt,
    limits=field_limits("max_tokens", "max_completion_tokens"),
    stream=chat_stream,
    body=chat_completion_body,
    error=error_reply,
)


ROUTES = [post_route("/v1/chat/completions", CHAT)]
