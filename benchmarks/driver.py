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
import io
import json
import os
import re
import select
import shutil
import statistics
import subprocess
import sys
import tarfile
import time
from pathlib import Path
from typing import Any, Optional

from benchmarks import client_cpu
from benchmarks._common import (
    BENCH,
    CACHE,
    PEERS,
    RESULTS,
    ROOT,
    SSEScript,
    machine_info,
    rotate,
    summary,
    write_result,
)

PY = sys.executable

# variant -> (label, extra sys.path entries); peers live in isolated dirs (see run.sh)
OPENAI_VARIANTS = ["raw", "streamslo", "openai_v2", "openllmetry"]
ANTHROPIC_VARIANTS = ["raw", "sdk_native", "streamslo", "openllmetry"]
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


# --- processes -----------------------------------------------------------------------------------


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


# --- setup ---------------------------------------------------------------------------------------


def record_scripts(chaos_url: str) -> dict[str, Path]:
    """Record one OpenAI and one Anthropic SSE body from the chaos provider, split for replay."""
    import httpx2

    out: dict[str, Path] = {}
    with httpx2.Client(timeout=30) as c:
        body = c.post(
            chaos_url + "/v1/chat/completions",
            json={
                "model": "bench-model",
                "messages": [{"role": "user", "content": "Write a long answer."}],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
            headers={"x-chaos-tokens": "64"},
        ).content
        path = CACHE / "sse-openai.json"
        SSEScript.split(body, b'"content":"tok').dump(path)
        out["openai"] = path
        body = c.post(
            chaos_url + "/v1/messages",
            json={
                "model": "bench-model",
                "max_tokens": 1_000_000,
                "messages": [{"role": "user", "content": "Write a long answer."}],
                "stream": True,
            },
            headers={"x-chaos-tokens": "64"},
        ).content
        path = CACHE / "sse-anthropic.json"
        SSEScript.split(body, b'"text_delta"').dump(path)
        out["anthropic"] = path
    return out


def export_baseline(ref: str) -> Optional[Path]:
    """``git archive REF otel_streamslo`` into the cache (the 'before' of a hot-path change)."""
    dest = CACHE / f"baseline-{re.sub(r'[^A-Za-z0-9._-]', '_', ref)}"
    if (dest / "otel_streamslo").is_dir():
        return dest
    try:
        data = subprocess.run(
            ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "otel_streamslo"],
            capture_output=True,
            check=True,
        ).stdout
    except subprocess.CalledProcessError as exc:
        log(f"baseline {ref!r} not available: {exc.stderr.decode(errors='replace').strip()}")
        return None
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        tar.extractall(dest)
    return dest


class Fleet:
    """The workers of one SDK (failed variants are kept with their reason)."""

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
            w = WorkerProc(sdk, v, chaos_url, script, paths, sse_url)
            if w.ok:
                self.workers[v] = w
                self.info[v] = w.ready.get("info")
                log(f"{sdk}/{v}: ready (pid {w.ready.get('pid')})")
            else:
                self.failed[v] = str(w.ready.get("error"))
                log(f"{sdk}/{v}: FAILED to instrument: {self.failed[v]}")
                w.close()

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
        return self.each("telemetry", self.variants)

    def close(self) -> None:
        for w in self.workers.values():
            w.close()


# --- suites --------------------------------------------------------------------------------------


def _paired(per_round: dict[str, list[float]], base: str = "raw") -> dict[str, dict[str, Any]]:
    """Per variant: summary of its values, and of its paired difference / ratio against ``base``."""
    out: dict[str, dict[str, Any]] = {}
    ref = per_round.get(base, [])
    for v, vals in per_round.items():
        entry: dict[str, Any] = {"value": summary(vals)}
        if v != base and ref and len(ref) == len(vals):
            diffs = [a - b for a, b in zip(vals, ref)]
            ratios = [a / b for a, b in zip(vals, ref) if b]
            entry["added"] = summary(diffs)
            entry["ratio"] = summary(ratios, 4)
            entry["overhead_pct"] = round((statistics.median(ratios) - 1) * 100, 2)
        out[v] = entry
    return out


