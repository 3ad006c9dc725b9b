"""Bedrock stop reasons -> lifecycle events (also the source of the collector's mapping).

Converse's ``messageStop.stopReason`` (the same for every model), Meta Llama's ``stop_reason`` on
InvokeModelWithResponseStream; Anthropic-on-Bedrock invoke streams carry Anthropic's own stop
reasons (``instrumentation.anthropic.finish``, with which these names agree).
"""

from __future__ import annotations

from collections.abc import Mapping

from otel_streamslo.core.lifecycle import Event

CONVERSE_STOP_REASONS: dict[str, Event] = {
    "end_turn": Event.FINISH_COMPLETED,
    "tool_use": Event.FINISH_COMPLETED,
    "stop_sequence": Event.FINISH_COMPLETED,
    "max_tokens": Event.FINISH_LENGTH,
    "model_context_window_exceeded": Event.FINISH_LENGTH,
    "guardrail_intervened": Event.FINISH_CONTENT_FILTER,
    "content_filtered": Event.FINISH_CONTENT_FILTER,
}

LLAMA_STOP_REASONS: dict[str, Event] = {
    "stop": Event.FINISH_COMPLETED,
    "length": Event.FINISH_LENGTH,
}

#: Every raw finish reason this SDK reports, for the collector's generated mapping.
FINISH_REASONS: Mapping[str, Event] = {**CONVERSE_STOP_REASONS, **LLAMA_STOP_REASONS}
