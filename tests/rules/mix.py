"""The traffic mix both series sources carry: kinds of streams and their rates, per model and second."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from otel_streamslo.core.semconv import DURATION_BUCKETS

SERVICE = "streamslo-demo"
MODELS = (("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"))


@dataclass(frozen=True)
class Kind:
    """One kind of stream: how it ended, its HTTP status, verdicts and rate (streams/s per model)."""

    reason: str
    status: Optional[int]
    outcome: str
    latency: str
    rate: float
    ttft: Optional[float]  # seconds to first token, None when no token arrived
    duration: float  # seconds to the terminal event


MIX: tuple[Kind, ...] = (
    Kind("completed", 200, "good", "good", 6.0, 0.4, 9.0),
    Kind("completed", 200, "good", "bad", 0.5, 3.5, 14.0),
    Kind("length", 200, "good", "good", 0.5, 0.5, 30.0),
    Kind("server_error_event", 200, "bad", "good", 1.0, 0.4, 4.0),
    Kind("connection_dropped", 200, "bad", "good", 0.5, 0.6, 6.0),
    Kind("idle_timeout", 200, "bad", "good", 0.25, 0.7, 62.0),
    Kind("truncated", 200, "bad", "good", 0.25, 0.5, 8.0),
    Kind("request_failed", 429, "bad", "excluded", 0.125, None, 0.1),
    Kind("request_failed", 503, "bad", "excluded", 0.125, None, 0.2),
    Kind("request_failed", None, "bad", "excluded", 0.125, None, 0.05),
    Kind("request_failed", 404, "excluded", "excluded", 0.125, None, 0.1),
    Kind("client_cancelled", 200, "excluded", "good", 0.5, 0.4, 2.0),
    Kind("client_abandoned", 200, "excluded", "good", 0.25, 0.4, 3.0),
    Kind("consumer_error", 200, "excluded", "good", 0.25, 0.4, 1.0),
)
TOKENS_PER_STREAM = 400.0
CHUNK_GAP = 0.03
ROUTE = "/chat"
# The app's own streamed responses (server spans, no provider/model): reason, outcome, rate/s.
RESPONSE_MIX: tuple[tuple[str, str, float], ...] = (
    ("completed", "good", 4.0),
    ("upstream_failed", "bad", 0.5),
    ("app_error", "bad", 0.25),
    ("server_error_event", "bad", 0.25),
    ("client_cancelled", "excluded", 1.0),
)
# Per provider: upstream streams orphaned by a disconnect per second, abort propagation latency (s),
# output tokens received after the disconnect per orphan.
ORPHANS: dict[str, tuple[float, float, float]] = {
    "openai": (0.5, 0.004, 10.0),
    "anthropic": (0.25, 2.5, 50.0),
}
# Per model and second: tool calls committed, by (reason, outcome).
TOOL_CALLS: tuple[tuple[str, str, float], ...] = (
    ("completed", "good", 1.0),
    ("connection_dropped", "bad", 0.25),
    ("client_cancelled", "excluded", 0.25),
)
ABORT_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, *DURATION_BUCKETS)
