"""The per-chunk overhead in instructions: the real SDK over a loopback socket, under valgrind.

    .venv/bin/python -m benchmarks.client_instructions [--layouts 2] [--chunks 500,2500]

The companion of the headline suite (``benchmarks.client_cpu``, CPU time): the same client process
(``benchmarks.worker``'s app and variant set-up, the SDK reading ``benchmarks._sse_server`` over
127.0.0.1), counted in user-space instructions by ``valgrind --tool=cachegrind``, which is
deterministic where CPU time on this shared 2-core machine moves by 2% from run to run. Each
(variant, API) reads one stream of each length in its own process; the difference over the
difference in chunks is the cost per chunk, with process start and per-stream work cancelled out.
Every count is averaged over ``--layouts`` process layouts (``benchmarks._layout``): one layout
alone moves the SDK's own per-chunk count by up to ~1% either way. Kernel time (the socket reads)
is not counted, so the shares are of the user-space work. About 1 min per process, 2 in parallel.
Writes ``benchmarks/results/client_instructions.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).parent / "results" / "client_instructions.json"
# (sdk, variant, baseline), as in benchmarks.client_cpu.PAIRS
PAIRS = [
    ("openai", "streamslo", "raw"),
    ("anthropic", "streamslo", "sdk_native"),
    ("anthropic", "sdk_native", "raw"),
]


def read_once(sdk: str, variant: str, api: str, chunks: int, seed: int, urls: dict[str, Any]) -> None:
    """In this process: one warm-up pair of short streams, then one stream of ``chunks``."""
    from benchmarks._layout import perturb_layout

    perturb_layout(seed)
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from benchmarks._common import SSEScript
    from benchmarks.worker import Worker
    from benchmarks.worker_apps import AnthropicApp, CountingExporter, OpenAIApp, setup_variant

    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(CountingExporter()))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    setup_variant(sdk, variant, tp, mp)
    app = OpenAIApp() if sdk == "openai" else AnthropicApp()
    worker = Worker(app, urls["chaos"], SSEScript.load(Path(urls["scripts"][sdk])), urls["sse"])
    worker.cmd_stream("socket", api, 50, 2)
    got = worker.cmd_stream("socket", api, chunks, 1)["streams"][0]["chunks"]
    tp.shutdown()
    if got < chunks:
        raise SystemExit(f"read {got} chunks, wanted {chunks}")


def _refs(job: tuple[str, str, str, int, int], urls_file: str) -> int:
    from benchmarks._layout import instructions

    sdk, variant, api, n, seed = job
    return instructions(
        ["benchmarks.client_instructions", "--once", urls_file, sdk, variant, api, str(n), str(seed)]
    )


def measure(
    layouts: int, lengths: tuple[int, int], pairs_: list[tuple[str, str, str]], first: int = 0
) -> dict[str, Any]:
    """Instructions per chunk for every variant of ``pairs_`` and both APIs, averaged over layouts."""
    from benchmarks.inputs import record_scripts
    from benchmarks.procs import Chaos, SSEServer

    variants = sorted({(s, v) for s, v, _ in pairs_} | {(s, b) for s, _, b in pairs_})
    short, long_ = lengths
    chaos = Chaos()
    try:
        scripts = record_scripts(chaos.url)
        server = SSEServer(scripts)
        try:
            urls = {"chaos": chaos.url, "sse": server.url, "scripts": {k: str(p) for k, p in scripts.items()}}
            urls_file = RESULTS.parent / ".client_instructions_urls.json"
            urls_file.parent.mkdir(parents=True, exist_ok=True)
            urls_file.write_text(json.dumps(urls))
            jobs = [
                (s, v, api, n, seed)
                for seed in range(first, first + layouts)
                for s, v in variants
                for api in ("sync", "async")
                for n in (short, long_)
            ]
            with ThreadPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
                counts = dict(zip(jobs, pool.map(lambda j: _refs(j, str(urls_file)), jobs)))
            urls_file.unlink()
        finally:
            server.stop()
    finally:
        chaos.stop()
    per_chunk: dict[str, dict[str, list[float]]] = {}
    for s, v in variants:
        for api in ("sync", "async"):
            per_chunk.setdefault(f"{s}/{api}", {})[v] = [
                (counts[(s, v, api, long_, k)] - counts[(s, v, api, short, k)]) / (long_ - short)
                for k in range(first, first + layouts)
            ]
    out = {"layouts": layouts, "lengths": lengths, "per_chunk_by_layout": per_chunk}
    return {**out, "pairs": pairs(per_chunk, pairs_)}


def pairs(
    per_chunk: dict[str, dict[str, list[float]]], pairs_: list[tuple[str, str, str]]
) -> list[dict[str, Any]]:
    """Per (variant, baseline, API): mean instructions per chunk, added, share, and per layout."""
    rows = []
    for s, v, base in pairs_:
        for api in ("sync", "async"):
            by = per_chunk[f"{s}/{api}"]
            mv, mb = statistics.mean(by[v]), statistics.mean(by[base])
            rows.append(
                {
                    "sdk": s,
                    "api": api,
                    "variant": v,
                    "baseline": base,
                    "baseline_per_chunk": round(mb),
                    "added_per_chunk": round(mv - mb),
                    "added_pct": round((mv / mb - 1) * 100, 2),
                    "added_pct_by_layout": [round((a / b - 1) * 100, 2) for a, b in zip(by[v], by[base])],
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--layouts", type=int, default=2)
    parser.add_argument("--chunks", default="500,2500", help="the two stream lengths")
    parser.add_argument("--first-layout", type=int, default=0, help="seed of the first layout")
    parser.add_argument("--no-reference", action="store_true", help="skip the SDK's own tracing vs raw")
    parser.add_argument("--once", nargs=6, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.once:
        urls_file, sdk, variant, api, n, seed = args.once
        read_once(sdk, variant, api, int(n), int(seed), json.loads(Path(urls_file).read_text()))
        return
    a, b = (int(x) for x in args.chunks.split(","))
    chosen = PAIRS[:2] if args.no_reference else PAIRS
    result = measure(args.layouts, (a, b), chosen, args.first_layout)
    RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    for row in result["pairs"]:
        print(
            f"{row['sdk']:9s} {row['api']:5s} {row['variant']:10s} vs {row['baseline']:10s} "
            f"{row['added_per_chunk']:+7d} of {row['baseline_per_chunk']:8d} instr/chunk = "
            f"{row['added_pct']:+.2f}%  by layout {row['added_pct_by_layout']}"
        )


if __name__ == "__main__":
    main()
