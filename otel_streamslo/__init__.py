"""otel-streamslo: stream-aware OpenTelemetry instrumentation and SLOs for LLM streaming."""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

from otel_streamslo.version import __version__

__all__ = ["StreamOutcome", "__version__", "instrumented_targets", "stream_outcome"]


class StreamOutcome(NamedTuple):
    """How an instrumented stream ended: its termination reason and SLI outcome (two strings)."""

    reason: str
    outcome: str


def stream_outcome(stream: Any) -> Optional[StreamOutcome]:
    """The outcome of an instrumented LLM stream once it ended; None while open or if not ours.

    Lets an app store a cut-off answer (``truncated``, ``connection_dropped``, ...) as partial.
    Pass the stream object ``create(..., stream=True)`` returned (or its raw response).
    """
    try:
        from otel_streamslo.core.record import StreamRecord

        rec = getattr(stream, "_self_rec", None)
        if not isinstance(rec, StreamRecord) or not rec.done or rec.lc.reason is None:
            return None
        reason = rec.lc.reason
        outcome = rec.tel.settings.policy.outcome(reason, rec.http_status)
        return StreamOutcome(reason.value, outcome.value)
    except Exception:
        return None


def instrumented_targets() -> dict[str, tuple[str, ...]]:
    """SDK methods patched now, by instrumentor class (``module:qualname``); a target missing in the
    installed SDK version is skipped on its own and absent here (see each instrumentor's
    ``skipped_targets()``)."""
    from otel_streamslo.core.patching import instrumented_targets as targets

    return targets()
