"""litellm instrumentor: the patch table of streamed calls, sync and async.

Patched: ``litellm.completion`` / ``litellm.acompletion`` (what apps and ``Router`` deployments
call) and ``Router.completion`` / ``Router.acompletion`` (one span over every retry and fallback).
A ``CustomStreamWrapper`` comes back in a transparent proxy: iteration, ``with`` / ``async with``,
``close()`` / ``aclose()`` behave as litellm's own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from otel_streamslo.core.patching import StreamInstrumentor, Target
from otel_streamslo.core.telemetry import Telemetry
from otel_streamslo.instrumentation.litellm.calls import (
    acompletion_wrapper,
    completion_wrapper,
    router_acompletion_wrapper,
    router_completion_wrapper,
)
from otel_streamslo.instrumentation.litellm.package import _instruments


class LiteLLMStreamInstrumentor(StreamInstrumentor):
    """Instruments streamed calls of ``litellm`` (``instrument()`` / ``uninstrument()``)."""

    _instruments: Collection[str] = _instruments

    def _targets(self, tel: Telemetry, kwargs: Mapping[str, Any]) -> Iterable[Target]:
        return (
            Target("litellm", "completion", lambda: completion_wrapper(tel)),
            Target("litellm", "acompletion", lambda: acompletion_wrapper(tel)),
            Target("litellm.router", "Router.completion", lambda: router_completion_wrapper(tel)),
            Target("litellm.router", "Router.acompletion", lambda: router_acompletion_wrapper(tel)),
        )
