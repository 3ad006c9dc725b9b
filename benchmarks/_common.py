"""Shared helpers of the benchmarks: statistics, paired client-CPU rounds, machine and version info,
results files, SSE replay."""

from __future__ import annotations

import argparse
import base64
import datetime as _dt
import gc
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any, Optional

import httpx2

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "benchmarks"
RESULTS = BENCH / "results"
CACHE = BENCH / ".cache"
PEERS = BENCH / ".peers"

# --- statistics -----------------------------------------------------------------------------------


def summary(values: Sequence[float], digits: int = 3) -> dict[str, Any]:
    """Median, quartiles, min, max and count of ``values`` (rounded)."""
    vals = sorted(float(v) for v in values)
    if not vals:
        return {"n": 0}
    if len(vals) >= 2:
        q1, _, q3 = statistics.quantiles(vals, n=4, method="inclusive")
    else:
        q1 = q3 = vals[0]
    return {
        "median": round(statistics.median(vals), digits),
        "p25": round(q1, digits),
        "p75": round(q3, digits),
        "min": round(vals[0], digits),
        "max": round(vals[-1], digits),
        "n": len(vals),
    }


def rotate(items: Sequence[str], k: int) -> list[str]:
    """``items`` rotated by ``k`` (so every variant takes every position across rounds)."""
    if not items:
        return []
    k %= len(items)
    return list(items[k:]) + list(items[:k])


# --- paired client-CPU rounds (client_cpu_gemini / _bedrock / _litellm) ----------------------------

VARIANTS = ("raw", "streamslo")
#: One measured pass: (CPU ns of this process, chunks delivered).
Pass = Callable[[], tuple[int, int]]


def cpu_of_streams(
    streams: int, open_stream: Callable[[], Iterable[Any]], settle: Optional[Callable[[], None]] = None
) -> tuple[int, int]:
    """``process_time_ns`` spent opening and reading ``streams`` streams, and the chunks they gave.

    ``settle()`` runs inside the timing: it waits for background work the streams left (an SDK's
    logging threads), so that CPU counts in this pass and not in the next variant's.
    """
    chunks = 0
    started = time.process_time_ns()
    for _ in range(streams):
        for _chunk in open_stream():
            chunks += 1
    if settle is not None:
        settle()
    return time.process_time_ns() - started, chunks


async def acpu_of_streams(
    streams: int,
    open_stream: Callable[[], Awaitable[Any]],
    settle: Optional[Callable[[], Awaitable[None]]] = None,
) -> tuple[int, int]:
    """:func:`cpu_of_streams` for async streams (``await open_stream()`` gives an async iterable)."""
    chunks = 0
    started = time.process_time_ns()
    for _ in range(streams):
        async for _chunk in await open_stream():
            chunks += 1
    if settle is not None:
        await settle()
    return time.process_time_ns() - started, chunks


def paired_cpu_rounds(rounds: int, instrumentor: Callable[[], Any], run_pass: Pass) -> dict[str, Any]:
    """``raw`` and ``streamslo`` passes alternating in every round (order rotating), paired per round.

    ``streamslo`` is ``instrumentor()`` instrumented on an in-memory pipeline (synchronous span
    processor and exporter, in-memory metric reader) for its pass only; a collection runs before every
    pass, and the heap after the warm-up round is frozen (``gc.freeze()``). Returns µs per chunk of each
    variant, the paired added µs per chunk and ratio, as median / quartiles / range.
    """
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    per_chunk: dict[str, list[float]] = {v: [] for v in VARIANTS}
    diffs, ratios = [], []
    for r in range(-1, rounds):  # round -1 warms both variants up, unrecorded
        got = {}
        for variant in rotate(VARIANTS, r):
            inst = instrumentor()
            if variant == "streamslo":
                inst.instrument(tracer_provider=tp, meter_provider=mp)
            gc.collect()
            try:
                cpu, chunks = run_pass()
            finally:
                if variant == "streamslo":
                    inst.uninstrument()
            if variant == "streamslo" and not exporter.get_finished_spans():
                raise RuntimeError(f"{type(inst).__name__} recorded no span: nothing was measured")
            got[variant] = cpu / chunks / 1000.0
        exporter.clear()
        if r < 0:  # warm: what is loaded now stays, out of the collector's way (a full pass over
            gc.collect()  # litellm's module graph costs ~0.2 s, and would land in a random pass)
            gc.freeze()
            continue
        for variant, value in got.items():
            per_chunk[variant].append(value)
        diffs.append(got["streamslo"] - got["raw"])
        ratios.append(got["streamslo"] / got["raw"])
    return {
        "us_per_chunk": {v: summary(vals) for v, vals in per_chunk.items()},
        "added_us_per_chunk": summary(diffs),
        "ratio": summary(ratios),
    }


