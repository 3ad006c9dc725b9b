"""Stable import path of the OpenAI instrumentor (code: ``otel_streamslo.instrumentation.openai``)."""

from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor

__all__ = ["OpenAIStreamInstrumentor"]
