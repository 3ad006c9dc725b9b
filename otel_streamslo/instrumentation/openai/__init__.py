"""OpenAI instrumentor: which SDK methods to patch for streamed calls, sync and async.

Patched: ``chat.completions.create`` and ``responses.create`` (so the ``.stream()`` helpers
and ``with_raw_response`` / ``with_streaming_response``, which call them, are covered), and
the helpers' ``close()`` (they close the HTTP response directly, bypassing the raw stream) and
their managers' ``__exit__`` (so an exception raised in the ``with`` block is ``consumer_error``).
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any, Callable, Optional

from otel_streamslo.core import semconv as sc
from otel_streamslo.core.calls import CallSpec, async_create_wrapper, server_from_url, sync_create_wrapper
from otel_streamslo.core.helpers import async_close, async_exit, sync_close, sync_exit
from otel_streamslo.core.patching import StreamInstrumentor, Wrapper
from otel_streamslo.core.proxy import Adapter
from otel_streamslo.core.telemetry import Telemetry
from otel_streamslo.instrumentation.openai.adapters import ChatAdapter, ResponsesAdapter, openai_status_of

logger = logging.getLogger(__name__)

_CHAT = "openai.resources.chat.completions.completions"
_RESPONSES = "openai.resources.responses.responses"
_CHAT_HELPERS = "openai.lib.streaming.chat._completions"
_RESPONSES_HELPERS = "openai.lib.streaming.responses._responses"


def server_of(resource: Any) -> tuple[Optional[str], Optional[int]]:
    """``server.address`` / ``server.port`` from a resource's client base URL."""
    return server_from_url(getattr(getattr(resource, "_client", None), "base_url", None))


def _spec(adapter: Callable[[], Adapter], messages_key: str) -> CallSpec:
    import openai
    from openai import _legacy_response, _response

    raw = tuple(
        t
        for t in (
            getattr(_legacy_response, "LegacyAPIResponse", None),
            getattr(_response, "APIResponse", None),
            getattr(_response, "AsyncAPIResponse", None),
        )
        if isinstance(t, type)
    )
    return CallSpec(
        provider=sc.PROVIDER_OPENAI,
        adapter=adapter,
        sync_stream=openai.Stream,
        async_stream=openai.AsyncStream,
        raw_types=raw,
        status_of=openai_status_of,
        server_of=server_of,
        messages_key=messages_key,
    )


class OpenAIStreamInstrumentor(StreamInstrumentor):
    """Instruments streamed calls of the ``openai`` SDK (``instrument()`` / ``uninstrument()``)."""

    _instruments: Collection[str] = ("openai >= 1.40",)

    def _patch(self, tel: Telemetry) -> None:
        chat = _spec(ChatAdapter, "messages")
        responses = _spec(ResponsesAdapter, "input")
        targets: list[tuple[str, str, Wrapper]] = [
            (_CHAT, "Completions.create", sync_create_wrapper(tel, chat)),
            (_CHAT, "AsyncCompletions.create", async_create_wrapper(tel, chat)),
            (_RESPONSES, "Responses.create", sync_create_wrapper(tel, responses)),
            (_RESPONSES, "AsyncResponses.create", async_create_wrapper(tel, responses)),
            (_CHAT_HELPERS, "ChatCompletionStream.close", sync_close),
            (_CHAT_HELPERS, "AsyncChatCompletionStream.close", async_close),
            (_RESPONSES_HELPERS, "ResponseStream.close", sync_close),
            (_RESPONSES_HELPERS, "AsyncResponseStream.close", async_close),
            (_CHAT_HELPERS, "ChatCompletionStreamManager.__exit__", sync_exit),
            (_CHAT_HELPERS, "AsyncChatCompletionStreamManager.__aexit__", async_exit),
            (_RESPONSES_HELPERS, "ResponseStreamManager.__exit__", sync_exit),
            (_RESPONSES_HELPERS, "AsyncResponseStreamManager.__aexit__", async_exit),
        ]
        for module, qualname, wrapper in targets:
            self._patches.wrap(module, qualname, wrapper)
