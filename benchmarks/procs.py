"""The benchmark driver's processes: chaos and SSE servers, one worker per variant, a fleet per SDK."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

from benchmarks._common import CACHE, PEERS, ROOT

PY = sys.executable

# peers live in isolated dirs (see run.sh): (sdk, variant) -> extra sys.path entry
PEER_PATHS = {
    ("openai", "openai_v2"): PEERS / "openai_v2",
    ("openai", "openllmetry"): PEERS / "openllmetry",
    ("anthropic", "openllmetry"): PEERS / "anthropic_openllmetry",
}
PEER_PACKAGES = {
    ("openai", "openai_v2"): "opentelemetry-instrumentation-openai-v2 (official contrib)",
    ("openai", "openllmetry"): "opentelemetry-instrumentation-openai (OpenLLMetry / traceloop)",
    ("anthropic", "openllmetry"): "opentelemetry-instrumentation-anthropic (OpenLLMetry / traceloop)",
}


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class ServerProc:
    """A server module (``python -m``) in its own process that prints ``listening on <url>`` once up."""

    def __init__(self, module: str, args: tuple[str, ...] = (), env: Optional[dict[str, str]] = None) -> None:
        self.proc = subprocess.Popen(
            [PY, "-m", module, *args],
            env=env,
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 30
        self.url = ""
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            m = re.search(r"listening on (http://\S+)", line)
            if m:
                self.url = m.group(1)
                break
            if not line and self.proc.poll() is not None:
                break
        if not self.url:
            self.stop()
            raise RuntimeError(f"{module} did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Chaos(ServerProc):
    """The chaos provider in its own process (so the client's core is not shared with the server)."""

    def __init__(self) -> None:
        super().__init__("benchmarks._chaos")


class SSEServer(ServerProc):
    """``benchmarks._sse_server`` in its own process: pre-rendered SSE bodies, next to no server CPU."""

    def __init__(self, scripts: dict[str, Path]) -> None:
        env = dict(os.environ)
        if (os.cpu_count() or 1) > 1:  # the server on the first CPU, the client workers on the last
            env["BENCH_PIN_CPU"] = "0"
        args = ("--openai", str(scripts["openai"]), "--anthropic", str(scripts["anthropic"]))
        super().__init__("benchmarks._sse_server", args, env)


class WorkerProc:
    """``python -m benchmarks.worker`` for one (sdk, variant), talking JSON lines."""

    def __init__(
        self, sdk: str, variant: str, chaos_url: str, script: Path, paths: list[Path], sse_url: str = ""
    ) -> None:
        self.sdk, self.variant = sdk, variant
        logs = CACHE / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        self.log_path = logs / f"{sdk}-{variant}.log"
        self._log = self.log_path.open("w")
        cmd = [PY, "-m", "benchmarks.worker", "--sdk", sdk, "--variant", variant]
        cmd += ["--chaos-url", chaos_url, "--script", str(script)]
        if sse_url:
            cmd += ["--sse-url", sse_url]
        for p in paths:
            cmd += ["--path", str(p)]
        env = dict(os.environ)
        env.pop("PYTHONPATH", None)
        if sse_url and (os.cpu_count() or 1) > 1:  # client_cpu: all variants on one CPU (see SSEServer)
            env["BENCH_PIN_CPU"] = str((os.cpu_count() or 1) - 1)
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log, text=True, env=env
        )
        self.ready = self._read(120)
        self.ok = bool(self.ready.get("ready"))

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            return {"ok": False, "ready": False, "error": f"no answer within {timeout:.0f}s"}
        line = self.proc.stdout.readline()
        if not line:
            tail = self.log_path.read_text()[-2000:] if self.log_path.exists() else ""
            return {"ok": False, "ready": False, "error": f"worker exited ({self.proc.poll()}): {tail}"}
        doc: dict[str, Any] = json.loads(line)
        return doc

    def call(self, cmd: str, timeout: float = 600, **kwargs: Any) -> dict[str, Any]:
        assert self.proc.stdin is not None
        self.proc.stdin.write(json.dumps({"cmd": cmd, **kwargs}) + "\n")
        self.proc.stdin.flush()
        res = self._read(timeout)
        if not res.get("ok"):
            raise RuntimeError(f"{self.sdk}/{self.variant} {cmd}: {res.get('error')}\n{res.get('trace', '')}")
        return res

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                assert self.proc.stdin is not None
                self.proc.stdin.write('{"cmd": "quit"}\n')
                self.proc.stdin.flush()
                self.proc.wait(15)
            except Exception:
                self.proc.kill()
                self.proc.wait()
        self._log.close()


