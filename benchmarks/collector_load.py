"""Collector throughput: OTLP load on loopback against the built ``otelcol-streamslo``.

    python -m benchmarks.collector_load [--quick]

Two configurations of the same binary: (a) ``collector/config/otelcol-streamslo.yaml`` as shipped and
(b) the same pipeline without the ``streamslo`` processor (``benchmarks/collector/otelcol-noproc.yaml``,
generated from (a)). For each, a paced Python load generator sends pre-serialised OTLP/HTTP protobuf
batches of spans carrying our attributes at increasing rates; after every step the collector's own
metrics (``otelcol_receiver_accepted_spans``, ``otelcol_processor_*``, ``otelcol_exporter_sent_spans``
/ refused / failed) and its CPU time give accepted spans, drops and spans per CPU-second (= per core).
Then a sustained run at a stated rate checks zero drops, and that the spanmetrics counts the
Prometheus exporter serves add up to the spans sent. Also runs ``go test -bench=. -run=^$ ./...`` in
``collector/streamsloprocessor``.
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

import yaml

from benchmarks._common import BENCH, ROOT, write_result
from benchmarks.collector_proc import (
    BINARY,
    COLLECTOR,
    CONFIG,
    Collector,
    counters,
    delta,
    total,
    wait_drained,
)
from otel_streamslo.core.lifecycle import TerminationReason
from tests.otlp_spans import client_span, export_body

NOPROC_CONFIG = BENCH / "collector" / "otelcol-noproc.yaml"

REASONS = [r.value for r in TerminationReason]


def log(msg: str) -> None:
    print(f"[collector {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- load ----------------------------------------------------------------------------------------


def span_attrs(i: int) -> dict[str, Any]:
    """Attributes of span ``i``: 80 % ours (every reason), 10 % foreign streaming, 10 % unrelated."""
    a: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "server.address": "127.0.0.1",
        "server.port": 8000,
    }
    kind = i % 10
    if kind == 8:  # another instrumentation's streaming span, finish reason present
        a.update({"gen_ai.request.stream": True, "http.response.status_code": 200})
        a["gen_ai.response.finish_reasons"] = "stop"
        a["gen_ai.response.time_to_first_chunk"] = 0.3
    elif kind == 9:  # unrelated span
        a["http.response.status_code"] = 200
    else:
        reason = REASONS[i % len(REASONS)]
        a.update(
            {
                "gen_ai.request.stream": True,
                "http.response.status_code": 200,
                "streamslo.termination.reason": reason,
                "streamslo.time_to_first_token": (i % 40) / 10,
                "streamslo.time_to_completion": 3.5,
                "streamslo.chunks.delivered": 413,
                "streamslo.tokens.delivered": 412,
                "streamslo.tool_calls.committed": 0,
                "gen_ai.response.model": "gpt-4o-2024-08-06",
                "gen_ai.usage.input_tokens": 120,
                "gen_ai.usage.output_tokens": 412,
            }
        )
    return a


def build_bodies(batch: int, count: int, seed: int = 7) -> list[bytes]:
    """``count`` distinct serialised ExportTraceServiceRequest bodies of ``batch`` spans each."""
    rng = random.Random(seed)
    now = time.time_ns()
    start = now - 4_000_000_000
    bodies = []
    for b in range(count):
        spans = [
            client_span(
                "chat gpt-4o",
                rng.randbytes(16),
                rng.randbytes(8),
                start,
                start + 3_500_000_000,
                span_attrs(b * batch + i),
            )
            for i in range(batch)
        ]
        bodies.append(export_body("bench-app", spans))
    return bodies


class Sender:
    """Paced OTLP/HTTP protobuf sender on one keep-alive connection."""

    def __init__(self, port: int, bodies: list[bytes], batch: int) -> None:
        self.port, self.bodies, self.batch = port, bodies, batch
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.sent = 0
        self.errors = 0
        self.status: dict[int, int] = {}

    def post(self, body: bytes) -> bool:
        try:
            self.conn.request(
                "POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"}
            )
            resp = self.conn.getresponse()
            resp.read()
            self.status[resp.status] = self.status.get(resp.status, 0) + 1
            return resp.status == 200
        except (OSError, http.client.HTTPException):
            self.errors += 1
            self.conn.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
            return False

    def run(self, rate: float, seconds: float) -> dict[str, Any]:
        """Send ``rate`` spans/s for ``seconds``; returns what was sent and achieved."""
        interval = self.batch / rate
        t0 = time.perf_counter()
        next_t = t0
        n = ok = 0
        while True:
            now = time.perf_counter()
            if now - t0 >= seconds:
                break
            if now < next_t:
                time.sleep(next_t - now)
            if self.post(self.bodies[n % len(self.bodies)]):
                ok += 1
            n += 1
            next_t += interval
        elapsed = time.perf_counter() - t0
        self.sent += ok * self.batch
        return {
            "target_rate": rate,
            "seconds": round(elapsed, 2),
            "requests": n,
            "spans_sent_ok": ok * self.batch,
            "achieved_rate": round(ok * self.batch / elapsed),
        }


# --- the two configurations ---------------------------------------------------------------------


def write_noproc_config() -> Path:
    """The shipped config with ``streamslo`` removed from the traces pipeline."""
    doc = yaml.safe_load(CONFIG.read_text())
    pipe = doc["service"]["pipelines"]["traces"]
    pipe["processors"] = [p for p in pipe["processors"] if p != "streamslo"]
    doc["processors"].pop("streamslo", None)
    NOPROC_CONFIG.parent.mkdir(parents=True, exist_ok=True)
    header = (
        "# GENERATED by benchmarks/collector_load.py from collector/config/otelcol-streamslo.yaml:\n"
        "# the same pipelines without the streamslo processor (baseline of the collector benchmark).\n"
    )
    NOPROC_CONFIG.write_text(header + yaml.safe_dump(doc, sort_keys=False))
    return NOPROC_CONFIG


def _dropped(d: dict[str, float], sent: dict[str, Any]) -> float:
    """Spans refused or failed anywhere, plus spans sent that the receiver never accepted."""
    unaccepted: float = max(0.0, sent["spans_sent_ok"] - d["receiver_accepted"])
    return d["receiver_refused"] + d["exporter_failed"] + d["exporter_refused"] + unaccepted


def _measure(
    col: Collector, sender: Sender, rate: float, seconds: float, drain_timeout: float = 15
) -> tuple[dict[str, Any], float, float]:
    """Send at ``rate`` for ``seconds``: what was sent with the counters' deltas; drops; CPU seconds."""
    before = counters(col.self_metrics())
    cpu0 = col.cpu_seconds()
    sent = sender.run(rate, seconds)
    after = wait_drained(col, sender.sent, timeout=drain_timeout)
    cpu = col.cpu_seconds() - cpu0
    d = delta(before, after)
    doc = {
        **sent,
        **{k: int(v) for k, v in d.items()},
        "collector_cpu_s": round(cpu, 3),
        "spans_per_cpu_second": round(d["receiver_accepted"] / cpu) if cpu > 0 else None,
    }
    return doc, _dropped(d, sent), cpu


