"""Shared fixtures: in-memory OpenTelemetry pipeline, instrumentors, the chaos provider."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.record import open_records


def pytest_sessionstart(session: pytest.Session) -> None:
    """Import the SDKs once and move their objects out of the collector's way.

    Tests call ``gc.collect()`` to make abandoned-stream finalizers run; with the SDKs' many
    thousands of long-lived objects frozen, each collection takes milliseconds instead of ~100 ms.
    """
    import anthropic  # noqa: F401
    import openai

    with contextlib.suppress(ImportError):  # openai < 1.66 has no Responses API (compatibility matrix)
        import openai.types.responses  # noqa: F401

    gc.collect()
    gc.freeze()


def pytest_collection_finish(session: pytest.Session) -> None:
    """Freeze again once the test items exist (collection builds many thousands of objects)."""
    gc.collect()
    gc.freeze()


class Telemetry:
    """In-memory span exporter + metric reader, with helpers to read them."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.tracer_provider = TracerProvider()
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.reader = InMemoryMetricReader()
        self.meter_provider = MeterProvider(metric_readers=[self.reader])

    @contextlib.contextmanager
    def instrumented(self, *insts: Any, **options: Any) -> Iterator[Telemetry]:
        """``insts`` on this pipeline (with ``options``) for the block; uninstrumented, and gc run, after."""
        for inst in insts:
            inst.instrument(
                tracer_provider=self.tracer_provider, meter_provider=self.meter_provider, **options
            )
        try:
            yield self
        finally:
            for inst in insts:
                inst.uninstrument()
            gc.collect()

    def spans(self) -> list[ReadableSpan]:
        return [
            s for s in self.exporter.get_finished_spans() if s.instrumentation_scope.name == "otel_streamslo"
        ]

    def only_span(self) -> ReadableSpan:
        gc.collect()
        spans = self.spans()
        assert len(spans) == 1, [s.name for s in spans]
        return spans[0]

    def points(self, name: str) -> list[Any]:
        data = self.reader.get_metrics_data()
        out: list[Any] = []
        if data is None:
            return out
        for rm in data.resource_metrics:
            for sm in rm.scope_metrics:
                for metric in sm.metrics:
                    if metric.name == name:
                        out.extend(metric.data.data_points)
        return out

    def stream_counts(self) -> dict[tuple[str, str], int]:
        """streamslo.streams counter as {(reason, outcome): count}."""
        counts: dict[tuple[str, str], int] = {}
        for p in self.points("streamslo.streams"):
            key = (p.attributes["streamslo.termination.reason"], p.attributes["streamslo.sli.outcome"])
            counts[key] = counts.get(key, 0) + int(p.value)
        return counts

    def active(self) -> int:
        return sum(int(p.value) for p in self.points("streamslo.streams.active"))


@pytest.fixture
def telemetry() -> Iterator[Telemetry]:
    tel = Telemetry()
    yield tel
    tel.tracer_provider.shutdown()
    tel.meter_provider.shutdown()


@pytest.fixture
def instrument_openai(telemetry: Telemetry) -> Iterator[Telemetry]:
    from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor

    with telemetry.instrumented(OpenAIStreamInstrumentor()) as tel:
        yield tel


@pytest.fixture
def instrument_both(telemetry: Telemetry) -> Iterator[Telemetry]:
    """Both SDK instrumentors on the in-memory pipeline."""
    from otel_streamslo.instrumentation.anthropic import AnthropicStreamInstrumentor
    from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor

    with telemetry.instrumented(OpenAIStreamInstrumentor(), AnthropicStreamInstrumentor()) as tel:
        yield tel


@pytest.fixture(scope="session")
def chaos() -> Iterator[Any]:
    from otel_streamslo.chaos import ChaosServer

    with ChaosServer() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_leaked_records() -> Iterator[None]:
    """Every test must leave no stream record open (every span ended)."""
    yield
    gc.collect()
    leaked = open_records()
    for rec in leaked:
        rec.end(Event.ABANDON)
    assert not leaked, f"{len(leaked)} stream records were never ended"