class Fleet:
    """The workers of one SDK (failed variants are kept with their reason).

    :meth:`respawn` replaces every worker by a fresh process of the same variant: a process's
    memory layout (where its interned names and types land, hence which of CPython's method-cache
    slots collide) is drawn once per process and moves a per-chunk cost by up to ~1% either way, so
    a suite that respawns between rounds samples a new layout per round instead of one per run.
    """

    def __init__(
        self,
        sdk: str,
        variants: list[str],
        chaos_url: str,
        script: Path,
        baseline: Optional[Path],
        sse_url: str = "",
    ) -> None:
        self.sdk = sdk
        self.workers: dict[str, WorkerProc] = {}
        self.failed: dict[str, str] = {}
        self.info: dict[str, Any] = {}
        self._args = (chaos_url, script, sse_url)
        self._paths: dict[str, list[Path]] = {}
        self._retired: dict[str, list[dict[str, Any]]] = {}
        for v in variants:
            paths: list[Path] = []
            if v.endswith("_base"):
                if baseline is None:
                    continue
                paths.append(baseline)
            peer = PEER_PATHS.get((sdk, v))
            if peer is not None:
                if not peer.is_dir():
                    self.failed[v] = f"{PEER_PACKAGES[(sdk, v)]} not installed (run benchmarks/run.sh)"
                    continue
                paths.append(peer)
            self._paths[v] = paths
            self._spawn(v)

    def _spawn(self, v: str) -> None:
        chaos_url, script, sse_url = self._args
        w = WorkerProc(self.sdk, v, chaos_url, script, self._paths[v], sse_url)
        if w.ok:
            self.workers[v] = w
            self.info[v] = w.ready.get("info")
            log(f"{self.sdk}/{v}: ready (pid {w.ready.get('pid')})")
        else:
            self.failed[v] = str(w.ready.get("error"))
            log(f"{self.sdk}/{v}: FAILED to instrument: {self.failed[v]}")
            w.close()

    def respawn(self) -> None:
        """Replace every live worker by a fresh process (its telemetry so far is kept)."""
        for v in list(self.workers):
            try:
                self._retired.setdefault(v, []).append(self.workers[v].call("telemetry"))
            except RuntimeError as exc:
                self.drop(v, str(exc).splitlines()[0][:500])
                continue
            self.workers.pop(v).close()
            self._spawn(v)

    @property
    def variants(self) -> list[str]:
        return list(self.workers)

    def drop(self, variant: str, reason: str) -> None:
        log(f"{self.sdk}/{variant}: dropped: {reason}")
        self.failed[variant] = reason
        w = self.workers.pop(variant)
        w.close()

    def each(self, cmd: str, order: list[str], **kwargs: Any) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for v in order:
            if v not in self.workers:
                continue
            try:
                out[v] = self.workers[v].call(cmd, **kwargs)
            except RuntimeError as exc:
                self.drop(v, str(exc).splitlines()[0][:500])
        return out

    def telemetry(self) -> dict[str, Any]:
        """Per variant: spans exported and span/metric names, over every process it ran in."""
        out = self.each("telemetry", self.variants)
        for v, docs in self._retired.items():
            if v in out:
                for doc in docs:
                    out[v]["spans"] += doc.get("spans", 0)
                    names = out[v]["span_names"]
                    for name, n in doc.get("span_names", {}).items():
                        names[name] = names.get(name, 0) + n
                    out[v]["metrics"] = sorted({*out[v]["metrics"], *doc.get("metrics", [])})
        return out

    def close(self) -> None:
        for w in self.workers.values():
            w.close()
