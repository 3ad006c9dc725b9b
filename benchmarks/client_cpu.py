"""The headline per-chunk overhead: the client process's CPU time per chunk, real SDK, loopback socket.

Suite ``client_cpu`` of ``benchmarks.driver``. Each variant runs in its own worker process (see
``benchmarks.worker``); the SDK reads from ``benchmarks._sse_server`` in another process over
127.0.0.1, so the numbers are what an application sees: SSE decoding, pydantic, httpx2 and the
socket reads of the real SDK, plus the instrumentation. The measure is ``time.process_time_ns()``
of the worker around the iteration (every thread of the client process, the span processor's
included; never the server's), divided by the chunks delivered.

Every worker is pinned to the same CPU and the server to another (``BENCH_PIN_CPU``), so no variant
is favoured by where the scheduler puts it. Interleaving is fine-grained (lockstep): a round is
``streams`` passes; in each pass every variant opens one stream and then the variants take turns
reading ``slice`` chunks each (order rotating every slice) until every stream has ended, so two
variants' slices run milliseconds apart under the same load from other processes. Every round runs
in fresh worker processes: where a process's interned names and types land decides which entries of
CPython's method cache collide, a per-process draw worth up to ~1% of the SDK's per-chunk cost either
way (seen in instruction counts under valgrind, where a no-op change to the instrumented loop moved
the SDK's own cache misses by ~7,000 instructions per chunk), so one process per variant for a whole
run would keep one draw for the whole run. A variant's value
for the round is its CPU time over all chunks of the round (stream ends included); each round gives
one paired difference (and ratio) per (variant, baseline) pair, and the tables show the median over
rounds with its quartiles and range. The median over all adjacent full-slice pairs (stream ends
excluded) is shown as a check. The ``preparsed`` mode (the SDK's ``Stream`` classes yielding chunk
objects parsed beforehand) runs the same way and gives the exact decomposition of the added cost,
free of the SDK's parsing noise.

Baselines (``PAIRS``): OpenAI ``streamslo`` against ``raw``. Anthropic ``enrich`` (the default:
the SDK's own tracing on, our attributes written into the SDK's call span) against ``sdk_native``:
the same SDK with its own tracing on to the same tracer provider and pipeline, no instrumentor,
since that is what the application had before it installed us; against ``raw`` (no tracing at all)
as well. ``replace`` (the SDK's span suppressed, ours only) against both.
"""

from __future__ import annotations

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
        for v in ("streamslo",):  # replace as of the baseline ref: add "streamslo_replace" here
            if v in out:
                out.insert(out.index(v) + 1, v + "_base")
    return out