def suite_overhead(fleet: Fleet, plan: list[tuple[str, int, int]]) -> dict[str, Any]:
    """µs per chunk: one long stream per variant per round, sync and async, per (mode, chunks, rounds)."""
    results: dict[str, Any] = {}
    for mode, chunks, rounds in plan:
        for api in ("sync", "async"):
            key = f"{mode}/{api}"
            nv = len(fleet.variants)
            log(f"{fleet.sdk} overhead {key}: {rounds} rounds x {nv} variants, {chunks} chunks")
            fleet.each("stream", fleet.variants, mode=mode, api=api, chunks=min(chunks, 2000))  # warm-up
            wall: dict[str, list[float]] = {v: [] for v in fleet.variants}
            cpu: dict[str, list[float]] = {v: [] for v in fleet.variants}
            counts: dict[str, set[int]] = {v: set() for v in fleet.variants}
            for r in range(rounds):
                res = fleet.each("stream", rotate(fleet.variants, r), mode=mode, api=api, chunks=chunks)
                for v, doc in res.items():
                    st = doc["streams"][0]
                    wall[v].append(st["wall_ns"] / st["chunks"] / 1000)
                    cpu[v].append(st["cpu_ns"] / st["chunks"] / 1000)
                    counts[v].add(st["chunks"])
            alive = [v for v in wall if v in fleet.workers and len(wall[v]) == rounds]
            results[key] = {
                "content_chunks_requested": chunks,
                "rounds": rounds,
                "chunks_per_stream": {v: sorted(counts[v]) for v in alive},
                "us_per_chunk_wall": _paired({v: wall[v] for v in alive}),
                "us_per_chunk_cpu": _paired({v: cpu[v] for v in alive}),
            }
    return results


def headline(res: dict[str, Any]) -> dict[str, Any]:
    """Added µs/chunk measured exactly (preparsed) as a share of the real SDK's µs/chunk (in-process, CPU)."""
    out: dict[str, Any] = {}
    for api in ("sync", "async"):
        pre, inp = res.get(f"preparsed/{api}"), res.get(f"inproc/{api}")
        chaos = res.get(f"chaos/{api}")
        if not pre or not inp or "raw" not in inp["us_per_chunk_cpu"]:
            continue
        sdk_us = inp["us_per_chunk_cpu"]["raw"]["value"]["median"]
        rows: dict[str, Any] = {"sdk_us_per_chunk": sdk_us}
        for v, e in pre["us_per_chunk_cpu"].items():
            if v == "raw" or "added" not in e:
                continue
            added = e["added"]["median"]
            row = {
                "added_us_per_chunk": added,
                "added_pct_of_sdk": round(added / sdk_us * 100, 2) if sdk_us else None,
            }
            direct = inp["us_per_chunk_cpu"].get(v, {}).get("added")
            if direct:
                row["inproc_direct_added_us"] = direct
            if chaos and v in chaos["us_per_chunk_wall"] and "added" in chaos["us_per_chunk_wall"][v]:
                row["chaos_wall_added_us"] = chaos["us_per_chunk_wall"][v]["added"]
                row["chaos_wall_overhead_pct"] = chaos["us_per_chunk_wall"][v]["overhead_pct"]
            rows[v] = row
        out[api] = rows
    return out


