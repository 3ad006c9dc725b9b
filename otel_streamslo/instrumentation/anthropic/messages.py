"""How to read Anthropic Messages stream events and errors: maps them to lifecycle observations.

Only this module knows Anthropic's shapes (``RawMessageStreamEvent`` variants, stop reasons,
``anthropic`` / ``httpx2`` exception classes). Everything after it is shared.

Event mapping (raw events of ``messages.create(stream=True)``; the ``messages.stream()`` helper
reads the same raw stream):

* ``message_start``: response id and model; input tokens (``input_tokens`` plus
  ``cache_read_input_tokens`` and ``cache_creation_input_tokens``, as the GenAI semantic
  conventions ask for ``gen_ai.usage.input_tokens`` and as the SDK's own span counts them).
  Its placeholder ``output_tokens`` is ignored.
* ``content_block_delta``: ``text_delta`` and ``input_json_delta`` are delivered tokens (the first
  one is the first token: ``message_start``, ``ping`` and ``content_block_start`` are not).
  ``thinking_delta``, ``signature_delta`` and ``citations_delta`` count as chunks only.
* ``content_block_stop`` of a ``tool_use`` block: a committed tool call.
* ``message_delta``: stop reason (finish) and the cumulative output tokens.
* ``message_stop``: the end marker. A stream whose iteration ends without it is ``truncated``.
"""

from __future__ import annotations

from typing import Any, Optional

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.shapes import EQ
from otel_streamslo.instrumentation.anthropic.errors import classify_anthropic_error
from otel_streamslo.instrumentation.anthropic.finish import STOP_REASONS

#: Content block types whose completion is a tool call the application may act on.
TOOL_BLOCKS = frozenset({"tool_use"})


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def input_tokens_of(usage: Any) -> Optional[int]:
    """Input tokens of a usage object, cache reads and writes included; None without ``input_tokens``."""
    base = _int(getattr(usage, "input_tokens", None))
    if base is None:
        return None
    cached = (_int(getattr(usage, "cache_read_input_tokens", None)) or 0) + (
        _int(getattr(usage, "cache_creation_input_tokens", None)) or 0
    )
    return base + cached


class MessagesAdapter:
    """Reads raw Messages stream events (``RawMessageStreamEvent``, stable and beta)."""

    __slots__ = ("_tools",)
    end_event = Event.EOF  # iteration that ends without `message_stop` is a truncated stream
    classify = staticmethod(classify_anthropic_error)
    # the events on_chunk reads as one delivered token and nothing else
    token_shapes = (
        ((("type",), EQ, "content_block_delta"), (("delta", "type"), EQ, "text_delta")),
        ((("type",), EQ, "content_block_delta"), (("delta", "type"), EQ, "input_json_delta")),
    )

    def __init__(self) -> None:
        self._tools: dict[int, Optional[str]] = {}

    def on_chunk(self, rec: StreamRecord, event: Any) -> None:
        # Plain attribute reads on the per-event path (``getattr`` with a default is one more builtin
        # call each); a missing attribute ends here, as the ``None`` it stood for matched no branch.
        try:
            kind = event.type
            if kind == "content_block_delta":
                delta = event.delta
                dtype = delta.type
        except AttributeError:
            return
        if kind == "content_block_delta":
            if dtype == "text_delta":
                rec.token()
                if rec.capture:
                    text = getattr(delta, "text", None)
                    if isinstance(text, str):
                        rec.content(text)
            elif dtype == "input_json_delta":
                rec.token()
        elif kind == "content_block_start":
            block = getattr(event, "content_block", None)
            index = getattr(event, "index", None)
            if isinstance(index, int) and getattr(block, "type", None) in TOOL_BLOCKS:
                name = getattr(block, "name", None)
                self._tools[index] = name if isinstance(name, str) else None
        elif kind == "content_block_stop":
            index = getattr(event, "index", None)
            if isinstance(index, int) and index in self._tools:
                rec.tool_call(self._tools.pop(index), index)
        elif kind == "message_start":
            message = getattr(event, "message", None)
            rec.response_info(getattr(message, "id", None), getattr(message, "model", None))
            rec.usage(input_tokens=input_tokens_of(getattr(message, "usage", None)))
        elif kind == "message_delta":
            usage = getattr(event, "usage", None)
            if usage is not None:
                rec.usage(
                    input_tokens=input_tokens_of(usage),
                    output_tokens=_int(getattr(usage, "output_tokens", None)),
                )
            reason = getattr(getattr(event, "delta", None), "stop_reason", None)
            if isinstance(reason, str) and reason:
                rec.finish(STOP_REASONS.get(reason, Event.FINISH_COMPLETED), reason)
        elif kind == "message_stop":
            rec.end(Event.END_MARKER)
