"""Transparent wrapt proxies around SDK stream objects.

The proxies hand the application exactly the chunks, exceptions, return values and
context-manager behaviour of the wrapped stream; on the side they feed a
:class:`~otel_streamslo.core.record.StreamRecord`. Their own errors are swallowed. The span is
never attached as current context across the consumer's iteration.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Iterator
from types import TracebackType
from typing import Any, Callable, Optional, Protocol

import wrapt

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.record import StreamRecord

logger = logging.getLogger(__name__)


class Adapter(Protocol):
    """What an SDK module supplies for one stream: how to read its chunks and errors."""

    end_event: Event

    def on_chunk(self, rec: StreamRecord, chunk: Any) -> None:
        """Feed one chunk's content, finish reason, usage and metadata into ``rec``."""

    def classify(self, exc: BaseException) -> Event:
        """Map an exception raised while waiting for the next chunk to a lifecycle event."""


def _on_error(rec: StreamRecord, adapter: Adapter, exc: BaseException) -> None:
    try:
        rec.fail(adapter.classify(exc), exc)
    except Exception:
        logger.debug("otel_streamslo: classifying %r failed", exc, exc_info=True)
        rec.fail(Event.TRANSPORT_ERROR, exc)


def _bound(wrapped: Any, name: str) -> Callable[[], Any]:
    """``wrapped.<name>``, bound once per stream for the proxy's per-chunk method.

    Attribute lookups on a ``wrapt`` proxy go through its ``__getattr__`` hook and are several times
    dearer than a plain attribute read, so the proxies keep everything their ``__next__`` /
    ``__anext__`` needs in one tuple. A stream without the method fails on first use, as before.
    """
    method = getattr(wrapped, name, None)
    if method is not None:
        return method  # type: ignore[no-any-return]
    return lambda: getattr(wrapped, name)()


class _HelperNotifications:
    """What patched SDK stream helpers tell a proxied raw stream (see :func:`notify`)."""

    _self_rec: StreamRecord
    _self_adapter: Adapter

    def _streamslo_closed(self) -> None:
        """A helper closed the HTTP response directly."""
        self._self_rec.end(Event.CANCEL)

    def _streamslo_exit(self, exc: Optional[BaseException]) -> None:
        """The consumer left a helper manager's ``with`` block (``exc`` if it raised)."""
        self._self_rec.exit_block(exc)

    def _streamslo_failed(self, exc: BaseException) -> None:
        """A helper failed on a chunk this proxy already handed out."""
        _on_error(self._self_rec, self._self_adapter, exc)


def _iterate(
    proxy: SyncStreamProxy, rec: StreamRecord, adapter: Adapter, on_chunk: Any, chunks: Iterator[Any]
) -> Iterator[Any]:
    """What ``for chunk in proxy`` iterates: the chunks of ``chunks``, observed as ``__next__`` does.

    ``proxy`` is only held (see ``SyncStreamProxy.__iter__``).
    """
    next_chunk = chunks.__next__
    while True:
        try:
            chunk = next_chunk()
        except StopIteration:
            rec.end(adapter.end_event)
            return
        except BaseException as exc:
            _on_error(rec, adapter, exc)
            raise
        try:
            rec.chunks += 1
            if rec.first_chunk_ns is None:
                rec.first_chunk_ns = time.monotonic_ns()
            on_chunk(rec, chunk)
        except Exception:
            logger.debug("otel_streamslo: reading chunk failed", exc_info=True)
        yield chunk


