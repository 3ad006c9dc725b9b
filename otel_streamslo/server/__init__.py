"""The downstream leg: the app's own streaming responses to its users (DESIGN.md, server side)."""

from otel_streamslo.server.instrumentor import FastAPIStreamInstrumentor, StarletteStreamInstrumentor
from otel_streamslo.server.lifecycle import DownstreamReason
from otel_streamslo.server.middleware import StreamSLOMiddleware

__all__ = [
    "DownstreamReason",
    "FastAPIStreamInstrumentor",
    "StarletteStreamInstrumentor",
    "StreamSLOMiddleware",
]
