"""Chat Completions streams: reads ``ChatCompletionChunk`` objects into a record."""

from __future__ import annotations

from typing import Any, Optional

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.shapes import IS_NONE, ONLY, TEXT
from otel_streamslo.instrumentation.openai.common import classify_openai_error
from otel_streamslo.instrumentation.openai.finish import CHAT_FINISH


class ChatAdapter:
    """Reads ``ChatCompletionChunk`` objects."""

    __slots__ = ("_meta", "_tool_index", "_tool_name")
    end_event = Event.END_MARKER  # the SDK hides [DONE]: a clean end of iteration is the marker
    # a chunk whose only news is one content delta: on_chunk would only call rec.token()
    token_shapes = (
        (
            (("choices", ONLY, "finish_reason"), IS_NONE),
            (("choices", ONLY, "delta", "content"), TEXT),
            (("usage",), IS_NONE),
        ),
    )

    def __init__(self) -> None:
        self._meta = False
        self._tool_index: Optional[int] = None
        self._tool_name: Optional[str] = None

    classify = staticmethod(classify_openai_error)

    def on_chunk(self, rec: StreamRecord, chunk: Any) -> None:
        if not self._meta:
            self._meta = True
            rec.response_info(chunk.id, chunk.model)
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
