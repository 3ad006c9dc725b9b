"""Processes of the fleet tests on loopback: collectors with any config and environment, a real
Prometheus (Debian package) with a temporary config and TSDB, and reset-aware counting of the raw
samples Prometheus stored.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import yaml

from tests.e2e_collector.collector_harness import BINARY as BINARY
from tests.e2e_collector.collector_harness import parse_prometheus
from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
CONFIG_DIR = REPO / "collector" / "config"
AGENT = CONFIG_DIR / "otelcol-agent.yaml"
GATEWAY = CONFIG_DIR / "otelcol-streamslo-gateway.yaml"
TAIL_SAMPLING = CONFIG_DIR / "otelcol-streamslo-tail-sampling.yaml"
RULES = REPO / "dashboards" / "rules" / "streamslo.yaml"


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until(cond: Any, timeout: float, what: str, step: float = 0.25) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(step)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@dataclass
class Otelcol:
    """One otelcol-streamslo process; ports stay the same across restarts."""

    name: str
    config: Path
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    prom_port: int = field(default_factory=free_port)
    self_port: int = field(default_factory=free_port)
    proc: Optional[subprocess.Popen[bytes]] = None
    starts: int = 0

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            STREAMSLO_OTLP_GRPC_ENDPOINT=f"127.0.0.1:{self.grpc_port}",
            STREAMSLO_OTLP_HTTP_ENDPOINT=f"127.0.0.1:{self.http_port}",
            STREAMSLO_PROM_ENDPOINT=f"127.0.0.1:{self.prom_port}",
            STREAMSLO_SELF_METRICS_PORT=str(self.self_port),
            STREAMSLO_SPANMETRICS_FLUSH="1s",
            STREAMSLO_GATEWAY_ID=self.name,
        )
        env.update(self.extra_env)
        return env

    def start(self, timeout: float = 30.0) -> None:
        self.starts += 1
        log = (self.workdir / f"{self.name}.{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [str(BINARY), "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            stdin=subprocess.DEVNULL,
        )
        log.close()
        proc = self.proc

        def ready() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited {proc.returncode}:\n{self.log()}")
            return port_open(self.http_port) and port_open(self.self_port)

        wait_until(ready, timeout, f"{self.name} to listen")

    def stop(self, timeout: float = 20.0) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def log(self) -> str:
        path = self.workdir / f"{self.name}.{self.starts}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def self_metric(self, prefix: str, labels: Optional[dict[str, str]] = None) -> float:
        """Sum of the collector's own metrics whose name starts with ``prefix`` (and has ``labels``)."""
        with urllib.request.urlopen(f"http://127.0.0.1:{self.self_port}/metrics", timeout=5) as r:
            text = r.read().decode()
        want = labels or {}
        return sum(
            s.value
            for s in parse_prometheus(text)
            if s.name.startswith(prefix) and all(s.labels.get(k) == v for k, v in want.items())
        )


@dataclass
class Prometheus:
    """A real Prometheus on a free loopback port, scraping ``targets`` every second."""

    workdir: Path
    jobs: dict[str, list[int]]
    rules: Optional[Path] = None
    remote_write_receiver: bool = False
    relabel_prefix: dict[str, str] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        binary = shutil.which("prometheus")
        assert binary, "prometheus not on PATH: apt-get install prometheus (scripts/test.sh does)"
        scrape = []
        for job, ports in self.jobs.items():
            entry: dict[str, Any] = {
                "job_name": job,
                "static_configs": [{"targets": [f"127.0.0.1:{p}" for p in ports]}],
            }
            if job in self.relabel_prefix:
                entry["metric_relabel_configs"] = [
                    {
                        "source_labels": ["__name__"],
                        "target_label": "__name__",
                        "replacement": self.relabel_prefix[job] + "$1",
                    }
                ]
            scrape.append(entry)
        conf: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s", "scrape_timeout": "900ms"},
            "scrape_configs": scrape,
        }
        if self.rules is not None:
            conf["rule_files"] = [str(self.rules)]
        cfg = self.workdir / f"prometheus-{self.port}.yml"
        cfg.write_text(yaml.safe_dump(conf))
        args = [
            binary,
            f"--config.file={cfg}",
            f"--storage.tsdb.path={self.workdir / f'tsdb-{self.port}'}",
            f"--web.listen-address=127.0.0.1:{self.port}",
        ]
        if self.remote_write_receiver:
            args.append("--web.enable-remote-write-receiver")
        log = (self.workdir / f"prometheus-{self.port}.log").open("wb")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        log.close()
        wait_until(self._ready, 30, "prometheus to be ready")

    def _ready(self) -> bool:
        assert self.proc is not None and self.proc.poll() is None, "prometheus exited"
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def query(self, expr: str) -> list[dict[str, Any]]:
        q = urllib.parse.urlencode({"query": expr})
        with urllib.request.urlopen(f"{self.url}/api/v1/query?{q}", timeout=10) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        return list(body["data"]["result"])

    def scalar(self, expr: str) -> Optional[float]:
        res = self.query(expr)
        return float(res[0]["value"][1]) if res else None


def counted(
    prom: Prometheus, selector: str, by: tuple[str, ...], window: str = "15m"
) -> dict[tuple[str, ...], int]:
    """Exact spans counted per ``by`` labels from the raw samples: per stored series, the first value
    (series born from zero) plus every increase, a drop being a counter reset (restart) after which
    the new value counts in full. No rate() extrapolation."""
    out: dict[tuple[str, ...], int] = {}
    for series in prom.query(f"{selector}[{window}]"):
        values = [float(v) for _, v in series["values"]]
        total = values[0]
        for prev, cur in zip(values, values[1:]):
            total += cur - prev if cur >= prev else cur
        key = tuple(series["metric"].get(k, "") for k in by)
        out[key] = out.get(key, 0) + round(total)
    return out
