"""google-genai exceptions -> lifecycle events and HTTP status.

An error frame inside the 200 stream and an HTTP error status raise the same classes
(``errors.ServerError`` / ``errors.ClientError``); the response the exception carries tells them
apart: status 200 means the stream had begun (``.status_code`` on httpx / httpx2 responses,
``.status`` on aiohttp's). Transport errors are the HTTP client's own, unwrapped: httpx2 or httpx
(sync), aiohttp or httpx2 (async); :func:`~otel_streamslo.core.errors.classify_transport` names them.
"""

from __future__ import annotations

from typing import Any, Optional

from otel_streamslo.core.errors import classify_transport
from otel_streamslo.core.lifecycle import Event


def _int(value: Any) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def response_status(exc: BaseException) -> Optional[int]:
    """HTTP status of the response an SDK error carries (None without one)."""
    response = getattr(exc, "response", None)
    if response is None:
        return None
    status = _int(getattr(response, "status_code", None))
    return status if status is not None else _int(getattr(response, "status", None))


def status_of(exc: BaseException) -> Optional[int]:
    """HTTP status of a failed request: its response's, else the error's ``code`` (SDK errors only)."""
    status = response_status(exc)
    if status is not None:
        return status
    from google.genai import errors

    return _int(getattr(exc, "code", None)) if isinstance(exc, errors.APIError) else None


def classify_genai_error(exc: BaseException) -> Event:
    """Exception raised while waiting for the next chunk (after the stream began) -> lifecycle event.

    ``errors.APIError`` (an in-stream ``{"error": ...}``, or an HTTP error of an inner request made by
    automatic function calling or continuation) and undecodable data are error events.
    """
    return classify_transport(exc) or Event.ERROR_EVENT
