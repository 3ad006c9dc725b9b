"""App patterns: sync endpoints, producer tasks, anthropic, sse-starlette, FastAPI native SSE, billing gap."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import openai
import pytest
from starlette.requests import Request

from otel_streamslo.server import FastAPIStreamInstrumentor, StarletteStreamInstrumentor
from tests.conftest import Telemetry
from tests.server.apps import MSG, AppServer, Chat, fastapi_app, headers_of, starlette_app
from tests.server.conftest import (
    attrs,
    browse,
    client_spans,
    keep_chaos_plain,
    one_server_span,
    server_spans,
    wait_for,
)


def test_sync_endpoint_in_the_threadpool(served: Telemetry, chaos: Any) -> None:
    with AppServer(starlette_app(Chat(chaos))) as server:
        lines = browse(f"{server.url}/sync?tokens=5")
        span = one_server_span(served, upstream=1)
    assert len(lines) == 5
    a = attrs(span)
    assert (a["streamslo.termination.reason"], a["streamslo.upstream.streams"]) == ("completed", 1)


def test_sync_endpoint_upstream_failure(served: Telemetry, chaos: Any) -> None:
    with AppServer(fastapi_app(Chat(chaos), telemetry={"tracing": False})) as server:
        try:
            browse(f"{server.url}/sync?fault=reset@2")
        except Exception as exc:  # the sync generator lets the SDK error escape: an incomplete body
            assert "incomplete" in str(exc).lower() or "peer closed" in str(exc).lower()
        span = one_server_span(served, upstream=1)
    assert attrs(span)["streamslo.termination.reason"] == "upstream_failed"  # first cause, before app_error


def test_anthropic_relay(served: Telemetry, chaos: Any) -> None:
    with AppServer(starlette_app(Chat(chaos))) as server:
        browse(f"{server.url}/claude?tokens=4")
        browse(f"{server.url}/claude?fault=reset@2")
        wait_for(lambda: len(server_spans(served)) == 2 and len(client_spans(served)) == 2)
    got = sorted(attrs(s)["streamslo.termination.reason"] for s in server_spans(served))
    assert got == ["completed", "upstream_failed"]


def test_producer_task_keeps_billing_after_the_user_left(served: Telemetry, chaos: Any) -> None:
    with AppServer(starlette_app(Chat(chaos))) as server:
        browse(f"{server.url}/producer?tokens=30&delay=0.01", stop_after=3)
        span = one_server_span(served, upstream=1)
    assert attrs(span)["streamslo.termination.reason"] == "client_cancelled"
    assert attrs(span)["streamslo.upstream.open_at_disconnect"] == 1
    up = attrs(client_spans(served)[0])
    assert up["streamslo.termination.reason"] == "completed"  # nobody stopped it
    assert up["streamslo.orphaned"] is True
    assert up["streamslo.tokens.after_disconnect"] >= 15  # billed, never seen
    assert up["streamslo.abort.propagation_latency"] > 0.1
    billed = sum(p.value for p in served.points("streamslo.tokens.after_disconnect"))
    assert billed == up["streamslo.tokens.after_disconnect"]


@pytest.fixture
def remedy(chaos: Any, instrument_both: Telemetry) -> Any:
    keep_chaos_plain(chaos)
    insts = [StarletteStreamInstrumentor(), FastAPIStreamInstrumentor()]
    for inst in insts:
        inst.instrument(
            tracer_provider=instrument_both.tracer_provider,
            meter_provider=instrument_both.meter_provider,
            close_upstream_on_disconnect=True,
        )
    yield instrument_both
    for inst in insts:
        inst.uninstrument()


@pytest.mark.parametrize("route", ["/producer", "/chat", "/sync"])
def test_remedy_closes_the_upstream_at_the_disconnect(remedy: Telemetry, chaos: Any, route: str) -> None:
    chat = Chat(chaos)
    with AppServer(starlette_app(chat)) as server:
        browse(f"{server.url}{route}?tokens=60&delay=0.01", stop_after=3)
        span = one_server_span(remedy, upstream=1)
        wait_for(lambda: not chat.tasks)
    assert attrs(span)["streamslo.termination.reason"] == "client_cancelled"
    up = attrs(client_spans(remedy)[0])
    assert up["streamslo.termination.reason"] == "client_cancelled"
    assert up["streamslo.orphaned"] is True
    assert up["streamslo.tokens.after_disconnect"] < 20
    assert up["streamslo.abort.propagation_latency"] < 1.0
    for exc in chat.errors:  # what the app's own code saw: its SDK's error, never ours
        assert isinstance(exc, openai.APIError)
        assert not type(exc).__module__.startswith("otel_streamslo")


def test_remedy_from_the_environment(instrument_both: Telemetry, chaos: Any, monkeypatch: Any) -> None:
    monkeypatch.setenv("OTEL_STREAMSLO_CLOSE_UPSTREAM_ON_DISCONNECT", "true")
    keep_chaos_plain(chaos)
    inst = StarletteStreamInstrumentor()
    inst.instrument(
        tracer_provider=instrument_both.tracer_provider, meter_provider=instrument_both.meter_provider
    )
    try:
        with AppServer(starlette_app(Chat(chaos))) as server:
            browse(f"{server.url}/producer?tokens=60&delay=0.01", stop_after=2)
            one_server_span(instrument_both, upstream=1)
    finally:
        inst.uninstrument()
    up = attrs(client_spans(instrument_both)[0])
    assert up["streamslo.termination.reason"] == "client_cancelled"


def test_sse_starlette_app(served: Telemetry, chaos: Any) -> None:
    from sse_starlette import EventSourceResponse
    from starlette.applications import Starlette
    from starlette.routing import Route

    client = openai.AsyncOpenAI(base_url=chaos.openai_base_url, api_key="t", max_retries=0)

    async def chat(request: Request) -> EventSourceResponse:
        async def events() -> AsyncIterator[dict[str, str]]:
            try:
                stream = await client.chat.completions.create(
                    model="m", messages=MSG, stream=True, extra_headers=headers_of(request)
                )
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield {"data": chunk.choices[0].delta.content}
            except openai.APIError:
                yield {"event": "error", "data": "upstream failed"}

        return EventSourceResponse(events())

    with AppServer(Starlette(routes=[Route("/chat", chat)])) as server:
        browse(f"{server.url}/chat?tokens=4")
        browse(f"{server.url}/chat?fault=eof@2")
        wait_for(lambda: len(server_spans(served)) == 2 and len(client_spans(served)) == 2)
    got = sorted(attrs(s)["streamslo.termination.reason"] for s in server_spans(served))
    assert got == ["completed", "upstream_failed"]  # eof@2: truncated upstream, relayed as a clean end


@pytest.mark.parametrize("native", [True, False])
def test_fastapi_native_event_source_response(served: Telemetry, chaos: Any, native: bool) -> None:
    import fastapi
    from fastapi.sse import EventSourceResponse, ServerSentEvent

    telemetry = {"tracer_provider": served.tracer_provider} if native else {"tracing": False}
    app = fastapi.FastAPI(telemetry=telemetry)
    client = openai.AsyncOpenAI(base_url=chaos.openai_base_url, api_key="t", max_retries=0)

    @app.get("/chat", response_class=EventSourceResponse)
    async def chat(
        fault: str = "none", tokens: str = "30", delay: str = "0"
    ) -> AsyncIterator[ServerSentEvent]:
        headers = {"x-chaos-fault": fault, "x-chaos-tokens": tokens, "x-chaos-chunk-delay": delay}
        stream = await client.chat.completions.create(
            model="m", messages=MSG, stream=True, extra_headers=headers
        )
        async for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                yield ServerSentEvent(data={"t": chunk.choices[0].delta.content})

    with AppServer(app) as server:
        browse(f"{server.url}/chat?tokens=4")
        browse(f"{server.url}/chat?tokens=40&delay=0.02", stop_after=2)
        wait_for(lambda: len(server_spans(served)) == 2 and len(client_spans(served)) == 2)
    got = sorted(attrs(s)["streamslo.termination.reason"] for s in server_spans(served))
    assert got == ["client_cancelled", "completed"]
    assert {s.instrumentation_scope.name for s in server_spans(served)} == {
        "fastapi" if native else "otel_streamslo"
    }


def test_ndjson_and_multi_message_bodies_are_streamed(served: Telemetry, chaos: Any) -> None:
    with AppServer(starlette_app(Chat(chaos))) as server:
        browse(f"{server.url}/ndjson")
        browse(f"{server.url}/text")
        wait_for(lambda: len(server_spans(served)) == 2)
    chunks = sorted(attrs(s)["streamslo.chunks.delivered"] for s in server_spans(served))
    assert chunks == [2, 3]


def test_non_streamed_responses_are_untouched(served: Telemetry, chaos: Any) -> None:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
    from starlette.middleware import Middleware

    mw = [Middleware(OpenTelemetryMiddleware, tracer_provider=served.tracer_provider)]
    with AppServer(starlette_app(Chat(chaos), middleware=mw)) as server:
        import httpx2

        assert httpx2.get(f"{server.url}/plain").json() == {"ok": True}
        wait_for(lambda: bool(server_spans(served)))
    span = server_spans(served)[0]
    assert not [k for k in attrs(span) if k.startswith("streamslo.")]
    assert served.points("streamslo.responses") == []


def test_no_content_is_recorded(served: Telemetry, chaos: Any) -> None:
    with AppServer(starlette_app(Chat(chaos))) as server:
        browse(f"{server.url}/chat?tokens=5")
        one_server_span(served, upstream=1)
    for span in served.exporter.get_finished_spans():
        text = json.dumps({k: str(v) for k, v in (span.attributes or {}).items()})
        assert "tok0" not in text and "hello" not in text


def test_instrumentation_failures_never_reach_the_app(
    served: Telemetry, chaos: Any, monkeypatch: Any
) -> None:
    from otel_streamslo.server import response

    def boom(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("instrumentation bug")

    for name in ("body", "start", "client_left", "exit", "report"):
        monkeypatch.setattr(response.ServedResponse, name, boom)
    with AppServer(starlette_app(Chat(chaos))) as server:
        lines = browse(f"{server.url}/chat?tokens=5")
        browse(f"{server.url}/chat?tokens=40&delay=0.01", stop_after=2)
        wait_for(lambda: len(client_spans(served)) == 2)
    assert len(lines) == 6
    asyncio.get_event_loop_policy()  # the test process is fine, too
