"""otel-streamslo: stream-aware OpenTelemetry instrumentation and SLOs for LLM streaming."""

from otel_streamslo.version import __version__

__all__ = ["__version__"]
