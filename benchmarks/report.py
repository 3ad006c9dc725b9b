"""The driver's markdown: per-suite tables and the compact table over all results (for the READMEs)."""

from __future__ import annotations

import json
from typing import Any, Optional

from benchmarks._common import BENCH, RESULTS


def _iqr(e: dict[str, Any], nd: int = 2, sign: bool = True) -> str:
    f = f"{{:{'+' if sign else ''}.{nd}f}}"
    return f"{f.format(e['median'])} [{f.format(e['p25'])}, {f.format(e['p75'])}]"


def headline_table(h: dict[str, Any], failed: dict[str, str], sdk: str) -> list[str]:
    sync, asyn = h.get("sync", {}), h.get("async", {})
    lines = [
        f"{sdk} SDK per-chunk time (real SDK, in-process replay, CPU): sync "
        f"{sync.get('sdk_us_per_chunk', 'n/a')} µs, async {asyn.get('sdk_us_per_chunk', 'n/a')} µs.",
        "",
        "| variant | added µs/chunk sync | % of SDK sync | added µs/chunk async | % of SDK async "
        "| direct in-process added µs sync / async (median [p25, p75]) "
        "| socket (chaos) wall overhead sync / async |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for v in sync:
        if v == "sdk_us_per_chunk":
            continue
        a, b = sync[v], asyn.get(v, {})
        direct = " / ".join(
            _iqr(x["inproc_direct_added_us"]) for x in (a, b) if "inproc_direct_added_us" in x
        )
        chaos = " / ".join(
            f"{x['chaos_wall_overhead_pct']:+.1f}%" for x in (a, b) if "chaos_wall_overhead_pct" in x
        )
        nan = float("nan")
        lines.append(
            f"| {v} | {a['added_us_per_chunk']:.3f} | {a['added_pct_of_sdk']:.2f}% "
            f"| {b.get('added_us_per_chunk', nan):.3f} | {b.get('added_pct_of_sdk', nan):.2f}% "
            f"| {direct} | {chaos} |"
        )
    for v, why in failed.items():
        lines.append(f"| {v} | not measured: {why[:200]} | | | | | |")
    return lines


def overhead_table(res: dict[str, Any], sdk: str) -> list[str]:
    lines = [
        f"| {sdk}: mode/api | variant | µs/chunk wall (median) | added wall µs [p25, p75] | wall overhead "
        "| µs/chunk CPU (median) | added CPU µs [p25, p75] |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for key, entry in res.items():
        wall, cpu = entry["us_per_chunk_wall"], entry["us_per_chunk_cpu"]
        for v, w in wall.items():
            c = cpu[v]
            if v == "raw":
                added = pct = cadd = "—"
            else:
                added, pct, cadd = _iqr(w["added"], 3), f"{w['overhead_pct']:+.2f}%", _iqr(c["added"], 3)
            wm, cm = w["value"]["median"], c["value"]["median"]
            lines.append(f"| {key} | {v} | {wm:.3f} | {added} | {pct} | {cm:.3f} | {cadd} |")
    return lines


def ttft_table(res: dict[str, Any], sdk: str) -> list[str]:
    lines = [
        f"| {sdk}: mode/api | variant | TTFT µs (median) | added µs (median vs raw) "
        "| added µs, paired per round [p25, p75] |",
        "|---|---|---:|---:|---:|",
    ]
    for key, entry in res.items():
        for v, e in entry.items():
            rm = e["round_medians"]
            paired = _iqr(rm["added"], 1) if "added" in rm else "—"
            added = f"{e['added_us_median']:+.1f}" if "added_us_median" in e else "—"
            lines.append(f"| {key} | {v} | {e['ttft_us']['median']:.1f} | {added} | {paired} |")
    return lines


def memory_table(res: dict[str, Any], sdk: str) -> list[str]:
    conc_doc = res.get("concurrent_async_streams", {})
    lines = [
        f"| {sdk}: variant | one long stream: traced KiB above baseline at chunk checkpoints | peak KiB "
        f"| real-SDK stream: RSS KiB above baseline | per open async stream: traced B (added) "
        f"| per open async stream: RSS B (added), {conc_doc.get('rss_streams', '?')} streams |",
        "|---|---|---:|---|---:|---:|",
    ]
    long_ = res.get("long_stream_preparsed_traced", {})
    inproc = res.get("long_stream_inproc_rss", {})
    conc = conc_doc.get("variants", {})

    for v in long_:
        smp = long_[v]["samples"]
        pts = ", ".join(f"{_count(n)}: {d['traced'] / 1024:.1f}" for n, d in smp.items())
        peak = max((d["traced_peak"] for d in smp.values()), default=0) / 1024
        r = inproc.get(v, {}).get("samples", {})
        rpts = ", ".join(f"{_count(n)}: {d['rss'] / 1024:.0f}" for n, d in r.items())
        c = conc.get(v, {})
        t_add = c.get("added_traced_bytes_per_stream")
        r_add = c.get("added_rss_bytes_per_stream")
        lines.append(
            f"| {v} | {pts} | {peak:.1f} | {rpts} | {c.get('traced_bytes_per_stream', 'n/a')}"
            f"{f' ({t_add:+d})' if t_add is not None else ''} | {c.get('rss_bytes_per_stream', 'n/a')}"
            f"{f' ({r_add:+d})' if r_add is not None else ''} |"
        )
    return lines


def load_result(suite: str) -> Optional[dict[str, Any]]:
    path = RESULTS / f"{suite}.json"
    if not path.exists():
        return None
    doc: dict[str, Any] = json.loads(path.read_text())
    return doc


def _count(n: str) -> str:
    i = int(n)
    return f"{i // 1_000_000}M" if i >= 1_000_000 else f"{i // 1000}k"


VARIANTS = ["streamslo", "openai_v2", "openllmetry"]
Row = tuple[str, dict[str, str]]


def _pair(a: Any, b: Any, fmt: str) -> str:
    return " / ".join("n/a" if x is None else fmt.format(x) for x in (a, b))


def _get(d: Any, *keys: str) -> Any:
    for k in keys:
        if not isinstance(d, dict) or k not in d:
            return None
        d = d[k]
    return d


def _sync_async(
    res: Any, key: str, fmt: str, variants: list[str] = VARIANTS, modes: tuple[str, str] = ("sync", "async")
) -> dict[str, str]:
    """``res[mode][variant][key]`` of both modes, ``a / b``, for each variant."""
    return {v: _pair(_get(res, modes[0], v, key), _get(res, modes[1], v, key), fmt) for v in variants}


def _openai_rows(oo: dict[str, Any]) -> list[Row]:
    h = oo["results"]["headline"]
    sdk = f"({h['sync']['sdk_us_per_chunk']:.0f} / {h['async']['sdk_us_per_chunk']:.0f} µs)"
    return [
        ("OpenAI: added µs per chunk, sync / async", _sync_async(h, "added_us_per_chunk", "{:.2f}")),
        (f"… as % of the SDK's own µs per chunk {sdk}", _sync_async(h, "added_pct_of_sdk", "{:.2f}%")),
        (
            "OpenAI over a loopback socket: wall-time overhead, sync / async (noisy)",
            _sync_async(h, "chaos_wall_overhead_pct", "{:+.1f}%"),
        ),
    ]


def _ttft_rows(tt: dict[str, Any]) -> list[Row]:
    t = tt["results"]["by_mode"]
    return [
        (
            f"OpenAI TTFT added, {label}, sync / async (µs, median)",
            _sync_async(t, "added_us_median", "{:+.0f}", modes=(f"{mode}/sync", f"{mode}/async")),
        )
        for mode, label in (("inproc", "in-process"), ("chaos", "loopback socket"))
    ]


def _memory_rows(mm: dict[str, Any]) -> list[Row]:
    long_ = mm["results"]["long_stream_preparsed_traced"]
    cells = {}
    for v in VARIANTS:
        s = _get(long_, v, "samples") or {}
        pts = [f"{_count(k)}: {d['traced'] / 1024:.0f}" for k, d in s.items() if int(k) >= 10_000]
        cells[v] = ", ".join(pts) or "n/a"
    conc = mm["results"]["concurrent_async_streams"]
    per_stream = {
        v: _pair(
            _get(conc, "variants", v, "added_traced_bytes_per_stream"),
            _get(conc, "variants", v, "added_rss_bytes_per_stream"),
            "{:+d}",
        )
        for v in VARIANTS
    }
    return [
        ("OpenAI one long stream: KiB held at 10k / 100k / 1M chunks (tracemalloc)", cells),
        (f"OpenAI per open async stream ({conc['rss_streams']} open): added bytes, traced / RSS", per_stream),
    ]


def _anthropic_rows(an: dict[str, Any]) -> list[Row]:
    h = an["results"]["headline"]
    native = _pair(
        _get(h, "sync", "sdk_native", "added_us_per_chunk"),
        _get(h, "async", "sdk_native", "added_us_per_chunk"),
        "{:.2f}",
    )
    ours = ["streamslo", "openllmetry"]  # openai-v2 does not instrument Anthropic
    sdk = f"({h['sync']['sdk_us_per_chunk']:.1f} / {h['async']['sdk_us_per_chunk']:.1f} µs)"
    return [
        (
            f"Anthropic: added µs per chunk, sync / async (SDK's own tracing alone: {native})",
            {**_sync_async(h, "added_us_per_chunk", "{:.2f}", ours), "openai_v2": "—"},
        ),
        (
            f"… as % of the SDK's own µs per chunk {sdk}",
            {**_sync_async(h, "added_pct_of_sdk", "{:.1f}%", ours), "openai_v2": "—"},
        ),
    ]


def _collector_lines(co: dict[str, Any]) -> list[str]:
    a = co["results"]["streamslo"].get("sustained")
    b = co["results"]["no_streamslo"].get("sustained")
    if not (a and b):
        return []
    per_span = (1 / a["spans_per_cpu_second"] - 1 / b["spans_per_cpu_second"]) * 1e6
    return [
        "",
        f"Collector (`otelcol-streamslo`, 1 OTLP/HTTP sender on the same 2 cores): "
        f"{a['achieved_rate']:,} spans/s sustained for {a['seconds']:.0f} s with "
        f"{a['dropped']} dropped; {a['spans_per_cpu_second']:,} spans per collector CPU-second with "
        f"the streamslo processor vs {b['spans_per_cpu_second']:,} without "
        f"({per_span:.2f} µs of CPU per span for the processor); spanmetrics counts served by the "
        f"Prometheus exporter equal the spans sent: {a['prometheus_counts_match']}.",
    ]


def compact_table() -> list[str]:
    """One short table over all suites (from results/*.json), for the READMEs."""
    names = {
        "streamslo": "otel-streamslo",
        "openai_v2": "openai-v2 (official contrib)",
        "openllmetry": "OpenLLMetry",
    }
    rows: list[Row] = []
    for suite, build in (
        ("overhead_openai", _openai_rows),
        ("ttft_openai", _ttft_rows),
        ("memory_openai", _memory_rows),
        ("overhead_anthropic", _anthropic_rows),
    ):
        doc = load_result(suite)
        if doc:
            rows += build(doc)
    lines = [
        "| measure | " + " | ".join(names[v] for v in VARIANTS) + " |",
        "|---|" + "---:|" * len(VARIANTS),
    ]
    for label, cells in rows:
        lines.append(f"| {label} | " + " | ".join(cells.get(v, "n/a") for v in VARIANTS) + " |")
    co = load_result("collector")
    if co and "streamslo" in co["results"]:
        lines += _collector_lines(co)
    return lines


def update_readme(summary_md: str) -> None:
    readme = BENCH / "README.md"
    if not readme.exists():
        return
    text = readme.read_text()
    start, end = "<!-- results:start -->", "<!-- results:end -->"
    if start not in text or end not in text:
        return
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(head + start + "\n" + summary_md + "\n" + end + tail)
