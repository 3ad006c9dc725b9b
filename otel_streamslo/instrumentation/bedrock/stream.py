"""The proxies that replace botocore's ``EventStream`` / aiobotocore's ``AioEventStream`` in the response.

The application iterates it exactly as before (``for event in stream``: every ``iter()`` is a new
generator over the same events, as botocore's; ``async for`` on aiobotocore's, every ``aiter()`` a
new async iterator), closes it (``close()``, synchronous in both), and sees the same class, events
and exceptions. On the side each event feeds the call's record through its adapter.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Iterator
from typing import Any, Optional

import wrapt

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.observe import Adapter, AsyncObserved, observed
from otel_streamslo.core.record import StreamRecord

logger = logging.getLogger(__name__)


class EventStreamProxy(wrapt.ObjectProxy):  # type: ignore[misc,type-arg]
    """Transparent proxy of a ``botocore.eventstream.EventStream``."""

    def __init__(self, wrapped: Any, rec: StreamRecord, adapter: Adapter) -> None:
        super().__init__(wrapped)
        self._self_rec = rec
        self._self_adapter = adapter
        rec.watch(self)

    def __iter__(self) -> Iterator[Any]:
        return observed(self, self._self_rec, self._self_adapter, iter(self.__wrapped__))

    def close(self) -> Any:
        try:
            return self.__wrapped__.close()
        finally:
            self._self_rec.end(Event.CANCEL)

    # EventStream is no context manager: fail like Python does on it (wrapt would raise AttributeError).
    def __enter__(self) -> Any:
        enter = getattr(type(self.__wrapped__), "__enter__", None)
        if enter is None:
            raise _not_a_context_manager(self.__wrapped__, "__enter__")
        return enter(self.__wrapped__)

    def __exit__(self, *exc_info: Any) -> Optional[bool]:
        leave = getattr(type(self.__wrapped__), "__exit__", None)
        if leave is None:
            raise _not_a_context_manager(self.__wrapped__, "__exit__")
        return leave(self.__wrapped__, *exc_info)  # type: ignore[no-any-return]


class AsyncEventStreamProxy(EventStreamProxy):
    """Transparent proxy of an ``aiobotocore.eventstream.AioEventStream``.

    ``iter()`` raises the stream's own ``NotImplementedError``; ``__anext__`` is the stream's own
    (an async generator function there, so ``anext()`` fails as it does without the proxy).
    """

    def __iter__(self) -> Iterator[Any]:
        return iter(self.__wrapped__)

    def __aiter__(self) -> AsyncIterator[Any]:
        wrapped = self.__wrapped__
        return AsyncObserved(
            self, self._self_rec, self._self_adapter, type(wrapped).__aiter__(wrapped).__anext__
        )

    def __anext__(self) -> Any:
        return self.__wrapped__.__anext__()

    # AioEventStream is no async context manager either.
    async def __aenter__(self) -> Any:
        enter = getattr(type(self.__wrapped__), "__aenter__", None)
        if enter is None:
            raise _not_a_context_manager(self.__wrapped__, "__aenter__", "asynchronous ")
        return await enter(self.__wrapped__)

    async def __aexit__(self, *exc_info: Any) -> Optional[bool]:
        leave = getattr(type(self.__wrapped__), "__aexit__", None)
        if leave is None:
            raise _not_a_context_manager(self.__wrapped__, "__aexit__", "asynchronous ")
        return await leave(self.__wrapped__, *exc_info)  # type: ignore[no-any-return]


def _not_a_context_manager(obj: Any, name: str, kind: str = "") -> Exception:
    if sys.version_info >= (3, 11):
        return TypeError(f"'{type(obj).__name__}' object does not support the {kind}context manager protocol")
    return AttributeError(name)
