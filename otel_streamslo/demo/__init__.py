"""``otel-streamslo demo``: streamed calls through the real SDK against the embedded chaos provider.

Starts the chaos provider on a free loopback port, drives a few hundred streamed calls
through the instrumented openai (or anthropic) SDK with a realistic, seeded fault mix, and
prints naive HTTP availability next to stream-aware availability, TTFT/TTC percentiles and
counts by termination reason. With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set it also exports spans
and metrics over OTLP. Under ``opentelemetry-instrument`` it reuses the providers set up there.
Then (``--server-sessions``, default 48) a small chat app relays the provider to simulated browsers,
some of which press stop, and the report puts HTTP, provider-leg and user-facing availability and
the abort billing gap side by side, as usual and with ``close_upstream_on_disconnect`` on.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Optional

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import MetricReader, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_streamslo.core.errors import classify_transport
from otel_streamslo.demo.report import format_report, summarise

# A realistic day at a busy provider, exaggerated so a few hundred calls show every failure mode.
DEFAULT_MIX: dict[str, float] = {
    "none": 76.0,
    "slow_ttft": 4.0,
    "error_frame": 4.0,
    "reset": 4.0,
    "eof": 2.0,
    "stall": 2.0,
    "length": 2.0,
    "content_filter": 1.0,
    "tool_calls": 1.0,
    "http_429": 2.0,
    "http_503": 1.0,
    "http_500": 1.0,
}
CANCEL_SHARE = 0.03  # consumers that stop reading early and close the stream


@dataclass(frozen=True)
class CallPlan:
    """What one demo call does: the provider's fault and whether the consumer quits early."""

    fault: str
    cancel_after: Optional[int]


