"""google-genai instrumentor: the patch table of streamed ``generate_content`` calls, sync and async.

* ``Models.generate_content_stream`` / ``AsyncModels.generate_content_stream``: the public methods
  (one span per call; ``chats`` ``send_message_stream`` calls them too), see :mod:`.calls`.
* ``BaseApiClient._request`` / ``_async_request``: only to learn that the first response arrived
  before any chunk (see :mod:`.lazy`); an SDK version without them still works (the first chunk
  proves the 200 then).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from otel_streamslo.core.patching import StreamInstrumentor, Target
from otel_streamslo.core.telemetry import Telemetry
from otel_streamslo.instrumentation.google_genai.calls import (
    GenerateCalls,
    async_request_hook,
    async_stream_wrapper,
    request_hook,
    sync_stream_wrapper,
)
from otel_streamslo.instrumentation.google_genai.package import _instruments

_MODELS = "google.genai.models"
_API_CLIENT = "google.genai._api_client"


class GoogleGenAIStreamInstrumentor(StreamInstrumentor):
    """Instruments streamed calls of the ``google-genai`` SDK (``instrument()`` / ``uninstrument()``)."""

    _instruments: Collection[str] = _instruments

    def _targets(self, tel: Telemetry, kwargs: Mapping[str, Any]) -> Iterable[Target]:
        calls = GenerateCalls(tel)
        return (
            Target(_MODELS, "Models.generate_content_stream", lambda: sync_stream_wrapper(calls)),
            Target(_MODELS, "AsyncModels.generate_content_stream", lambda: async_stream_wrapper(calls)),
            Target(_API_CLIENT, "BaseApiClient._request", lambda: request_hook),
            Target(_API_CLIENT, "BaseApiClient._async_request", lambda: async_request_hook),
        )
