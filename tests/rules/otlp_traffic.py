"""OTLP traffic of the mix for the real collector: client and server spans, SDK metrics, 10 ticks a second."""

from __future__ import annotations

import threading
from typing import Any

from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_streamslo.core.semconv import DURATION_BUCKETS, TOKEN_BUCKETS

from .mix import (
    ABORT_BUCKETS,
    CHUNK_GAP,
    MIX,
    MODELS,
    ORPHANS,
    RESPONSE_MIX,
    ROUTE,
    SERVICE,
    TOKENS_PER_STREAM,
    TOOL_CALLS,
    Kind,
)


def _providers(otlp_http: str) -> tuple[TracerProvider, MeterProvider]:
    """Tracer and meter providers exporting OTLP/HTTP to ``otlp_http`` (spans every 0.2 s, metrics 1 s)."""
    resource = Resource.create({"service.name": SERVICE})
    tracer_provider = TracerProvider(resource=resource)
    tracer_provider.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"{otlp_http}/v1/traces"), schedule_delay_millis=200)
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{otlp_http}/v1/metrics"), export_interval_millis=1000
    )
    return tracer_provider, MeterProvider(resource=resource, metric_readers=[reader])


class ClientInstruments:
    """Client spans (classified by the collector) and the client-side SDK metrics, one stream at a time."""

    def __init__(self, meter: Any) -> None:
        buckets = list(DURATION_BUCKETS)
        self.duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", explicit_bucket_boundaries_advisory=buckets
        )
        self.ttft = meter.create_histogram(
            "gen_ai.client.operation.time_to_first_chunk",
            unit="s",
            explicit_bucket_boundaries_advisory=buckets,
        )
        self.chunk = meter.create_histogram(
            "gen_ai.client.operation.time_per_output_chunk",
            unit="s",
            explicit_bucket_boundaries_advisory=buckets,
        )
        self.usage = meter.create_histogram(
            "gen_ai.client.token.usage",
            unit="{token}",
            explicit_bucket_boundaries_advisory=list(TOKEN_BUCKETS),
        )
        self.streams = meter.create_counter("streamslo.streams", unit="{stream}")
        self.active = meter.create_up_down_counter("streamslo.streams.active", unit="{stream}")
        self.delivered = meter.create_counter("streamslo.tokens.delivered", unit="{token}")

    def stream(self, tracer: Any, model: str, attrs: dict[str, Any], kind: Kind) -> None:
        """One stream of ``kind``: its span and its metric points."""
        span = tracer.start_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attrs)
        span.set_attribute("gen_ai.request.stream", True)
        span.set_attribute("streamslo.termination.reason", kind.reason)
        if kind.status is not None:
            span.set_attribute("http.response.status_code", kind.status)
        if kind.ttft is not None:
            span.set_attribute("streamslo.time_to_first_token", kind.ttft)
            self.ttft.record(kind.ttft, attrs)
            self.chunk.record(CHUNK_GAP, attrs)
            self.usage.record(TOKENS_PER_STREAM, {**attrs, "gen_ai.token.type": "output"})
            self.delivered.add(int(TOKENS_PER_STREAM), attrs)
        if kind.reason == "request_failed":
            span.set_status(Status(StatusCode.ERROR, "request failed"))
        span.end()
        self.duration.record(kind.duration, attrs)
        verdict = {"streamslo.termination.reason": kind.reason, "streamslo.sli.outcome": kind.outcome}
        self.streams.add(1, {**attrs, **verdict})


class DownstreamInstruments:
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


def send_traffic(otlp_http: str, stop: threading.Event) -> None:
    """Spans (classified by the collector) and SDK metrics of the mix, ten batches a second."""
    tracer_provider, meter_provider = _providers(otlp_http)
    tracer = tracer_provider.get_tracer("otel_streamslo")
    meter = meter_provider.get_meter("otel_streamslo")
    client = ClientInstruments(meter)
    downstream = DownstreamInstruments(meter)
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
                client.active.add(1, attrs)
                for k, kind in enumerate(MIX):
                    owed[(m, k)] = owed.get((m, k), 0.0) + kind.rate / 10
                    while owed[(m, k)] >= 1:
                        owed[(m, k)] -= 1
                        client.stream(tracer, model, attrs, kind)
                client.active.add(-1, attrs)
            stop.wait(0.1)
    finally:
        tracer_provider.shutdown()
        meter_provider.shutdown()