def suite_ttft(fleet: Fleet, modes: list[str], rounds: int, batch: int) -> dict[str, Any]:
    """create() call to the first content chunk in the app's hands, many short streams.

    Small batches and many rounds: a burst of load from elsewhere lasts longer than one batch, so
    batches of all variants are interleaved finely.
    """
    results: dict[str, Any] = {}
    for mode in modes:
        for api in ("sync", "async"):
            key = f"{mode}/{api}"
            log(f"{fleet.sdk} ttft {key}: {rounds} rounds x {batch} streams")
            fleet.each("ttft", fleet.variants, mode=mode, api=api, count=10)  # warm-up
            all_: dict[str, list[float]] = {v: [] for v in fleet.variants}
            create: dict[str, list[float]] = {v: [] for v in fleet.variants}
            round_medians: dict[str, list[float]] = {v: [] for v in fleet.variants}
            for r in range(rounds):
                res = fleet.each("ttft", rotate(fleet.variants, r), mode=mode, api=api, count=batch)
                for v, doc in res.items():
                    us = [t / 1000 for t in doc["ttft_ns"]]
                    all_[v].extend(us)
                    create[v].extend(t / 1000 for t in doc["create_ns"])
                    round_medians[v].append(statistics.median(us))
            alive = [v for v in all_ if v in fleet.workers]
            med_raw = statistics.median(all_["raw"]) if all_.get("raw") else None
            entry: dict[str, Any] = {}
            paired = _paired({v: round_medians[v] for v in alive})
            for v in alive:
                e: dict[str, Any] = {
                    "ttft_us": summary(all_[v], 1),
                    "create_us": summary(create[v], 1),
                    "round_medians": paired[v],
                }
                if v != "raw" and med_raw is not None:
                    e["added_us_median"] = round(statistics.median(all_[v]) - med_raw, 1)
                entry[v] = e
            results[key] = entry
    return results


def suite_memory(
    fleet: Fleet, long_chunks: int, peer_cap: int, inproc_chunks: int, concurrent: int, traced_streams: int
) -> dict[str, Any]:
    results: dict[str, Any] = {}
    long_: dict[str, Any] = {}
    for v in fleet.variants:
        n = (
            long_chunks
            if v in ("raw", "streamslo", "streamslo_base", "sdk_native")
            else min(long_chunks, peer_cap)
        )
        cps = sorted({c for c in (1_000, 10_000, 100_000, 1_000_000, n) if c <= n})
        log(f"{fleet.sdk}/{v} memory: preparsed stream of {n} chunks (tracemalloc), checkpoints {cps}")
        long_.update(fleet.each("mem_long", [v], mode="preparsed", chunks=n, checkpoints=cps, traced=True))
    results["long_stream_preparsed_traced"] = long_
    cps2 = sorted({c for c in (1_000, 10_000, 50_000, 100_000, inproc_chunks) if c <= inproc_chunks})
    log(f"{fleet.sdk} memory: real-SDK in-process stream of {inproc_chunks} chunks (RSS), checkpoints {cps2}")
    results["long_stream_inproc_rss"] = fleet.each(
        "mem_long", fleet.variants, mode="inproc", chunks=inproc_chunks, checkpoints=cps2, traced=False
    )
    log(f"{fleet.sdk} memory: {concurrent} concurrent async streams (RSS), {traced_streams} (tracemalloc)")
    rss = fleet.each("mem_concurrent", fleet.variants, streams=concurrent, traced=False)
    traced = fleet.each("mem_concurrent", fleet.variants, streams=traced_streams, traced=True)
    conc: dict[str, Any] = {}
    raw_t = traced.get("raw", {}).get("traced_per_stream")
    raw_r = rss.get("raw", {}).get("rss_per_stream")
    for v in fleet.variants:
        if v not in traced or v not in rss:
            continue
        e = {
            "traced_bytes_per_stream": round(traced[v]["traced_per_stream"]),
            "rss_bytes_per_stream": round(rss[v]["rss_per_stream"]),
            "traced_after_close_per_stream": round(traced[v]["traced_after_close"] / traced_streams),
            "open_s": rss[v]["open_s"],
        }
        if v != "raw" and raw_t is not None and raw_r is not None:
            e["added_traced_bytes_per_stream"] = round(traced[v]["traced_per_stream"] - raw_t)
            e["added_rss_bytes_per_stream"] = round(rss[v]["rss_per_stream"] - raw_r)
        conc[v] = e
    results["concurrent_async_streams"] = {
        "rss_streams": concurrent,
        "traced_streams": traced_streams,
        "variants": conc,
    }
    return results


# --- report --------------------------------------------------------------------------------------


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


