"""Anthropic instrumentor: the patch table of streamed Messages calls, sync and async.

* ``SyncAPIClient.request`` / ``AsyncAPIClient.request``: every streamed Messages call (see
  :mod:`.calls`).
* ``anthropic._base_client.start_api_call_span``: the SDK's own call span; see :mod:`.native_spans`
  for the ``enrich`` / ``replace`` policies.
* the ``__exit__`` / ``__aexit__`` of the stream helpers and their managers: they close the raw
  stream without passing the consumer's exception on, which would turn ``consumer_error`` into
  ``client_cancelled``.
* ``withhold_message_snapshot`` as the helper modules import it (a malformed event is the
  provider's failure, not the consumer's); anthropic 0.x has no such function, so there the helpers'
  ``__stream__`` generators are guarded instead.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from otel_streamslo.core.calls import async_call_wrapper, sync_call_wrapper
from otel_streamslo.core.helpers import async_exit, async_stream_guard, sync_exit, sync_stream_guard
from otel_streamslo.core.patching import StreamInstrumentor, Target
from otel_streamslo.core.telemetry import Telemetry
from otel_streamslo.instrumentation.anthropic.calls import (
    MessagesCalls,
    start_call_span_hook,
    withhold_snapshot_hook,
)
from otel_streamslo.instrumentation.anthropic.native_spans import native_spans_mode
from otel_streamslo.instrumentation.anthropic.package import _instruments

_BASE = "anthropic._base_client"
_HELPERS = "anthropic.lib.streaming._messages"
_BETA_HELPERS = "anthropic.lib.streaming._beta_messages"


class AnthropicStreamInstrumentor(StreamInstrumentor):
    """Instruments streamed Messages calls of the ``anthropic`` SDK (``instrument()`` / ``uninstrument()``).

    Extra ``instrument()`` keyword: ``anthropic_native_spans="enrich" | "replace"`` (env
    ``OTEL_STREAMSLO_ANTHROPIC_NATIVE_SPANS``), see :mod:`.native_spans`.
    """

    _instruments: Collection[str] = _instruments

    def _instrument(self, **kwargs: Any) -> None:
        native_spans_mode(kwargs)  # invalid values raise before anything is patched
        super()._instrument(**kwargs)

    def _targets(self, tel: Telemetry, kwargs: Mapping[str, Any]) -> Iterable[Target]:
        calls = MessagesCalls(tel, native_spans_mode(kwargs))
        yield Target(_BASE, "SyncAPIClient.request", lambda: sync_call_wrapper(calls.begin))
        yield Target(_BASE, "AsyncAPIClient.request", lambda: async_call_wrapper(calls.begin))
        calls.native_hooked = self._patches.apply(
            Target(_BASE, "start_api_call_span", lambda: start_call_span_hook)
        )
        for module, owner in ((_HELPERS, ""), (_BETA_HELPERS, "Beta")):
            yield Target(module, f"{owner}MessageStreamManager.__exit__", lambda: sync_exit)
            yield Target(module, f"{owner}MessageStream.__exit__", lambda: sync_exit)
            yield Target(module, f"{owner}AsyncMessageStreamManager.__aexit__", lambda: async_exit)
            yield Target(module, f"{owner}AsyncMessageStream.__aexit__", lambda: async_exit)
            withhold = Target(module, "withhold_message_snapshot", lambda: withhold_snapshot_hook)
            if not self._patches.apply(withhold):  # anthropic 0.x: guard the helpers' generators instead
                yield Target(module, f"{owner}MessageStream.__stream__", lambda: sync_stream_guard)
                yield Target(module, f"{owner}AsyncMessageStream.__stream__", lambda: async_stream_guard)
