"""The headline per-chunk overhead: the client process's CPU time per chunk, real SDK, loopback socket.

Suite ``client_cpu`` of ``benchmarks.driver``. Each variant runs in its own worker process (see
``benchmarks.worker``); the SDK reads from ``benchmarks._sse_server`` in another process over
127.0.0.1, so the numbers are what an application sees: SSE decoding, pydantic, httpx2 and the
socket reads of the real SDK, plus the instrumentation. The measure is ``time.process_time_ns()``
of the worker around the iteration (every thread of the client process, the span processor's
included; never the server's), divided by the chunks delivered.

Interleaving is fine-grained: a round is ``streams`` passes, and each pass runs one stream in every
variant, in an order that rotates every pass. A variant's value for the round is the median of its
streams; each round gives one paired difference (and ratio) per (variant, baseline) pair, and the
tables show the median over rounds with its quartiles and range. The ``preparsed`` mode (the SDK's
``Stream`` classes yielding chunk objects parsed beforehand) runs the same way and gives the exact
decomposition of the added cost, free of the SDK's parsing noise.

Baselines (``PAIRS``): OpenAI ``streamslo`` against ``raw``. Anthropic ``enrich`` (the default:
the SDK's own tracing on, our attributes written into the SDK's call span) against ``sdk_native``:
the same SDK with its own tracing on to the same tracer provider and pipeline, no instrumentor,
since that is what the application had before it installed us; against ``raw`` (no tracing at all)
as well. ``replace`` (the SDK's span suppressed, ours only) against both.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from benchmarks._common import rotate, summary

VARIANTS = {
    "openai": ["raw", "streamslo"],
    "anthropic": ["raw", "sdk_native", "streamslo", "streamslo_replace"],
}
# (sdk, variant, baseline): the rows of the headline, first row per variant is the fair one
PAIRS: list[tuple[str, str, str]] = [
    ("openai", "streamslo", "raw"),
    ("openai", "streamslo_base", "raw"),
    ("anthropic", "streamslo", "sdk_native"),
    ("anthropic", "streamslo_base", "sdk_native"),
    ("anthropic", "streamslo_replace", "sdk_native"),
    ("anthropic", "streamslo_replace_base", "sdk_native"),
    ("anthropic", "sdk_native", "raw"),
    ("anthropic", "streamslo", "raw"),
    ("anthropic", "streamslo_replace", "raw"),
]
LABELS = {
    "streamslo": "otel-streamslo",
    "streamslo_base": "otel-streamslo (baseline ref)",
    "streamslo_replace": "otel-streamslo, replace",
    "streamslo_replace_base": "otel-streamslo, replace (baseline ref)",
    "sdk_native": "SDK's own tracing",
    "raw": "raw SDK",
}
SDK_LABELS = {"openai": "OpenAI chat", "anthropic": "Anthropic messages"}


def log(msg: str) -> None:
    import sys

    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def variants_for(sdk: str, baseline: bool) -> list[str]:
    out = list(VARIANTS[sdk])
    if baseline:
        for v in ("streamslo", "streamslo_replace"):
            if v in out:
                out.insert(out.index(v) + 1, v + "_base")
    return out


def _measure(fleet: Any, mode: str, api: str, chunks: int, streams: int, rounds: int) -> dict[str, Any]:
    """Per variant, per round: median CPU (and wall) µs per chunk over ``streams`` interleaved streams."""
    fleet.each("stream", fleet.variants, mode=mode, api=api, chunks=min(chunks, 500))  # warm-up
    cpu: dict[str, list[float]] = {v: [] for v in fleet.variants}
    wall: dict[str, list[float]] = {v: [] for v in fleet.variants}
    for r in range(rounds):
        per_cpu: dict[str, list[float]] = {v: [] for v in fleet.variants}
        per_wall: dict[str, list[float]] = {v: [] for v in fleet.variants}
        for k in range(streams):
            for v, doc in fleet.each(
                "stream", rotate(fleet.variants, r * streams + k), mode=mode, api=api, chunks=chunks
            ).items():
                st = doc["streams"][0]
                per_cpu[v].append(st["cpu_ns"] / st["chunks"] / 1000)
                per_wall[v].append(st["wall_ns"] / st["chunks"] / 1000)
        for v in fleet.variants:
            if len(per_cpu[v]) == streams:
                cpu[v].append(statistics.median(per_cpu[v]))
                wall[v].append(statistics.median(per_wall[v]))
    alive = [v for v in fleet.variants if len(cpu.get(v, [])) == rounds]
    return {
        "cpu_us_per_chunk": {v: cpu[v] for v in alive},
        "wall_us_per_chunk": {v: wall[v] for v in alive},
    }


def _pair(vals: list[float], ref: list[float]) -> dict[str, Any]:
    diffs = [a - b for a, b in zip(vals, ref)]
    pct = [(a / b - 1) * 100 for a, b in zip(vals, ref) if b]
    return {"added_us": summary(diffs), "added_pct": summary(pct, 2)}


def suite_client_cpu(
    fleet: Any, chunks: int, streams: int, rounds: int, modes: tuple[str, ...] = ("socket", "preparsed")
) -> dict[str, Any]:
    """Measure every (mode, api) and pair each variant with its baselines (see ``PAIRS``)."""
    out: dict[str, Any] = {
        "chunks_per_stream": chunks,
        "streams_per_round": streams,
        "rounds": rounds,
        "by_mode": {},
    }
    for mode in modes:
        n = chunks * 5 if mode == "preparsed" else chunks
        for api in ("sync", "async"):
            key = f"{mode}/{api}"
            log(f"{fleet.sdk} client_cpu {key}: {rounds} rounds x {streams} streams, {n} chunks")
            raw = _measure(fleet, mode, api, n, streams, rounds)
            cpu = raw["cpu_us_per_chunk"]
            entry: dict[str, Any] = {
                "chunks_per_stream": n,
                "per_round": raw,
                "value": {v: summary(vals) for v, vals in cpu.items()},
                "pairs": {},
            }
            for sdk, v, base in PAIRS:
                if sdk == fleet.sdk and v in cpu and base in cpu:
                    entry["pairs"][f"{v}-{base}"] = _pair(cpu[v], cpu[base])
            out["by_mode"][key] = entry
    out["headline"] = headline(fleet.sdk, out["by_mode"])
    return out


def headline(sdk: str, by_mode: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows: socket (client CPU) baseline µs/chunk, added µs and %, spread; preparsed added µs (exact)."""
    rows: list[dict[str, Any]] = []
    for s, v, base in PAIRS:
        if s != sdk:
            continue
        for api in ("sync", "async"):
            sock = by_mode.get(f"socket/{api}", {})
            pre = by_mode.get(f"preparsed/{api}", {})
            pair = sock.get("pairs", {}).get(f"{v}-{base}")
            if not pair:
                continue
            row: dict[str, Any] = {
                "sdk": sdk,
                "api": api,
                "variant": v,
                "baseline": base,
                "baseline_us_per_chunk": sock["value"][base]["median"],
                "variant_us_per_chunk": sock["value"][v]["median"],
                "added_us": pair["added_us"],
                "added_pct": pair["added_pct"],
            }
            pp = pre.get("pairs", {}).get(f"{v}-{base}")
            if pp:
                row["preparsed_added_us"] = pp["added_us"]
            rows.append(row)
    return rows


