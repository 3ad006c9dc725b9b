"""The built ``otelcol-streamslo`` in its own process for the benchmarks, and its metrics as numbers."""

from __future__ import annotations

import contextlib
import os
import re
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

from benchmarks._common import CACHE, ROOT

COLLECTOR = ROOT / "collector"
BINARY = COLLECTOR / "_build" / "otelcol-streamslo"
CONFIG = COLLECTOR / "config" / "otelcol-streamslo.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Collector:
    """The collector on ephemeral loopback ports (OTLP/HTTP, self metrics, Prometheus exporter)."""

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


def delta(a: dict[str, float], b: dict[str, float]) -> dict[str, float]:
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
