"""ConverseStream events (the same for every model) -> lifecycle observations.

Events are the dicts botocore yields from ``response["stream"]``:

* ``contentBlockDelta``: ``delta.text`` and ``delta.toolUse`` are delivered tokens (the first is
  the first token); ``reasoningContent`` and other deltas count as chunks only.
* ``contentBlockStart`` with ``start.toolUse`` opens a tool call; its ``contentBlockStop`` commits it.
* ``messageStop``: the stop reason (finish). The answer is whole: usage follows in ``metadata``, so
  the span stays open, and a close, collection, drop or clean end before it still ends the stream
  with that finish reason (usage then absent).
* ``metadata``: usage (input tokens with cache reads and writes, output tokens); the last event of
  the stream, so it ends the record.

A stream whose iteration ends without ``messageStop`` is ``truncated``.
"""

from __future__ import annotations

from typing import Any, Optional

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.instrumentation.bedrock.errors import classify_bedrock_error
from otel_streamslo.instrumentation.bedrock.finish import CONVERSE_STOP_REASONS


def int_or_none(value: Any) -> Optional[int]:
    """``value`` if it is an int (not a bool), else None."""
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def converse_input_tokens(usage: Any) -> Optional[int]:
    """``inputTokens`` plus cache reads and writes (Bedrock reports them apart); None without it."""
    if not isinstance(usage, dict):
        return None
    base = int_or_none(usage.get("inputTokens"))
    if base is None:
        return None
    cached = (int_or_none(usage.get("cacheReadInputTokens")) or 0) + (
        int_or_none(usage.get("cacheWriteInputTokens")) or 0
    )
    return base + cached


class ConverseAdapter:
    """Reads ConverseStream events."""

    __slots__ = ("_tools",)
    end_event = Event.EOF  # iteration that ends without messageStop is a truncated stream
    classify = staticmethod(classify_bedrock_error)

    def __init__(self) -> None:
        self._tools: dict[Any, Optional[str]] = {}

    def on_chunk(self, rec: StreamRecord, event: Any) -> None:
        body = event.get("contentBlockDelta")
        if body is not None:
            delta = body.get("delta") or {}
            text = delta.get("text")
            if text is not None:
                rec.token()
                if rec.capture and isinstance(text, str):
                    rec.content(text)
            elif "toolUse" in delta:
                rec.token()
            return
        if "contentBlockStart" in event:
            body = event["contentBlockStart"]
            tool = (body.get("start") or {}).get("toolUse")
            if isinstance(tool, dict):
                name = tool.get("name")
                self._tools[body.get("contentBlockIndex")] = name if isinstance(name, str) else None
        elif "contentBlockStop" in event:
            index = event["contentBlockStop"].get("contentBlockIndex")
            if index in self._tools:
                rec.tool_call(self._tools.pop(index), index if isinstance(index, int) else 0)
        elif "messageStop" in event:
            reason = event["messageStop"].get("stopReason")
            raw = reason if isinstance(reason, str) and reason else None
            rec.finish(CONVERSE_STOP_REASONS.get(raw or "", Event.FINISH_COMPLETED), raw)
            rec.answer_whole()
        elif "metadata" in event:
            usage = event["metadata"].get("usage")
            if isinstance(usage, dict):
                rec.usage(converse_input_tokens(usage), int_or_none(usage.get("outputTokens")))
            rec.end(Event.END_MARKER)
