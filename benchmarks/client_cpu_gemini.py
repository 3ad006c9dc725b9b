"""google-genai per-chunk overhead: client CPU per chunk, real SDK, chaos provider in another process.

``python -m benchmarks.client_cpu_gemini [--rounds N --streams N --tokens N]``. The chaos provider
(``benchmarks._chaos``) serves Gemini SSE over 127.0.0.1 from its own process, so the measure,
``time.process_time_ns()`` of this process around the iteration divided by the chunks delivered,
is what the application pays: the SDK's SSE decoding, pydantic, httpx2 / aiohttp, the socket, plus
the instrumentation and its span processor. Variants ``raw`` and ``streamslo`` (instrumented,
in-memory span exporter and metric reader) alternate within every round (order rotating), for the
sync client (httpx2) and the async client (aiohttp when installed); each round gives one paired
difference and ratio, the table shows their median and quartiles. With ``STREAMSLO_RECORD_RESULTS=1``
the result goes to ``results/client_cpu_gemini.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import subprocess
import sys
import time
from typing import Any, Callable

from benchmarks._common import rotate, summary, write_result

VARIANTS = ("raw", "streamslo")


def start_chaos() -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._chaos"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    return proc, line.strip().rsplit(" ", 1)[-1]


def make_client(base_url: str) -> Any:
    from google import genai
    from google.genai import types

    from otel_streamslo.demo.gemini import no_retries

    options = types.HttpOptions(base_url=base_url, timeout=30_000, **no_retries(types))
    return genai.Client(api_key="bench", http_options=options)


def sync_pass(client: Any, config: Any, streams: int) -> tuple[int, int]:
    chunks = 0
    started = time.process_time_ns()
    for _ in range(streams):
        for _chunk in client.models.generate_content_stream(model="bench", contents="hi", config=config):
            chunks += 1
    return time.process_time_ns() - started, chunks


def async_pass(client: Any, config: Any, streams: int) -> tuple[int, int]:
    async def run() -> int:
        chunks = 0
        for _ in range(streams):
            async for _chunk in await client.aio.models.generate_content_stream(
                model="bench", contents="hi", config=config
            ):
                chunks += 1
        return chunks

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(run())  # warm the per-loop connection pool outside the timing
        started = time.process_time_ns()
        chunks = loop.run_until_complete(run())
        return time.process_time_ns() - started, chunks
    finally:
        loop.run_until_complete(client.aio.aclose())
        loop.close()


def measure(
    args: argparse.Namespace, base_url: str, run_pass: Callable[..., tuple[int, int]]
) -> dict[str, Any]:
    from google.genai import types
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_streamslo.instrumentation.google_genai import GoogleGenAIStreamInstrumentor

    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    headers = {"x-chaos-fault": "none", "x-chaos-tokens": str(args.tokens), "x-chaos-chunk-delay": "0"}
    config = types.GenerateContentConfig(http_options=types.HttpOptions(headers=headers))
    client = make_client(base_url)
    run_pass(client, config, 1)  # warm-up
    per_chunk: dict[str, list[float]] = {v: [] for v in VARIANTS}
    diffs, ratios = [], []
    for r in range(args.rounds):
        got = {}
        for variant in rotate(list(VARIANTS), r):
            inst = GoogleGenAIStreamInstrumentor()
            if variant == "streamslo":
                inst.instrument(tracer_provider=tp, meter_provider=mp)
            gc.collect()
            cpu, chunks = run_pass(client, config, args.streams)
            if variant == "streamslo":
                inst.uninstrument()
            got[variant] = cpu / chunks / 1000.0  # µs per chunk
            per_chunk[variant].append(got[variant])
        diffs.append(got["streamslo"] - got["raw"])
        ratios.append(got["streamslo"] / got["raw"])
        exporter.clear()
    return {
        "us_per_chunk": {v: summary(vals) for v, vals in per_chunk.items()},
        "added_us_per_chunk": summary(diffs),
        "ratio": summary(ratios),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--streams", type=int, default=4)
    parser.add_argument("--tokens", type=int, default=200)
    args = parser.parse_args(argv)
    proc, base_url = start_chaos()
    try:
        results = {
            "sync_httpx2": measure(args, base_url, sync_pass),
            "async_default": measure(args, base_url, async_pass),
        }
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)
    for name, res in results.items():
        raw, ours = res["us_per_chunk"]["raw"]["median"], res["us_per_chunk"]["streamslo"]["median"]
        added, ratio = res["added_us_per_chunk"], res["ratio"]
        print(
            f"{name:14s} raw {raw:8.1f} µs/chunk  streamslo {ours:8.1f} µs/chunk  added "
            f"{added['median']:+.1f} µs (p25 {added['p25']:+.1f}, p75 {added['p75']:+.1f})  "
            f"ratio {ratio['median']:.3f}"
        )
    if os.environ.get("STREAMSLO_RECORD_RESULTS") == "1":
        write_result("client_cpu_gemini", vars(args), results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