def _load(suite: str) -> Optional[dict[str, Any]]:
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
        doc = _load(suite)
        if doc:
            rows += build(doc)
    lines = [
        "| measure | " + " | ".join(names[v] for v in VARIANTS) + " |",
        "|---|" + "---:|" * len(VARIANTS),
    ]
    for label, cells in rows:
        lines.append(f"| {label} | " + " | ".join(cells.get(v, "n/a") for v in VARIANTS) + " |")
    co = _load("collector")
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


def peer_install_status() -> dict[str, str]:
    """What run.sh could install (``.peers/<name>.failed`` holds pip's output when it could not)."""
    out: dict[str, str] = {}
    for name in ("openai_v2", "openllmetry", "anthropic_openllmetry"):
        failed = PEERS / f"{name}.failed"
        if failed.exists():
            out[name] = "install failed: " + failed.read_text()[-600:]
        elif (PEERS / name).is_dir():
            out[name] = "installed: " + (
                (PEERS / name / ".ok").read_text().strip() if (PEERS / name / ".ok").exists() else "?"
            )
        else:
            out[name] = "not installed"
    return out


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
        "telemetry": "TracerProvider + BatchSpanProcessor(no-op counting exporter), "
        "MeterProvider + InMemoryMetricReader; content capture off in every variant",
    }
    try:
        for sdk in ("openai", "anthropic"):
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
        "client_cpu" + ("_quick" if quick else ""),
        config,
        results,
        [client_cpu.__doc__ or ""],
    )
    load = (mi["loadavg"] or [0.0])[0]
    return [*client_cpu.section(results, f"{load:.2f}"), ""]


