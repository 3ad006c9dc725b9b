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
# litellm's own wrappers, and aiohttp's parser errors under its ClientPayloadError: never decisive.
_WRAPPERS = ("litellm.exceptions", "aiohttp.http_exceptions")


def cause_chain(exc: BaseException) -> list[BaseException]:
    """``exc`` and every cause reachable through ``original_exception``, ``__cause__``, ``__context__``.

    Outermost first. All three links are followed: litellm's Router re-raises the wrapped error
    ``from`` its ``MidStreamFallbackError``, whose ``__context__`` then holds the provider's error.
    """
    chain: list[BaseException] = []
    seen: set[int] = set()
    stack: list[BaseException] = [exc]
    while stack and len(chain) < _MAX_DEPTH:
        current = stack.pop()
        if id(current) in seen:
            continue
        seen.add(id(current))
        chain.append(current)
        links = (getattr(current, "original_exception", None), current.__cause__, current.__context__)
        stack.extend(link for link in reversed(links) if isinstance(link, BaseException))
    return chain


def _decisive(exc: BaseException) -> Optional[Event]:
    cls = type(exc)
    if cls.__name__ in _ENDED:
        return Event.EOF
    if cls.__module__.startswith(_WRAPPERS):
        return None
    event = classify_transport(exc)
    if event is not None:
        return event
    if cls.__module__.startswith("openai"):  # the provider SDK's own classes
        names = {c.__name__ for c in cls.__mro__}
        if "APITimeoutError" in names:
            return Event.TIMEOUT
        if "APIConnectionError" in names:
            return Event.TRANSPORT_ERROR
    return Event.ERROR_EVENT  # the provider's error frame, or a chunk litellm could not parse


def _wrapper_event(chain: list[BaseException]) -> Event:
    """Only litellm's wrappers are known: its ``Timeout`` and ``APIConnectionError`` say what they wrap."""
    names = {c.__name__ for exc in chain for c in type(exc).__mro__ if c.__module__.startswith("litellm")}
    if "Timeout" in names:
        return Event.TIMEOUT
    if "APIConnectionError" in names:
        return Event.TRANSPORT_ERROR
    return Event.ERROR_EVENT


def classify_litellm_error(exc: BaseException) -> Event:
    """Exception raised while waiting for the next chunk -> lifecycle event (deepest cause first)."""
    chain = cause_chain(exc)
    for cause in reversed(chain):
        event = _decisive(cause)
        if event is not None:
            return event
    return _wrapper_event(chain)


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
