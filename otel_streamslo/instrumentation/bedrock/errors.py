"""botocore exceptions -> lifecycle events, and the HTTP status a failed request carries."""

from __future__ import annotations

from typing import Any, Optional

from otel_streamslo.core.errors import classify_transport
from otel_streamslo.core.lifecycle import Event


def classify_bedrock_error(exc: BaseException) -> Event:
    """Exception raised while waiting for the next event -> lifecycle event.

    An exception message inside the 200 event stream (``modelStreamErrorException``,
    ``internalServerException``, ``serviceUnavailableException``, ``throttlingException`` ...)
    arrives as ``botocore.exceptions.EventStreamError``: an error event. botocore does not wrap the
    transport while a stream is read: a drop is urllib3's ``ProtocolError``, a stall its
    ``ReadTimeoutError`` (or botocore's wrappers of them); aiobotocore lets aiohttp's through
    (``ClientPayloadError``, ``SocketTimeoutError``). All are classified by class name.
    """
    if any(cls.__name__ == "EventStreamError" for cls in type(exc).__mro__):
        return Event.ERROR_EVENT
    return classify_transport(exc) or Event.ERROR_EVENT


def status_of(exc: BaseException) -> Optional[int]:
    """HTTP status of a ``botocore.exceptions.ClientError`` (None for connect errors and the like)."""
    response: Any = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    status = response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status if isinstance(status, int) and not isinstance(status, bool) else None


def error_code_of(exc: BaseException) -> Optional[str]:
    """The error code botocore parsed (``ThrottlingException``, ``modelStreamErrorException`` ...)."""
    response: Any = getattr(exc, "response", None)
    if not isinstance(response, dict):
        return None
    code = response.get("Error", {}).get("Code")
    return code if isinstance(code, str) and code else None
