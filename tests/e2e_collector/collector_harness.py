"""Start/stop the built otelcol-streamslo binary on free loopback ports, send
OTLP spans and SDK metrics with the OpenTelemetry SDK, scrape Prometheus.

Independent of the otel_streamslo instrumentation: the spans carry the
DESIGN.md attributes directly.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from tests.ports import free_port

REPO = Path(__file__).resolve().parents[2]
COLLECTOR_DIR = REPO / "collector"
BINARY = COLLECTOR_DIR / "_build" / "otelcol-streamslo"
CONFIG_STREAMSLO = COLLECTOR_DIR / "config" / "otelcol-streamslo.yaml"
CONFIG_CONTRIB = COLLECTOR_DIR / "config" / "otelcol-contrib.yaml"


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


@dataclass
class Collector:
    config: Path
    log_path: Path
    grpc_port: int = field(default_factory=free_port)
    http_port: int = field(default_factory=free_port)
    prom_port: int = field(default_factory=free_port)
    self_metrics_port: int = field(default_factory=free_port)
    proc: Optional[subprocess.Popen[bytes]] = None

    @property
    def otlp_http(self) -> str:
        return f"http://127.0.0.1:{self.http_port}"

    @property
    def prom_url(self) -> str:
        return f"http://127.0.0.1:{self.prom_port}/metrics"

    def start(self, timeout: float = 30.0) -> None:
        env = dict(os.environ)
        env.update(
            STREAMSLO_OTLP_GRPC_ENDPOINT=f"127.0.0.1:{self.grpc_port}",
            STREAMSLO_OTLP_HTTP_ENDPOINT=f"127.0.0.1:{self.http_port}",
            STREAMSLO_PROM_ENDPOINT=f"127.0.0.1:{self.prom_port}",
            STREAMSLO_SELF_METRICS_PORT=str(self.self_metrics_port),
            STREAMSLO_SPANMETRICS_FLUSH="1s",
        )
        log = open(self.log_path, "wb")  # noqa: SIM115 - closed by the process lifetime
        self.proc = subprocess.Popen(
            [str(BINARY), "--config", str(self.config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            stdin=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"collector exited with {self.proc.returncode}:\n{self.log()}")
            if _port_open(self.http_port) and _port_open(self.prom_port):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"collector did not open its ports within {timeout}s:\n{self.log()}")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        self.proc = None

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-6000:]
        except OSError:
            return ""

    def scrape(self) -> str:
        with urllib.request.urlopen(self.prom_url, timeout=5) as resp:
            return str(resp.read().decode())


_LINE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$")
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


@dataclass(frozen=True)
class Sample:
    name: str
    labels: dict[str, str]
    value: float


def parse_prometheus(text: str) -> list[Sample]:
    out: list[Sample] = []
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _LINE.match(line)
        if not m:
            continue
        labels = dict(_LABEL.findall(m.group(2) or ""))
        out.append(Sample(m.group(1), labels, float(m.group(3))))
    return out