def cpu_parser(doc: str, rounds: int = 15, streams: int = 4, tokens: int = 200) -> argparse.ArgumentParser:
    """The command line of the paired client-CPU benchmarks (``--rounds --streams --tokens``)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=rounds)
    parser.add_argument("--streams", type=int, default=streams, help="streams per pass")
    parser.add_argument("--tokens", type=int, default=tokens, help="content chunks per stream")
    return parser


def report_pairs(suite: str, args: argparse.Namespace, results: dict[str, dict[str, Any]]) -> None:
    """Print one line per mode; with ``STREAMSLO_RECORD_RESULTS=1`` write ``results/<suite>.json``."""
    for name, res in results.items():
        raw, ours = res["us_per_chunk"]["raw"]["median"], res["us_per_chunk"]["streamslo"]["median"]
        added, ratio = res["added_us_per_chunk"], res["ratio"]
        print(
            f"{name:16s} raw {raw:8.1f} µs/chunk  streamslo {ours:8.1f} µs/chunk  added "
            f"{added['median']:+.1f} µs (p25 {added['p25']:+.1f}, p75 {added['p75']:+.1f})  "
            f"ratio {ratio['median']:.3f} (p25 {ratio['p25']:.3f}, p75 {ratio['p75']:.3f})",
            flush=True,
        )
    if os.environ.get("STREAMSLO_RECORD_RESULTS") == "1":
        command = " ".join(["python -m benchmarks." + suite, *sys.argv[1:]])
        write_result(suite, vars(args), results, command=command)


# --- machine, versions, results files ------------------------------------------------------------


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _mem_total_gib() -> Optional[float]:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return None


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on (load average included: other work shares the cores)."""
    try:
        load: Optional[tuple[float, float, float]] = os.getloadavg()
    except OSError:
        load = None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "mem_gib": _mem_total_gib(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "loadavg": load,
    }


def _version(dist: str, path: Optional[Path] = None) -> Optional[str]:
    try:
        if path is not None:
            for d in metadata.distributions(path=[str(path)]):
                if d.metadata["Name"].lower().replace("_", "-") == dist:
                    return d.version
            return None
        return metadata.version(dist)
    except Exception:
        return None


def versions() -> dict[str, Any]:
    """Versions of the measured packages (peers from their isolated install dirs)."""
    out: dict[str, Any] = {}
    for dist in (
        "otel-streamslo",
        "openai",
        "anthropic",
        "httpx2",
        "pydantic",
        "opentelemetry-api",
        "opentelemetry-sdk",
        "opentelemetry-instrumentation",
        "wrapt",
    ):
        out[dist] = _version(dist)
    for peer_dir, dists in PEER_DISTS.items():
        for dist in dists:
            out[f"{dist} ({peer_dir})"] = _version(dist, PEERS / peer_dir)
    out["git"] = git_describe()
    return out


# peer install dir -> distributions installed there (see run.sh)
PEER_DISTS: dict[str, tuple[str, ...]] = {
    "openai_v2": ("opentelemetry-instrumentation-openai-v2", "opentelemetry-util-genai"),
    "openllmetry": ("opentelemetry-instrumentation-openai", "opentelemetry-semantic-conventions-ai"),
    "anthropic_openllmetry": (
        "opentelemetry-instrumentation-anthropic",
        "opentelemetry-semantic-conventions-ai",
    ),
}


