"""OpenAI finish reasons -> lifecycle events (also the source of the collector's mapping)."""

from __future__ import annotations

from collections.abc import Mapping

from otel_streamslo.core.lifecycle import Event

CHAT_FINISH: dict[str, Event] = {
    "stop": Event.FINISH_COMPLETED,
    "tool_calls": Event.FINISH_COMPLETED,
    "function_call": Event.FINISH_COMPLETED,
    "length": Event.FINISH_LENGTH,
    "content_filter": Event.FINISH_CONTENT_FILTER,
    "refusal": Event.FINISH_CONTENT_FILTER,
    "error": Event.ERROR_EVENT,
}

RESPONSES_INCOMPLETE: dict[str, Event] = {
    "max_output_tokens": Event.FINISH_LENGTH,
    "content_filter": Event.FINISH_CONTENT_FILTER,
}

#: Every raw finish reason this SDK reports, for the collector's generated mapping.
FINISH_REASONS: Mapping[str, Event] = {**CHAT_FINISH, **RESPONSES_INCOMPLETE}