def _measure(
    fleet: Any, mode: str, api: str, chunks: int, streams: int, rounds: int, slice_: int
) -> dict[str, Any]:
    """Per variant, per round: CPU (and wall) µs per chunk over ``streams`` streams read in lockstep.

    Every variant opens its stream, then they take turns reading ``slice_`` chunks (the order
    rotating every slice) until all have ended: adjacent slices of two variants run milliseconds
    apart, under the same load from elsewhere. ``slices`` keeps, per variant, the CPU µs per chunk
    of every full slice (the stream's end excluded), aligned across variants for a paired median.
    Every round after the first runs in fresh worker processes (``Fleet.respawn``): one memory
    layout per variant and round, so no variant keeps a lucky or unlucky one for the whole run.
    """
    cpu: dict[str, list[float]] = {v: [] for v in fleet.variants}
    wall: dict[str, list[float]] = {v: [] for v in fleet.variants}
    slices: dict[str, list[float]] = {v: [] for v in fleet.variants}
    for r in range(rounds):
        if r:
            fleet.respawn()
        fleet.each("stream", fleet.variants, mode=mode, api=api, chunks=min(chunks, 500))  # warm-up
        tot = {v: [0, 0, 0] for v in fleet.variants}  # cpu ns, wall ns, chunks
        for k in range(streams):
            order = rotate(fleet.variants, r * streams + k)
            live = list(fleet.each("open", order, mode=mode, api=api, chunks=chunks))
            got: dict[str, list[float]] = {v: [] for v in live}
            j = 0
            while live:
                for v in rotate(live, j):
                    doc = fleet.each("read", [v], n=slice_).get(v)
                    if doc is None:
                        live.remove(v)
                        continue
                    t = tot[v]
                    t[0] += doc["cpu_ns"]
                    t[1] += doc["wall_ns"]
                    t[2] += doc["chunks"]
                    if doc["done"]:
                        live.remove(v)
                    elif doc["chunks"] == slice_:
                        got[v].append(doc["cpu_ns"] / slice_ / 1000)
                j += 1
            n = min((len(x) for x in got.values()), default=0)
            for v, x in got.items():
                slices[v].extend(x[:n])
        for v, (c, w, ch) in tot.items():
            if v in fleet.workers and ch:
                cpu[v].append(c / ch / 1000)
                wall[v].append(w / ch / 1000)
    alive = [v for v in fleet.variants if len(cpu.get(v, [])) == rounds]
    return {
        "cpu_us_per_chunk": {v: cpu[v] for v in alive},
        "wall_us_per_chunk": {v: wall[v] for v in alive},
        "slice_cpu_us_per_chunk": {v: slices[v] for v in alive},
    }


def _pair(vals: list[float], ref: list[float], sl: list[float], sl_ref: list[float]) -> dict[str, Any]:
    """Per-round paired differences (and %), plus the median over adjacent slice pairs."""
    diffs = [a - b for a, b in zip(vals, ref)]
    pct = [(a / b - 1) * 100 for a, b in zip(vals, ref) if b]
    out: dict[str, Any] = {"added_us": summary(diffs), "added_pct": summary(pct, 2)}
    if sl and len(sl) == len(sl_ref):
        out["slice_added_us"] = summary([a - b for a, b in zip(sl, sl_ref)])
        out["slice_added_pct"] = summary([(a / b - 1) * 100 for a, b in zip(sl, sl_ref) if b], 2)
    return out


def suite_client_cpu(
    fleet: Any,
    chunks: int,
    streams: int,
    rounds: int,
    slice_: int = 100,
    modes: tuple[str, ...] = ("socket", "preparsed"),
) -> dict[str, Any]:
    """Measure every (mode, api) and pair each variant with its baselines (see ``PAIRS``)."""
    out: dict[str, Any] = {
        "chunks_per_stream": chunks,
        "streams_per_round": streams,
        "rounds": rounds,
        "slice_chunks": slice_,
        "by_mode": {},
    }
    for mode in modes:
        n = chunks * 5 if mode == "preparsed" else chunks
        for api in ("sync", "async"):
            key = f"{mode}/{api}"
            log(f"{fleet.sdk} client_cpu {key}: {rounds} rounds x {streams} streams, {n} chunks")
            raw = _measure(
                fleet, mode, api, n, streams, rounds, slice_ * 5 if mode == "preparsed" else slice_
            )
            cpu = raw["cpu_us_per_chunk"]
            sl = raw["slice_cpu_us_per_chunk"]
            entry: dict[str, Any] = {
                "chunks_per_stream": n,
                "per_round": raw,
                "value": {v: summary(vals) for v, vals in cpu.items()},
                "pairs": {},
            }
            for sdk, v, base in PAIRS:
                if sdk == fleet.sdk and v in cpu and base in cpu:
                    entry["pairs"][f"{v}-{base}"] = _pair(cpu[v], cpu[base], sl[v], sl[base])
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
            if "slice_added_pct" in pair:
                row["slice_added_pct"] = pair["slice_added_pct"]
                row["slice_added_us"] = pair["slice_added_us"]
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
        "| added % [p25, p75] (min … max) | adjacent slices: added % [p25, p75] "
        "| preparsed: added µs/chunk [p25, p75] |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        a, p = r["added_us"], r["added_pct"]
        pre = r.get("preparsed_added_us")
        pre_s = f"{pre['median']:+.3f} [{pre['p25']:+.3f}, {pre['p75']:+.3f}]" if pre else "n/a"
        sp = r.get("slice_added_pct")
        sl_s = f"{sp['median']:+.2f}% [{sp['p25']:+.2f}, {sp['p75']:+.2f}] (n={sp['n']})" if sp else "n/a"
        lines.append(
            f"| {SDK_LABELS.get(r['sdk'], r['sdk'])}, {r['api']} "
            f"| {LABELS.get(r['variant'], r['variant'])} vs {LABELS.get(r['baseline'], r['baseline'])} "
            f"| {r['baseline_us_per_chunk']:.2f} "
            f"| {a['median']:+.2f} [{a['p25']:+.2f}, {a['p75']:+.2f}] "
            f"| {p['median']:+.2f}% [{p['p25']:+.2f}, {p['p75']:+.2f}] ({p['min']:+.2f} … {p['max']:+.2f}) "
            f"| {sl_s} | {pre_s} |"
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
        f"{any_['streams_per_round']} streams per variant (fresh worker processes every round), "
        f"{any_['chunks_per_stream']}-chunk streams "
        f"(preparsed: x5), read in lockstep slices of {any_.get('slice_chunks', '?')} chunks; medians of "
        f"per-round paired differences, quartiles and range across rounds. "
        f"Load average at start: {load}.",
        "",
    ]
    rows = [r for res in results.values() for r in res["headline"]]
    lines += headline_table(rows)
    return lines


