"""Sources of live series for the end-to-end test: the real collector, or a stand-in exporter.

:func:`start_series_source` starts ``collector/_build/otelcol-streamslo`` (with
``collector/config/otelcol-streamslo.yaml``) when it is built and feeds it OTLP spans and SDK
metrics with the OpenTelemetry SDK; otherwise it serves an equivalent Prometheus exposition from a
tiny HTTP exporter on loopback. Either way Prometheus scrapes one ``host:port`` target. Both carry
the same traffic mix: every termination reason, 25% of counted streams bad (most after an HTTP
200), TTFT/TTC/chunk-time histograms with a tail beyond 5 s.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Optional

from otel_streamslo.core.semconv import DURATION_BUCKETS, TOKEN_BUCKETS

REPO = Path(__file__).resolve().parents[2]
COLLECTOR_BINARY = REPO / "collector" / "_build" / "otelcol-streamslo"
COLLECTOR_CONFIG = REPO / "collector" / "config" / "otelcol-streamslo.yaml"
SERVICE = "streamslo-demo"
MODELS = (("openai", "gpt-4o"), ("anthropic", "claude-sonnet-4-5"))


@dataclass(frozen=True)
class Kind:
    """One kind of stream: how it ended, its HTTP status, verdicts and rate (streams/s per model)."""

    reason: str
    status: Optional[int]
    outcome: str
    latency: str
    rate: float
    ttft: Optional[float]  # seconds to first token, None when no token arrived
    duration: float  # seconds to the terminal event


MIX: tuple[Kind, ...] = (
    Kind("completed", 200, "good", "good", 6.0, 0.4, 9.0),
    Kind("completed", 200, "good", "bad", 0.5, 3.5, 14.0),
    Kind("length", 200, "good", "good", 0.5, 0.5, 30.0),
    Kind("server_error_event", 200, "bad", "good", 1.0, 0.4, 4.0),
    Kind("connection_dropped", 200, "bad", "good", 0.5, 0.6, 6.0),
    Kind("idle_timeout", 200, "bad", "good", 0.25, 0.7, 62.0),
    Kind("truncated", 200, "bad", "good", 0.25, 0.5, 8.0),
    Kind("request_failed", 429, "bad", "excluded", 0.125, None, 0.1),
    Kind("request_failed", 503, "bad", "excluded", 0.125, None, 0.2),
    Kind("request_failed", None, "bad", "excluded", 0.125, None, 0.05),
    Kind("request_failed", 404, "excluded", "excluded", 0.125, None, 0.1),
    Kind("client_cancelled", 200, "excluded", "good", 0.5, 0.4, 2.0),
    Kind("client_abandoned", 200, "excluded", "good", 0.25, 0.4, 3.0),
    Kind("consumer_error", 200, "excluded", "good", 0.25, 0.4, 1.0),
)
TOKENS_PER_STREAM = 400.0
CHUNK_GAP = 0.03
ROUTE = "/chat"
# The app's own streamed responses (server spans, no provider/model): reason, outcome, rate/s.
RESPONSE_MIX: tuple[tuple[str, str, float], ...] = (
    ("completed", "good", 4.0),
    ("upstream_failed", "bad", 0.5),
    ("app_error", "bad", 0.25),
    ("server_error_event", "bad", 0.25),
    ("client_cancelled", "excluded", 1.0),
)
# Per provider: upstream streams orphaned by a disconnect per second, abort propagation latency (s),
# output tokens received after the disconnect per orphan.
ORPHANS: dict[str, tuple[float, float, float]] = {
    "openai": (0.5, 0.004, 10.0),
    "anthropic": (0.25, 2.5, 50.0),
}
# Per model and second: tool calls committed, by (reason, outcome).
TOOL_CALLS: tuple[tuple[str, str, float], ...] = (
    ("completed", "good", 1.0),
    ("connection_dropped", "bad", 0.25),
    ("client_cancelled", "excluded", 0.25),
)
ABORT_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, *DURATION_BUCKETS)


def _le(bound: float) -> str:
    return repr(bound).removesuffix(".0")


def _labels(**labels: Any) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items() if v is not None) + "}"


def _histogram(
    name: str, labels: dict[str, Any], count: float, value: float, bounds: tuple[float, ...]
) -> list[str]:
    """Cumulative buckets of ``count`` observations of ``value`` (all in its bucket)."""
    lines = [f"{name}_bucket{_labels(**labels, le=_le(b))} {count if value <= b else 0.0}" for b in bounds]
    lines.append(f"{name}_bucket{_labels(**labels, le='+Inf')} {count}")
    lines.append(f"{name}_sum{_labels(**labels)} {count * value}")
    lines.append(f"{name}_count{_labels(**labels)} {count}")
    return lines


def exposition(elapsed: float) -> str:
    """What the collector's prometheus exporter would serve after ``elapsed`` seconds of the mix."""
    meta = {
        "traces_span_metrics_calls_total": "counter",
        "traces_span_metrics_duration_seconds": "histogram",
        "gen_ai_client_operation_duration_seconds": "histogram",
        "gen_ai_client_operation_time_to_first_chunk_seconds": "histogram",
        "gen_ai_client_operation_time_per_output_chunk_seconds": "histogram",
        "gen_ai_client_token_usage": "histogram",
        "streamslo_streams_total": "counter",
        "streamslo_streams_active": "gauge",
        "streamslo_tokens_delivered_total": "counter",
        "streamslo_responses_total": "counter",
        "streamslo_abort_propagation_latency_seconds": "histogram",
        "streamslo_tokens_after_disconnect_total": "counter",
        "streamslo_tool_calls_committed_total": "counter",
    }
    series: dict[str, list[str]] = {name: [] for name in meta}
    target = {"job": SERVICE, "instance": "3f1c9a52-stand-in"}  # the exporter's resource labels
    # Spans of other instrumentations are counted too, without any streamslo_* label.
    health = _labels(
        **target,
        service_name=SERVICE,
        span_name="GET /health",
        span_kind="SPAN_KIND_SERVER",
        status_code="STATUS_CODE_UNSET",
        http_response_status_code=200,
    )
    series["traces_span_metrics_calls_total"].append(
        f"traces_span_metrics_calls_total{health} {5.0 * elapsed}"
    )
    for reason, outcome, rate in RESPONSE_MIX:
        response = _labels(
            **target,
            service_name=SERVICE,
            span_name=f"POST {ROUTE}",
            span_kind="SPAN_KIND_SERVER",
            status_code="STATUS_CODE_ERROR" if outcome == "bad" else "STATUS_CODE_UNSET",
            streamslo_sli_outcome=outcome,
            streamslo_sli_latency="good",
            streamslo_termination_reason=reason,
            http_response_status_code=200,
            error_type=reason if outcome == "bad" else None,
        )
        series["traces_span_metrics_calls_total"].append(
            f"traces_span_metrics_calls_total{response} {rate * elapsed}"
        )
        counted = _labels(
            **target,
            service_name=SERVICE,
            http_route=ROUTE,
            streamslo_termination_reason=reason,
            streamslo_sli_outcome=outcome,
        )
        series["streamslo_responses_total"].append(f"streamslo_responses_total{counted} {rate * elapsed}")
    for provider, model in MODELS:
        sdk = {
            **target,
            "service_name": SERVICE,
            "gen_ai_operation_name": "chat",
            "gen_ai_provider_name": provider,
            "gen_ai_request_model": model,
        }
        verdicts: dict[str, float] = {}
        for kind in MIX:
            count = kind.rate * elapsed
            error = kind.reason if kind.outcome == "bad" and kind.status == 200 else None
            if kind.reason == "request_failed":
                error = str(kind.status) if kind.status else "APIConnectionError"
            span = {
                **target,
                "service_name": SERVICE,
                "span_name": f"chat {model}",
                "span_kind": "SPAN_KIND_CLIENT",
                "status_code": "STATUS_CODE_ERROR" if kind.outcome == "bad" else "STATUS_CODE_UNSET",
                "streamslo_sli_outcome": kind.outcome,
                "streamslo_sli_latency": kind.latency,
                "streamslo_termination_reason": kind.reason,
                "gen_ai_provider_name": provider,
                "gen_ai_request_model": model,
                "http_response_status_code": kind.status,
                "error_type": error,
            }
            series["traces_span_metrics_calls_total"].append(
                f"traces_span_metrics_calls_total{_labels(**span)} {count}"
            )
            series["traces_span_metrics_duration_seconds"] += _histogram(
                "traces_span_metrics_duration_seconds", span, count, kind.duration, DURATION_BUCKETS
            )
            series["gen_ai_client_operation_duration_seconds"] += _histogram(
                "gen_ai_client_operation_duration_seconds",
                {**sdk, "error_type": error},
                count,
                kind.duration,
                DURATION_BUCKETS,
            )
            verdict = _labels(
                **sdk, streamslo_termination_reason=kind.reason, streamslo_sli_outcome=kind.outcome
            )
            verdicts[verdict] = verdicts.get(verdict, 0.0) + count  # 429, 503, connect: one series
            if kind.ttft is not None:
                series["gen_ai_client_operation_time_to_first_chunk_seconds"] += _histogram(
                    "gen_ai_client_operation_time_to_first_chunk_seconds",
                    sdk,
                    count,
                    kind.ttft,
                    DURATION_BUCKETS,
                )
        series["streamslo_streams_total"] += [f"streamslo_streams_total{v} {n}" for v, n in verdicts.items()]
        streams = sum(k.rate for k in MIX if k.ttft is not None) * elapsed
        series["gen_ai_client_operation_time_per_output_chunk_seconds"] += _histogram(
            "gen_ai_client_operation_time_per_output_chunk_seconds",
            sdk,
            streams * 100,
            CHUNK_GAP,
            DURATION_BUCKETS,
        )
        for token_type, tokens in (("input", 1200.0), ("output", TOKENS_PER_STREAM)):
            series["gen_ai_client_token_usage"] += _histogram(
                "gen_ai_client_token_usage",
                {**sdk, "gen_ai_token_type": token_type},
                streams,
                tokens,
                TOKEN_BUCKETS,
            )
        series["streamslo_tokens_delivered_total"].append(
            f"streamslo_tokens_delivered_total{_labels(**sdk)} {streams * TOKENS_PER_STREAM}"
        )
        rate, latency, tokens = ORPHANS[provider]
        series["streamslo_abort_propagation_latency_seconds"] += _histogram(
            "streamslo_abort_propagation_latency_seconds", sdk, rate * elapsed, latency, ABORT_BUCKETS
        )
        series["streamslo_tokens_after_disconnect_total"].append(
            f"streamslo_tokens_after_disconnect_total{_labels(**sdk)} {rate * elapsed * tokens}"
        )
        for reason, outcome, rate in TOOL_CALLS:
            labels = _labels(**sdk, streamslo_termination_reason=reason, streamslo_sli_outcome=outcome)
            series["streamslo_tool_calls_committed_total"].append(
                f"streamslo_tool_calls_committed_total{labels} {rate * elapsed}"
            )
        series["streamslo_streams_active"].append(
            f"streamslo_streams_active{_labels(**sdk)} {round(20 + 5 * math.sin(elapsed / 10))}"
        )
    lines: list[str] = []
    for name, kind_of in meta.items():
        lines += [f"# HELP {name} otel-streamslo test series", f"# TYPE {name} {kind_of}", *series[name]]
    return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    started = time.monotonic()

    def do_GET(self) -> None:
        if self.path != "/metrics":
            self.send_error(404)
            return
        body = exposition(1.0 + time.monotonic() - self.started).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def stand_in_exporter() -> Iterator[str]:
    """Serve :func:`exposition` on 127.0.0.1 (free port); yield the scrape target host:port."""
    handler = type("Handler", (_Handler,), {"started": time.monotonic()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _send_traffic(otlp_http: str, stop: threading.Event) -> None:
    """Spans (classified by the collector) and SDK metrics of the mix, ten batches a second."""
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.trace import SpanKind, Status, StatusCode

    resource = Resource.create({"service.name": SERVICE})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_http}/v1/traces"), schedule_delay_millis=200)
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{otlp_http}/v1/metrics"), export_interval_millis=1000
    )
    meter_provider = MeterProvider(resource=resource, metric_readers=[reader])
    tracer = tracer_provider.get_tracer("otel_streamslo")
    meter = meter_provider.get_meter("otel_streamslo")
    buckets = list(DURATION_BUCKETS)
    duration = meter.create_histogram(
        "gen_ai.client.operation.duration", unit="s", explicit_bucket_boundaries_advisory=buckets
    )
    ttft = meter.create_histogram(
        "gen_ai.client.operation.time_to_first_chunk", unit="s", explicit_bucket_boundaries_advisory=buckets
    )
    chunk = meter.create_histogram(
        "gen_ai.client.operation.time_per_output_chunk", unit="s", explicit_bucket_boundaries_advisory=buckets
    )
    usage = meter.create_histogram(
        "gen_ai.client.token.usage", unit="{token}", explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS)
    )
    streams = meter.create_counter("streamslo.streams", unit="{stream}")
    active = meter.create_up_down_counter("streamslo.streams.active", unit="{stream}")
    delivered = meter.create_counter("streamslo.tokens.delivered", unit="{token}")
    downstream = _DownstreamInstruments(meter)
    owed: dict[tuple[int, int], float] = {}
    try:
        while not stop.is_set():
            downstream.tick(tracer)
            for m, (provider, model) in enumerate(MODELS):
                attrs = {
                    "gen_ai.operation.name": "chat",
                    "gen_ai.provider.name": provider,
                    "gen_ai.request.model": model,
                }
                active.add(1, attrs)
                for k, kind in enumerate(MIX):
                    owed[(m, k)] = owed.get((m, k), 0.0) + kind.rate / 10
                    while owed[(m, k)] >= 1:
                        owed[(m, k)] -= 1
                        span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attrs)
                        span.set_attribute("gen_ai.request.stream", True)
                        span.set_attribute("streamslo.termination.reason", kind.reason)
                        if kind.status is not None:
                            span.set_attribute("http.response.status_code", kind.status)
                        if kind.ttft is not None:
                            span.set_attribute("streamslo.time_to_first_token", kind.ttft)
                            ttft.record(kind.ttft, attrs)
                            chunk.record(CHUNK_GAP, attrs)
                            usage.record(TOKENS_PER_STREAM, {**attrs, "gen_ai.token.type": "output"})
                            delivered.add(int(TOKENS_PER_STREAM), attrs)
                        if kind.reason == "request_failed":
                            span.set_status(Status(StatusCode.ERROR, "request failed"))
                        span.end()
                        duration.record(kind.duration, attrs)
                        streams.add(
                            1,
                            {
                                **attrs,
                                "streamslo.termination.reason": kind.reason,
                                "streamslo.sli.outcome": kind.outcome,
                            },
                        )
                active.add(-1, attrs)
            stop.wait(0.1)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()


