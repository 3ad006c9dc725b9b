"""litellm streams: reads ``ModelResponseStream`` chunks; one proxy for sync and async iteration.

litellm's ``CustomStreamWrapper`` is one class for both: ``__next__`` / ``close()`` (sync) and
``__anext__`` / ``aclose()`` (async), so the proxy keeps ``close()`` synchronous as litellm's is.
While litellm reads the next chunk, language-model instrumentation is suppressed (attached around
each call, never across a yield), so the SDK-level wrappers under litellm record nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable
from typing import Any, Callable, Optional

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.proxy import AsyncStreamProxy, SyncStreamProxy
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.instrumentation.anthropic.finish import STOP_REASONS
from otel_streamslo.instrumentation.litellm.attempts import Attempts, suppressed_scope, unscope
from otel_streamslo.instrumentation.litellm.errors import classify_litellm_error
from otel_streamslo.instrumentation.openai.finish import CHAT_FINISH

logger = logging.getLogger(__name__)

#: Provider finish reasons (raw, as litellm keeps them) and litellm's normalised ones.
FINISH: dict[str, Event] = {**STOP_REASONS, **CHAT_FINISH}
_RAW_KEYS = ("native_finish_reason", "stop_reason")


def _raw_reason(fields: Any) -> Optional[str]:
    if isinstance(fields, dict):
        for key in _RAW_KEYS:
            value = fields.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def _reads_own_chunks(stream: Any) -> bool:
    """Whether ``stream`` is a plain ``CustomStreamWrapper`` (it records the provider's finish itself)."""
    try:
        from litellm.litellm_core_utils.streaming_handler import CustomStreamWrapper as Base

        cls = type(stream)
        return hasattr(stream, "received_finish_reason") and (
            cls.__next__ is Base.__next__ and cls.__anext__ is Base.__anext__
        )
    except Exception:
        return False


class LiteLLMAdapter:
    """Reads litellm's OpenAI-shaped chunks of one ``CustomStreamWrapper``."""

    __slots__ = ("_made_up", "_meta", "_own_chunks", "_stream", "_tool_index", "_tool_name")
    end_event = Event.END_MARKER  # litellm raises on a clean end without finish (newer versions)

    def __init__(self, stream: Any) -> None:
        self._stream = stream
        # A Router's wrapper re-yields an inner stream's chunks: only that inner one tracks the finish.
        self._own_chunks = _reads_own_chunks(stream)
        self._meta = False
        self._made_up = False  # litellm made the finish up: its usage after that is its own estimate
        self._tool_index: Optional[int] = None
        self._tool_name: Optional[str] = None

    classify = staticmethod(classify_litellm_error)

    def on_chunk(self, rec: StreamRecord, chunk: Any) -> None:
        if not self._meta:
            self._meta = True
            rec.response_info(getattr(chunk, "id", None), getattr(chunk, "model", None))
        for choice in getattr(chunk, "choices", None) or ():
            delta = getattr(choice, "delta", None)
            if delta is not None:
                if getattr(delta, "content", None):
                    rec.token()
                    if rec.capture:
                        rec.content(delta.content)
                elif getattr(delta, "tool_calls", None):
                    self._tools(rec, delta.tool_calls)
            reason = getattr(choice, "finish_reason", None)
            if reason:
                self._finish(rec, chunk, choice, reason)
        usage = getattr(chunk, "usage", None)
        if usage is not None and not self._made_up:
            rec.usage(getattr(usage, "prompt_tokens", None), getattr(usage, "completion_tokens", None))

    def _finish(self, rec: StreamRecord, chunk: Any, choice: Any, reason: str) -> None:
        """The provider's own reason where litellm keeps it; litellm's "stop" it made up is none."""
        stream = self._stream
        received = getattr(stream, "received_finish_reason", None)
        intermittent = getattr(stream, "intermittent_finish_reason", None)
        if self._own_chunks and received is None and intermittent is None:
            self._made_up = True  # litellm synthesised "stop" at a clean end without one: truncated
            return
        raw = _raw_reason(getattr(choice, "provider_specific_fields", None))
        raw = raw or _raw_reason(getattr(chunk, "provider_specific_fields", None))
        if raw is None and isinstance(received, str) and received in FINISH:
            raw = received
        event = FINISH.get(raw) if raw else None
        if event is None:
            raw, event = reason, FINISH.get(reason, Event.FINISH_COMPLETED)
        self._commit_tool(rec)
        rec.finish(event, raw)

    def _tools(self, rec: StreamRecord, tool_calls: Any) -> None:
        rec.token()
        for tc in tool_calls:
            index = getattr(tc, "index", 0)
            if index != self._tool_index:
                self._commit_tool(rec)
                self._tool_index = index
                self._tool_name = None
            fn = getattr(tc, "function", None)
            name = getattr(fn, "name", None) if fn is not None else None
            if name:
                self._tool_name = name

    def _commit_tool(self, rec: StreamRecord) -> None:
        if self._tool_index is not None:
            rec.tool_call(self._tool_name, self._tool_index)
            self._tool_index = None
            self._tool_name = None


class LiteLLMStreamProxy(SyncStreamProxy, AsyncStreamProxy):
    """Proxy for a ``CustomStreamWrapper``: sync and async iteration, ``close()`` (sync, as litellm's)
    and ``aclose()``; every step runs with SDK-level instrumentation suppressed."""

    def __init__(self, wrapped: Any, rec: StreamRecord, attempts: Attempts) -> None:
        super().__init__(wrapped, rec, LiteLLMAdapter(wrapped))
        self._self_attempts = attempts

    def _next_chunk(self, step: Callable[[], Any]) -> Callable[[], Any]:
        attempts = self._self_attempts

        def scoped() -> Any:
            scope = suppressed_scope(attempts)
            try:
                return step()
            finally:
                unscope(scope)

        return scoped

    def _anext_chunk(self, step: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        attempts = self._self_attempts

        async def scoped() -> Any:
            scope = suppressed_scope(attempts)
            try:
                return await step()
            finally:
                unscope(scope)

        return scoped