# rows of the compact README table: (label, sdk, variant, baseline)
COMPACT: list[tuple[str, str, str, str]] = [
    ("OpenAI chat: otel-streamslo vs raw SDK", "openai", "streamslo", "raw"),
    (
        "Anthropic messages, `enrich` (default): otel-streamslo vs the SDK's own tracing",
        "anthropic",
        "streamslo",
        "sdk_native",
    ),
    (
        "Anthropic messages, `replace`: otel-streamslo vs the SDK's own tracing",
        "anthropic",
        "streamslo_replace",
        "sdk_native",
    ),
    (
        "Anthropic messages, `replace`: otel-streamslo vs raw SDK (no tracing)",
        "anthropic",
        "streamslo_replace",
        "raw",
    ),
    (
        "Anthropic messages: the SDK's own tracing vs raw SDK (for reference)",
        "anthropic",
        "sdk_native",
        "raw",
    ),
]


def compact(doc: dict[str, Any]) -> list[str]:
    """The headline in a few rows (``doc``: ``results/client_cpu.json``)."""
    res = doc.get("results", {})
    cells: dict[tuple[str, str, str, str], dict[str, Any]] = {}
    for sdk_res in res.values():
        for r in sdk_res.get("headline", []):
            cells[(r["sdk"], r["variant"], r["baseline"], r["api"])] = r

    def cell(key: tuple[str, str, str, str]) -> str:
        r = cells.get(key)
        if r is None:
            return "n/a"
        a, p = r["added_us"], r["added_pct"]
        pre = r.get("preparsed_added_us")
        exact = f"; preparsed {pre['median']:+.2f}" if pre else ""
        return (
            f"{a['median']:+.2f} µs = **{p['median']:+.2f}%** [{p['p25']:+.2f}, {p['p75']:+.2f}] "
            f"of {r['baseline_us_per_chunk']:.1f} µs{exact}"
        )

    lines = [
        "| client CPU per chunk, real SDK over loopback: added µs = % of baseline [p25, p75] of baseline µs; "
        "exact added µs (preparsed) | sync | async |",
        "|---|---|---|",
    ]
    for label, sdk, v, base in COMPACT:
        if any(k[:3] == (sdk, v, base) for k in cells):
            lines.append(f"| {label} | {cell((sdk, v, base, 'sync'))} | {cell((sdk, v, base, 'async'))} |")
    return lines
