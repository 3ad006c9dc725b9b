"""Validation of request bodies; a failure is a :class:`BadRequest` with a provider-shaped 4xx."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Callable, Optional

from starlette.requests import Request

__all__ = [
    "BadRequest",
    "field_limits",
    "message_list",
    "optional_bool",
    "optional_positive_int",
    "read_body",
    "require_model",
]


class BadRequest(Exception):
    """A request the provider rejects with a 4xx and a provider-shaped error."""

    def __init__(self, message: str, param: Optional[str] = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.status = status


async def read_body(request: Request) -> dict[str, Any]:
    """The request body as a JSON object."""
    raw = await request.body()
    if not raw.strip():
        raise BadRequest("The request body is empty; expected a JSON object.")
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def require_model(body: Mapping[str, Any]) -> str:
    """The body's non-empty ``model`` string."""
    model = body.get("model")
    if not isinstance(model, str) or not model.strip():
        raise BadRequest("'model' is required and must be a non-empty string.", "model")
    return model.strip()


def optional_bool(body: Mapping[str, Any], name: str) -> bool:
    """A boolean field, False when absent."""
    value = body.get(name)
    if value is None:
        return False
    if not isinstance(value, bool):
        raise BadRequest(f"'{name}' must be a boolean, got {type(value).__name__}.", name)
    return value


def optional_positive_int(body: Mapping[str, Any], name: str) -> Optional[int]:
    """An integer field >= 1 (a dotted name reaches into nested objects), None when absent."""
    value: Any = body
    for part in name.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"'{name}' must be an integer >= 1, got {value!r}.", name)
    return value


def message_list(body: Mapping[str, Any], name: str = "messages") -> list[Any]:
    """A required non-empty array of objects."""
    value = body.get(name)
    if value is None:
        raise BadRequest(f"'{name}' is required.", name)
    if not isinstance(value, list) or not value:
        raise BadRequest(f"'{name}' must be a non-empty array.", name)
    if not all(isinstance(item, dict) for item in value):
        raise BadRequest(f"Every item of '{name}' must be an object.", name)
    return value


def field_limits(*names: str) -> Callable[[Mapping[str, Any]], list[int]]:
    """A ``Dialect.limits`` reading the integer fields ``names`` (dotted names reach into objects)."""

    def limits(body: Mapping[str, Any]) -> list[int]:
        values = (optional_positive_int(body, name) for name in names)
        return [value for value in values if value is not None]

    return limits
