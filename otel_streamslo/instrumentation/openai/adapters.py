"""How to read OpenAI stream chunks and errors: maps them to lifecycle observations.

Only this module knows OpenAI's shapes (``ChatCompletionChunk``, Responses API events,
``openai`` exception classes). Everything after it is shared.
"""

from __future__ import annotations

from typing import Any, Optional

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.instrumentation.openai.finish import CHAT_FINISH, RESPONSES_INCOMPLETE


def classify_openai_error(exc: BaseException) -> Event:
    """Exception raised while waiting for the next chunk -> lifecycle event."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return Event.TIMEOUT
    if isinstance(exc, openai.APIConnectionError):
        return Event.TRANSPORT_ERROR
    name = type(exc).__name__
    if "Timeout" in name:
        return Event.TIMEOUT
    if name in ("RemoteProtocolError", "ReadError", "ConnectError", "NetworkError", "StreamClosed"):
        return Event.TRANSPORT_ERROR
    # openai.APIError for an error frame inside the 200 stream, and anything undecodable.
    return Event.ERROR_EVENT


def openai_status_of(exc: BaseException) -> Optional[int]:
    """HTTP status of a request-phase failure (None for connect errors and timeouts)."""
    status = getattr(exc, "status_code", None)
    return status if isinstance(status, int) else None


class ChatAdapter:
    """Reads ``ChatCompletionChunk`` objects."""

    __slots__ = ("_meta", "_tool_index", "_tool_name")
    end_event = Event.END_MARKER  # the SDK hides [DONE]: a clean end of iteration is the marker

    def __init__(self) -> None:
        self._meta = False
        self._tool_index: Optional[int] = None
        self._tool_name: Optional[str] = None

    classify = staticmethod(classify_openai_error)

    def on_chunk(self, rec: StreamRecord, chunk: Any) -> None:
        if not self._meta:
            self._meta = True
            rec.meta(chunk.id, chunk.model)
        for choice in chunk.choices:
            delta = choice.delta
            if delta is not None:
                content = delta.content
                if content:
                    rec.token()
                    if rec.capture:
                        rec.content(content)
                elif delta.tool_calls:
                    self._tools(rec, delta.tool_calls)
                elif delta.refusal:
                    rec.token()
            reason = choice.finish_reason
            if reason:
                self._commit_tool(rec)
                rec.finish(CHAT_FINISH.get(reason, Event.FINISH_COMPLETED), reason)
        usage = chunk.usage
        if usage is not None:
            rec.usage(usage.prompt_tokens, usage.completion_tokens)

    def _tools(self, rec: StreamRecord, tool_calls: Any) -> None:
        rec.token()
        for tc in tool_calls:
            index = tc.index
            if index != self._tool_index:
                self._commit_tool(rec)
                self._tool_index = index
                self._tool_name = None
            fn = tc.function
            if fn is not None and fn.name:
                self._tool_name = fn.name

    def _commit_tool(self, rec: StreamRecord) -> None:
        if self._tool_index is not None:
            rec.tool_call(self._tool_name, self._tool_index)
            self._tool_index = None
            self._tool_name = None


class ResponsesAdapter:
    """Reads Responses API stream events (``response.*``)."""

    __slots__ = ()
    end_event = Event.END_MARKER
    classify = staticmethod(classify_openai_error)

    def on_chunk(self, rec: StreamRecord, event: Any) -> None:
        kind = event.type
        if kind == "response.output_text.delta":
            rec.token()
            if rec.capture:
                rec.content(event.delta)
        elif kind in ("response.function_call_arguments.delta", "response.refusal.delta"):
            rec.token()
        elif kind == "response.output_item.done":
            item = event.item
            if getattr(item, "type", None) == "function_call":
                rec.tool_call(getattr(item, "name", None), event.output_index)
        elif kind == "response.created":
            rec.meta(event.response.id, event.response.model)
        elif kind == "response.completed":
            self._usage(rec, event.response)
            rec.finish(Event.FINISH_COMPLETED, "stop")
        elif kind == "response.incomplete":
            self._usage(rec, event.response)
            details = event.response.incomplete_details
            raw = getattr(details, "reason", None) or "incomplete"
            rec.finish(RESPONSES_INCOMPLETE.get(raw, Event.FINISH_LENGTH), raw)
        elif kind in ("error", "response.failed"):
            rec.end(Event.ERROR_EVENT)

    @staticmethod
    def _usage(rec: StreamRecord, response: Any) -> None:
        usage = getattr(response, "usage", None)
        if usage is not None:
            rec.usage(usage.input_tokens, usage.output_tokens)
