"""Tracer and metric instruments shared by all instrumentors of one process."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from opentelemetry import metrics, trace
from opentelemetry.metrics import Counter, Histogram, Meter, UpDownCounter

from otel_streamslo.core import links
from otel_streamslo.core import semconv as sc
from otel_streamslo.core.config import Settings
from otel_streamslo.version import __version__

SCOPE = "otel_streamslo"
SCHEMA_URL = "https://opentelemetry.io/schemas/1.37.0"


@dataclass
class Instruments:
    """The SDK metrics of DESIGN.md."""

    duration: Histogram
    ttft: Histogram
    per_chunk: Histogram
    token_usage: Histogram
    streams: Counter
    active: UpDownCounter
    tokens: Counter
    tool_calls: Counter
    abort_latency: Histogram
    tokens_after_disconnect: Counter
    responses: Counter


def _histogram(meter: Meter, name: str, unit: str, desc: str, buckets: tuple[float, ...]) -> Histogram:
    try:
        return meter.create_histogram(
            name, unit=unit, description=desc, explicit_bucket_boundaries_advisory=list(buckets)
        )
    except TypeError:  # opentelemetry-api < 1.23 has no bucket advice
        return meter.create_histogram(name, unit=unit, description=desc)


ABORT_BUCKETS: tuple[float, ...] = (0.001, 0.0025, 0.005, *sc.DURATION_BUCKETS)


def make_instruments(meter: Meter) -> Instruments:
    """Create all instruments on one meter."""
    d = sc.DURATION_BUCKETS
    return Instruments(
        duration=_histogram(meter, sc.METRIC_OPERATION_DURATION, "s", "GenAI operation duration.", d),
        ttft=_histogram(
            meter, sc.METRIC_TIME_TO_FIRST_CHUNK, "s", "Time to the first content chunk of a stream.", d
        ),
        per_chunk=_histogram(
            meter,
            sc.METRIC_TIME_PER_OUTPUT_CHUNK,
            "s",
            "Mean time per output chunk after the first, one point per stream.",
            d,
        ),
        token_usage=_histogram(
            meter, sc.METRIC_TOKEN_USAGE, "{token}", "Input and output tokens used.", sc.TOKEN_BUCKETS
        ),
        streams=meter.create_counter(
            sc.METRIC_STREAMS,
            unit="{stream}",
            description="Streams ended, by termination reason and outcome.",
        ),
        active=meter.create_up_down_counter(
            sc.METRIC_STREAMS_ACTIVE, unit="{stream}", description="Streams started and not yet ended."
        ),
        tokens=meter.create_counter(
            sc.METRIC_TOKENS_DELIVERED, unit="{token}", description="Output tokens handed to the consumer."
        ),
        tool_calls=meter.create_counter(
            links.METRIC_TOOL_CALLS_COMMITTED,
            unit="{call}",
            description="Tool calls fully streamed before the stream ended, by its outcome.",
        ),
        abort_latency=_histogram(
            meter,
            links.METRIC_ABORT_PROPAGATION_LATENCY,
            "s",
            "Client disconnect to the end of an upstream stream still open then.",
            ABORT_BUCKETS,
        ),
        tokens_after_disconnect=meter.create_counter(
            links.METRIC_TOKENS_AFTER_DISCONNECT,
            unit="{token}",
            description="Output tokens received from the provider after the user left (billed, never seen).",
        ),
        responses=meter.create_counter(
            links.METRIC_RESPONSES,
            unit="{response}",
            description="Streamed HTTP responses ended, by termination reason and outcome.",
        ),
    )


@dataclass
class Telemetry:
    """Everything one recorder needs: tracer, instruments and settings."""

    tracer: trace.Tracer
    instruments: Instruments
    settings: Settings


def make_telemetry(
    settings: Settings,
    tracer_provider: Optional[trace.TracerProvider] = None,
    meter_provider: Optional[metrics.MeterProvider] = None,
) -> Telemetry:
    """Create the tracer and instruments from the given (or global) providers."""
    tracer = trace.get_tracer(SCOPE, __version__, tracer_provider, schema_url=SCHEMA_URL)
    meter = metrics.get_meter(SCOPE, __version__, meter_provider, schema_url=SCHEMA_URL)
    return Telemetry(tracer=tracer, instruments=make_instruments(meter), settings=settings)
