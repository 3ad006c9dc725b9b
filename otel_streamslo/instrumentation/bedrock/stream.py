"""The proxy that replaces botocore's ``EventStream`` in the response dict.

The application iterates it exactly as before (``for event in stream``: every ``iter()`` is a new
generator over the same events, as botocore's), closes it (``close()``), and sees the same class,
events and exceptions. On the side each event feeds the call's record through its adapter.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator
from typing import Any, Optional

import wrapt

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.observe import Adapter, observed
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
        return observed(self, self._self_rec, self._self_adapter, iter(self.__wrapped__).__next__)

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


def _not_a_context_manager(obj: Any, name: str) -> Exception:
    if sys.version_info >= (3, 11):
        return TypeError(f"'{type(obj).__name__}' object does not support the context manager protocol")
    return AttributeError(name)