class _DownstreamInstruments:
    """Server spans and the server-side SDK metrics of the mix, one tenth of a second per tick."""

    def __init__(self, meter: Any) -> None:
        self.responses = meter.create_counter("streamslo.responses", unit="{response}")
        self.abort_latency = meter.create_histogram(
            "streamslo.abort.propagation_latency",
            unit="s",
            explicit_bucket_boundaries_advisory=list(ABORT_BUCKETS),
        )
        self.after_disconnect = meter.create_counter("streamslo.tokens.after_disconnect", unit="{token}")
        self.tool_calls = meter.create_counter("streamslo.tool_calls.committed", unit="{call}")
        self.owed: dict[tuple[str, ...], float] = {}

    def _due(self, key: tuple[str, ...], rate: float) -> int:
        self.owed[key] = self.owed.get(key, 0.0) + rate / 10
        whole = int(self.owed[key])
        self.owed[key] -= whole
        return whole

    def tick(self, tracer: Any) -> None:
        from opentelemetry.trace import SpanKind

        for reason, outcome, rate in RESPONSE_MIX:
            for _ in range(self._due(("response", reason), rate)):
                span = tracer.start_span(f"POST {ROUTE}", kind=SpanKind.SERVER)
                span.set_attribute("http.route", ROUTE)
                span.set_attribute("http.response.status_code", 200)
                span.set_attribute("streamslo.termination.reason", reason)
                span.set_attribute("streamslo.sli.outcome", outcome)
                span.end()
                attrs = {"http.route": ROUTE, "streamslo.termination.reason": reason}
                self.responses.add(1, {**attrs, "streamslo.sli.outcome": outcome})
        for provider, model in MODELS:
            attrs = {"gen_ai.provider.name": provider, "gen_ai.request.model": model}
            rate, latency, tokens = ORPHANS[provider]
            for _ in range(self._due(("orphan", provider), rate)):
                self.abort_latency.record(latency, attrs)
                self.after_disconnect.add(int(tokens), attrs)
            for reason, outcome, calls in TOOL_CALLS:
                due = self._due(("tool", provider, reason), calls)
                if due:
                    verdict = {"streamslo.termination.reason": reason, "streamslo.sli.outcome": outcome}
                    self.tool_calls.add(due, {**attrs, **verdict})


