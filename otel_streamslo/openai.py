"""Stable import path of the OpenAI instrumentor (the code lives in ``otel_streamslo.instrumentation.openai``)."""

from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor

__all__ = ["OpenAIStreamInstrumentor"]
