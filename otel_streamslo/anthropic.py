"""Stable import path of the Anthropic instrumentor (code: ``otel_streamslo.instrumentation.anthropic``)."""

from otel_streamslo.instrumentation.anthropic import AnthropicStreamInstrumentor

__all__ = ["AnthropicStreamInstrumentor"]