def _steps(
    name: str, col: Collector, sender: Sender, rates: list[int], step_s: float
) -> tuple[list[Any], Optional[int]]:
    """Increasing rates until one drops spans or falls short: the steps, and the last clean rate."""
    steps: list[dict[str, Any]] = []
    best_ok: Optional[int] = None
    for rate in rates:
        step, dropped, cpu = _measure(col, sender, rate, step_s)
        step["collector_cpu_share"] = round(cpu / step["seconds"], 3)
        step["dropped"] = int(dropped)
        step["http_errors"] = sender.errors
        step["rss_mib"] = round(col.rss_mib(), 1)
        steps.append(step)
        log(
            f"{name}: target {rate}/s achieved {step['achieved_rate']}/s, "
            f"accepted {step['receiver_accepted']}, dropped {step['dropped']}, "
            f"{step['spans_per_cpu_second']} spans/CPU-s"
        )
        if dropped == 0 and step["achieved_rate"] >= 0.95 * rate:
            best_ok = rate
        else:
            break
    return steps, best_ok


def _sustained(col: Collector, sender: Sender, rate: int, seconds: float) -> dict[str, Any]:
    """One long run at ``rate``, then the spanmetrics calls the Prometheus exporter serves."""
    doc, dropped, _ = _measure(col, sender, rate, seconds, drain_timeout=30)
    time.sleep(3)  # spanmetrics flush (1 s) -> prometheus exporter
    calls = total(col.exporter_metrics(), "traces_span_metrics_calls_total")
    return {
        **doc,
        "dropped": int(dropped),
        "spans_sent_total_since_start": sender.sent,
        "prometheus_spanmetrics_calls_total": int(calls),
        "prometheus_counts_match": int(calls) == sender.sent,
        "http_status": sender.status,
    }


def run_config(
    name: str,
    config: Path,
    bodies: list[bytes],
    batch: int,
    rates: list[int],
    step_s: float,
    sustain_s: float,
) -> dict[str, Any]:
    """One collector config: rate steps, then a sustained run at the highest clean step."""
    log(f"{name}: starting {BINARY.name} --config {config.relative_to(ROOT)}")
    col = Collector(config)
    res: dict[str, Any] = {"config": str(config.relative_to(ROOT)), "steps": []}
    try:
        sender = Sender(col.http_port, bodies, batch)
        sender.run(2000, 1.0)  # warm-up
        wait_drained(col, sender.sent)
        res["steps"], best_ok = _steps(name, col, sender, rates, step_s)
        if best_ok is not None:
            res["sustained"] = _sustained(col, sender, best_ok, sustain_s)
            log(f"{name}: sustained {best_ok}/s for {sustain_s}s: {res['sustained']}")
    finally:
        col.stop()
    return res


