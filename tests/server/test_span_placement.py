"""One SERVER span per streamed response, whoever made it and in whichever middleware order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware
from opentelemetry.trace import StatusCode
from starlette.middleware import Middleware

from otel_streamslo.server import StreamSLOMiddleware
from tests.conftest import Telemetry
from tests.server.apps import AppServer, Chat, fastapi_app, starlette_app
from tests.server.conftest import attrs, browse, one_server_span


def contrib(tel: Telemetry) -> Middleware:
    return Middleware(OpenTelemetryMiddleware, tracer_provider=tel.tracer_provider)


def ours(tel: Telemetry) -> Middleware:
    return Middleware(
        StreamSLOMiddleware, tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider
    )


def check_verdict(tel: Telemetry, scope: str, reason: str = "upstream_failed") -> Any:
    span = one_server_span(tel, upstream=1)
    assert span.instrumentation_scope.name == scope
    a = attrs(span)
    assert a["streamslo.termination.reason"] == reason
    assert a["streamslo.upstream.streams"] == 1
    up = tel.spans()[0]
    assert up.context.trace_id == span.context.trace_id  # the upstream span is in the request's trace
    return span


@pytest.mark.parametrize("order", ["ours-outside", "ours-inside"])
def test_manual_middleware_with_contrib_asgi_either_order(
    instrument_both: Telemetry, chaos: Any, order: str
) -> None:
    stack = [ours(instrument_both), contrib(instrument_both)]
    if order == "ours-inside":
        stack.reverse()
    with AppServer(starlette_app(Chat(chaos), middleware=stack)) as server:
        browse(f"{server.url}/chat?fault=reset@2")
        span = check_verdict(instrument_both, "opentelemetry.instrumentation.asgi")
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == "upstream_failed"


def test_manual_middleware_wrapping_an_app_that_contrib_wraps(instrument_both: Telemetry, chaos: Any) -> None:
    inner = OpenTelemetryMiddleware(
        starlette_app(Chat(chaos)), tracer_provider=instrument_both.tracer_provider
    )
    app = StreamSLOMiddleware(
        inner, tracer_provider=instrument_both.tracer_provider, meter_provider=instrument_both.meter_provider
    )
    with AppServer(app) as server:
        browse(f"{server.url}/chat?fault=reset@2")
        check_verdict(instrument_both, "opentelemetry.instrumentation.asgi")


@pytest.mark.parametrize("order", ["contrib-first", "contrib-last"])
def test_instrumentor_with_contrib_asgi_in_the_user_stack(served: Telemetry, chaos: Any, order: str) -> None:
    stack = [contrib(served), Middleware(_Noop)]
    if order == "contrib-last":
        stack.reverse()
    with AppServer(starlette_app(Chat(chaos), middleware=stack)) as server:
        browse(f"{server.url}/chat?fault=reset@2")
        check_verdict(served, "opentelemetry.instrumentation.asgi")


def test_without_any_server_instrumentation_we_create_the_span(served: Telemetry, chaos: Any) -> None:
    with AppServer(starlette_app(Chat(chaos))) as server:
        browse(f"{server.url}/chat?fault=reset@2")
        span = check_verdict(served, "otel_streamslo")
    assert span.name == "GET /chat"
    assert attrs(span)["http.route"] == "/chat"


@pytest.fixture
def fastapi_contrib(served: Telemetry) -> Iterator[Telemetry]:
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor().instrument(
        tracer_provider=served.tracer_provider, meter_provider=served.meter_provider
    )
    try:
        yield served
    finally:
        FastAPIInstrumentor().uninstrument()


def test_fastapi_contrib_instrumentor(fastapi_contrib: Telemetry, chaos: Any) -> None:
    import fastapi

    app = fastapi.FastAPI()
    chat = Chat(chaos)
    app.add_api_route("/chat", chat.chat, methods=["GET"])
    with AppServer(app) as server:
        browse(f"{server.url}/chat?fault=reset@2")
        check_verdict(fastapi_contrib, "opentelemetry.instrumentation.fastapi")


def test_fastapi_native_telemetry_on(served: Telemetry, chaos: Any) -> None:
    app = fastapi_app(Chat(chaos), telemetry={"tracer_provider": served.tracer_provider})
    with AppServer(app) as server:
        browse(f"{server.url}/chat?fault=reset@2")
        span = check_verdict(served, "fastapi")
    assert span.status.status_code is StatusCode.ERROR
    assert attrs(span)["error.type"] == "upstream_failed"  # the response completed: FastAPI wrote none


def test_fastapi_native_telemetry_disconnect_fastapi_status_wins(served: Telemetry, chaos: Any) -> None:
    app = fastapi_app(Chat(chaos), telemetry={"tracer_provider": served.tracer_provider})
    with AppServer(app) as server:
        browse(f"{server.url}/chat?tokens=40&delay=0.02", stop_after=2)
        span = one_server_span(served, upstream=1)
    a = attrs(span)
    assert span.instrumentation_scope.name == "fastapi"
    assert a["streamslo.termination.reason"] == "client_cancelled"
    assert a["streamslo.sli.outcome"] == "excluded"
    # FastAPI writes error.type and ERROR after every middleware on a disconnect (documented)
    assert span.status.status_code is StatusCode.ERROR
    assert a["error.type"] == "ConnectionError"


def test_fastapi_native_telemetry_off(served: Telemetry, chaos: Any) -> None:
    app = fastapi_app(Chat(chaos), telemetry={"tracing": False})
    with AppServer(app) as server:
        browse(f"{server.url}/chat?fault=reset@2")
        check_verdict(served, "otel_streamslo")


class _Noop:
    """A plain user middleware, to vary the stack."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.app(scope, receive, send)


def test_fastapi_native_telemetry_app_error_fastapi_error_type_wins(served: Telemetry, chaos: Any) -> None:
    import httpx2

    app = fastapi_app(Chat(chaos), telemetry={"tracer_provider": served.tracer_provider})
    with AppServer(app) as server, pytest.raises(httpx2.RemoteProtocolError):
        browse(f"{server.url}/raises")
    span = one_server_span(served)
    a = attrs(span)
    assert span.instrumentation_scope.name == "fastapi"
    assert (a["streamslo.termination.reason"], a["streamslo.sli.outcome"]) == ("app_error", "bad")
    assert span.status.status_code is StatusCode.ERROR
    assert a["error.type"] == "RuntimeError"  # FastAPI writes the exception type last (documented)
