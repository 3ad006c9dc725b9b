"""SLOs stay exact under trace sampling, on the real parts: the openai SDK instrumented by
otel_streamslo streams from the chaos provider, exports OTLP to the built collector running
collector/config/otelcol-streamslo-tail-sampling.yaml (span metrics before the tail sampler), and a
real Prometheus scrapes it.

Two apps, one after the other, same fault mix:
- ``sampling-tail``: no head sampling; the collector's tail sampler keeps every error trace + 10 %.
  Span metrics counted before the sampler and the SDK counter ``streamslo.streams`` both equal the
  truth exactly. A second spanmetrics connector placed after the sampler (added by this test only)
  shows what counting sampled traces would report: the error ratio several times too high.
- ``sampling-head``: TraceIdRatioBased(0.1) in the SDK. Span metrics see ~10 % of the streams: their
  error ratio equals the truth within binomial counting error; the SDK counter stays exact.
"""

from __future__ import annotations

import gc
import json
import math
import os
import random
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openai
import pytest
import yaml
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased, Sampler, TraceIdRatioBased

from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor

from .harness import BINARY, REPO, TAIL_SAMPLING, Otelcol, Prometheus, counted, wait_until

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CALLS = "traces_span_metrics_calls_total"
AFTER = "traces_after_sampling_span_metrics_calls_total"
SDK = "streamslo_streams_total"
BY = ("streamslo_termination_reason", "streamslo_sli_outcome")
# (chaos fault, consumer behaviour, weight) -> reason, outcome; ~12 % of good+bad are bad
MIX: list[tuple[str, str, int, str, str]] = [
    ("none", "consume", 72, "completed", "good"),
    ("error_frame@3", "consume", 3, "server_error_event", "bad"),
    ("reset@3", "consume", 3, "connection_dropped", "bad"),
    ("eof@3", "consume", 2, "truncated", "bad"),
    ("http_503", "consume", 2, "request_failed", "bad"),
    ("http_400", "consume", 5, "request_failed", "excluded"),
    ("none", "close", 13, "client_cancelled", "excluded"),
]
STREAMS = {"sampling-tail": 1200, "sampling-head": 3000}
RESULTS = REPO / "benchmarks" / "results" / "fleet_sampling.json"


def error_ratio(c: dict[tuple[str, ...], int]) -> float:
    bad = sum(v for k, v in c.items() if k[-1] == "bad")
    good = sum(v for k, v in c.items() if k[-1] == "good")
    return bad / (bad + good)


def drive(chaos: Any, n: int, seed: int) -> Counter[tuple[str, str]]:
    """``n`` streams drawn from MIX; returns the truth (reason, outcome) -> streams."""
    rng = random.Random(seed)
    client = openai.OpenAI(base_url=chaos.openai_base_url, api_key="t", max_retries=0, timeout=10)
    truth: Counter[tuple[str, str]] = Counter()
    for fault, mode, _, reason, outcome in rng.choices(MIX, weights=[m[2] for m in MIX], k=n):
        truth[(reason, outcome)] += 1
        try:
            stream = client.chat.completions.create(
                model="sampling-model",
                messages=[{"role": "user", "content": "hi"}],
                stream=True,
                extra_headers={"x-chaos-fault": fault, "x-chaos-tokens": "4"},
            )
            for _chunk in stream:
                if mode == "close":
                    break
            stream.close()
            del stream
        except openai.OpenAIError:
            pass
    gc.collect()
    client.close()
    return truth


def run_app(chaos: Any, col: Otelcol, service: str, sampler: Sampler, seed: int) -> Counter[tuple[str, str]]:
    resource = Resource.create({"service.name": service})
    tp = TracerProvider(resource=resource, sampler=sampler)
    tp.add_span_processor(
        BatchSpanProcessor(OTLPSpanExporter(endpoint=f"http://127.0.0.1:{col.http_port}/v1/traces"))
    )
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"http://127.0.0.1:{col.http_port}/v1/metrics"),
        export_interval_millis=500,
    )
    mp = MeterProvider(resource=resource, metric_readers=[reader])
    inst = OpenAIStreamInstrumentor()
    inst.instrument(tracer_provider=tp, meter_provider=mp)
    try:
        truth = drive(chaos, STREAMS[service], seed)
    finally:
        inst.uninstrument()
    tp.shutdown()
    mp.shutdown()
    return truth


def settle(value: Any, quiet: float = 3.0, timeout: float = 60.0) -> None:
    """Wait until ``value()`` has not changed for ``quiet`` seconds."""
    last, since = value(), time.monotonic()
    deadline = since + timeout
    while time.monotonic() < deadline and time.monotonic() - since < quiet:
        time.sleep(0.5)
        cur = value()
        if cur != last:
            last, since = cur, time.monotonic()


