"""End-to-end: the built otelcol-streamslo binary classifies OTLP spans, the
spanmetrics connector counts them, Prometheus series carry the outcome; the
stock-contrib config (transform/OTTL) gives the same counts (parity).

Skipped when collector/_build/otelcol-streamslo is absent (build it with
`bash collector/build.sh`).
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

from .collector_harness import (
    BINARY,
    CONFIG_CONTRIB,
    CONFIG_STREAMSLO,
    Collector,
    Sample,
    parse_prometheus,
)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.skipif(
        not BINARY.exists(),
        reason=f"{BINARY} not built: run `bash collector/build.sh` (needs Go) to enable these e2e tests",
    ),
]

CALLS = "traces_span_metrics_calls_total"

# (termination reason or None for foreign spans, extra attributes, error?, count,
#  expected reason after classification, expected outcome, expected latency)
NS = None
FAST = {"streamslo.time_to_first_token": 0.5}
MIX: list[tuple[Optional[str], dict[str, Any], bool, int, str, str, str]] = [
    ("completed", {"streamslo.time_to_first_token": 0.3}, False, 5, "completed", "good", "good"),
    ("completed", {"streamslo.time_to_first_token": 3.0}, False, 2, "completed", "good", "bad"),
    ("length", FAST, False, 1, "length", "good", "good"),
    ("content_filter", FAST, False, 1, "content_filter", "good", "good"),
    ("server_error_event", FAST, False, 3, "server_error_event", "bad", "good"),
    ("connection_dropped", FAST, False, 2, "connection_dropped", "bad", "good"),
    ("idle_timeout", FAST, False, 1, "idle_timeout", "bad", "good"),
    ("truncated", FAST, False, 1, "truncated", "bad", "good"),
    ("request_failed", {"http.response.status_code": 429}, True, 1, "request_failed", "bad", "excluded"),
    ("request_failed", {"http.response.status_code": 503}, True, 1, "request_failed", "bad", "excluded"),
    ("request_failed", {"http.response.status_code": 404}, True, 2, "request_failed", "excluded", "excluded"),
    ("request_failed", {}, True, 1, "request_failed", "bad", "excluded"),
    ("client_cancelled", {}, False, 2, "client_cancelled", "excluded", "excluded"),
    ("client_abandoned", FAST, False, 1, "client_abandoned", "excluded", "good"),
    ("consumer_error", FAST, False, 1, "consumer_error", "excluded", "good"),
    ("exploded", {}, False, 1, "exploded", "bad", "excluded"),  # unknown reason
    # spans of another instrumentation: no streamslo.termination.reason
    (
        NS,
        {
            "http.response.status_code": 200,
            "gen_ai.response.finish_reasons": ("stop",),
            "gen_ai.response.time_to_first_chunk": 0.4,
        },
        False,
        2,
        "completed",
        "good",
        "good",
    ),
    (
        NS,
        {"http.response.status_code": 200, "gen_ai.response.finish_reasons": ("length",)},
        False,
        1,
        "length",
        "good",
        "excluded",
    ),
    (NS, {"http.response.status_code": 200}, False, 1, "truncated", "bad", "excluded"),
    (NS, {"http.response.status_code": 500}, True, 1, "request_failed", "bad", "excluded"),
    (NS, {}, True, 1, "request_failed", "bad", "excluded"),
]
UNRELATED = 3  # plain HTTP spans: no outcome label


def send_telemetry(col: Collector) -> None:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    resource = Resource.create({"service.name": "e2e-app"})
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=f"{col.otlp_http}/v1/traces")))
    tracer = tp.get_tracer("otel_streamslo")
    for reason, extra, error, count, *_ in MIX:
        for _ in range(count):
            span = tracer.start_span("chat gpt-4o", kind=SpanKind.CLIENT)
            span.set_attribute("gen_ai.operation.name", "chat")
            span.set_attribute("gen_ai.provider.name", "openai")
            span.set_attribute("gen_ai.request.model", "gpt-4o")
            span.set_attribute("gen_ai.request.stream", True)
            if reason is not None:
                span.set_attribute("streamslo.termination.reason", reason)
            for k, v in extra.items():
                span.set_attribute(k, v)
            if error:
                span.set_status(Status(StatusCode.ERROR, "boom"))
            span.end()
    for _ in range(UNRELATED):
        with tracer.start_as_current_span("GET /health", kind=SpanKind.SERVER) as s:
            s.set_attribute("http.response.status_code", 200)
    tp.shutdown()

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{col.otlp_http}/v1/metrics"), export_interval_millis=60_000
    )
    mp = MeterProvider(resource=resource, metric_readers=[reader])
    meter = mp.get_meter("otel_streamslo")
    attrs = {
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.operation.name": "chat",
    }
    meter.create_histogram("gen_ai.client.operation.duration", unit="s").record(4.2, attrs)
    meter.create_histogram("gen_ai.client.operation.time_to_first_chunk", unit="s").record(0.3, attrs)
    meter.create_histogram("gen_ai.client.operation.time_per_output_chunk", unit="s").record(0.02, attrs)
    meter.create_histogram("gen_ai.client.token.usage", unit="{token}").record(
        412, {**attrs, "gen_ai.token.type": "output"}
    )
    meter.create_counter("streamslo.streams", unit="{stream}").add(
        1, {**attrs, "streamslo.termination.reason": "completed", "streamslo.sli.outcome": "good"}
    )
    meter.create_up_down_counter("streamslo.streams.active", unit="{stream}").add(1, attrs)
    meter.create_counter("streamslo.tokens.delivered", unit="{token}").add(412, attrs)
    mp.force_flush()
    mp.shutdown()


def expected_calls() -> Counter[tuple[str, str, str]]:
    exp: Counter[tuple[str, str, str]] = Counter()
    for _, _, _, count, reason, outcome, latency in MIX:
        exp[(outcome, latency, reason)] += count
    return exp


def calls_by_outcome(samples: list[Sample]) -> Counter[tuple[str, str, str]]:
    got: Counter[tuple[str, str, str]] = Counter()
    for s in samples:
        if s.name == CALLS and "streamslo_sli_outcome" in s.labels:
            key = (
                s.labels["streamslo_sli_outcome"],
                s.labels["streamslo_sli_latency"],
                s.labels["streamslo_termination_reason"],
            )
            got[key] += int(s.value)
    return got


def run_and_scrape(config: Path, tmp_path: Path) -> tuple[list[Sample], str]:
    col = Collector(config=config, log_path=tmp_path / f"{config.stem}.log")
    col.start()
    try:
        send_telemetry(col)
        want_total = sum(m[3] for m in MIX) + UNRELATED
        deadline = time.monotonic() + 30
        text = ""
        while time.monotonic() < deadline:
            text = col.scrape()
            samples = parse_prometheus(text)
            total = sum(int(s.value) for s in samples if s.name == CALLS)
            sdk_ok = any(s.name == "streamslo_tokens_delivered_total" for s in samples)
            if total >= want_total and sdk_ok:
                break
            time.sleep(0.5)
        (tmp_path / f"{config.stem}.prom").write_text(text)
        return parse_prometheus(text), col.log()
    finally:
        col.stop()


@pytest.fixture(scope="module")
def streamslo_scrape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Sample], str]]:
    yield run_and_scrape(CONFIG_STREAMSLO, tmp_path_factory.mktemp("otelcol-streamslo"))


@pytest.fixture(scope="module")
def contrib_scrape(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[Sample], str]]:
    yield run_and_scrape(CONFIG_CONTRIB, tmp_path_factory.mktemp("otelcol-contrib"))


def test_counts_per_outcome_and_reason(streamslo_scrape: tuple[list[Sample], str]) -> None:
    samples, log = streamslo_scrape
    got = calls_by_outcome(samples)
    assert got == expected_calls(), log
    unrelated = sum(
        int(s.value) for s in samples if s.name == CALLS and "streamslo_sli_outcome" not in s.labels
    )
    assert unrelated == UNRELATED


def test_bad_streams_get_error_status_and_error_type(streamslo_scrape: tuple[list[Sample], str]) -> None:
    samples, _ = streamslo_scrape
    for s in samples:
        if s.name != CALLS or "streamslo_sli_outcome" not in s.labels:
            continue
        if s.labels["streamslo_sli_outcome"] == "bad":
            assert s.labels["status_code"] == "STATUS_CODE_ERROR", s
            reason = s.labels["streamslo_termination_reason"]
            assert s.labels["error_type"] == ("_OTHER" if reason == "exploded" else reason), s
        elif s.labels["streamslo_sli_outcome"] == "good":
            assert s.labels["status_code"] == "STATUS_CODE_UNSET", s


def test_series_names_and_labels(streamslo_scrape: tuple[list[Sample], str]) -> None:
    samples, _ = streamslo_scrape
    names = {s.name for s in samples}
    for want in [
        "traces_span_metrics_calls_total",
        "traces_span_metrics_duration_seconds_bucket",
        "traces_span_metrics_duration_seconds_sum",
        "traces_span_metrics_duration_seconds_count",
        "gen_ai_client_operation_duration_seconds_bucket",
        "gen_ai_client_operation_time_to_first_chunk_seconds_bucket",
        "gen_ai_client_operation_time_per_output_chunk_seconds_bucket",
        "gen_ai_client_token_usage_bucket",
        "streamslo_streams_total",
        "streamslo_streams_active",
        "streamslo_tokens_delivered_total",
    ]:
        assert want in names, (want, sorted(names))
    full = [
        s
        for s in samples
        if s.name == CALLS
        and s.labels.get("streamslo_termination_reason") == "request_failed"
        and s.labels.get("http_response_status_code") == "429"
    ]
    assert len(full) == 1
    assert set(full[0].labels) - {"job", "instance"} == {
        "service_name",
        "span_name",
        "span_kind",
        "status_code",
        "streamslo_sli_outcome",
        "streamslo_sli_latency",
        "streamslo_termination_reason",
        "gen_ai_provider_name",
        "gen_ai_request_model",
        "http_response_status_code",
        "error_type",
    }
    labelled = full
    assert labelled[0].labels["service_name"] == "e2e-app"
    le = {s.labels["le"] for s in samples if s.name == "traces_span_metrics_duration_seconds_bucket"}
    assert {"0.01", "327.68", "+Inf"} <= le
    sdk = [s for s in samples if s.name == "streamslo_tokens_delivered_total"]
    assert sdk and sdk[0].labels.get("service_name") == "e2e-app"


def test_contrib_config_parity(
    streamslo_scrape: tuple[list[Sample], str], contrib_scrape: tuple[list[Sample], str]
) -> None:
    ours_samples, _ = streamslo_scrape
    theirs_samples, log = contrib_scrape

    def key(samples: list[Sample]) -> Counter[tuple[tuple[str, str], ...]]:
        c: Counter[tuple[tuple[str, str], ...]] = Counter()
        for s in samples:
            if s.name == CALLS:
                labels = {k: v for k, v in s.labels.items() if k not in ("job", "instance")}
                c[tuple(sorted(labels.items()))] += int(s.value)
        return c

    assert calls_by_outcome(theirs_samples) == expected_calls(), log
    assert key(theirs_samples) == key(ours_samples)
