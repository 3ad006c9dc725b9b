"""Every downstream reason, from real uvicorn serving a real Starlette app relaying the openai SDK."""

from __future__ import annotations

from typing import Any

import httpx2
import pytest

from tests.conftest import Telemetry
from tests.server.apps import AppServer, Chat, starlette_app
from tests.server.conftest import attrs, browse, one_server_span, server_spans, verdict, wait_for


def serve(chaos: Any) -> AppServer:
    return AppServer(starlette_app(Chat(chaos)))


def test_completed(served: Telemetry, chaos: Any) -> None:
    server = serve(chaos)
    with server:
        lines = browse(f"{server.url}/chat?tokens=6")
        span = one_server_span(served, upstream=1)
    a = verdict(span, "completed", "good")
    assert len([x for x in lines if x.startswith("data:")]) == 7
    assert span.name == "GET /chat"
    assert a["streamslo.chunks.delivered"] == 7
    assert a["streamslo.upstream.streams"] == 1
    assert a["streamslo.upstream.bad"] == 0
    assert a["streamslo.upstream.open_at_disconnect"] == 0
    assert 0 < a["streamslo.time_to_first_token"] <= a["streamslo.time_to_completion"]
    upstream = served.spans()[0]
    assert upstream.context.trace_id == span.context.trace_id or upstream.parent is None


@pytest.mark.parametrize("fault", ["reset@3", "error_frame@3"])
def test_upstream_failed_even_when_the_app_ends_cleanly(served: Telemetry, chaos: Any, fault: str) -> None:
    server = serve(chaos)
    with server:
        lines = browse(f"{server.url}/chat?fault={fault}")
        span = one_server_span(served, upstream=1)
    a = verdict(span, "upstream_failed", "bad")
    assert "event: error" in lines  # the app also sent an error event, after the upstream failed
    assert a["streamslo.upstream.bad"] == 1


def test_server_error_event(served: Telemetry, chaos: Any) -> None:
    server = serve(chaos)
    with server:
        browse(f"{server.url}/error-event")
        span = one_server_span(served)
    a = verdict(span, "server_error_event", "bad")
    assert a["streamslo.chunks.delivered"] == 2  # the keep-alive comment carries no data
    assert a["streamslo.upstream.streams"] == 0


def test_app_error_after_the_200(served: Telemetry, chaos: Any) -> None:
    server = serve(chaos)
    with server:
        with pytest.raises(httpx2.RemoteProtocolError):  # an incomplete chunked body
            browse(f"{server.url}/raises")
        span = one_server_span(served)
    verdict(span, "app_error", "bad")


@pytest.mark.parametrize(("code", "outcome"), [(503, "bad"), (429, "bad"), (404, "excluded")])
def test_request_failed(served: Telemetry, chaos: Any, code: int, outcome: str) -> None:
    server = serve(chaos)
    with server:
        browse(f"{server.url}/status?code={code}")
        span = one_server_span(served)
    verdict(span, "request_failed", outcome, status_code=code)  # first cause: the status


def test_client_cancelled_marks_the_open_upstream_as_orphan(served: Telemetry, chaos: Any) -> None:
    server = serve(chaos)
    with server:
        browse(f"{server.url}/chat?tokens=40&delay=0.02", stop_after=3)
        span = one_server_span(served, upstream=1)
    a = verdict(span, "client_cancelled", "excluded")
    assert a["streamslo.upstream.open_at_disconnect"] == 1
    up = attrs(served.spans()[0])
    assert up["streamslo.orphaned"] is True
    assert up["streamslo.abort.propagation_latency"] >= 0
    assert up["streamslo.tokens.after_disconnect"] >= 0
    assert served.points("streamslo.abort.propagation_latency")


def test_client_leaves_while_the_app_awaits_upstream(served: Telemetry, chaos: Any) -> None:
    server = serve(chaos)
    with server:
        with pytest.raises(httpx2.ReadTimeout):  # the browser left before the first byte
            browse(f"{server.url}/eager?fault=slow_ttft&tokens=4", timeout=0.3)
        span = one_server_span(served, upstream=1)
    a = attrs(span)
    assert a["streamslo.termination.reason"] == "client_cancelled"
    assert a["streamslo.upstream.open_at_disconnect"] == 1
    assert attrs(served.spans()[0])["streamslo.orphaned"] is True


def test_responses_counter(served: Telemetry, chaos: Any) -> None:
    server = serve(chaos)
    with server:
        browse(f"{server.url}/chat?tokens=3")
        browse(f"{server.url}/error-event")
        wait_for(lambda: len(server_spans(served)) == 2)
    got = {
        (
            p.attributes["http.route"],
            p.attributes["streamslo.termination.reason"],
            p.attributes["streamslo.sli.outcome"],
        ): p.value
        for p in served.points("streamslo.responses")
    }
    assert got == {("/chat", "completed", "good"): 1, ("/error-event", "server_error_event", "bad"): 1}
