"""The ``send`` an app gets from the middleware: the per-body-message hot path, in C or Python.

A data message of a response already streaming (``resp.hot``), with ``more_body`` true and a body
with data (SSE: not a comment, no ``event:`` field), is counted here and forwarded; every other
message takes ``full`` (``ServedResponse.observe``, then the server's send). On ASGI spec 2.4
(``failed`` given) a send raising ``OSError`` is a client disconnect: the count taken before the
message is restored, ``failed()`` is awaited, and the ``OSError`` is re-raised.

The C version (``_speedups``, built at install on CPython 3.10+) does the same per message without
a Python frame; ``OTEL_STREAMSLO_PURE_PYTHON=1`` selects the Python version (also the fallback
when the extension is not built).
"""

from __future__ import annotations

from collections.abc import Awaitable, MutableMapping
from typing import TYPE_CHECKING, Any, Callable, Optional

from otel_streamslo.core.config import pure_python_requested

Message = MutableMapping[str, Any]
Send = Callable[[Message], Awaitable[None]]
Failed = Callable[[], Awaitable[None]]

_AFTER_COLON = b";"  # body >= b";": its first byte is neither ":" (an SSE comment) nor absent
_EVENT = b"event:"
_V = 118  # ord("v"): a body without it has no `event:` field (memchr, no substring search)


class PyCounters:
    """The fields of a served response that the hot path reads and writes (pure Python)."""

    __slots__ = ("chunks", "hot", "sse")

    def __init__(self) -> None:
        self.chunks = 0
        self.hot = False  # streaming, first data seen, not ended: the hot path may count
        self.sse = False


def py_send(resp: Any, send: Send, full: Send, failed: Optional[Failed]) -> Send:
    """The pure-Python hot path (same behaviour as ``_speedups.SendHook``)."""

    def on_send(message: Message) -> Awaitable[None]:
        # Subscripts, no type check: only http.response.body has both "more_body" and "body";
        # a missing key raises and the message takes the full path.
        try:
            if resp.hot and message["more_body"]:
                data = message["body"]
                if (data >= _AFTER_COLON and (_V not in data or data.find(_EVENT) < 0)) if resp.sse else data:
                    resp.chunks += 1
                    return send(message)  # no coroutine frame of ours per message
        except Exception:  # not an error: the full path handles the message
            pass
        return full(message)

    if failed is None:
        return on_send

    async def on_send_checked(message: Message) -> None:
        counted = resp.chunks
        try:
            await on_send(message)
        except OSError:  # ASGI spec 2.4: a failed send is how a disconnect shows
            resp.chunks = counted  # that message never reached the client
            await failed()
            raise

    return on_send_checked


def _load() -> tuple[type, Optional[Callable[..., Send]]]:
    if pure_python_requested():
        return PyCounters, None
    try:
        import otel_streamslo.server._speedups as _speedups
    except ImportError:
        return PyCounters, None
    return _speedups.Counters, _speedups.SendHook


if TYPE_CHECKING:
    Counters = PyCounters
    _c_send: Optional[Callable[..., Send]] = None
else:
    Counters, _c_send = _load()
IMPLEMENTATION = "python" if _c_send is None else "c"


def make_send(resp: Any, send: Send, full: Send, failed: Optional[Failed]) -> Send:
    """The hot-path ``send`` for ``resp`` (an instance of :data:`Counters`): C when built."""
    if _c_send is not None:
        return _c_send(resp, send, full, failed)
    return py_send(resp, send, full, failed)
