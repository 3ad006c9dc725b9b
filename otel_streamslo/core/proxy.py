"""Transparent wrapt proxies around SDK stream objects.

The proxies hand the application exactly the chunks, exceptions, return values and
context-manager behaviour of the wrapped stream; on the side they feed a
:class:`~otel_streamslo.core.record.StreamRecord` through the observed loops of
:mod:`otel_streamslo.core.observe`. Their own errors are swallowed. The span is never attached as
current context across the consumer's iteration.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Iterator
from types import TracebackType
from typing import Any, Callable, Optional

import wrapt

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.observe import Adapter, AsyncObserved, calls, inner_iterator, observed, record_error
from otel_streamslo.core.record import StreamRecord

__all__ = ["Adapter", "AsyncStreamProxy", "RawResponseProxy", "SyncStreamProxy", "record_error"]

logger = logging.getLogger(__name__)


def _source(wrapped: Any, method: str) -> tuple[Any, Any]:
    """What a loop over ``wrapped`` steps, and its notifier: see ``observe.inner_iterator``."""
    inner = inner_iterator(wrapped, method)
    if inner is not None:
        return inner
    return (iter(wrapped) if method == "__iter__" else type(wrapped).__aiter__(wrapped)), None


def _step(wrapped: Any, name: str) -> Callable[[], Any]:
    """``wrapped.<name>`` (``__next__`` / ``__anext__``), or a call that fails as the stream would."""
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
        record_error(self._self_rec, self._self_adapter, exc)


class _StreamProxy(_HelperNotifications, wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """What every stream proxy holds: the record, the adapter, the kept loops of ``next()``/``anext()``."""

    def __init__(self, wrapped: Any, rec: StreamRecord, adapter: Adapter) -> None:
        super().__init__(wrapped)
        self._self_rec = rec
        self._self_adapter = adapter
        self._self_steps: Optional[Iterator[Any]] = None
        self._self_asteps: Optional[AsyncObserved] = None
        rec.watch(self)


class SyncStreamProxy(_StreamProxy):
    """Proxy for a synchronous stream (``openai.Stream``, ``anthropic.Stream``).

    ``for`` and ``next()`` run the same observed loop: ``iter()`` returns a new one over the stream's
    own iterator, as the SDK's ``__iter__`` does; ``next()`` steps one kept per proxy.
    """

    def _next_chunk(self, step: Callable[[], Any]) -> Callable[[], Any]:
        """The step the observed loop calls per chunk (a subclass may wrap ``step``).

        Not overridden, ``for`` loops step the stream's iterator directly (no call per chunk).
        """
        return step

    def __iter__(self) -> Iterator[Any]:
        source, notifier = _source(self.__wrapped__, "__iter__")
        if type(self)._next_chunk is not SyncStreamProxy._next_chunk:
            source = calls(self._next_chunk(source.__next__))
        return observed(self, self._self_rec, self._self_adapter, source, notifier)

    def __next__(self) -> Any:
        steps = self._self_steps
        if steps is None:  # holds no proxy (the application does): no cycle
            step = self._next_chunk(_step(self.__wrapped__, "__next__"))
            steps = self._self_steps = observed(None, self._self_rec, self._self_adapter, calls(step))
        return next(steps)

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


class AsyncStreamProxy(_StreamProxy):
    """Proxy for an asynchronous stream (``openai.AsyncStream``, ``anthropic.AsyncStream``).

    ``async for`` and ``anext()`` run the observed loop as in :class:`SyncStreamProxy`:
    ``__aiter__`` returns a new async iterator, as the SDK's does (an async generator).
    """

    def _anext_chunk(self, step: Callable[[], Awaitable[Any]]) -> Callable[[], Awaitable[Any]]:
        """The step the observed loop awaits per chunk (a subclass may wrap ``step``)."""
        return step

    def __aiter__(self) -> AsyncObserved:
        source, notifier = _source(self.__wrapped__, "__aiter__")
        step = self._anext_chunk(source.__anext__)
        return AsyncObserved(self, self._self_rec, self._self_adapter, step, notifier)

    def __anext__(self) -> Awaitable[Any]:
        steps = self._self_asteps
        if steps is None:  # holds no proxy (the application does): no cycle
            step = self._anext_chunk(_step(self.__wrapped__, "__anext__"))
            steps = self._self_asteps = AsyncObserved(None, self._self_rec, self._self_adapter, step)
        return steps.__anext__()

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

    async def __aenter__(self) -> Any:
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
