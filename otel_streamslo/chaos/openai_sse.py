"""OpenAI wire formats: Chat Completions chunks and Responses API events (pure builders)."""

from __future__ import annotations

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
)

__all__ = [
    "ERROR_MESSAGE",
    "chat_completion_body",
    "chat_stream",
    "error_body",
    "response_body",
    "responses_stream",
]

ERROR_MESSAGE = "The server had an error while processing your request."

_ERRORS: dict[int, tuple[str, str, Optional[str]]] = {
    400: ("chaos: injected bad request (http_400).", "invalid_request_error", "invalid_request"),
    429: ("Rate limit reached for requests (chaos http_429).", "requests", "rate_limit_exceeded"),
    500: (ERROR_MESSAGE, "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    529: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


def error_body(
    status: int,
    message: Optional[str] = None,
    *,
    type_: Optional[str] = None,
    param: Optional[str] = None,
    code: Optional[str] = None,
) -> dict[str, Any]:
    """OpenAI-shaped error body ``{"error": {"message", "type", "param", "code"}}``."""
    default_message, default_type, default_code = _ERRORS.get(status, (ERROR_MESSAGE, "server_error", None))
    return {
        "error": {
            "message": message or default_message,
            "type": type_ or default_type,
            "param": param,
            "code": code if code is not None else default_code,
        }
    }


def _chat_usage(plan: Plan, sent: int) -> dict[str, Any]:
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


class ChatWire(TextWire):
    """Chat Completions chunks (``data:`` lines only, ``[DONE]`` at the end)."""

    def __init__(self, plan: Plan) -> None:
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


def chat_stream(plan: Plan) -> Iterator[Step]:
    """Steps of a streamed chat completion under the plan's fault."""
    if plan.fault.name in {"tool_calls", "tool_calls_reset"}:
        return _chat_tool_steps(plan)
    return text_steps(plan, ChatWire(plan))


def _chat_tool_steps(plan: Plan) -> Iterator[Step]:
    wire = ChatWire(plan)
    yield from wire.prelude()
    resets = plan.fault.name == "tool_calls_reset"
    calls = TOOL_CALLS if resets else TOOL_CALLS[:1]
    sent = 0
    for index, call in enumerate(calls):
        head = {"index": index, "id": f"call_{plan.sid}_{index}", "type": "function"}
        yield wire.chunk({"tool_calls": [{**head, "function": {"name": call.name, "arguments": ""}}]})
        fragments = arg_fragments(call.arguments)
        cut = len(fragments) // 2 if resets and index == len(calls) - 1 else len(fragments)
        for fragment in fragments[:cut]:
            if plan.chunk_delay > 0:
                yield Pause(plan.chunk_delay)
            yield wire.chunk(
                {"tool_calls": [{"index": index, "function": {"arguments": fragment}}]}, tokens=1
            )
            sent += 1
        if cut < len(fragments):
            yield Reset()
            return
    yield from wire.finish("tool_calls", sent)


def chat_completion_body(plan: Plan) -> tuple[dict[str, Any], int]:
    """Non-streamed ``chat.completion`` body for the plan, and its output tokens."""
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None, "annotations": []}
    if plan.fault.name in {"tool_calls", "tool_calls_reset"}:
        calls = TOOL_CALLS if plan.fault.name == "tool_calls_reset" else TOOL_CALLS[:1]
        message["tool_calls"] = [
            {
                "id": f"call_{plan.sid}_{i}",
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments},
            }
            for i, c in enumerate(calls)
        ]
        sent = sum(len(arg_fragments(c.arguments)) for c in calls)
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


# --- Responses API -----------------------------------------------------------------------------


def _responses_usage(plan: Plan, sent: int) -> dict[str, Any]:
    return {
        "input_tokens": plan.input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": sent,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": plan.input_tokens + sent,
    }


def response_object(
    plan: Plan,
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


def _message_item(plan: Plan, status: str, content: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "id": f"msg_{plan.sid}",
        "type": "message",
        "status": status,
        "role": "assistant",
        "content": content,
    }


def _function_item(plan: Plan, index: int, status: str, arguments: str) -> dict[str, Any]:
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


class ResponsesWire(TextWire):
    """Responses API events (``event:`` + ``data:`` with increasing ``sequence_number``)."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.seq = 0
        self.text: list[str] = []

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


def responses_stream(plan: Plan) -> Iterator[Step]:
    """Steps of a streamed Responses API call under the plan's fault."""
    if plan.fault.name in {"tool_calls", "tool_calls_reset"}:
        return _responses_tool_steps(plan)
    return text_steps(plan, ResponsesWire(plan))


def _responses_tool_steps(plan: Plan) -> Iterator[Step]:
    wire = ResponsesWire(plan)
    yield from wire.opening()
    resets = plan.fault.name == "tool_calls_reset"
    calls = TOOL_CALLS if resets else TOOL_CALLS[:1]
    items: list[dict[str, Any]] = []
    for index, call in enumerate(calls):
        loc: dict[str, Any] = {"item_id": f"fc_{plan.sid}_{index}", "output_index": index}
        yield wire.event(
            "response.output_item.added",
            output_index=index,
            item=_function_item(plan, index, "in_progress", ""),
        )
        fragments = arg_fragments(call.arguments)
        cut = len(fragments) // 2 if resets and index == len(calls) - 1 else len(fragments)
        for fragment in fragments[:cut]:
            if plan.chunk_delay > 0:
                yield Pause(plan.chunk_delay)
            yield wire.event("response.function_call_arguments.delta", tokens=1, **loc, delta=fragment)
        if cut < len(fragments):
            yield Reset()
            return
        item = _function_item(plan, index, "completed", call.arguments)
        items.append(item)
        yield wire.event("response.function_call_arguments.done", **loc, arguments=call.arguments)
        yield wire.event("response.output_item.done", output_index=index, item=item)
    sent = sum(len(arg_fragments(c.arguments)) for c in calls)
    final = response_object(plan, "completed", items, _responses_usage(plan, sent))
    yield wire.event("response.completed", response=final)


def response_body(plan: Plan) -> tuple[dict[str, Any], int]:
    """Non-streamed ``response`` object for the plan, and its output tokens."""
    if plan.fault.name in {"tool_calls", "tool_calls_reset"}:
        calls = TOOL_CALLS if plan.fault.name == "tool_calls_reset" else TOOL_CALLS[:1]
        output = [_function_item(plan, i, "completed", c.arguments) for i, c in enumerate(calls)]
        sent = sum(len(arg_fragments(c.arguments)) for c in calls)
        return response_object(plan, "completed", output, _responses_usage(plan, sent)), sent
    sent = content_tokens(plan)
    status, reason = _finish_status(text_finish(plan))
    item = _message_item(plan, status, [_text_part(full_text(plan, sent))])
    return response_object(plan, status, [item], _responses_usage(plan, sent), reason), sent