def config_with_counter_after_sampler(work: Path) -> Path:
    """The shipped example plus a second spanmetrics connector after the tail sampler."""
    doc = yaml.safe_load(TAIL_SAMPLING.read_text())
    after = dict(doc["connectors"]["span_metrics"], namespace="traces.after_sampling.span.metrics")
    doc["connectors"]["span_metrics/after_sampling"] = after
    doc["service"]["pipelines"]["traces/sampled"]["exporters"].append("span_metrics/after_sampling")
    doc["service"]["pipelines"]["metrics/after_sampling"] = {
        "receivers": ["span_metrics/after_sampling"],
        "exporters": ["prometheus"],
    }
    path = work / "tail-sampling-plus-after.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def measured(chaos: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    assert BINARY.exists(), f"{BINARY} missing: run `bash collector/build.sh`"
    work = tmp_path_factory.mktemp("sampling")
    col = Otelcol(
        "tail",
        config_with_counter_after_sampler(work),
        work,
        {"STREAMSLO_TAIL_DECISION_WAIT": "1s", "STREAMSLO_DEBUG_VERBOSITY": "basic"},
    )
    prom = Prometheus(work, jobs={"collector": [col.prom_port]})
    prom.start()
    col.start()
    try:
        out: dict[str, Any] = {}
        apps = {"sampling-tail": ALWAYS_ON, "sampling-head": ParentBased(TraceIdRatioBased(0.1))}
        for seed, (service, sampler) in enumerate(apps.items()):
            out[service] = {"truth": run_app(chaos, col, service, sampler, seed)}
        want = sum(out["sampling-tail"]["truth"].values()) + sum(out["sampling-head"]["truth"].values())
        wait_until(lambda: sum(counted(prom, SDK, BY).values()) >= want, 60, "SDK counters in Prometheus")
        tail_n = sum(out["sampling-tail"]["truth"].values())
        sel = f'{CALLS}{{service_name="sampling-tail"}}'
        wait_until(lambda: sum(counted(prom, sel, BY).values()) >= tail_n, 60, "span metrics")
        after_sel = f'{AFTER}{{service_name="sampling-tail"}}'
        wait_until(lambda: sum(counted(prom, after_sel, BY).values()) > 0, 60, "sampled span metrics")
        settle(lambda: sum(counted(prom, after_sel, BY).values()))  # decisions 1 s after the last span
        for service in apps:
            o = out[service]
            o["span_metrics"] = counted(prom, f'{CALLS}{{service_name="{service}"}}', BY)
            o["sdk_counter"] = counted(prom, f'{SDK}{{service_name="{service}"}}', BY)
            o["after_sampler"] = counted(prom, f'{AFTER}{{service_name="{service}"}}', BY)
        yield out
    finally:
        col.stop()
        prom.stop()


def test_tail_sampling_counts_before_the_sampler_are_exact(measured: dict[str, Any]) -> None:
    o = measured["sampling-tail"]
    truth = dict(o["truth"])
    assert o["span_metrics"] == truth
    assert o["sdk_counter"] == truth


def test_counting_after_the_tail_sampler_would_be_several_times_too_high(measured: dict[str, Any]) -> None:
    o = measured["sampling-tail"]
    truth, after = error_ratio(o["truth"]), error_ratio(o["after_sampler"])
    # every bad stream kept (status ERROR), ~10 % of the good ones
    bad_after = sum(v for k, v in o["after_sampler"].items() if k[-1] == "bad")
    assert bad_after == sum(v for k, v in o["truth"].items() if k[-1] == "bad")
    assert after > 3 * truth, (after, truth)


def test_head_sampling_sdk_counter_exact_span_metrics_within_counting_error(measured: dict[str, Any]) -> None:
    o = measured["sampling-head"]
    assert o["sdk_counter"] == dict(o["truth"])
    seen = o["span_metrics"]
    n = sum(v for k, v in seen.items() if k[-1] in ("good", "bad"))
    total = sum(v for k, v in o["truth"].items() if k[-1] in ("good", "bad"))
    assert 0.05 * total < n < 0.16 * total, (n, total)  # ~10 % head-sampled
    p = error_ratio(o["truth"])
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(error_ratio(seen) - p) <= 4 * sigma, (error_ratio(seen), p, sigma)


def test_record_numbers(measured: dict[str, Any]) -> None:
    summary: dict[str, Any] = {}
    for service, o in measured.items():
        truth = error_ratio(o["truth"])
        summary[service] = {
            "streams": sum(o["truth"].values()),
            "truth_error_ratio": round(truth, 4),
            "span_metrics_error_ratio": round(error_ratio(o["span_metrics"]), 4),
            "span_metrics_streams": sum(o["span_metrics"].values()),
            "sdk_counter_error_ratio": round(error_ratio(o["sdk_counter"]), 4),
            "after_tail_sampler_streams": sum(o["after_sampler"].values()),
        }
        if o["after_sampler"]:
            after = error_ratio(o["after_sampler"])
            summary[service]["after_tail_sampler_error_ratio"] = round(after, 4)
            summary[service]["after_tail_sampler_x_truth"] = round(after / truth, 2)
    if os.environ.get("STREAMSLO_RECORD_RESULTS") == "1":
        RESULTS.write_text(json.dumps(summary, indent=1, sort_keys=True) + "\n")
    print(f"\n[sampling] {json.dumps(summary)}")
    assert summary["sampling-tail"]["after_tail_sampler_x_truth"] > 3
