"""The application sees the same events and the same exceptions with and without instrumentation."""

from __future__ import annotations

from typing import Any

import anthropic

from tests.instrumentation.anthropic.conftest import MODEL, MSG, Harness

H = {"x-chaos-tokens": "6"}


def test_stream_attributes_pass_through(own: Harness, chaos: Any) -> None:
    with own.client(chaos) as client:
        stream = client.messages.create(
            model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H
        )
        assert stream.response.status_code == 200
        assert stream.response.headers["request-id"]
        assert isinstance(stream, anthropic.Stream)
        assert type(stream).__name__ != "Stream" and stream.__class__ is anthropic.Stream
        list(stream)
