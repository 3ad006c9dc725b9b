"""Reading response bodies: data vs keep-alive comments, error events, streamed content types."""

from __future__ import annotations

import pytest

from otel_streamslo.server import sse


@pytest.mark.parametrize(
    ("body", "data"),
    [
        (b"data: x\n\n", True),
        (b": ping\n\n", False),
        (b":a\r\n:b\r\n\r\n", False),
        (b": c\ndata: 1\n\n", True),
    ],
)
def test_has_data(body: bytes, data: bool) -> None:
    assert sse.has_data(body) is data


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"event: error\ndata: {}\n\n", True),
        (b"event:error\r\ndata: {}\r\n\r\n", True),
        (b"data: event: error\n\n", False),
        (b"event: errors\ndata: 1\n\n", False),
        (b"data: 1\n\n", False),
    ],
)
def test_has_error_event(body: bytes, error: bool) -> None:
    assert sse.has_error_event(body) is error


def test_content_type() -> None:
    assert sse.content_type([(b"Content-Type", b"text/event-stream; charset=utf-8")]) == sse.SSE_TYPE
    assert sse.content_type([(b"x", b"y")]) == b""
    assert b"application/jsonl" in sse.STREAMED_TYPES
