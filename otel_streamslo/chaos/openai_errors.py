"""OpenAI-shaped error bodies, shared by the Chat Completions and Responses dialects."""

from __future__ import annotations

from typing import Any, Optional

__all__ = ["ERROR_MESSAGE", "error_body", "error_reply"]

ERROR_MESSAGE = "The server had an error while processing your request."

_ERRORS: dict[int, tuple[str, str, Optional[str]]] = {
    400: ("chaos: injected bad request (http_400).", "invalid_request_error", "invalid_request"),
    429: ("Rate limit reached for requests (chaos http_429).", "requests", "rate_limit_exceeded"),
    500: (ERROR_MESSAGE, "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
    529: ("The engine is currently overloaded, please try again later.", "server_error", None),
    404: ("Not found.", "invalid_request_error", None),
    405: ("Method not allowed.", "invalid_request_error", None),
}


def error_body(
    status: int,
    message: Optional[str] = None,
    *,
    type_: Optional[str] = None,
    param: Optional[str] = None,
    code: Optional[str] = None,
) -> dict[str, Any]:
    """OpenAI-shaped error body ``{"error": {"message", "type", "param", "code"}}``."""
    default_message, default_type, default_code = _ERRORS.get(status, (ERROR_MESSAGE, "server_error", None))
    return {
        "error": {
            "message": message or default_message,
            "type": type_ or default_type,
            "param": param,
            "code": code if code is not None else default_code,
        }
    }


def error_reply(status: int, message: Optional[str], param: Optional[str]) -> dict[str, Any]:
    """``Dialect.error`` of the OpenAI dialects."""
    return error_body(status, message, param=param)
