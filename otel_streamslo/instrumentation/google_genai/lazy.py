"""Proxies for the lazy generators ``generate_content_stream`` returns.

Calling the method sends nothing: the request goes out at the first ``next()`` / ``__anext__``. So
the record (span, TTFT clock, ``streams.active``) starts there, and a generator that is never
iterated makes no record at all. While that first step runs the span is current (HTTP client spans
nest under it) and :data:`PENDING` names the record, so the ``_request`` hook can tell it the
response arrived (status 200) before any chunk: then a failure before the first chunk is a stream
failure, not a failed request. Later steps run with nothing attached.

The application sees the SDK's generator: same items, exceptions and ``__class__``; ``close()``
(sync) / ``aclose()`` (async) end the record as ``client_cancelled``; garbage collection of an
unfinished one as ``client_abandoned``. Own errors are logged at debug level and never raised.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Iterator
from typing import Any, Callable, Optional

import wrapt

from otel_streamslo.core.calls import attach_span, detach_span
from otel_streamslo.core.lifecycle import Event, State
from otel_streamslo.core.observe import AsyncObserved, observed, record_error
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.instrumentation.google_genai.errors import response_status, status_of
from otel_streamslo.instrumentation.google_genai.generate import GenerateAdapter

logger = logging.getLogger(__name__)

#: The record whose first request is in flight in this context (read by the ``_request`` hooks).
PENDING: contextvars.ContextVar[Optional[StreamRecord]] = contextvars.ContextVar(
    "otel_streamslo_genai_pending", default=None
)

Start = Callable[[], Optional[StreamRecord]]


def mark_opened(rec: StreamRecord) -> None:
    """The response of ``rec``'s request arrived with status 200 (once; later requests are inner)."""
    if rec.lc.state is State.REQUESTING:
        rec.opened(200)


def _failed(rec: StreamRecord, adapter: GenerateAdapter, exc: BaseException) -> None:
    """The first step raised ``exc``: a failed request, or an error as the first event of the 200 stream."""
    try:
        if rec.lc.state is State.REQUESTING:
            if response_status(exc) != 200:
                rec.request_failed(exc, status_of(exc))
                return
            rec.opened(200)
    except Exception:
        logger.debug("otel_streamslo: classifying %r failed", exc, exc_info=True)
    record_error(rec, adapter, exc)


def _delivered(rec: StreamRecord, adapter: GenerateAdapter, chunk: Any) -> None:
    """The first chunk (later ones go through the observed loop)."""
    try:
        rec.first_chunk_ns = time.monotonic_ns()
        mark_opened(rec)  # the _request hook did not run (older SDK): a chunk proves the 200
        rec.chunks += 1
        adapter.on_chunk(rec, chunk)
    except Exception:
        logger.debug("otel_streamslo: reading chunk failed", exc_info=True)


def _begin(proxy: Any) -> Optional[StreamRecord]:
    """Start the record at the first step (None: not observed) and watch the proxy."""
    rec = None
    try:
        rec = proxy._self_start()
        if rec is not None:
            rec.watch(proxy)
    except Exception:
        logger.debug("otel_streamslo: cannot start record", exc_info=True)
    proxy._self_rec = rec
    return rec


def _cancel(rec: Optional[StreamRecord]) -> None:
    """``close()`` / ``aclose()``: ``client_cancelled`` if the stream began and is open."""
    if rec is not None:
        rec.end(Event.CANCEL)


class LazySyncStream(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """Proxy for the generator of ``Models.generate_content_stream``.

    After the first step, ``next()`` steps the observed loop (or the generator itself, unobserved).
    ``otel_streamslo.stream_outcome`` reads ``_self_rec``.
    """

    def __init__(self, wrapped: Any, start: Start) -> None:
        super().__init__(wrapped)
        self._self_start = start
        self._self_rec: Optional[StreamRecord] = None
        self._self_steps: Optional[Iterator[Any]] = None

    def __iter__(self) -> LazySyncStream:
        return self

    def __next__(self) -> Any:
        steps = self._self_steps
        if steps is None:
            return self._first()
        return next(steps)

    def _first(self) -> Any:
        rec, next_chunk = _begin(self), self.__wrapped__.__next__
        if rec is None:
            self._self_steps = self.__wrapped__
            return next_chunk()
        adapter = GenerateAdapter()
        self._self_steps = observed(None, rec, adapter, self.__wrapped__)
        pending = PENDING.set(rec)
        token = attach_span(rec)
        try:
            chunk = next_chunk()
        except StopIteration:
            mark_opened(rec)
            rec.end(Event.END_MARKER)
            raise
        except BaseException as exc:
            _failed(rec, adapter, exc)
            raise
        finally:
            detach_span(token)
            PENDING.reset(pending)
        _delivered(rec, adapter, chunk)
        return chunk

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            _cancel(self._self_rec)


class LazyAsyncStream(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """Proxy for the async generator ``await AsyncModels.generate_content_stream(...)`` returns."""

    def __init__(self, wrapped: Any, start: Start) -> None:
        super().__init__(wrapped)
        self._self_start = start
        self._self_rec: Optional[StreamRecord] = None
        self._self_steps: Optional[AsyncIterator[Any]] = None

    def __aiter__(self) -> LazyAsyncStream:
        return self

    def __anext__(self) -> Awaitable[Any]:
        steps = self._self_steps
        if steps is None:
            return self._first()
        return steps.__anext__()

    async def _first(self) -> Any:
        rec, next_chunk = _begin(self), self.__wrapped__.__anext__
        if rec is None:
            self._self_steps = self.__wrapped__
            return await next_chunk()
        adapter = GenerateAdapter()
        self._self_steps = AsyncObserved(None, rec, adapter, next_chunk)
        pending = PENDING.set(rec)
        token = attach_span(rec)
        try:
            chunk = await next_chunk()
        except StopAsyncIteration:
            mark_opened(rec)
            rec.end(Event.END_MARKER)
            raise
        except BaseException as exc:
            _failed(rec, adapter, exc)
            raise
        finally:
            detach_span(token)
            PENDING.reset(pending)
        _delivered(rec, adapter, chunk)
        return chunk

    async def aclose(self) -> Any:
        try:
            return await self.__wrapped__.aclose()
        finally:
            _cancel(self._self_rec)