def go_bench(quick: bool) -> dict[str, Any]:
    mod = COLLECTOR / "streamsloprocessor"
    if not (mod / "go.mod").exists() or shutil.which("go") is None:
        return {"skipped": "collector/streamsloprocessor or go not found"}
    cmd = ["go", "test", "-bench=.", "-run=^$", "./..."]
    if quick:
        cmd.insert(3, "-benchtime=200ms")
    log(f"go bench: {' '.join(cmd)} (in collector/streamsloprocessor)")
    p = subprocess.run(cmd, cwd=mod, capture_output=True, text=True, timeout=900)
    benches = []
    for line in p.stdout.splitlines():
        if line.startswith("Benchmark"):
            parts = line.split()
            entry: dict[str, Any] = {"name": parts[0], "iterations": int(parts[1])}
            for val, unit in zip(parts[2::2], parts[3::2]):
                with contextlib.suppress(ValueError):
                    entry[unit] = float(val)
            benches.append(entry)
    return {"command": " ".join(cmd), "exit": p.returncode, "output": p.stdout[-6000:], "benchmarks": benches}


def run_suite(quick: bool) -> list[str]:
    """Run everything, write ``results/collector.json``, return summary markdown lines."""
    lines = ["### Collector (otelcol-streamslo, OTLP/HTTP on loopback)", ""]
    gb = go_bench(quick)
    if not BINARY.exists():
        msg = f"{BINARY.relative_to(ROOT)} not built (bash collector/build.sh): load run skipped"
        log(msg)
        write_result("collector", {"quick": quick}, {"skipped": msg, "go_bench": gb})
        return [*lines, msg, ""]
    batch = 500
    bodies = build_bodies(batch, 8)
    rates = [5_000, 20_000, 50_000] if quick else [10_000, 40_000, 80_000, 120_000]
    step_s = 3.0 if quick else 4.0
    sustain_s = 8.0 if quick else 20.0
    noproc = write_noproc_config()
    results = {
        "streamslo": run_config("streamslo", CONFIG, bodies, batch, rates, step_s, sustain_s),
        "no_streamslo": run_config("no_streamslo", noproc, bodies, batch, rates, step_s, sustain_s),
        "go_bench": gb,
    }
    config = {
        "quick": quick,
        "batch_spans": batch,
        "rates": rates,
        "step_seconds": step_s,
        "sustain_seconds": sustain_s,
        "span_mix": "80% otel_streamslo spans (all 11 reasons), 10% foreign streaming, 10% unrelated",
        "binary": str(BINARY.relative_to(ROOT)),
        "transport": "OTLP/HTTP protobuf, one keep-alive connection, Python sender on the same 2 cores",
    }
    write_result(
        "collector",
        config,
        results,
        notes=[
            "spans_per_cpu_second = receiver-accepted spans / collector process CPU seconds (utime+stime): "
            "spans per core-second, independent of how many cores the collector used",
            "the sender shares the machine's 2 cores: the highest rate is bounded by the sender too",
        ],
    )
    return [*lines, *summary_table(results, gb)]


def summary_table(results: dict[str, Any], gb: dict[str, Any]) -> list[str]:
    """The markdown rows of both configs, the processor's CPU per span, the Go benchmarks."""
    lines = [
        "| config | highest clean step (spans/s) | spans per collector CPU-second at that step "
        "| sustained run: rate, seconds, dropped | prometheus spanmetrics calls == spans sent |",
        "|---|---:|---:|---|---|",
    ]
    for name in ("streamslo", "no_streamslo"):
        r = results[name]
        clean = [s for s in r["steps"] if s["dropped"] == 0]
        top = clean[-1] if clean else None
        sus = r.get("sustained")
        sus_txt = f"{sus['achieved_rate']}/s, {sus['seconds']} s, {sus['dropped']}" if sus else "n/a"
        match = (
            f"{sus['prometheus_counts_match']} ({sus['prometheus_spanmetrics_calls_total']})"
            if sus
            else "n/a"
        )
        rate = top["achieved_rate"] if top else "n/a"
        per_cpu = top["spans_per_cpu_second"] if top else "n/a"
        lines.append(f"| {name} | {rate} | {per_cpu} | {sus_txt} | {match} |")
    a_sus, b_sus = results["streamslo"].get("sustained"), results["no_streamslo"].get("sustained")
    if a_sus and b_sus and a_sus.get("spans_per_cpu_second") and b_sus.get("spans_per_cpu_second"):
        per_span = (1 / a_sus["spans_per_cpu_second"] - 1 / b_sus["spans_per_cpu_second"]) * 1e6
        lines.append(
            f"\nSustained runs: the streamslo processor adds {per_span:.2f} µs of collector CPU per span "
            f"({a_sus['spans_per_cpu_second']} vs {b_sus['spans_per_cpu_second']} spans per CPU-second, "
            "receiver, spanmetrics and exporters included)."
        )
    for b in gb.get("benchmarks", []):
        extra = ", ".join(f"{v} {k}" for k, v in b.items() if k not in ("name", "iterations"))
        lines.append(f"\n`go test -bench` {b['name']}: {extra}")
    lines.append("")
    return lines


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args(argv)
    print("\n".join(run_suite(args.quick)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
