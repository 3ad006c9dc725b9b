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
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional

import yaml

from benchmarks._common import BENCH, CACHE, ROOT, write_result
from otel_streamslo.core.lifecycle import TerminationReason
from tests.otlp_spans import client_span, export_body

COLLECTOR = ROOT / "collector"
BINARY = COLLECTOR / "_build" / "otelcol-streamslo"
CONFIG = COLLECTOR / "config" / "otelcol-streamslo.yaml"
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


# --- collector process and its metrics -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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


class Collector:
    def __init__(self, config: Path) -> None:
        self.http_port = free_port()
        self.self_port = free_port()
        self.prom_port = free_port()
        env = dict(os.environ)
        env.update(
            {
                "STREAMSLO_OTLP_GRPC_ENDPOINT": f"127.0.0.1:{free_port()}",
                "STREAMSLO_OTLP_HTTP_ENDPOINT": f"127.0.0.1:{self.http_port}",
                "STREAMSLO_PROM_ENDPOINT": f"127.0.0.1:{self.prom_port}",
                "STREAMSLO_SELF_METRICS_PORT": str(self.self_port),
                "STREAMSLO_SPANMETRICS_FLUSH": "1s",
            }
        )
        CACHE.mkdir(parents=True, exist_ok=True)
        self.log_path = CACHE / f"collector-{config.stem}.log"
        self._log = self.log_path.open("w")
        self.proc = subprocess.Popen(
            [str(BINARY), "--config", str(config)], stdout=self._log, stderr=self._log, env=env, cwd=ROOT
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited: {self.log_path.read_text()[-2000:]}")
            try:
                self.self_metrics()
                with socket.create_connection(("127.0.0.1", self.http_port), timeout=1):
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("collector did not become ready")

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks  # utime + stime

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def _scrape(self, port: int) -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            return str(r.read().decode())

    def self_metrics(self) -> dict[str, float]:
        return parse_prom(self._scrape(self.self_port))

    def exporter_metrics(self) -> dict[str, float]:
        return parse_prom(self._scrape(self.prom_port))

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)")


def parse_prom(text: str) -> dict[str, float]:
    """``name{labels}`` -> value for every sample of a Prometheus text exposition."""
    out: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if m:
            with contextlib.suppress(ValueError):
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
    return out


def total(metrics: dict[str, float], name: str, must: str = "") -> float:
    """Sum of every series of ``name`` (with or without ``_total``; labels containing ``must``)."""
    names = {name, name.removesuffix("_total"), name.removesuffix("_total") + "_total"}
    s = 0.0
    for key, v in metrics.items():
        base = key.split("{", 1)[0]
        if base in names and must in key:
            s += v
    return s


def counters(m: dict[str, float]) -> dict[str, float]:
    return {
        "receiver_accepted": total(m, "otelcol_receiver_accepted_spans_total"),
        "receiver_refused": total(m, "otelcol_receiver_refused_spans_total")
        + total(m, "otelcol_receiver_failed_spans_total"),
        "streamslo_in": total(m, "otelcol_processor_incoming_items_total", 'processor="streamslo"'),
        "streamslo_out": total(m, "otelcol_processor_outgoing_items_total", 'processor="streamslo"'),
        "batch_out": total(m, "otelcol_processor_outgoing_items_total", 'processor="batch"'),
        "exporter_sent": total(m, "otelcol_exporter_sent_spans_total"),
        "exporter_failed": total(m, "otelcol_exporter_send_failed_spans_total")
        + total(m, "otelcol_exporter_enqueue_failed_spans_total"),
        "exporter_refused": total(m, "otelcol_exporter_refused_spans_total"),
    }


def _delta(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
    return {k: b[k] - a.get(k, 0.0) for k in b}


def wait_drained(col: Collector, sent_total: int, timeout: float = 15) -> dict[str, float]:
    """Wait until the collector's exporters saw every accepted span (batch timeout, spanmetrics)."""
    deadline = time.monotonic() + timeout
    c = counters(col.self_metrics())
    while time.monotonic() < deadline:
        if c["receiver_accepted"] >= sent_total and c["exporter_sent"] >= c["receiver_accepted"]:
            break
        time.sleep(0.5)
        c = counters(col.self_metrics())
    return c


def run_config(
    name: str,
    config: Path,
    bodies: list[bytes],
    batch: int,
    rates: list[int],
    step_s: float,
    sustain_s: float,
) -> dict[str, Any]:
    log(f"{name}: starting {BINARY.name} --config {config.relative_to(ROOT)}")
    col = Collector(config)
    res: dict[str, Any] = {"config": str(config.relative_to(ROOT)), "steps": []}
    try:
        sender = Sender(col.http_port, bodies, batch)
        sender.run(2000, 1.0)  # warm-up
        wait_drained(col, sender.sent)
        best_ok: Optional[int] = None
        for rate in rates:
            before = counters(col.self_metrics())
            cpu0 = col.cpu_seconds()
            sent = sender.run(rate, step_s)
            after = wait_drained(col, sender.sent)
            cpu = col.cpu_seconds() - cpu0
            d = _delta(before, after)
            dropped = (
                d["receiver_refused"]
                + d["exporter_failed"]
                + d["exporter_refused"]
                + max(0.0, sent["spans_sent_ok"] - d["receiver_accepted"])
            )
            step = {
                **sent,
                **{k: int(v) for k, v in d.items()},
                "collector_cpu_s": round(cpu, 3),
                "spans_per_cpu_second": round(d["receiver_accepted"] / cpu) if cpu > 0 else None,
                "collector_cpu_share": round(cpu / sent["seconds"], 3),
                "dropped": int(dropped),
                "http_errors": sender.errors,
                "rss_mib": round(col.rss_mib(), 1),
            }
            res["steps"].append(step)
            log(
                f"{name}: target {rate}/s achieved {sent['achieved_rate']}/s, "
                f"accepted {step['receiver_accepted']}, dropped {step['dropped']}, "
                f"{step['spans_per_cpu_second']} spans/CPU-s"
            )
            if dropped == 0 and sent["achieved_rate"] >= 0.95 * rate:
                best_ok = rate
            else:
                break
        if best_ok is not None:
            sustain_rate = best_ok
            before = counters(col.self_metrics())
            cpu0 = col.cpu_seconds()
            sent = sender.run(sustain_rate, sustain_s)
            after = wait_drained(col, sender.sent, timeout=30)
            cpu = col.cpu_seconds() - cpu0
            d = _delta(before, after)
            time.sleep(3)  # spanmetrics flush (1 s) -> prometheus exporter
            prom = col.exporter_metrics()
            calls = total(prom, "traces_span_metrics_calls_total")
            res["sustained"] = {
                **sent,
                **{k: int(v) for k, v in d.items()},
                "collector_cpu_s": round(cpu, 3),
                "spans_per_cpu_second": round(d["receiver_accepted"] / cpu) if cpu > 0 else None,
                "dropped": int(
                    d["receiver_refused"]
                    + d["exporter_failed"]
                    + d["exporter_refused"]
                    + max(0.0, sent["spans_sent_ok"] - d["receiver_accepted"])
                ),
                "spans_sent_total_since_start": sender.sent,
                "prometheus_spanmetrics_calls_total": int(calls),
                "prometheus_counts_match": int(calls) == sender.sent,
                "http_status": sender.status,
            }
            log(f"{name}: sustained {sustain_rate}/s for {sustain_s}s: {res['sustained']}")
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
    lines += [
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