def git_describe() -> str:
    """``<short sha>`` plus ``-dirty`` when the work tree has changes in the package."""
    try:
        sha = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "--", "otel_streamslo"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return sha + ("-dirty" if dirty else "")
    except Exception:
        return "unknown"


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()


def write_result(
    suite: str,
    config: dict[str, Any],
    results: Any,
    notes: Iterable[str] = (),
    command: Optional[str] = None,
) -> Path:
    """Write ``results/<suite>.json``: machine info, versions, date, the command (run.sh's by default)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{suite}.json"
    doc = {
        "suite": suite,
        "date": now_iso(),
        "command": command or "bash benchmarks/run.sh " + " ".join(sys.argv[1:]),
        "machine": machine_info(),
        "versions": versions(),
        "config": config,
        "notes": list(notes),
        "results": results,
    }
    path.write_text(json.dumps(doc, indent=2, sort_keys=False) + "\n")
    return path


# --- SSE replay (in-process transport: the real SDK parses real bytes, no socket) ----------------


@dataclass(frozen=True)
class SSEScript:
    """A recorded SSE body split into prelude, content events (cycled) and tail."""

    prelude: tuple[bytes, ...]
    content: tuple[bytes, ...]
    tail: tuple[bytes, ...]
    content_type: str = "text/event-stream; charset=utf-8"

    def events(self, n: int) -> Iterator[bytes]:
        """The body of a stream with ``n`` content events, one SSE event per item."""
        yield from self.prelude
        yield from itertools.islice(itertools.cycle(self.content), n)
        yield from self.tail

    @classmethod
    def split(cls, body: bytes, marker: bytes) -> SSEScript:
        events = [e + b"\n\n" for e in body.split(b"\n\n") if e.strip()]
        idx = [i for i, e in enumerate(events) if marker in e]
        if not idx:
            raise ValueError(f"no content event with {marker!r} in the recorded body")
        first, last = idx[0], idx[-1]
        return cls(tuple(events[:first]), tuple(events[first : last + 1]), tuple(events[last + 1 :]))

    def dump(self, path: Path) -> None:
        def enc(items: tuple[bytes, ...]) -> list[str]:
            return [base64.b64encode(b).decode() for b in items]

        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(
            json.dumps({"prelude": enc(self.prelude), "content": enc(self.content), "tail": enc(self.tail)})
        )

    @classmethod
    def load(cls, path: Path) -> SSEScript:
        doc = json.loads(path.read_text())

        def dec(items: list[str]) -> tuple[bytes, ...]:
            return tuple(base64.b64decode(s) for s in items)

        return cls(dec(doc["prelude"]), dec(doc["content"]), dec(doc["tail"]))


class _SyncBody(httpx2.SyncByteStream):
    def __init__(self, events: Iterator[bytes]) -> None:
        self._events = events

    def __iter__(self) -> Iterator[bytes]:
        return self._events


class _AsyncBody(httpx2.AsyncByteStream):
    def __init__(self, events: Iterator[bytes]) -> None:
        self._events = events

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for event in self._events:
            yield event


class ReplayTransport(httpx2.BaseTransport, httpx2.AsyncBaseTransport):
    """Answers every request with the script's SSE body; ``x-chaos-tokens`` sets the content count."""

    def __init__(self, script: SSEScript, default_tokens: int = 16) -> None:
        self.script = script
        self.default_tokens = default_tokens

    def _headers(self) -> dict[str, str]:
        return {"content-type": self.script.content_type, "x-request-id": "req_replay"}

    def _tokens(self, request: httpx2.Request) -> int:
        raw = request.headers.get("x-chaos-tokens")
        return int(raw) if raw else self.default_tokens

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        request.read()
        events = self.script.events(self._tokens(request))
        return httpx2.Response(200, headers=self._headers(), stream=_SyncBody(events), request=request)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        await request.aread()
        events = self.script.events(self._tokens(request))
        return httpx2.Response(200, headers=self._headers(), stream=_AsyncBody(events), request=request)