def _f(x: Any, fmt: str) -> str:
    return "n/a" if x is None else fmt.format(x)


def headline_table(rows: list[dict[str, Any]]) -> list[str]:
    """Markdown: one line per (sdk, variant, baseline, api)."""
    lines = [
        "| SDK, API | instrumented vs baseline | baseline µs/chunk | added µs/chunk [p25, p75] "
        "| added % [p25, p75] (min … max) | preparsed: added µs/chunk [p25, p75] |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        a, p = r["added_us"], r["added_pct"]
        pre = r.get("preparsed_added_us")
        pre_s = f"{pre['median']:+.3f} [{pre['p25']:+.3f}, {pre['p75']:+.3f}]" if pre else "n/a"
        lines.append(
            f"| {SDK_LABELS.get(r['sdk'], r['sdk'])}, {r['api']} "
            f"| {LABELS.get(r['variant'], r['variant'])} vs {LABELS.get(r['baseline'], r['baseline'])} "
            f"| {r['baseline_us_per_chunk']:.2f} "
            f"| {a['median']:+.2f} [{a['p25']:+.2f}, {a['p75']:+.2f}] "
            f"| {p['median']:+.2f}% [{p['p25']:+.2f}, {p['p75']:+.2f}] ({p['min']:+.2f} … {p['max']:+.2f}) "
            f"| {pre_s} |"
        )
    return lines


def section(results: dict[str, dict[str, Any]], load: Any) -> list[str]:
    """The SUMMARY.md section of this suite (``results``: sdk -> suite output)."""
    any_ = next(iter(results.values()), None)
    if any_ is None:
        return []
    lines = [
        "### Per-chunk overhead as the application sees it (client CPU, real SDK, loopback socket)",
        "",
        f"Client process CPU time (`time.process_time`, all its threads) per chunk, the real SDK reading "
        f"`benchmarks._sse_server` over 127.0.0.1; {any_['rounds']} interleaved rounds x "
        f"{any_['streams_per_round']} streams per variant, {any_['chunks_per_stream']}-chunk streams "
        f"(preparsed: x5); medians of per-round paired differences, quartiles and range across rounds. "
        f"Load average at start: {load}.",
        "",
    ]
    rows = [r for res in results.values() for r in res["headline"]]
    lines += headline_table(rows)
    return lines
