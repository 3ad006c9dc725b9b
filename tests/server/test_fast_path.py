"""The per-message fast path counts what the full path would count and hands the rest to it.

Driven in-process (a real Starlette app under the middleware, ASGI spec 2.3 like uvicorn), every
body below is sent after the first data message, where the middleware's own shortcut applies.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, Union

import pytest
from starlette.applications import Starlette
from starlette.responses import StreamingResponse
from starlette.routing import Route

from otel_streamslo.core import links
from otel_streamslo.server import StreamSLOMiddleware
from tests.conftest import Telemetry
from tests.server.conftest import attrs, one_server_span

Chunk = Union[str, bytes, memoryview]


async def serve(tel: Telemetry, chunks: list[Chunk], media_type: str = "text/event-stream") -> list[Any]:
    """One GET through the middleware; returns the messages the server received."""

    async def stream(request: Any) -> StreamingResponse:
        async def body() -> AsyncIterator[Chunk]:
            for chunk in chunks:
                yield chunk

        return StreamingResponse(body(), media_type=media_type)

    app = StreamSLOMiddleware(
        Starlette(routes=[Route("/s", stream)]),
        tracer_provider=tel.tracer_provider,
        meter_provider=tel.meter_provider,
    )
    sent: list[Any] = []

    async def receive() -> Any:
        await asyncio.Event().wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/s",
        "raw_path": b"/s",
        "query_string": b"",
        "headers": [(b"host", b"t")],
        "asgi": {"version": "3.0", "spec_version": "2.3"},
    }
    await app(scope, receive, send)
    return sent


@pytest.mark.parametrize(
    ("chunks", "reason", "delivered"),
    [
        # "v" in the data (substring search, no event field), a keep-alive comment mid-stream
        (["data: 1\n\n", 'data: {"v": "vivid"}\n\n', ": ping\n\n", "data: 2\n\n"], "completed", 3),
        # an error event that is not the body's first field
        (["data: 1\n\n", "data: 2\n\nevent: error\ndata: {}\n\n"], "server_error_event", 2),
        (["data: 1\n\n", "event: error\r\ndata: {}\r\n\r\n", "data: 3\n\n"], "server_error_event", 3),
        # Starlette also forwards memoryview chunks
        ([b"data: 1\n\n", memoryview(b"data: 2\n\n"), memoryview(b": c\n\n")], "completed", 2),
        ([b"data: 1\n\n", memoryview(b"event: error\ndata: {}\n\n")], "server_error_event", 2),
        # bodies the fast path leaves to the full path: empty, first byte before ":"
        (["data: 1\n\n", "", "\ndata: 2\n\n", "data: 3\n\n"], "completed", 3),
    ],
)
async def test_sse_bodies_after_the_first(
    instrument_both: Telemetry, chunks: list[Chunk], reason: str, delivered: int
) -> None:
    sent = await serve(instrument_both, chunks)
    assert [m["type"] for m in sent].count("http.response.body") == len(chunks) + 1
    a = attrs(one_server_span(instrument_both))
    assert (a["streamslo.termination.reason"], a["streamslo.chunks.delivered"]) == (reason, delivered)


async def test_ndjson_counts_every_data_message(instrument_both: Telemetry) -> None:
    await serve(
        instrument_both,
        ['{"i": 0}\n', ": not a comment here\n", "", '{"event:": "error"}\n'],
        "application/x-ndjson",
    )
    a = attrs(one_server_span(instrument_both))
    assert (a["streamslo.termination.reason"], a["streamslo.chunks.delivered"]) == ("completed", 3)


async def test_the_link_is_unbound_after_the_request(instrument_both: Telemetry) -> None:
    assert links.current() is None
    await serve(instrument_both, ["data: 1\n\n", "data: 2\n\n"])
    assert links.current() is None  # a later LLM call in this context belongs to no response
