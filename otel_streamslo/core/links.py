"""Upstream link: the LLM streams started while the app serves one HTTP response.

The server middleware binds a :class:`ResponseLink` in a context variable for the duration of a
request; every :class:`~otel_streamslo.core.record.StreamRecord` started in that context (also in
tasks and threads that inherit it) registers with it on start and reports to it on end. The link
knows when the client disconnected, so a record that ends after that is an orphan: billed output
the user never saw. This module imports no server code and nothing from the SDKs.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import threading
import time
import weakref
from collections.abc import Awaitable
from typing import Any, Callable, Optional, Protocol

logger = logging.getLogger(__name__)

ORPHANED = "streamslo.orphaned"
ABORT_PROPAGATION_LATENCY = "streamslo.abort.propagation_latency"
TOKENS_AFTER_DISCONNECT = "streamslo.tokens.after_disconnect"
METRIC_ABORT_PROPAGATION_LATENCY = "streamslo.abort.propagation_latency"
METRIC_TOKENS_AFTER_DISCONNECT = "streamslo.tokens.after_disconnect"
METRIC_TOOL_CALLS_COMMITTED = "streamslo.tool_calls.committed"
METRIC_RESPONSES = "streamslo.responses"


class Linked(Protocol):
    """What a link needs from a stream record."""

    tokens: int

    @property
    def done(self) -> bool:
        """True once the stream ended."""

    def closer(self) -> Optional[Callable[[], Any]]:
        """The ``close`` of the stream object the app holds, if it is still alive."""

    def cancel(self) -> None:
        """End the record as ``client_cancelled``."""


Closer = Callable[[], Optional[Callable[[], Any]]]

_CURRENT: contextvars.ContextVar[Optional[ResponseLink]] = contextvars.ContextVar(
    "otel_streamslo_response", default=None
)


def current() -> Optional[ResponseLink]:
    """The response being served in this context, if any."""
    return _CURRENT.get()


def bind(link: ResponseLink) -> contextvars.Token[Optional[ResponseLink]]:
    """Make ``link`` the current response (undo with :func:`unbind`)."""
    return _CURRENT.set(link)


def unbind(token: contextvars.Token[Optional[ResponseLink]]) -> None:
    """Undo :func:`bind` (tolerates being called from another context)."""
    try:
        _CURRENT.reset(token)
    except ValueError:
        _CURRENT.set(None)


class ResponseLink:
    """The upstream streams of one response and the client's disconnect time."""

    __slots__ = ("_at_disconnect", "_lock", "_open", "bad", "disconnected_ns", "on_bad", "started")

    def __init__(self, on_bad: Optional[Callable[[], None]] = None) -> None:
        self._lock = threading.Lock()
        self._open: dict[int, Linked] = {}
        self._at_disconnect: dict[int, int] = {}  # id(record) -> tokens delivered at the disconnect
        self.started = 0
        self.bad = 0
        self.disconnected_ns: Optional[int] = None
        self.on_bad = on_bad

    @property
    def open_at_disconnect(self) -> int:
        """Upstream streams still open when the client left (0 without a disconnect)."""
        return len(self._at_disconnect)

    def add(self, rec: Linked) -> None:
        """A stream of this response started."""
        with self._lock:
            self.started += 1
            self._open[id(rec)] = rec

    def ended(self, rec: Linked, bad: bool) -> Optional[tuple[float, int]]:
        """A stream ended; returns (propagation latency s, tokens after disconnect) for an orphan."""
        with self._lock:
            self._open.pop(id(rec), None)
            if bad:
                self.bad += 1
            mark = self._at_disconnect.get(id(rec))
            gone = self.disconnected_ns
        if bad and self.on_bad is not None:  # the response's lifecycle decides whether it still counts
            try:
                self.on_bad()
            except Exception:
                logger.debug("otel_streamslo: upstream-bad callback failed", exc_info=True)
        if mark is None or gone is None:
            return None
        return (max(0, time.monotonic_ns() - gone) * 1e-9, max(0, rec.tokens - mark))

    def disconnect(self, now_ns: int) -> list[Linked]:
        """The client left: mark every open stream (once) and return them."""
        with self._lock:
            if self.disconnected_ns is not None:
                return []
            self.disconnected_ns = now_ns
            live = [r for r in self._open.values() if not r.done]
            self._at_disconnect = {id(r): r.tokens for r in live}
        return live


def register(rec: Linked) -> Optional[ResponseLink]:
    """Register a new stream with the current response; returns the link (or None)."""
    link = _CURRENT.get()
    if link is not None:
        link.add(rec)
    return link


def weak_closer(obj: object) -> Closer:
    """A weak reference to ``obj.close`` (None once ``obj`` is collected)."""
    ref = weakref.ref(obj)

    def get() -> Optional[Callable[[], Any]]:
        target = ref()
        close = getattr(target, "close", None) if target is not None else None
        return close if callable(close) else None

    return get


async def close_streams(records: list[Linked]) -> None:
    """End each record as cancelled, then close its stream; never raises (but cancellation)."""
    for rec in records:
        try:
            rec.cancel()  # first, so the app's reader failing on the closed socket cannot win the race
            close = rec.closer()
            if close is None:
                continue
            if inspect.iscoroutinefunction(close):
                await _quiet(close())
            else:
                threading.Thread(target=_quiet_sync, args=(close,), daemon=True).start()
        except Exception:
            logger.debug("otel_streamslo: closing an upstream stream failed", exc_info=True)


async def _quiet(awaitable: Awaitable[Any]) -> None:
    try:
        await awaitable
    except Exception:
        logger.debug("otel_streamslo: closing an upstream stream failed", exc_info=True)


def _quiet_sync(close: Callable[[], Any]) -> None:
    try:
        close()
    except Exception:
        logger.debug("otel_streamslo: closing an upstream stream failed", exc_info=True)
