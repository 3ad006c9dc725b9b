"""Anthropic exceptions -> lifecycle events."""

from __future__ import annotations

from otel_streamslo.core.errors import classify_transport
from otel_streamslo.core.lifecycle import Event


def classify_anthropic_error(exc: BaseException) -> Event:
    """Exception raised while waiting for the next event -> lifecycle event.

    While a stream is read the SDK does not wrap transport errors: a dropped connection arrives as
    ``httpx2.RemoteProtocolError`` and a stall as ``httpx2.ReadTimeout``. An ``event: error`` frame
    inside the 200 stream (``overloaded_error`` ...) arrives as ``anthropic.APIStatusError`` with
    ``status_code`` 200. Undecodable data (``json.JSONDecodeError``) counts as a server error event.
    """
    import anthropic

    if isinstance(exc, anthropic.APITimeoutError):
        return Event.TIMEOUT
    if isinstance(exc, anthropic.APIConnectionError):
        return Event.TRANSPORT_ERROR
    if isinstance(exc, anthropic.APIStatusError):
        return Event.ERROR_EVENT
    return classify_transport(exc) or Event.ERROR_EVENT
