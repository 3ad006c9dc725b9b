"""Anthropic stop reasons -> lifecycle events (also the source of the collector's mapping)."""

from __future__ import annotations

from collections.abc import Mapping

from otel_streamslo.core.lifecycle import Event

STOP_REASONS: dict[str, Event] = {
    "end_turn": Event.FINISH_COMPLETED,
    "tool_use": Event.FINISH_COMPLETED,
    "stop_sequence": Event.FINISH_COMPLETED,
    "pause_turn": Event.FINISH_COMPLETED,
    "max_tokens": Event.FINISH_LENGTH,
    "model_context_window_exceeded": Event.FINISH_LENGTH,
    "refusal": Event.FINISH_CONTENT_FILTER,
}

#: Every raw finish reason this SDK reports, for the collector's generated mapping.
FINISH_REASONS: Mapping[str, Event] = STOP_REASONS