@contextmanager
def collector_source(log_dir: Path) -> Iterator[str]:
    """Start the built collector on free ports, feed it; yield its Prometheus exporter host:port."""
    from tests.e2e_collector.collector_harness import Collector

    collector = Collector(config=COLLECTOR_CONFIG, log_path=log_dir / "otelcol-streamslo.log")
    collector.start()
    stop = threading.Event()
    sender = threading.Thread(target=_send_traffic, args=(collector.otlp_http, stop), daemon=True)
    sender.start()
    try:
        yield f"127.0.0.1:{collector.prom_port}"
    finally:
        stop.set()
        sender.join(timeout=20)
        collector.stop()


@contextmanager
def start_series_source(log_dir: Path) -> Iterator[tuple[str, str]]:
    """Yield (which source ran, scrape target): the real collector when built, else the stand-in.

    ``STREAMSLO_SERIES_SOURCE=collector`` or ``=exporter`` forces one (default ``auto``).
    """
    choice = os.environ.get("STREAMSLO_SERIES_SOURCE", "auto")
    if choice not in ("auto", "collector", "exporter"):
        raise ValueError(f"STREAMSLO_SERIES_SOURCE={choice!r}: use auto, collector or exporter")
    if choice == "collector" and not COLLECTOR_BINARY.exists():
        raise FileNotFoundError(f"{COLLECTOR_BINARY} not built: run bash collector/build.sh")
    if choice != "exporter" and COLLECTOR_BINARY.exists():
        with collector_source(log_dir) as target:
            yield f"collector ({COLLECTOR_BINARY.relative_to(REPO)})", target
    else:
        with stand_in_exporter() as target:
            reason = "forced" if choice == "exporter" else "collector/_build/otelcol-streamslo not built"
            yield f"stand-in exporter ({reason})", target
