"""Reading ASGI response messages: is the response streamed, does a body carry data or an error event."""

from __future__ import annotations

from collections.abc import Iterable

STREAMED_TYPES = frozenset({b"text/event-stream", b"application/x-ndjson", b"application/jsonl"})
SSE_TYPE = b"text/event-stream"


def content_type(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """The media type of a response (lower case, no parameters); empty when absent."""
    for name, value in headers:
        if name.lower() == b"content-type":
            return bytes(value).split(b";", 1)[0].strip().lower()
    return b""


def has_data(body: bytes) -> bool:
    """True unless an SSE body is only comments (keep-alive pings) and blank lines."""
    if body[:1] != b":":
        return bool(body)
    return any(line and not line.startswith(b":") for line in body.replace(b"\r", b"\n").split(b"\n"))


def has_error_event(body: bytes) -> bool:
    """True if an SSE body contains an event named ``error``."""
    if b"event:" not in body:
        return False
    for line in body.replace(b"\r", b"\n").split(b"\n"):
        if line.startswith(b"event:") and line[6:].strip() == b"error":
            return True
    return False