# --- main ----------------------------------------------------------------------------------------


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer rounds and shorter streams (~3 min)")
    p.add_argument("--suites", default="client_cpu,overhead,ttft,memory,anthropic,collector")
    p.add_argument("--rounds", type=int, default=None, help="interleaved rounds (default 7, quick 3)")
    p.add_argument("--baseline", default=None, help="also measure otel_streamslo as of this git ref")
    p.add_argument("--streams", type=int, default=None, help="client_cpu: streams per round (5, quick 3)")
    args = p.parse_args(argv)
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
    peers = peer_install_status()
    baseline = export_baseline(args.baseline) if args.baseline else None
    chaos = Chaos()
    log(f"chaos provider at {chaos.url}")
    notes = [
        "raw = no instrumentation; streamslo = this repository's otel_streamslo; peers as installed by "
        "run.sh into isolated dirs under benchmarks/.peers (never into the venv, so they cannot leak into "
        "the tests' zero-code runs)",
        "chaos: the real SDK over loopback to the chaos provider in another process; inproc: the real SDK "
        "parsing recorded SSE bytes from an in-process httpx2 transport; preparsed: the SDK's Stream classes "
        "yield chunk objects parsed beforehand, so only iteration and the instrumentation remain "
        "(exact added cost per chunk)",
    ]
    fleets: list[Fleet] = []
    try:
        scripts = record_scripts(chaos.url)
        if "client_cpu" in suites:
            summary_lines += run_client_cpu(scripts, chaos.url, baseline, quick, args, mi)
        sdks = []
        if suites & {"overhead", "ttft", "memory"}:
            sdks.append("openai")
        if "anthropic" in suites:
            if (ROOT / "otel_streamslo" / "instrumentation" / "anthropic").is_dir():
                sdks.append("anthropic")
            else:
                log("otel_streamslo/instrumentation/anthropic does not exist: anthropic suite skipped")
        for sdk in sdks:
            variants = list(OPENAI_VARIANTS if sdk == "openai" else ANTHROPIC_VARIANTS)
            if baseline is not None and sdk == "openai":  # the baseline's anthropic module may differ
                variants.insert(variants.index("streamslo") + 1, "streamslo_base")
            fleet = Fleet(sdk, variants, chaos.url, scripts[sdk], baseline)
            fleets.append(fleet)
            config: dict[str, Any] = {
                "rounds": rounds,
                "quick": quick,
                "variants": fleet.variants,
                "variant_info": fleet.info,
                "failed_variants": fleet.failed,
                "peer_install": peers,
                "baseline_ref": args.baseline,
                "telemetry": "TracerProvider + BatchSpanProcessor(no-op counting exporter), "
                "MeterProvider + InMemoryMetricReader; content capture off in every variant",
            }
            if sdk == "openai":
                if "overhead" in suites:
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
                        notes,
                    )
                    summary_lines += ["### OpenAI: per-chunk overhead", ""]
                    summary_lines += headline_table(head, fleet.failed, "openai")
                    summary_lines += ["", "<details><summary>all modes</summary>", ""]
                    summary_lines += overhead_table(res, "openai")
                    summary_lines += ["", "</details>", ""]
                if "ttft" in suites:
                    res = suite_ttft(fleet, ["chaos", "inproc"], 4 * rounds, 6 if quick else 15)
                    write_result(
                        "ttft_openai", config, {"by_mode": res, "failed_variants": fleet.failed}, notes
                    )
                    summary_lines += [
                        "### OpenAI: time-to-first-token overhead (create() to first content chunk)",
                        "",
                    ]
                    summary_lines += ttft_table(res, "openai")
                    summary_lines.append("")
                if "memory" in suites:
                    res = suite_memory(
                        fleet,
                        long_chunks=200_000 if quick else 1_000_000,
                        peer_cap=100_000,
                        inproc_chunks=20_000 if quick else 50_000,
                        concurrent=2_000 if quick else 10_000,
                        traced_streams=500 if quick else 1_000,
                    )
                    write_result("memory_openai", config, {**res, "failed_variants": fleet.failed}, notes)
                    summary_lines += ["### OpenAI: memory", ""]
                    summary_lines += memory_table(res, "openai")
                    summary_lines.append("")
            else:
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
                write_result(
                    "overhead_anthropic",
                    {**config, "rounds": a_rounds, "plan": plan},
                    {
                        "headline": head,
                        "by_mode": res,
                        "ttft": ttft,
                        "memory": mem,
                        "telemetry": tel,
                        "failed_variants": fleet.failed,
                    },
                    [
                        *notes,
                        "sdk_native = the anthropic SDK's own tracing to the global tracer provider, "
                        "no instrumentor; streamslo and openllmetry run with the same global provider, "
                        "so they include it "
                        "(streamslo enriches the SDK's span: its own share is streamslo minus sdk_native)",
                    ],
                )
                summary_lines += ["### Anthropic: per-chunk overhead", ""]
                summary_lines += headline_table(head, fleet.failed, "anthropic")
                summary_lines += ["", "<details><summary>all modes</summary>", ""]
                summary_lines += overhead_table(res, "anthropic")
                summary_lines += ["", "</details>", "", "### Anthropic: TTFT overhead", ""]
                summary_lines += ttft_table(ttft, "anthropic")
                summary_lines += ["", "### Anthropic: memory", ""]
                summary_lines += memory_table(mem, "anthropic")
                summary_lines.append("")
            fleet.close()
    finally:
        for f in fleets:
            f.close()
        chaos.stop()

    if "collector" in suites:
        from benchmarks import collector_load

        summary_lines += collector_load.run_suite(quick=quick)

    took = f"_Run took {time.monotonic() - t_start:.0f} s._"
    cc = _load("client_cpu")
    compact = [*([*client_cpu.compact(cc), ""] if cc else []), *compact_table()]
    md = "\n".join([*summary_lines[:2], "### Summary", "", *compact, "", *summary_lines[2:], took]) + "\n"
    RESULTS.mkdir(parents=True, exist_ok=True)
    full = suites >= {"client_cpu", "overhead", "ttft", "memory", "anthropic", "collector"}
    # a partial run must not overwrite the full run's SUMMARY.md
    name = "SUMMARY-quick.md" if quick else "SUMMARY.md" if full else f"SUMMARY-{'-'.join(sorted(suites))}.md"
    (RESULTS / name).write_text(md)
    if not quick and full:
        short = [
            summary_lines[0],
            "",
            *compact,
            "",
            "Every mode, peer and percentile: [results/SUMMARY.md](results/SUMMARY.md); raw numbers with "
            "machine and versions: `results/*.json`. " + took,
        ]
        update_readme("\n".join(short) + "\n")
    print(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