def make_plans(n: int, seed: int, mix: dict[str, float], tokens: int) -> list[CallPlan]:
    """A reproducible schedule of ``n`` calls."""
    rng = random.Random(seed)
    names = list(mix)
    weights = [mix[k] for k in names]
    plans = []
    for _ in range(n):
        name = rng.choices(names, weights=weights, k=1)[0]
        if name in ("error_frame", "reset", "eof", "stall"):
            name = f"{name}@{rng.randint(1, max(1, tokens - 1))}"
        quit_early = name == "none" and rng.random() < CANCEL_SHARE
        plans.append(CallPlan(name, rng.randint(1, max(1, tokens // 2)) if quit_early else None))
    return plans


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``otel-streamslo demo``."""
    parser.add_argument(
        "--provider", choices=("openai", "anthropic", "bedrock", "gemini", "litellm"), default="openai"
    )
    parser.add_argument("--calls", type=int, default=300, help="number of streamed calls (default 300)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--tokens", type=int, default=48, help="content tokens per healthy stream")
    parser.add_argument("--chunk-delay", type=float, default=0.004, help="seconds between tokens")
    parser.add_argument("--stall-seconds", type=float, default=6.0)
    parser.add_argument(
        "--read-timeout", type=float, default=4.0, help="client read timeout (stall detection)"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--server-sessions",
        type=int,
        default=48,
        help="browser sessions for the server-side part (a chat app relaying the provider); 0 skips it",
    )


@dataclass
class DemoTelemetry:
    """Providers the demo reports from (and exports through, when configured)."""

    tracer_provider: Any
    meter_provider: Any
    spans: InMemorySpanExporter
    owned: bool


def _otlp_exporters() -> tuple[Any, Any]:
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")
    if protocol.startswith("http"):
        from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    else:
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import (  # type: ignore[assignment]
            OTLPMetricExporter,
        )
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (  # type: ignore[assignment]
            OTLPSpanExporter,
        )
    return OTLPSpanExporter(), OTLPMetricExporter()


def setup_telemetry() -> DemoTelemetry:
    """Reuse SDK providers already installed (opentelemetry-instrument), else create our own."""
    spans = InMemorySpanExporter()
    current = trace.get_tracer_provider()
    if isinstance(current, TracerProvider):
        current.add_span_processor(SimpleSpanProcessor(spans))
        return DemoTelemetry(current, metrics.get_meter_provider(), spans, owned=False)
    resource = Resource.create({"service.name": os.environ.get("OTEL_SERVICE_NAME", "streamslo-demo")})
    tp = TracerProvider(resource=resource)
    tp.add_span_processor(SimpleSpanProcessor(spans))
    readers: list[MetricReader] = []
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        span_exporter, metric_exporter = _otlp_exporters()
        tp.add_span_processor(BatchSpanProcessor(span_exporter))
        readers.append(PeriodicExportingMetricReader(metric_exporter, export_interval_millis=5000))
    mp = MeterProvider(resource=resource, metric_readers=readers)
    return DemoTelemetry(tp, mp, spans, owned=True)


def _instrument(tel: DemoTelemetry, provider: str) -> None:
    if provider == "openai":
        from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor as Inst
    elif provider == "bedrock":
        from otel_streamslo.instrumentation.bedrock import BedrockStreamInstrumentor as Inst  # type: ignore[assignment]
    elif provider == "gemini":
        from otel_streamslo.instrumentation.google_genai import GoogleGenAIStreamInstrumentor as Inst  # type: ignore[assignment]
    elif provider == "litellm":
        from otel_streamslo.instrumentation.litellm import LiteLLMStreamInstrumentor as Inst  # type: ignore[assignment]
    else:
        from otel_streamslo.instrumentation.anthropic import AnthropicStreamInstrumentor as Inst  # type: ignore[assignment]
    inst = Inst()
    if not inst.is_instrumented_by_opentelemetry:
        inst.instrument(tracer_provider=tel.tracer_provider, meter_provider=tel.meter_provider)


def _headers(plan: CallPlan, args: argparse.Namespace) -> dict[str, str]:
    return {
        "x-chaos-fault": plan.fault,
        "x-chaos-tokens": str(args.tokens),
        "x-chaos-chunk-delay": str(args.chunk_delay),
        "x-chaos-stall-seconds": str(args.stall_seconds),
        "x-chaos-ttft-seconds": "2.5",
    }


async def _open_stream(provider: str, client: Any, plan: CallPlan, args: argparse.Namespace, i: int) -> Any:
    messages = [{"role": "user", "content": f"demo request {i}"}]
    headers = _headers(plan, args)
    if provider == "openai":
        return await client.chat.completions.create(
            model="gpt-4o-mini",
            messages=messages,
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=headers,
        )
    return await client.messages.create(
        model="claude-sonnet-4-5", max_tokens=1024, messages=messages, stream=True, extra_headers=headers
    )


async def _call(provider: str, client: Any, plan: CallPlan, args: argparse.Namespace, i: int) -> None:
    """One streamed call, read like an app would: to the end, or closed early when planned."""
    import anthropic
    import openai

    try:
        stream = await _open_stream(provider, client, plan, args, i)
        n = 0
        async for _ in stream:
            n += 1
            if plan.cancel_after is not None and n >= plan.cancel_after:
                await stream.close()
                break
    except (openai.OpenAIError, anthropic.AnthropicError):
        pass  # the app would retry or show an error; the span already says what happened
    except Exception as exc:
        # anthropic's async stream lets httpx2's own transport errors through unwrapped (a reset
        # mid-body is an httpx2.RemoteProtocolError): the app would handle those the same way
        if classify_transport(exc) is None:
            raise


async def drive(args: argparse.Namespace, base_url: str, plans: Sequence[CallPlan]) -> None:
    """Run every planned call with bounded concurrency."""
    if args.provider == "bedrock":
        from otel_streamslo.demo import bedrock

        await bedrock.drive(args, base_url, plans, lambda plan: _headers(plan, args))
        return
    if args.provider == "gemini":
        from otel_streamslo.demo import gemini

        await gemini.drive(args, base_url, plans, lambda plan: _headers(plan, args))
        return
    if args.provider == "litellm":
        from otel_streamslo.demo import litellm_route

        await litellm_route.drive(args, base_url, plans, lambda plan: _headers(plan, args))
        return
    if args.provider == "openai":
        import openai

        client: Any = openai.AsyncOpenAI(
            base_url=base_url,
            api_key="chaos",
            max_retries=0,
            timeout=openai.Timeout(30.0, read=args.read_timeout),
        )
    else:
        import anthropic

        client = anthropic.AsyncAnthropic(
            base_url=base_url,
            api_key="chaos",
            max_retries=0,
            timeout=anthropic.Timeout(30.0, read=args.read_timeout),
        )
    sem = asyncio.Semaphore(max(1, args.concurrency))

    async def one(i: int, plan: CallPlan) -> None:
        async with sem:
            await _call(args.provider, client, plan, args, i)

    try:
        await asyncio.gather(*(one(i, p) for i, p in enumerate(plans)))
    finally:
        await client.close()


def run(args: argparse.Namespace) -> int:
    """Run the demo and print the report."""
    from otel_streamslo.chaos import ChaosServer
    from otel_streamslo.demo.server import quiet_lost_connections

    quiet_lost_connections()
    tel = setup_telemetry()
    _instrument(tel, args.provider)
    plans = make_plans(args.calls, args.seed, DEFAULT_MIX, args.tokens)
    started = time.monotonic()
    with ChaosServer() as server:
        base = {
            "openai": server.openai_base_url,
            "bedrock": server.bedrock_endpoint_url,
            "gemini": server.gemini_base_url,
            "litellm": server.openai_base_url,
        }.get(args.provider, server.anthropic_base_url)
        asyncio.run(drive(args, base, plans))
        served = Counter(str(entry.get("fault", "?")).split("@")[0] for entry in server.log)
        elapsed = time.monotonic() - started
        spans = _client_spans(tel)
        side = _server_side(tel, args, server.openai_base_url) if args.server_sessions > 0 else None
    for provider in (tel.tracer_provider, tel.meter_provider):
        flush = getattr(provider, "force_flush", None)
        if flush is not None:
            flush()
    rep = summarise(dict(s.attributes or {}) for s in spans)
    if args.json:
        import json

        out = _as_json(rep, served, elapsed)
        if side is not None:
            out["server"] = {"as_usual": side[0].as_json(), "close_upstream_on_disconnect": side[1].as_json()}
        print(json.dumps(out, indent=2, sort_keys=True))
    else:
        print(format_report(rep, f"otel-streamslo demo ({args.provider} SDK, {len(plans)} streamed calls)"))
        print("")
        print(
            "faults the chaos provider injected: " + ", ".join(f"{k} {v}" for k, v in sorted(served.items()))
        )
        print(f"wall time: {elapsed:.1f} s")
        if side is not None:
            from otel_streamslo.demo.server_report import render_server

            print("")
            print(render_server(side[0], side[1], args.server_sessions))
        if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            print(f"spans and metrics exported over OTLP to {os.environ['OTEL_EXPORTER_OTLP_ENDPOINT']}")
    if tel.owned:
        tel.tracer_provider.shutdown()
        tel.meter_provider.shutdown()
    return 0 if rep.streams == len(plans) else 1


def _client_spans(tel: DemoTelemetry) -> list[Any]:
    """Our client spans, and (Anthropic "enrich" mode) the SDK's own call spans we recorded into."""
    from opentelemetry.trace import SpanKind

    return [
        s
        for s in tel.spans.get_finished_spans()
        if s.kind is SpanKind.CLIENT and "streamslo.termination.reason" in (s.attributes or {})
    ]


def _server_side(tel: DemoTelemetry, args: argparse.Namespace, base_url: str) -> Any:
    """The chat app and its browsers, as usual and with ``close_upstream_on_disconnect``."""
    from otel_streamslo.demo.server import make_sessions, run_pass
    from otel_streamslo.demo.server_report import summarise_server

    _instrument(tel, "openai")
    sessions = make_sessions(args.server_sessions, args.seed)
    reports = []
    for remedy in (False, True):
        tel.spans.clear()
        run_pass(base_url, tel, sessions, remedy, max(1, args.concurrency))
        reports.append(summarise_server(tel.spans.get_finished_spans(), remedy))
    return reports


def _as_json(rep: Any, served: Counter[str], elapsed: float) -> dict[str, Any]:
    from otel_streamslo.demo.report import percentile

    return {
        "streams": rep.streams,
        "http_availability": rep.http_availability,
        "stream_availability": rep.stream_availability,
        "outcomes": dict(rep.outcomes),
        "reasons": dict(rep.reasons),
        "ttft_p50": percentile(rep.ttft, 50),
        "ttft_p95": percentile(rep.ttft, 95),
        "ttft_p99": percentile(rep.ttft, 99),
        "ttc_p50": percentile(rep.ttc, 50),
        "ttc_p95": percentile(rep.ttc, 95),
        "ttc_p99": percentile(rep.ttc, 99),
        "tokens_delivered": rep.tokens_delivered,
        "faults_injected": dict(served),
        "wall_seconds": elapsed,
    }
