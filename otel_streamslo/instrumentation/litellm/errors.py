"""litellm exceptions -> lifecycle events: the deepest cause decides.

litellm wraps every mid-stream failure (``MidStreamFallbackError`` around its own
``APIConnectionError`` / ``InternalServerError`` / ``Timeout``, around the provider SDK's or the
HTTP client's error), and a clean end without a finish reason raises too, with ``StopIteration``
/ ``StopAsyncIteration`` in the chain. Its wrappers subclass openai's classes
(``APIConnectionError`` even for a provider's error frame), so only the causes below them tell
what happened: walked from the deepest up, the first that names a transport error, a timeout or
an ended iterator decides; nothing decisive is an error event.
"""

from __future__ import annotations

from typing import Optional

from otel_streamslo.core.errors import classify_transport, http_status_of
from otel_streamslo.core.lifecycle import Event

_MAX_DEPTH = 16
_ENDED = ("StopIteration", "StopAsyncIteration")
_SDK_TIMEOUT = ("APITimeoutError",)
_SDK_CONNECTION = ("APIConnectionError",)


def cause_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and its causes (``original_exception``, ``__cause__``, ``__context__``), outermost first."""
    chain: list[BaseException] = []
    seen: set[int] = set()
    current: Optional[BaseException] = exc
    while current is not None and id(current) not in seen and len(chain) < _MAX_DEPTH:
        seen.add(id(current))
        chain.append(current)
        nxt = getattr(current, "original_exception", None)
        if not isinstance(nxt, BaseException):
            nxt = current.__cause__ or current.__context__
        current = nxt
    return chain


def _decisive(exc: BaseException) -> Optional[Event]:
    names = [cls.__name__ for cls in type(exc).__mro__]
    if names[0] in _ENDED:
        return Event.EOF
    event = classify_transport(exc)
    if event is not None:
        return event
    if type(exc).__module__.startswith("openai"):  # the provider SDK's own, not litellm's subclasses
        if any(n in _SDK_TIMEOUT for n in names):
            return Event.TIMEOUT
        if any(n in _SDK_CONNECTION for n in names):
            return Event.TRANSPORT_ERROR
    return None


def classify_litellm_error(exc: BaseException) -> Event:
    """Exception raised while waiting for the next chunk -> lifecycle event (deepest cause first)."""
    for cause in reversed(cause_chain(exc)):
        event = _decisive(cause)
        if event is not None:
            return event
    return Event.ERROR_EVENT


def litellm_status_of(exc: BaseException) -> Optional[int]:
    """HTTP status of a failed request, from the deepest cause that carries the provider's response.

    litellm re-labels statuses (a 529 becomes its ``InternalServerError`` with 500, a refused
    connection a 500 too), so the HTTP client's own error decides; None when no response came.
    """
    chain = cause_chain(exc)
    if any(_decisive(c) in (Event.TRANSPORT_ERROR, Event.TIMEOUT) for c in chain[1:]):
        return None
    for cause in reversed(chain[1:]):
        status = getattr(getattr(cause, "response", None), "status_code", None)
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    if type(exc).__name__ in ("APIConnectionError", "Timeout"):
        return None
    return http_status_of(exc)
