"""Responses API streams: reads ``response.*`` stream events into a record."""

from __future__ import annotations

from typing import Any

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.shapes import EQ
from otel_streamslo.instrumentation.openai.common import classify_openai_error
from otel_streamslo.instrumentation.openai.finish import RESPONSES_INCOMPLETE


class ResponsesAdapter:
    """Reads Responses API stream events (``response.*``)."""

    __slots__ = ()
    end_event = Event.END_MARKER
    classify = staticmethod(classify_openai_error)
    # the events on_chunk reads as one delivered token and nothing else
    token_shapes = tuple(
        (((("type",), EQ, kind),))
        for kind in (
            "response.output_text.delta",
            "response.function_call_arguments.delta",
            "response.refusal.delta",
        )
    )

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
            rec.response_info(event.response.id, event.response.model)
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
