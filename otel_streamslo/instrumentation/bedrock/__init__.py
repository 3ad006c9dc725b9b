"""Amazon Bedrock instrumentor (boto3 / botocore, and aiobotocore): the patch table of streamed calls.

Patched: ``botocore.client.BaseClient._make_api_call``, through which every generated client
method runs, and, when aiobotocore is installed, its own coroutine
``aiobotocore.client.AioBaseClient._make_api_call`` (async clients; patched when the application
imports ``aiobotocore.client``, so sync-only apps do not pay its ~0.4 s import of aiohttp).
Only ``bedrock-runtime``'s ``ConverseStream`` and ``InvokeModelWithResponseStream``
(``converse_stream()`` / ``invoke_model_with_response_stream()``) are observed (see :mod:`.calls`);
their ``EventStream`` / ``AioEventStream`` is replaced by a transparent proxy (:mod:`.stream`).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from otel_streamslo.core.patching import StreamInstrumentor, Target
from otel_streamslo.core.telemetry import Telemetry
from otel_streamslo.instrumentation.bedrock.calls import make_api_call_wrapper, make_async_api_call_wrapper
from otel_streamslo.instrumentation.bedrock.package import _instruments


class BedrockStreamInstrumentor(StreamInstrumentor):
    """Instruments streamed Bedrock runtime calls of botocore and aiobotocore (``instrument()``)."""

    _instruments: Collection[str] = _instruments

    def _targets(self, tel: Telemetry, kwargs: Mapping[str, Any]) -> Iterable[Target]:
        return (
            Target("botocore.client", "BaseClient._make_api_call", lambda: make_api_call_wrapper(tel)),
            Target(
                "aiobotocore.client",
                "AioBaseClient._make_api_call",
                lambda: make_async_api_call_wrapper(tel),
                on_import=True,
            ),
        )
