"""Stable import path of the Anthropic instrumentor (the code lives in ``otel_streamslo.instrumentation.anthropic``)."""

from otel_streamslo.instrumentation.anthropic import AnthropicStreamInstrumentor

__all__ = ["AnthropicStreamInstrumentor"]
