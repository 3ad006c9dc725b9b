"""OpenAI instrumentor: the patch table of streamed calls, sync and async.

Patched: ``chat.completions.create`` and ``responses.create`` (so the ``.stream()`` helpers and
``with_raw_response`` / ``with_streaming_response``, which call them, are covered), the helpers'
``close()`` (they close the HTTP response directly, bypassing the raw stream) and their managers'
``__exit__`` (so an exception raised in the ``with`` block is ``consumer_error``), and their
``__stream__`` generators (an exception of the helper's own accumulation, on a malformed chunk, is
the provider's failure: ``server_error_event``). A target missing
in the installed SDK version (the Responses API is younger than chat) is skipped on its own.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

from otel_streamslo.core.calls import async_call_wrapper, sync_call_wrapper
from otel_streamslo.core.helpers import (
    async_close,
    async_exit,
    async_stream_guard,
    sync_close,
    sync_exit,
    sync_stream_guard,
)
from otel_streamslo.core.patching import StreamInstrumentor, Target
from otel_streamslo.core.telemetry import Telemetry
from otel_streamslo.instrumentation.openai.chat import ChatAdapter
from otel_streamslo.instrumentation.openai.common import begin_create
from otel_streamslo.instrumentation.openai.package import _instruments
from otel_streamslo.instrumentation.openai.responses import ResponsesAdapter

# A module before openai 1.66, a package re-exporting the same classes after: one path for both.
_CHAT = "openai.resources.chat.completions"
_RESPONSES = "openai.resources.responses.responses"
_CHAT_HELPERS = "openai.lib.streaming.chat._completions"
_RESPONSES_HELPERS = "openai.lib.streaming.responses._responses"


class OpenAIStreamInstrumentor(StreamInstrumentor):
    """Instruments streamed calls of the ``openai`` SDK (``instrument()`` / ``uninstrument()``)."""

    _instruments: Collection[str] = _instruments

    def _targets(self, tel: Telemetry, kwargs: Mapping[str, Any]) -> Iterable[Target]:
        def chat() -> Any:
            return begin_create(tel, ChatAdapter, "messages")

        def responses() -> Any:
            return begin_create(tel, ResponsesAdapter, "input")

        return (
            Target(_CHAT, "Completions.create", lambda: sync_call_wrapper(chat())),
            Target(_CHAT, "AsyncCompletions.create", lambda: async_call_wrapper(chat())),
            Target(_RESPONSES, "Responses.create", lambda: sync_call_wrapper(responses())),
            Target(_RESPONSES, "AsyncResponses.create", lambda: async_call_wrapper(responses())),
            Target(_CHAT_HELPERS, "ChatCompletionStream.close", lambda: sync_close),
            Target(_CHAT_HELPERS, "AsyncChatCompletionStream.close", lambda: async_close),
            Target(_RESPONSES_HELPERS, "ResponseStream.close", lambda: sync_close),
            Target(_RESPONSES_HELPERS, "AsyncResponseStream.close", lambda: async_close),
            Target(_CHAT_HELPERS, "ChatCompletionStreamManager.__exit__", lambda: sync_exit),
            Target(_CHAT_HELPERS, "AsyncChatCompletionStreamManager.__aexit__", lambda: async_exit),
            Target(_RESPONSES_HELPERS, "ResponseStreamManager.__exit__", lambda: sync_exit),
            Target(_RESPONSES_HELPERS, "AsyncResponseStreamManager.__aexit__", lambda: async_exit),
            Target(_CHAT_HELPERS, "ChatCompletionStream.__stream__", lambda: sync_stream_guard),
            Target(_CHAT_HELPERS, "AsyncChatCompletionStream.__stream__", lambda: async_stream_guard),
            Target(_RESPONSES_HELPERS, "ResponseStream.__stream__", lambda: sync_stream_guard),
            Target(_RESPONSES_HELPERS, "AsyncResponseStream.__stream__", lambda: async_stream_guard),
        )