class SyncStreamProxy(_HelperNotifications, wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """Proxy for a synchronous stream (``openai.Stream``, ``anthropic.Stream``)."""

    def __init__(self, wrapped: Any, rec: StreamRecord, adapter: Adapter) -> None:
        super().__init__(wrapped)
        self._self_rec = rec
        self._self_adapter = adapter
        self._self_fast = (rec, _bound(wrapped, "__next__"), adapter.on_chunk)
        rec.watch(self)

    def __iter__(self) -> Iterator[Any]:
        # A generator, as the SDK's own ``Stream.__iter__`` returns: a ``for`` loop then resumes it
        # per chunk instead of calling ``__next__`` (a Python call, a lookup on the wrapt proxy and
        # the stream's own ``__next__``). It holds the proxy, so an application that keeps only the
        # iterator keeps the stream watched; dropped, it goes at once (no cycle, no finaliser).
        rec, _next, on_chunk = self._self_fast
        return _iterate(self, rec, self._self_adapter, on_chunk, iter(self.__wrapped__))

    def __next__(self) -> Any:
        # Per chunk for ``next(stream)``: one attribute lookup on the proxy (see _bound), no allocation.
        rec, next_chunk, on_chunk = self._self_fast
        try:
            chunk = next_chunk()
        except StopIteration:
            rec.end(self._self_adapter.end_event)
            raise
        except BaseException as exc:
            _on_error(rec, self._self_adapter, exc)
            raise
        try:
            rec.chunks += 1
            if rec.first_chunk_ns is None:
                rec.first_chunk_ns = time.monotonic_ns()
            on_chunk(rec, chunk)
        except Exception:
            logger.debug("otel_streamslo: reading chunk failed", exc_info=True)
        return chunk

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_rec.end(Event.CANCEL)

    def __enter__(self) -> SyncStreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_rec.exit_block(exc)


class AsyncStreamProxy(_HelperNotifications, wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """Proxy for an asynchronous stream (``openai.AsyncStream``, ``anthropic.AsyncStream``)."""

    def __init__(self, wrapped: Any, rec: StreamRecord, adapter: Adapter) -> None:
        super().__init__(wrapped)
        self._self_rec = rec
        self._self_adapter = adapter
        self._self_fast = (rec, _bound(wrapped, "__anext__"), adapter.on_chunk)
        rec.watch(self)

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        # The per-chunk hot path: one attribute lookup on the proxy (see _bound), no allocation.
        rec, next_chunk, on_chunk = self._self_fast
        try:
            chunk = await next_chunk()
        except StopAsyncIteration:
            rec.end(self._self_adapter.end_event)
            raise
        except BaseException as exc:
            _on_error(rec, self._self_adapter, exc)
            raise
        try:
            rec.chunks += 1
            if rec.first_chunk_ns is None:
                rec.first_chunk_ns = time.monotonic_ns()
            on_chunk(rec, chunk)
        except Exception:
            logger.debug("otel_streamslo: reading chunk failed", exc_info=True)
        return chunk

    async def close(self) -> Any:
        try:
            return await self.__wrapped__.close()
        finally:
            self._self_rec.end(Event.CANCEL)

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            self._self_rec.end(Event.CANCEL)

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_rec.exit_block(exc)


def notify_closed(raw_stream: Any) -> None:
    """Tell a proxied stream that a helper closed its HTTP response behind its back."""
    if isinstance(raw_stream, _HelperNotifications):
        _guarded(raw_stream._streamslo_closed)


def notify_exit(raw_stream: Any, exc: Optional[BaseException]) -> None:
    """Tell a proxied stream that the consumer left a helper's ``with`` block (``exc`` if it raised).

    Stream-helper managers close the raw stream in their ``__exit__`` without passing the exception
    on; calling this first keeps ``consumer_error`` apart from ``client_cancelled``.
    """
    if isinstance(raw_stream, _HelperNotifications):
        _guarded(raw_stream._streamslo_exit, exc)


def notify_failed(raw_stream: Any, exc: BaseException) -> None:
    """Tell a proxied stream that a helper reading it raised ``exc`` on a chunk it already delivered.

    E.g. a stream helper that cannot accumulate a malformed event: the raw stream did not raise,
    but the stream is over for the application, and not through the application's own code.
    """
    if isinstance(raw_stream, _HelperNotifications):
        _guarded(raw_stream._streamslo_failed, exc)


def _guarded(method: Callable[..., None], *args: Any) -> None:
    try:
        method(*args)
    except Exception:
        logger.debug("otel_streamslo: helper notification failed", exc_info=True)


class RawResponseProxy(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """Proxy for a raw response (``with_raw_response`` / ``with_streaming_response``) of a stream.

    ``parse()`` returns the proxied stream (the same proxy on every call, as the SDK caches).
    Closing the raw response before the stream ended counts as ``client_cancelled``.
    """

    def __init__(self, wrapped: Any, rec: StreamRecord, adapter: Adapter, stream_types: tuple[type, ...]):
        super().__init__(wrapped)
        self._self_rec = rec
        self._self_adapter = adapter
        self._self_types = stream_types
        self._self_parsed: dict[int, Any] = {}
        rec.watch(self)

    def _wrap_parsed(self, result: Any) -> Any:
        try:
            if not isinstance(result, self._self_types):
                return result
            cached = self._self_parsed.get(id(result))
            if cached is not None and cached.__wrapped__ is result:
                return cached
            cls = AsyncStreamProxy if hasattr(result, "__anext__") else SyncStreamProxy
            proxy = cls(result, self._self_rec, self._self_adapter)
            self._self_parsed[id(result)] = proxy
            return proxy
        except Exception:
            logger.debug("otel_streamslo: wrapping parsed stream failed", exc_info=True)
            return result

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        result = self.__wrapped__.parse(*args, **kwargs)
        if inspect.isawaitable(result):
            return self._await_parse(result)
        return self._wrap_parsed(result)

    async def _await_parse(self, awaitable: Any) -> Any:
        return self._wrap_parsed(await awaitable)

    def close(self) -> Any:
        result = self.__wrapped__.close()
        if inspect.isawaitable(result):
            return self._await_close(result)
        self._self_rec.end(Event.CANCEL)
        return result

    async def _await_close(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        finally:
            self._self_rec.end(Event.CANCEL)
