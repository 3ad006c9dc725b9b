"""Edges: a response that never sends its final body, sync SDKs in threads, committed tool calls."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import StreamingResponse
from starlette.routing import Route

from otel_streamslo.server import StreamSLOMiddleware
from tests.conftest import Telemetry
from tests.server.apps import MSG, AppServer, headers_of
from tests.server.conftest import attrs, browse, client_spans, one_server_span


def test_returned_without_the_final_body_is_app_error(instrument_both: Telemetry) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]}
        )
        await send({"type": "http.response.body", "body": b"half", "more_body": True})
        await send({"type": "http.response.body", "body": b" an answer", "more_body": True})

    tel = instrument_both
    mw = StreamSLOMiddleware(app, tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider)
    with AppServer(mw) as server, pytest.raises(httpx2.RemoteProtocolError):
        browse(server.url)
    span = one_server_span(tel)
    a = attrs(span)
    assert span.name == "GET /"
    assert (a["streamslo.termination.reason"], a["streamslo.sli.outcome"]) == ("app_error", "bad")
    assert a["streamslo.chunks.delivered"] == 2


def test_sync_anthropic_in_a_thread_inheriting_the_request_context(served: Telemetry, chaos: Any) -> None:
    claude = anthropic.Anthropic(
        base_url=chaos.anthropic_base_url, api_key="t", max_retries=0, open_telemetry=False
    )

    def consume(headers: dict[str, str]) -> list[str]:
        with claude.messages.create(
            model="c", max_tokens=64, messages=MSG, stream=True, extra_headers=headers
        ) as stream:
            return [ev.delta.text for ev in stream if ev.type == "content_block_delta"]

    async def chat(request: Request) -> StreamingResponse:
        texts = await asyncio.to_thread(consume, headers_of(request))  # copies the request's context

        def body() -> Iterator[str]:
            yield from (f"data: {t}\n\n" for t in texts)

        return StreamingResponse(body(), media_type="text/event-stream")

    contrib = Middleware(OpenTelemetryMiddleware, tracer_provider=served.tracer_provider)
    with AppServer(Starlette(routes=[Route("/chat", chat)], middleware=[contrib])) as server:
        assert len(browse(f"{server.url}/chat?tokens=3")) == 3
        span = one_server_span(served, upstream=1)
    assert attrs(span)["streamslo.upstream.streams"] == 1
    assert client_spans(served)[0].context.trace_id == span.context.trace_id


def test_tool_calls_committed_counter(instrument_openai: Telemetry, chaos: Any) -> None:
    import openai

    with openai.OpenAI(base_url=chaos.openai_base_url, api_key="t", max_retries=0) as c:
        for fault in ("tool_calls", "tool_calls_reset"):
            try:
                for _ in c.chat.completions.create(
                    model="m", messages=MSG, stream=True, extra_headers={"x-chaos-fault": fault}
                ):
                    pass
            except openai.APIConnectionError:
                pass
    got = {
        (p.attributes["streamslo.termination.reason"], p.attributes["streamslo.sli.outcome"]): p.value
        for p in instrument_openai.points("streamslo.tool_calls.committed")
    }
    assert got == {("completed", "good"): 1, ("connection_dropped", "bad"): 1}


async def test_spec_2_4_failed_send_is_a_disconnect(instrument_both: Telemetry, chaos: Any) -> None:
    """ASGI 2.4 servers report a gone client only as OSError from send (Starlette: ClientDisconnect)."""
    from tests.server.apps import Chat, starlette_app

    tel = instrument_both
    chat = Chat(chaos)
    app = StreamSLOMiddleware(
        starlette_app(chat), tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider
    )
    sent: list[Any] = []

    async def receive() -> Any:
        await asyncio.Event().wait()  # a 2.4 server need not say anything here
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        if len(sent) >= 4:
            raise OSError("client gone")
        sent.append(message)

    scope = {
        "type": "http",
        "method": "GET",
        "path": "/chat",
        "raw_path": b"/chat",
        "query_string": b"tokens=40&delay=0.01",
        "headers": [(b"host", b"t")],
        "asgi": {"version": "3.0", "spec_version": "2.4"},
    }
    from starlette.requests import ClientDisconnect

    with pytest.raises((ClientDisconnect, OSError)):
        await app(scope, receive, send)
    span = one_server_span(tel)
    a = attrs(span)
    assert (a["streamslo.termination.reason"], a["streamslo.chunks.delivered"]) == ("client_cancelled", 3)
    assert a["streamslo.upstream.open_at_disconnect"] == 1
    for stream in chat.streams:  # Starlette leaves the body generator (and its upstream) open
        await stream.close()
    assert attrs(client_spans(tel)[0])["streamslo.orphaned"] is True
