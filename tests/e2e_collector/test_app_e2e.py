"""End to end with real parts: an app instrumented with otel_streamslo streams from the chaos provider
through the real openai SDK, exports OTLP to the built collector (our processor) and, in parallel,
to a second instance running the stock-contrib OTTL config; both Prometheus endpoints must count
exactly the good / bad / excluded streams per reason the app saw.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor
from tests.e2e_collector.collector_harness import (
    BINARY,
    CONFIG_CONTRIB,
    CONFIG_STREAMSLO,
    Collector,
    Sample,
    parse_prometheus,
)
from tests.e2e_collector.peer_driver import openai_caller, read

CALLS = "traces_span_metrics_calls_total"
# (fault, consumer behaviour, how many) -> the app knows what it asked for and what it did.
MIX: list[tuple[str, str, int]] = [
    ("none", "consume", 12),
    ("length", "consume", 3),
    ("content_filter", "consume", 2),
    ("error_frame@3", "consume", 4),
    ("reset@3", "consume", 3),
    ("eof@3", "consume", 2),
    ("stall@2", "consume", 2),
    ("http_429", "consume", 2),
    ("http_503", "consume", 1),
    ("http_400", "consume", 1),
    ("none", "close", 3),
    ("none", "abandon", 2),
]
EXPECTED_REASON = {
    "none": "completed",
    "length": "length",
    "content_filter": "content_filter",
    "error_frame": "server_error_event",
    "reset": "connection_dropped",
    "eof": "truncated",
    "stall": "idle_timeout",
    "http_429": "request_failed",
    "http_503": "request_failed",
    "http_400": "request_failed",
}


def expected() -> Counter[tuple[str, str]]:
    """(reason, outcome) -> count, from the fault mix alone (DESIGN.md's default policy)."""
    out: Counter[tuple[str, str]] = Counter()
    for fault, mode, n in MIX:
        reason = EXPECTED_REASON[fault.split("@")[0]]
        if mode == "close":
            reason = "client_cancelled"
        elif mode == "abandon":
            reason = "client_abandoned"
        if reason in ("completed", "length", "content_filter"):
            outcome = "good"
        elif reason in ("client_cancelled", "client_abandoned") or fault == "http_400":
            outcome = "excluded"
        else:
            outcome = "bad"
        out[(reason, outcome)] += n
    return out


def drive(chaos: Any) -> None:
    """Every ``MIX`` call through the real openai SDK (the peer driver's client and consumer)."""
    call, close, errors = openai_caller(chaos.base_url)
    for fault, mode, n in MIX:
        for _ in range(n):
            with contextlib.suppress(*errors):
                read(call(fault), mode)
            gc.collect()
    close()


def by_reason(samples: list[Sample], name: str) -> Counter[tuple[str, str]]:
    got: Counter[tuple[str, str]] = Counter()
    for s in samples:
        if s.name == name and "streamslo_sli_outcome" in s.labels:
            got[(s.labels["streamslo_termination_reason"], s.labels["streamslo_sli_outcome"])] += int(s.value)
    return got


@pytest.fixture(scope="module")
def scrapes(chaos: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    assert BINARY.exists(), f"{BINARY} missing: run `bash collector/build.sh` (scripts/test.sh does)"
    tmp = tmp_path_factory.mktemp("app-e2e")
    ours = Collector(config=CONFIG_STREAMSLO, log_path=tmp / "streamslo.log")
    contrib = Collector(config=CONFIG_CONTRIB, log_path=tmp / "contrib.log")
    ours.start()
    contrib.start()
    try:
        resource = Resource.create({"service.name": "e2e-real-app"})
        local = InMemorySpanExporter()
        tp = TracerProvider(resource=resource)
        tp.add_span_processor(SimpleSpanProcessor(local))
        readers = []
        for col in (ours, contrib):
            tp.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{col.otlp_http}/v1/traces")))
            readers.append(
                PeriodicExportingMetricReader(
                    OTLPMetricExporter(endpoint=f"{col.otlp_http}/v1/metrics"), export_interval_millis=500
                )
            )
        mp = MeterProvider(resource=resource, metric_readers=readers)
        inst = OpenAIStreamInstrumentor()
        inst.instrument(tracer_provider=tp, meter_provider=mp)
        try:
            drive(chaos)
        finally:
            inst.uninstrument()
        tp.force_flush()
        mp.force_flush()
        want = sum(expected().values())
        out: dict[str, Any] = {"local": local.get_finished_spans()}
        for label, col in (("ours", ours), ("contrib", contrib)):
            deadline = time.monotonic() + 30
            samples: list[Sample] = []
            while time.monotonic() < deadline:
                samples = parse_prometheus(col.scrape())
                calls = sum(by_reason(samples, CALLS).values())
                sdk = sum(by_reason(samples, "streamslo_streams_total").values())
                if calls >= want and sdk >= want:
                    break
                time.sleep(0.5)
            out[label] = samples
            out[f"{label}_log"] = col.log()
        tp.shutdown()
        mp.shutdown()
        yield out
    finally:
        ours.stop()
        contrib.stop()


def test_app_saw_what_it_asked_for(scrapes: dict[str, Any]) -> None:
    local = Counter(
        (s.attributes["streamslo.termination.reason"], s.attributes["streamslo.sli.outcome"])
        for s in scrapes["local"]
    )
    assert local == expected()


def test_collector_counts_equal_what_the_app_saw(scrapes: dict[str, Any]) -> None:
    assert by_reason(scrapes["ours"], CALLS) == expected(), scrapes["ours_log"]


def test_sdk_metrics_through_the_collector_agree(scrapes: dict[str, Any]) -> None:
    assert by_reason(scrapes["ours"], "streamslo_streams_total") == expected()
    active = [s for s in scrapes["ours"] if s.name == "streamslo_streams_active"]
    assert active and sum(s.value for s in active) == 0


def test_stock_contrib_config_gives_the_same_counts(scrapes: dict[str, Any]) -> None:
    assert by_reason(scrapes["contrib"], CALLS) == expected(), scrapes["contrib_log"]
    assert by_reason(scrapes["contrib"], CALLS) == by_reason(scrapes["ours"], CALLS)


def test_mid_stream_failures_on_200_are_errors_but_not_http_errors(scrapes: dict[str, Any]) -> None:
    """The mission in one assertion: these streams are HTTP 200 and still count as SLO errors."""
    hidden = [
        s
        for s in scrapes["ours"]
        if s.name == CALLS
        and s.labels.get("http_response_status_code") == "200"
        and s.labels.get("streamslo_sli_outcome") == "bad"
    ]
    assert sum(int(s.value) for s in hidden) == 4 + 3 + 2 + 2
    assert all(s.labels["status_code"] == "STATUS_CODE_ERROR" for s in hidden)


def test_collector_logged_no_errors(scrapes: dict[str, Any]) -> None:
    for key in ("ours_log", "contrib_log"):
        errors = [line for line in scrapes[key].splitlines() if "\terror\t" in line]
        assert errors == [], errors
