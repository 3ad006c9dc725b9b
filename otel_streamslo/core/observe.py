"""The per-chunk loop of every stream proxy: the wrapped stream's items, observed on the side.

:func:`observed` (a generator over the stream's iterator) and :class:`AsyncObserved` (an async
iterator awaiting the stream's step) hand out exactly what the stream yields, re-raise exactly what
it raises, and feed each item to the adapter. They attach no context and hold no lock; their own
errors are logged at debug level.
:func:`inner_iterator` lets a proxy skip an SDK ``__iter__`` that only re-yields
``self._iterator``, or re-yields it telling ``self._observer`` of each item (the loops then make
that call themselves), so instrumenting adds no generator layer.
"""

from __future__ import annotations

import logging
import time
import types
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, Callable, Optional, Protocol

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.shapes import chunk_reader

logger = logging.getLogger(__name__)


class Adapter(Protocol):
    """What an SDK module supplies for one stream: how to read its chunks and errors.

    An adapter class may also declare ``token_shapes`` (see :mod:`otel_streamslo.core.shapes`):
    the chunks ``on_chunk`` would read as one delivered token and nothing else, then counted in C.
    """

    end_event: Event

    def on_chunk(self, rec: StreamRecord, chunk: Any) -> None:
        """Feed one chunk's content, finish reason, usage and metadata into ``rec``."""

    def classify(self, exc: BaseException) -> Event:
        """Map an exception raised while waiting for the next chunk to a lifecycle event."""


def record_error(rec: StreamRecord, adapter: Adapter, exc: BaseException) -> None:
    """The stream raised ``exc`` while the consumer waited for the next chunk."""
    try:
        event = adapter.classify(exc)
    except Exception:
        logger.debug("otel_streamslo: classifying %r failed", exc, exc_info=True)
        event = Event.TRANSPORT_ERROR
    rec.fail(event, exc)


def observed(
    holder: object,
    rec: StreamRecord,
    adapter: Adapter,
    chunks: Iterator[Any],
    notifier: Any = None,
) -> Iterator[Any]:
    """The items of ``chunks`` until it is exhausted, each observed.

    A ``for`` loop over ``chunks`` (the stream's inner iterator: the interpreter's own iteration
    path, already hot from the SDK's loops, rather than a call per item). An exception raised
    while the consumer holds an item (``close()``, ``throw()``) is not the stream's: it passes
    through unrecorded. ``holder`` (a proxy, or None) is only held: an application that keeps just
    the iterator of a ``for`` loop keeps its stream watched, and once the iterator is dropped the
    proxy can go too. ``notifier`` (see :func:`inner_iterator`): the SDK stream whose ``_observer``
    learns of each item before it is handed out, as the SDK's own ``__iter__`` does; its errors
    are the stream's.
    """
    on_chunk = chunk_reader(adapter)
    handed_out = False
    try:
        for chunk in chunks:
            if notifier is not None and (observer := notifier._observer) is not None:
                observer.item(chunk)
            try:
                rec.chunks += 1
                if rec.first_chunk_ns is None:
                    rec.first_chunk_ns = time.monotonic_ns()
                on_chunk(rec, chunk)
            except Exception:
                logger.debug("otel_streamslo: reading chunk failed", exc_info=True)
            handed_out = True
            yield chunk
            handed_out = False
    except BaseException as exc:
        if not handed_out:
            record_error(rec, adapter, exc)
        raise
    rec.end(adapter.end_event)


def calls(step: Callable[[], Any]) -> Iterator[Any]:
    """An iterator over ``step()`` until it raises ``StopIteration`` (for :func:`observed`)."""
    while True:
        try:
            item = step()
        except StopIteration:
            return
        yield item


class AsyncObserved:
    """:func:`observed` for an async stream: the items of ``await next_chunk()``, each observed.

    An async iterator object rather than an async generator: dropped, it goes at once (an async
    generator is closed later, by a task its event loop schedules), so a stream the application
    leaves is ``client_abandoned`` as soon as it is collected. ``holder`` and ``notifier`` as in
    :func:`observed`.
    """

    __slots__ = ("_adapter", "_holder", "_next_chunk", "_notifier", "_on_chunk", "_rec")

    def __init__(
        self,
        holder: object,
        rec: StreamRecord,
        adapter: Adapter,
        next_chunk: Callable[[], Awaitable[Any]],
        notifier: Any = None,
    ) -> None:
        self._holder = holder
        self._rec = rec
        self._adapter = adapter
        self._next_chunk = next_chunk
        self._notifier = notifier
        self._on_chunk = chunk_reader(adapter)

    def __aiter__(self) -> AsyncObserved:
        return self

    async def __anext__(self) -> Any:
        rec = self._rec
        try:
            chunk = await self._next_chunk()
            notifier = self._notifier
            if notifier is not None and (observer := notifier._observer) is not None:
                observer.item(chunk)
        except StopAsyncIteration:
            rec.end(self._adapter.end_event)
            raise
        except BaseException as exc:
            record_error(rec, self._adapter, exc)
            raise
        try:
            rec.chunks += 1
            if rec.first_chunk_ns is None:
                rec.first_chunk_ns = time.monotonic_ns()
            self._on_chunk(rec, chunk)
        except Exception:
            logger.debug("otel_streamslo: reading chunk failed", exc_info=True)
        return chunk


def _reyield(self: Any) -> Iterator[Any]:
    for item in self._iterator:  # noqa: UP028 (the SDK's code, compared as bytecode)
        yield item


async def _areyield(self: Any) -> AsyncIterator[Any]:
    async for item in self._iterator:
        yield item


def _reyield_observed(self: Any) -> Iterator[Any]:
    for item in self._iterator:
        if (observer := self._observer) is not None:
            observer.item(item)
        yield item


async def _areyield_observed(self: Any) -> AsyncIterator[Any]:
    async for item in self._iterator:
        if (observer := self._observer) is not None:
            observer.item(item)
        yield item


# method -> (plain re-yield, re-yield telling self._observer of each item)
_FORMS = {"__iter__": (_reyield, _reyield_observed), "__aiter__": (_areyield, _areyield_observed)}


def _same_code(fn: Any, reference: Any) -> bool:
    # a plain function only (a wrapt FunctionWrapper forwards ``__code__`` of what it wraps)
    if type(fn) is not types.FunctionType:
        return False
    code, ref = fn.__code__, reference.__code__
    same = code.co_code == ref.co_code and code.co_names == ref.co_names
    return bool(same and code.co_consts == ref.co_consts)


def inner_iterator(stream: Any, method: str) -> Optional[tuple[Any, Any]]:
    """``(stream._iterator, notifier)`` when ``type(stream).<method>`` only re-yields ``self._iterator``.

    ``method`` is ``"__iter__"`` or ``"__aiter__"``. The plain form (openai's ``Stream``) gives
    ``notifier`` None; the form that first tells ``self._observer`` of each item (anthropic's, for
    its own tracing) gives ``stream``, for the loops to make that call. Either way iterating the
    inner iterator gives the same items, calls and exceptions with one generator layer less. None
    when the method does anything else.
    """
    try:
        forms = _FORMS.get(method)
        fn = getattr(type(stream), method, None)
        if forms is None:
            return None
        if _same_code(fn, forms[0]):
            notifier = None
        elif _same_code(fn, forms[1]):
            notifier = stream
        else:
            return None
        inner = getattr(stream, "_iterator", None)
        return None if inner is None else (inner, notifier)
    except Exception:
        logger.debug("otel_streamslo: inspecting %s failed", method, exc_info=True)
        return None
