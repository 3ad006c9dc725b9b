"""One classifier for transport and timeout errors, whatever HTTP client an SDK sits on.

SDKs let the errors of their HTTP client through while a stream is read (anthropic and openai sit
on httpx or httpx2, google-genai on httpx2 or aiohttp, botocore on urllib3). Classes are matched
by name along the exception's MRO, never imported, so a client that is not installed costs
nothing and a new one fits by its class names. SDK code checks its own exception classes first
(e.g. ``APITimeoutError``) and falls back to :func:`classify_transport`.
"""

from __future__ import annotations

from typing import Optional

from otel_streamslo.core.lifecycle import Event

#: Base or leaf class names that mean "the read waited too long".
TIMEOUT_NAMES = frozenset(
    {
        "TimeoutError",  # builtins (aiohttp's ServerTimeoutError and asyncio's subclass it)
        "TimeoutException",  # httpx / httpx2 base
        "ReadTimeout",
        "ReadTimeoutError",  # urllib3 / botocore
        "ServerTimeoutError",  # aiohttp
        "SocketTimeoutError",
        "ConnectTimeout",
        "ConnectTimeoutError",
        "PoolTimeout",
        "WriteTimeout",
    }
)

#: Base or leaf class names that mean "the connection broke".
TRANSPORT_NAMES = frozenset(
    {
        "TransportError",  # httpx / httpx2 base (ProtocolError, NetworkError, ...)
        "NetworkError",
        "ProtocolError",  # httpx and urllib3
        "RemoteProtocolError",
        "LocalProtocolError",
        "ReadError",
        "WriteError",
        "ConnectError",
        "CloseError",
        "StreamError",  # httpx StreamClosed / StreamConsumed ... : the body is gone
        "StreamClosed",
        "ConnectionError",  # builtins (ConnectionResetError ...)
        "IncompleteRead",  # http.client / urllib3
        "ClientPayloadError",  # aiohttp: incomplete body
        "ServerDisconnectedError",  # aiohttp
        "ClientConnectionError",  # aiohttp base
        "ClientOSError",
        "EndpointConnectionError",  # botocore
        "ConnectionClosedError",
        "ResponseStreamingError",  # botocore wraps urllib3's errors while streaming
    }
)


def classify_transport(exc: BaseException) -> Optional[Event]:
    """``TIMEOUT`` or ``TRANSPORT_ERROR`` for an HTTP client error, None for anything else.

    The nearest class in the MRO decides, so a timeout that subclasses a transport error
    (``httpx.ReadTimeout`` is a ``TransportError``) is a timeout.
    """
    for cls in type(exc).__mro__:
        name = cls.__name__
        if name in TIMEOUT_NAMES or name.endswith("Timeout"):
            return Event.TIMEOUT
        if name in TRANSPORT_NAMES:
            return Event.TRANSPORT_ERROR
    return None


def http_status_of(exc: BaseException) -> Optional[int]:
    """HTTP status an SDK exception carries (``status_code`` or ``status``), None without one."""
    for attr in ("status_code", "status"):
        status = getattr(exc, attr, None)
        if isinstance(status, int) and not isinstance(status, bool):
            return status
    return None
