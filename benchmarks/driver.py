"""Runs the benchmark suites: one worker process per instrumentation variant, interleaved rounds.

    python -m benchmarks.driver [--quick] [--suites client_cpu,overhead,ttft,memory,anthropic,collector]
                                [--rounds N] [--baseline GIT_REF]

Every measured command goes to the variants in turn (the order rotates every round), so machine
noise (other processes on the 2 cores) hits all of them alike; each round yields one paired
difference per variant against ``raw``. Results go to ``benchmarks/results/<suite>.json``;
``benchmarks/results/SUMMARY.md`` gets the tables (and ``benchmarks/README.md`` on a full run).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any, Optional

from benchmarks import client_cpu
from benchmarks._common import RESULTS, ROOT, machine_info, write_result
from benchmarks.inputs import export_baseline, peer_install_status, record_scripts
from benchmarks.procs import Chaos, Fleet, SSEServer, log
from benchmarks.report import (
    compact_table,
    headline_table,
    load_result,
    memory_table,
    overhead_table,
    ttft_table,
    update_readme,
)
from benchmarks.suites import headline, suite_memory, suite_overhead, suite_ttft

ALL_SUITES = ("client_cpu", "overhead", "ttft", "memory", "anthropic", "collector")
OPENAI_VARIANTS = ["raw", "streamslo", "openai_v2", "openllmetry"]
ANTHROPIC_VARIANTS = ["raw", "sdk_native", "streamslo", "openllmetry"]
TELEMETRY = (
    "TracerProvider + BatchSpanProcessor(no-op counting exporter), "
    "MeterProvider + InMemoryMetricReader; content capture off in every variant"
)
NOTES = [
    "raw = no instrumentation; streamslo = this repository's otel_streamslo; peers as installed by "
    "run.sh into isolated dirs under benchmarks/.peers (never into the venv, so they cannot leak into "
    "the tests' zero-code runs)",
    "chaos: the real SDK over loopback to the chaos provider in another process; inproc: the real SDK "
    "parsing recorded SSE bytes from an in-process httpx2 transport; preparsed: the SDK's Stream classes "
    "yield chunk objects parsed beforehand, so only iteration and the instrumentation remain "
    "(exact added cost per chunk)",
]
ANTHROPIC_NOTE = (
    "sdk_native = the anthropic SDK's own tracing to the global tracer provider, "
    "no instrumentor; streamslo and openllmetry run with the same global provider, "
    "so they include it "
    "(streamslo enriches the SDK's span: its own share is streamslo minus sdk_native)"
)


def run_client_cpu(
    scripts: dict[str, Path],
    chaos_url: str,
    baseline: Optional[Path],
    quick: bool,
    args: argparse.Namespace,
    mi: dict[str, Any],
) -> list[str]:
    """The headline suite (``benchmarks.client_cpu``): its own fleets, against the fast SSE server."""
    rounds = args.rounds or (5 if quick else 9)
    chunks, streams = (1_000, 3) if quick else (2_000, 5)
    streams = args.streams or streams
    server = SSEServer(scripts)
    log(f"sse server at {server.url}")
    results: dict[str, dict[str, Any]] = {}
    config: dict[str, Any] = {
        "rounds": rounds,
        "streams_per_round": streams,
        "chunks_per_stream": {"socket": chunks, "preparsed": 5 * chunks},
        "quick": quick,
        "baseline_ref": args.baseline,
        "pairs": client_cpu.PAIRS,
        "telemetry": TELEMETRY,
    }
    try:
        for sdk in args.sdks.split(","):
            fleet = Fleet(
                sdk,
                client_cpu.variants_for(sdk, baseline is not None),
                chaos_url,
                scripts[sdk],
                baseline,
                server.url,
            )
            try:
                res = client_cpu.suite_client_cpu(fleet, chunks, streams, rounds)
                res["variant_info"] = fleet.info
                res["failed_variants"] = fleet.failed
                res["telemetry"] = fleet.telemetry()
                results[sdk] = res
            finally:
                fleet.close()
    finally:
        server.stop()
    write_result(
        "client_cpu" + ("_quick" if quick else "") + (f"_{args.tag}" if args.tag else ""),
        config,
        results,
        [client_cpu.__doc__ or ""],
    )
    load = (mi["loadavg"] or [0.0])[0]
    return [*client_cpu.section(results, f"{load:.2f}"), ""]


# --- the per-SDK suites --------------------------------------------------------------------------


def _openai_overhead(fleet: Fleet, config: dict[str, Any], rounds: int, quick: bool) -> list[str]:
    n = 5_000 if quick else 20_000
    plan = [
        ("chaos", n, rounds),
        ("inproc", n // 2, rounds),
        ("preparsed", 20_000 if quick else 50_000, rounds),
    ]
    res = suite_overhead(fleet, plan)
    head = headline(res)
    tel = fleet.telemetry()
    write_result(
        "overhead_openai",
        {**config, "plan": plan},
        {"headline": head, "by_mode": res, "telemetry": tel, "failed_variants": fleet.failed},
        NOTES,
    )
    lines = ["### OpenAI: per-chunk overhead", ""]
    lines += headline_table(head, fleet.failed, "openai")
    lines += ["", "<details><summary>all modes</summary>", ""]
    lines += overhead_table(res, "openai")
    return [*lines, "", "</details>", ""]


def _openai_ttft(fleet: Fleet, config: dict[str, Any], rounds: int, quick: bool) -> list[str]:
    res = suite_ttft(fleet, ["chaos", "inproc"], 4 * rounds, 6 if quick else 15)
    write_result("ttft_openai", config, {"by_mode": res, "failed_variants": fleet.failed}, NOTES)
    lines = ["### OpenAI: time-to-first-token overhead (create() to first content chunk)", ""]
    return [*lines, *ttft_table(res, "openai"), ""]


def _openai_memory(fleet: Fleet, config: dict[str, Any], quick: bool) -> list[str]:
    res = suite_memory(
        fleet,
        long_chunks=200_000 if quick else 1_000_000,
        peer_cap=100_000,
        inproc_chunks=20_000 if quick else 50_000,
        concurrent=2_000 if quick else 10_000,
        traced_streams=500 if quick else 1_000,
    )
    write_result("memory_openai", config, {**res, "failed_variants": fleet.failed}, NOTES)
    return ["### OpenAI: memory", "", *memory_table(res, "openai"), ""]


def _openai_suites(
    fleet: Fleet, suites: set[str], config: dict[str, Any], rounds: int, quick: bool
) -> list[str]:
    """The OpenAI suites asked for (overhead, ttft, memory), in that order: their SUMMARY lines."""
    lines: list[str] = []
    if "overhead" in suites:
        lines += _openai_overhead(fleet, config, rounds, quick)
    if "ttft" in suites:
        lines += _openai_ttft(fleet, config, rounds, quick)
    if "memory" in suites:
        lines += _openai_memory(fleet, config, quick)
    return lines


def _anthropic_suite(fleet: Fleet, config: dict[str, Any], rounds: int, quick: bool) -> list[str]:
    """Overhead, TTFT and memory of the Anthropic variants in one result file: their SUMMARY lines."""
    a_rounds = max(3, rounds - 2)
    n = 5_000 if quick else 10_000
    plan = [("chaos", n, a_rounds), ("inproc", n, a_rounds), ("preparsed", 5 * n, a_rounds)]
    res = suite_overhead(fleet, plan)
    head = headline(res)
    ttft = suite_ttft(fleet, ["inproc"], 4 * a_rounds, 6 if quick else 10)
    mem = suite_memory(
        fleet,
        long_chunks=100_000 if quick else 200_000,
        peer_cap=100_000,
        inproc_chunks=10_000,
        concurrent=1_000 if quick else 2_000,
        traced_streams=300 if quick else 500,
    )
    tel = fleet.telemetry()
    results = {"headline": head, "by_mode": res, "ttft": ttft, "memory": mem}
    write_result(
        "overhead_anthropic",
        {**config, "rounds": a_rounds, "plan": plan},
        {**results, "telemetry": tel, "failed_variants": fleet.failed},
        [*NOTES, ANTHROPIC_NOTE],
    )
    lines = ["### Anthropic: per-chunk overhead", ""]
    lines += headline_table(head, fleet.failed, "anthropic")
    lines += ["", "<details><summary>all modes</summary>", ""]
    lines += overhead_table(res, "anthropic")
    lines += ["", "</details>", "", "### Anthropic: TTFT overhead", ""]
    lines += ttft_table(ttft, "anthropic")
    lines += ["", "### Anthropic: memory", ""]
    return [*lines, *memory_table(mem, "anthropic"), ""]


def _fleet_sdks(suites: set[str]) -> list[str]:
    sdks = []
    if suites & {"overhead", "ttft", "memory"}:
        sdks.append("openai")
    if "anthropic" in suites:
        if (ROOT / "otel_streamslo" / "instrumentation" / "anthropic").is_dir():
            sdks.append("anthropic")
        else:
            log("otel_streamslo/instrumentation/anthropic does not exist: anthropic suite skipped")
    return sdks


def run_fleet_suites(
    suites: set[str],
    scripts: dict[str, Path],
    chaos_url: str,
    baseline: Optional[Path],
    args: argparse.Namespace,
    rounds: int,
) -> list[str]:
    """The suites on the chaos provider: one fleet of workers per SDK, closed even on failure."""
    lines: list[str] = []
    peers = peer_install_status()
    fleets: list[Fleet] = []
    try:
        for sdk in _fleet_sdks(suites):
            variants = list(OPENAI_VARIANTS if sdk == "openai" else ANTHROPIC_VARIANTS)
            if baseline is not None and sdk == "openai":  # the baseline's anthropic module may differ
                variants.insert(variants.index("streamslo") + 1, "streamslo_base")
            fleet = Fleet(sdk, variants, chaos_url, scripts[sdk], baseline)
            fleets.append(fleet)
            config: dict[str, Any] = {
                "rounds": rounds,
                "quick": args.quick,
                "variants": fleet.variants,
                "variant_info": fleet.info,
                "failed_variants": fleet.failed,
                "peer_install": peers,
                "baseline_ref": args.baseline,
                "telemetry": TELEMETRY,
            }
            if sdk == "openai":
                lines += _openai_suites(fleet, suites, config, rounds, args.quick)
            else:
                lines += _anthropic_suite(fleet, config, rounds, args.quick)
            fleet.close()
    finally:
        for f in fleets:
            f.close()
    return lines


# --- main ----------------------------------------------------------------------------------------


def _parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer rounds and shorter streams (~3 min)")
    p.add_argument("--suites", default=",".join(ALL_SUITES))
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 7, quick 3)")
    p.add_argument("--baseline", default=None, help="also measure otel_streamslo as of this git ref")
    p.add_argument("--streams", type=int, default=None, help="client_cpu: streams per round (5, quick 3)")
    p.add_argument("--tag", default="", help="suffix of the result files (an experiment keeps the headline)")
    p.add_argument("--sdks", default="openai,anthropic", help="client_cpu: the SDKs to measure")
    return p.parse_args(argv)


def write_summary(summary_lines: list[str], suites: set[str], quick: bool, took: str, tag: str = "") -> str:
    """SUMMARY*.md (the compact table first), and the README's results block on a full run.

    With ``tag`` (an experiment) only ``SUMMARY-<suites>_<tag>.md``: the headline files stay.
    """
    cc = load_result("client_cpu" + (f"_{tag}" if tag else ""))
    compact = [*([*client_cpu.compact(cc), ""] if cc else []), *compact_table()]
    md = "\n".join([*summary_lines[:2], "### Summary", "", *compact, "", *summary_lines[2:], took]) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    full = suites >= set(ALL_SUITES)
    # a partial run must not overwrite the full run's SUMMARY.md
    name = "SUMMARY-quick.md" if quick else "SUMMARY.md" if full else f"SUMMARY-{'-'.join(sorted(suites))}.md"
    if tag:
        name = f"SUMMARY-{'-'.join(sorted(suites))}_{tag}.md"
    (RESULTS / name).write_text(md)
    if not quick and full and not tag:
        short = [
            summary_lines[0],
            "",
            *compact,
            "",
            "Every mode, peer and percentile: [results/SUMMARY.md](results/SUMMARY.md); raw numbers with "
            "machine and versions: `results/*.json`. " + took,
        ]
        update_readme("\n".join(short) + "\n")
    return md


def main(argv: Optional[list[str]] = None) -> int:
    args = _parse_args(argv)
    suites = {x.strip() for x in args.suites.split(",") if x.strip()}
    quick = args.quick
    rounds = args.rounds or (3 if quick else 7)
    t_start = time.monotonic()
    mi = machine_info()
    log(f"machine: {mi}")
    summary_lines: list[str] = [
        f"Measured {time.strftime('%Y-%m-%d')} on {mi['cpu']} ({mi['cores']} cores, shared with other work: "
        f"load average {(mi['loadavg'] or [0.0])[0]:.2f} at start), "
        f"{'quick' if quick else 'full'} run, {rounds} interleaved rounds, Python {mi['python']}.",
        "",
    ]
    baseline = export_baseline(args.baseline) if args.baseline else None
    chaos = Chaos()
    log(f"chaos provider at {chaos.url}")
    try:
        scripts = record_scripts(chaos.url)
        if "client_cpu" in suites:
            summary_lines += run_client_cpu(scripts, chaos.url, baseline, quick, args, mi)
        summary_lines += run_fleet_suites(suites, scripts, chaos.url, baseline, args, rounds)
    finally:
        chaos.stop()

    if "collector" in suites:
        from benchmarks import collector_load

        summary_lines += collector_load.run_suite(quick=quick)

    took = f"_Run took {time.monotonic() - t_start:.0f} s._"
    print(write_summary(summary_lines, suites, quick, took, args.tag))
    return 0


if __name__ == "__main__":
    sys.exit(main())
