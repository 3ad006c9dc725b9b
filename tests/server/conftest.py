"""Fixtures for the server-side tests: instrumentors on the in-memory pipeline, a browser, span waits."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any, Callable, Optional

import httpx2
import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from tests.conftest import Telemetry


def keep_chaos_plain(chaos: Any) -> None:
    """Build the chaos provider's middleware stack now, so the server instrumentors skip it."""
    if chaos.app.middleware_stack is None:
        chaos.app.middleware_stack = chaos.app.build_middleware_stack()


@pytest.fixture
def served(chaos: Any, instrument_both: Telemetry) -> Iterator[Telemetry]:
    """SDK instrumentors plus the Starlette and FastAPI stream instrumentors."""
    from otel_streamslo.server import FastAPIStreamInstrumentor, StarletteStreamInstrumentor

    keep_chaos_plain(chaos)
    insts = [StarletteStreamInstrumentor(), FastAPIStreamInstrumentor()]
    for inst in insts:
        inst.instrument(
            tracer_provider=instrument_both.tracer_provider, meter_provider=instrument_both.meter_provider
        )
    try:
        yield instrument_both
    finally:
        for inst in insts:
            inst.uninstrument()


def server_spans(tel: Telemetry) -> list[ReadableSpan]:
    return [s for s in tel.exporter.get_finished_spans() if s.kind is SpanKind.SERVER]


def client_spans(tel: Telemetry) -> list[ReadableSpan]:
    return [
        s
        for s in tel.spans()
        if s.kind is SpanKind.CLIENT and "gen_ai.operation.name" in (s.attributes or {})
    ]


def wait_for(pred: Callable[[], bool], timeout: float = 8.0) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def one_server_span(tel: Telemetry, upstream: Optional[int] = None) -> ReadableSpan:
    """The single SERVER span of the test, once it (and ``upstream`` client spans) ended."""
    wait_for(lambda: bool(server_spans(tel)))
    if upstream is not None:
        wait_for(lambda: len(client_spans(tel)) >= upstream)
    time.sleep(0.05)  # a second server span, if any, would have ended by now
    spans = server_spans(tel)
    assert len(spans) == 1, [(s.name, s.instrumentation_scope.name) for s in spans]
    return spans[0]


def attrs(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def verdict(span: ReadableSpan, reason: str, outcome: str, status_code: int = 200) -> dict[str, Any]:
    """Asserts a server span's verdict as the contract writes it (our span, or contrib's we
    enrich): reason, outcome and the truthful status code; ERROR status and ``error.type`` = the
    reason exactly when the outcome is bad. Returns the span's attributes for further checks."""
    a = attrs(span)
    assert a["streamslo.termination.reason"] == reason
    assert a["streamslo.sli.outcome"] == outcome
    assert a["http.response.status_code"] == status_code
    bad = outcome == "bad"
    assert span.status.status_code is (StatusCode.ERROR if bad else StatusCode.UNSET)
    assert a.get("error.type") == (reason if bad else None)
    return a


def browse(url: str, stop_after: Optional[int] = None, timeout: float = 10.0) -> list[str]:
    """A browser reading an SSE response; leaves (closes the connection) after ``stop_after`` lines."""
    lines: list[str] = []
    with httpx2.Client(timeout=timeout) as client, client.stream("GET", url) as resp:
        for line in resp.iter_lines():
            if line.startswith("data:") or line.startswith("event:"):
                lines.append(line)
            if stop_after is not None and len([x for x in lines if x.startswith("data:")]) >= stop_after:
                break
    return lines


def points(tel: Telemetry, name: str) -> list[Any]:
    return tel.points(name)
