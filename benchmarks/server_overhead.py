"""Server side: CPU added per body message by ``StreamSLOMiddleware``, and memory per open response.

CPU over uvicorn: each variant is its own server process (real uvicorn, h11, serving a Starlette
SSE endpoint on 127.0.0.1, pinned to one core), so no variant's garbage, caches or threads land in
another's figures; a client process (stdlib ``http.client``, on the other core) reads them one
response at a time, interleaved variant by variant with a rotating order, in several generations of
fresh processes (process layout, ``benchmarks._layout``, biases one process by up to a few hundred
ns per event). The measure is the server process's CPU time per response, user and kernel, read
from the scheduler (``/proc/<pid>/task/*/schedstat``) between consecutive requests to it: the
connection, the request, the app, every h11 write and socket send, the work after the last byte.
Nothing is added to the server but the variant itself. Variants:

* ``plain``: the app alone (the baseline: an uninstrumented Starlette SSE response);
* ``passthrough``: under a Python middleware that only wraps ``send`` (the floor under any
  middleware that watches the body);
* ``streamslo``: under ``StreamSLOMiddleware`` (no server span current: ours is created), with its C
  hot path (``otel_streamslo/server/_speedups.c``, built at install);
* ``streamslo-py``: the same on its pure-Python fallback (``OTEL_STREAMSLO_PURE_PYTHON=1``);
* ``contrib``: under contrib's ``OpenTelemetryMiddleware`` (one ``http send`` span per event);
* ``contrib+streamslo``: both, ours inside (enriching contrib's span).

In-process (no socket noise): the variants called with a no-op ``send``. The per-response part is
our server span and the ``streamslo.responses`` point.

Both run at ``--events`` and ``--events // 10`` per response, so each pair's added cost splits into
a per-body-message part (the slope between the two lengths, per round) and a per-response part.
Headline (goal: at most 2% of the plain Starlette SSE event's CPU over uvicorn): the per-body-message
cost over uvicorn against the plain event, the mean over process generations with its t interval;
in-process as the lower bound; ``--instructions`` adds the uvicorn pair counted in instructions
under valgrind.

Memory: N responses held open mid-stream in one event loop (in-process ASGI calls), tracemalloc's
current size with the middleware minus without, per response.

Run: ``.venv/bin/python -m benchmarks.server_overhead [--contrib] [--instructions]`` (about 4 min; 11
with both); writes ``benchmarks/results/server_overhead.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

VARIANTS = ("plain", "streamslo", "contrib", "contrib+streamslo")
PAIRS = (("streamslo", "plain"), ("contrib+streamslo", "contrib"))
UVICORN_VARIANTS = ("plain", "passthrough", "streamslo", "streamslo-py")
UVICORN_PAIRS = (("streamslo", "plain"), ("streamslo-py", "plain"), ("passthrough", "plain"))
CONTRIB_VARIANTS = ("contrib", "contrib+streamslo")  # over uvicorn with --contrib (6x the CPU per event)
CONTRIB_PAIRS = (("contrib+streamslo", "contrib"),)
RESULTS = Path(__file__).parent / "results" / "server_overhead.json"


class CpuProbe:
    """Outermost ASGI wrapper: server-thread CPU time of each response (it does not wrap ``send``)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.samples: list[int] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.thread_time_ns()
        await self.app(scope, receive, send)
        self.samples.append(time.thread_time_ns() - t0)


def sse_app(events: int) -> Any:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    line = 'data: {"choices":[{"delta":{"content":"tok "}}]}\n\n'

    async def chat(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[str]:
            for _ in range(events):
                yield line

        return StreamingResponse(body(), media_type="text/event-stream")

    return Starlette(routes=[Route("/chat", chat)])


def providers() -> tuple[Any, Any, Any]:
    """An in-memory SDK pipeline: (span exporter, tracer provider, meter provider)."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    return exporter, tp, MeterProvider(metric_readers=[InMemoryMetricReader()])


class PassThrough:
    """The least a pure ASGI middleware that sees every body message can do: wrap ``send``, call it.

    The ``passthrough`` variant of ``--instructions``: the floor under any send-watching middleware.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        def on_send(message: Any) -> Any:
            return send(message)

        await self.app(scope, receive, on_send)


def build(variant: str, events: int, tp: Any, mp: Any) -> CpuProbe:
    from opentelemetry.instrumentation.asgi import OpenTelemetryMiddleware

    from otel_streamslo.server import StreamSLOMiddleware

    app: Any = sse_app(events)
    if "streamslo" in variant:
        app = StreamSLOMiddleware(app, tracer_provider=tp, meter_provider=mp, innermost=True)
    if "contrib" in variant:
        app = OpenTelemetryMiddleware(app, tracer_provider=tp, meter_provider=mp)
    if variant == "passthrough":
        app = PassThrough(app)
    return CpuProbe(app)


class Served:
    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        cfg = uvicorn.Config(app, http="h11", lifespan="off", log_config=None, access_log=False)
        self.server = uvicorn.Server(cfg)
        self.thread = threading.Thread(
            target=lambda: asyncio.run(self.server.serve(sockets=[self.sock])), daemon=True
        )
        self.thread.start()
        while not self.server.started:
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


# The client runs in its own process (stdlib only): the server process does nothing but serve.
CLIENT = """
import http.client, os, sys
if len(sys.argv) > 1:
    os.sched_setaffinity(0, {int(sys.argv[1])})
for line in sys.stdin:
    port, path = line.split()
    conn = http.client.HTTPConnection("127.0.0.1", int(port), timeout=30)
    conn.request("GET", path)
    print(conn.getresponse().read().count(b"data:"), flush=True)
    conn.close()
"""


def decompose(
    total: dict[tuple[str, int], list[int]],
    events: int,
    short: int,
    variants: tuple[str, ...] = VARIANTS,
    pairs: tuple[tuple[str, str], ...] = PAIRS,
) -> dict[str, Any]:
    """Per-event medians at ``events``, and each pair's added cost: per event, per body message
    (the slope between the two lengths, per round) and per response (the rest of the short one).
    The slope's 95% interval is that of its median over rounds (bootstrap)."""
    per_event = {v: [ns / events for ns in total[(v, events)]] for v in variants}
    out: dict[str, Any] = {
        "events_per_response": [events, short],
        "per_event_ns": {v: statistics.median(per_event[v]) for v in variants},
        "per_response_us": {
            v: {str(n): statistics.median(total[(v, n)]) / 1000 for n in (events, short)} for v in variants
        },
        f"ratio_at_{short}_events": {},
        "added_ns_per_event": {},
        "ratio": {},
        "added_ns_per_body_message": {},
        "added_ns_per_body_message_ci95": {},
        "added_us_per_response": {},
    }
    for v, base in pairs:
        key = f"{v} vs {base}"
        long_added = [a - b for a, b in zip(total[(v, events)], total[(base, events)])]
        short_added = [a - b for a, b in zip(total[(v, short)], total[(base, short)])]
        slopes = [(la - sa) / (events - short) for la, sa in zip(long_added, short_added)]
        out["added_ns_per_event"][key] = statistics.median(la / events for la in long_added)
        out["ratio"][key] = statistics.median(a / b for a, b in zip(per_event[v], per_event[base]))
        out[f"ratio_at_{short}_events"][key] = statistics.median(
            a / b for a, b in zip(total[(v, short)], total[(base, short)])
        )
        out["added_ns_per_body_message"][key] = statistics.median(slopes)
        out["added_ns_per_body_message_ci95"][key] = median_ci(slopes)
        out["added_us_per_response"][key] = statistics.median(
            (sa - slope * short) / 1000 for sa, slope in zip(short_added, slopes)
        )
    return out


def median_ci(xs: list[float], resamples: int = 2000, seed: int = 14) -> list[float]:
    """95% bootstrap interval of the median of ``xs`` (seeded: the same samples, the same interval)."""
    import random

    rng = random.Random(seed)
    meds = sorted(statistics.median(rng.choices(xs, k=len(xs))) for _ in range(resamples))
    return [meds[int(0.025 * resamples)], meds[int(0.975 * resamples) - 1]]


def _cores() -> tuple[int, int] | None:
    """(server core, client core) when this process may run on two, else None (no pinning)."""
    allowed = sorted(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else []
    return (allowed[-1], allowed[0]) if len(allowed) >= 2 else None


def select_hot_path(variant: str) -> str:
    """``<v>-py`` is ``<v>`` on the pure-Python hot path (set before otel_streamslo is imported, as
    without a compiler); returns ``<v>``."""
    if variant.endswith("-py"):
        os.environ["OTEL_STREAMSLO_PURE_PYTHON"] = "1"
        return variant[: -len("-py")]
    return variant


def serve(variant: str, events: int, short: int, seed: int, core: int | None) -> None:
    """One variant's server process: uvicorn on a free port (printed), ``/chat?n=<events|short>``."""
    from benchmarks._layout import perturb_layout

    perturb_layout(seed)  # before uvicorn, Starlette and OpenTelemetry are imported
    import uvicorn

    if core is not None:
        os.sched_setaffinity(0, {core})
    variant = select_hot_path(variant)
    _, tp, mp = providers()
    apps = {f"n={n}".encode(): build(variant, n, tp, mp).app for n in (events, short)}

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await apps[scope["query_string"]](scope, receive, send)

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    print(sock.getsockname()[1], flush=True)
    cfg = uvicorn.Config(app, http="h11", lifespan="off", log_config=None, access_log=False)
    uvicorn.Server(cfg).run(sockets=[sock])


def process_cpu_ns(pid: int) -> int:
    """CPU time (user + system, ns) of all threads of ``pid`` so far, once every one is asleep.

    From the scheduler's ``/proc/<pid>/task/*/schedstat`` (ns resolution; ``/proc/<pid>/stat``
    counts 10 ms ticks). A running thread's figure is only brought up to date at the next tick or
    switch, so this first waits until no thread of ``pid`` is running (the server is back in
    ``epoll_wait``, done with the last response, its work after the last byte included)."""
    tasks = list(Path(f"/proc/{pid}/task").iterdir())
    deadline = time.monotonic() + 5
    while any((t / "stat").read_text().rsplit(")", 1)[1].split()[0] == "R" for t in tasks):
        if time.monotonic() > deadline:
            raise AssertionError(f"server {pid} still running after 5 s")
        time.sleep(0.0001)
    return sum(int((t / "schedstat").read_text().split()[0]) for t in tasks)


def _generation(
    variants: tuple[str, ...], rounds: int, events: int, short: int, seed: int, warmup: int, block: int
) -> dict[tuple[str, int], list[int]]:
    """One server process per variant (layout ``seed``), ``rounds`` interleaved rounds of ``block``
    responses per (variant, length) in a row (a busy server serves request after request; one
    response between seven others' on the same core runs with cold caches): the CPU time each
    response cost its server process, per (variant, length).

    A response's cost is the process's CPU time from just before its request to just before the
    next request to the same process (other variants' responses in between): everything it did
    for that response is in it (accepting the connection, parsing the request, the app, every
    write, the work after the last byte), none of another's, since each process serves one
    request at a time and idles between them (uvicorn's 10 Hz tick, the same in every variant)."""
    cores = _cores()
    core_args = [str(cores[0])] if cores else []
    serve_cmd = [sys.executable, "-m", "benchmarks.server_overhead", "--serve"]
    servers = {
        v: subprocess.Popen(
            [*serve_cmd, v, str(events), str(short), str(seed), *core_args], stdout=subprocess.PIPE
        )
        for v in variants
    }
    client_args = [str(cores[1])] if cores else []
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT, *client_args], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert client.stdin is not None and client.stdout is not None
    stdin, stdout = client.stdin, client.stdout
    try:
        ports = {v: int(proc.stdout.readline()) for v, proc in servers.items() if proc.stdout is not None}
        runs = [(v, n) for v in variants for n in (events, short)]
        total: dict[tuple[str, int], list[int]] = {run: [] for run in runs}
        pending: dict[str, tuple[tuple[str, int], int] | None] = dict.fromkeys(variants)

        def get(run: tuple[str, int], counted: bool) -> None:
            v = run[0]
            now = process_cpu_ns(servers[v].pid)
            last = pending[v]
            if last is not None:
                total[last[0]].append(now - last[1])
            pending[v] = (run, now) if counted else None
            stdin.write(f"{ports[v]} /chat?n={run[1]}\n")
            stdin.flush()
            assert int(stdout.readline()) == run[1]

        for _ in range(warmup):
            for run in runs:
                get(run, counted=False)
        for r in range(rounds):
            for run in runs[r % len(runs) :] + runs[: r % len(runs)]:
                for _ in range(block):
                    get(run, counted=True)
        time.sleep(0.05)  # the last responses' work after their last byte
        for v, last in pending.items():
            if last is not None:
                total[last[0]].append(process_cpu_ns(servers[v].pid) - last[1])
        assert all(len(xs) == rounds * block for xs in total.values()), {k: len(x) for k, x in total.items()}
        return total
    finally:
        stdin.close()
        client.wait(30)
        for proc in servers.values():
            proc.terminate()
        for proc in servers.values():
            proc.wait(30)


# Student's t, 97.5% quantile, by degrees of freedom (beyond 11: the normal's 1.96).
T975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26, 10: 2.23, 11: 2.20}


def mean_ci(xs: list[float]) -> list[float]:
    """Mean of ``xs`` +- Student's t 95% half-width (xs: one value per process generation)."""
    from statistics import NormalDist

    n = len(xs)
    factor = T975.get(n - 1, NormalDist().inv_cdf(0.975))
    half = factor * statistics.stdev(xs) / n**0.5 if n > 1 else float("nan")
    mean = statistics.mean(xs)
    return [mean - half, mean + half]


def cpu(
    rounds: int,
    events: int,
    generations: int = 12,
    block: int = 5,
    warmup: int = 5,
    variants: tuple[str, ...] = UVICORN_VARIANTS,
    pairs: tuple[tuple[str, str], ...] = UVICORN_PAIRS,
) -> dict[str, Any]:
    """Every uvicorn variant, each in its own server process, at ``events`` and ``events // 10`` per
    response, interleaved; in ``generations`` fresh sets of processes (each a new layout, see
    ``benchmarks._layout``: one layout alone biases a variant by up to a few hundred ns per event),
    ``rounds // generations`` rounds each, the first ``warmup`` responses of each process not counted.

    The medians and their bootstrap intervals pool every round; ``by_generation`` holds each
    generation's median slope, and its mean with a t interval over generations is the figure that
    accounts for the layout (the headline)."""
    short = max(1, events // 10)
    per_gen = max(1, rounds // generations)
    pooled: dict[tuple[str, int], list[int]] = {(v, n): [] for v in variants for n in (events, short)}
    slopes: dict[str, list[float]] = {f"{v} vs {b}": [] for v, b in pairs}
    for g in range(generations):
        total = _generation(variants, per_gen, events, short, seed=g, warmup=warmup, block=block)
        for run, xs in total.items():
            pooled[run].extend(xs)
        one = decompose(total, events, short, variants, pairs)
        for key in slopes:
            slopes[key].append(one["added_ns_per_body_message"][key])
    out = decompose(pooled, events, short, variants, pairs)
    out["rounds"] = per_gen * generations
    out["responses_in_a_row"] = block
    out["generations"] = generations
    out["by_generation"] = {
        key: {"added_ns_per_body_message": xs, "mean": statistics.mean(xs), "ci95": mean_ci(xs)}
        for key, xs in slopes.items()
    }
    cores = _cores()
    out["pinned_cores_server_client"] = list(cores) if cores else None
    return out


async def _hold_open(n: int, with_mw: bool, tp: Any, mp: Any) -> int:
    """tracemalloc bytes while ``n`` responses are open mid-stream."""
    from otel_streamslo.server import StreamSLOMiddleware

    gate = asyncio.Event()
    started = 0

    async def app(scope: Any, receive: Any, send: Any) -> None:
        nonlocal started
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", SSE)]})
        await send({"type": "http.response.body", "body": b"data: 1\n\n", "more_body": True})
        started += 1
        await gate.wait()
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    asgi: Any = (
        StreamSLOMiddleware(app, tracer_provider=tp, meter_provider=mp, innermost=True) if with_mw else app
    )

    async def receive() -> Any:
        await gate.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        return None

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tasks = [asyncio.create_task(asgi(dict(SCOPE), receive, send)) for _ in range(n)]
    while started < n:
        await asyncio.sleep(0.001)
    held = tracemalloc.get_traced_memory()[0] - base
    gate.set()
    await asyncio.gather(*tasks)
    tracemalloc.stop()
    return held


SSE = b"text/event-stream"
SCOPE: dict[str, Any] = {  # an in-process request, ASGI spec 2.3 like uvicorn's
    "type": "http",
    "method": "GET",
    "path": "/chat",
    "raw_path": b"/chat",
    "query_string": b"",
    "headers": [(b"host", b"bench")],
    "scheme": "http",
    "server": ("127.0.0.1", 80),
    "client": ("127.0.0.1", 1),
    "http_version": "1.1",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
}


def memory(n: int) -> dict[str, Any]:
    _, tp, mp = providers()
    asyncio.run(_hold_open(50, True, tp, mp))  # warm-up: instruments, imports
    plain = asyncio.run(_hold_open(n, False, tp, mp))
    ours = asyncio.run(_hold_open(n, True, tp, mp))
    return {
        "open_responses": n,
        "bytes_per_open_response_plain": plain / n,
        "bytes_per_open_response_streamslo": ours / n,
        "added_bytes_per_open_response": (ours - plain) / n,
    }


async def _inproc_once(app: Any) -> None:
    never = asyncio.Event()

    async def receive() -> Any:
        await never.wait()
        return {"type": "http.disconnect"}

    async def send(message: Any) -> None:
        return None

    await app(dict(SCOPE), receive, send)


def inproc(rounds: int, events: int) -> dict[str, Any]:
    """The variants called in-process with a no-op ``send``: the middleware's own cost, no socket noise.

    Each round serves every variant twice, with ``events`` and with ``events // 10`` body messages
    (rotating order), so the added cost splits into a per-body-message part (the slope between the
    two lengths, per round) and a per-response part (span, metric: the rest of the short response).
    """
    exporter, tp, mp = providers()
    short = max(1, events // 10)
    runs = [(v, n) for v in VARIANTS for n in (events, short)]
    probes = {run: build(run[0], run[1], tp, mp) for run in runs}

    async def go() -> None:
        for run in runs:
            await _inproc_once(probes[run])
            probes[run].samples.clear()
        for r in range(rounds):
            for run in runs[r % len(runs) :] + runs[: r % len(runs)]:
                await _inproc_once(probes[run])
            exporter.clear()

    asyncio.run(go())
    out = decompose({run: probes[run].samples for run in runs}, events, short)
    out["rounds"] = rounds
    return out


def serve_once(variant: str, events: int, seed: int = 0) -> None:
    """One response of ``variant`` over uvicorn to a client process (the child of ``instructions``)."""
    from benchmarks._layout import perturb_layout

    perturb_layout(seed)
    variant = select_hot_path(variant)
    _, tp, mp = providers()
    served = Served(build(variant, events, tp, mp))
    try:
        got = subprocess.run(
            [sys.executable, "-c", CLIENT],
            input=f"{served.port} /chat\n",
            capture_output=True,
            text=True,
            timeout=600,
            check=True,
        )
        assert int(got.stdout) == events
    finally:
        served.stop()


INSTRUCTION_VARIANTS = ("plain", "passthrough", "streamslo", "streamslo-py")


def instructions(events: int, layouts: int = 4) -> dict[str, Any]:
    """Instructions per SSE event over uvicorn under valgrind (deterministic; kernel work not counted).

    Each variant serves one response of ``events`` and one of ``events // 10`` in its own process
    under ``valgrind --tool=cachegrind``; the difference over the difference in events is the cost
    per event, with process start and per-response work cancelled out. That is repeated in
    ``layouts`` process layouts (``benchmarks._layout``) and averaged: one layout alone moves a
    variant's count per event by up to a few hundred instructions either way. ``passthrough`` (a
    middleware that only wraps ``send``) is the floor under any middleware that watches the body.
    """
    from concurrent.futures import ThreadPoolExecutor

    from benchmarks._layout import instructions as count

    short = max(1, events // 10)

    def refs(job: tuple[str, int, int]) -> int:
        variant, n, seed = job
        return count(["benchmarks.server_overhead", "--serve-once", variant, str(n), str(seed)], 900)

    jobs = [(v, n, seed) for seed in range(layouts) for v in INSTRUCTION_VARIANTS for n in (events, short)]
    with ThreadPoolExecutor(max_workers=max(1, (os.cpu_count() or 1) // 2)) as pool:
        counts = dict(zip(jobs, pool.map(refs, jobs)))
    by_layout = {
        v: [(counts[(v, events, k)] - counts[(v, short, k)]) / (events - short) for k in range(layouts)]
        for v in INSTRUCTION_VARIANTS
    }
    per_event = {v: statistics.mean(x) for v, x in by_layout.items()}
    added = per_event["streamslo"] - per_event["plain"]
    added_py = per_event["streamslo-py"] - per_event["plain"]
    floor = per_event["passthrough"] - per_event["plain"]
    return {
        "layouts": layouts,
        "hot_path": hotpath_implementation(),
        "pure_python_added_per_event": added_py,
        "pure_python_share_of_plain_event": added_py / per_event["plain"],
        "per_event_by_layout": by_layout,
        "per_event": per_event,
        "added_per_event": added,
        "share_of_plain_event": added / per_event["plain"],
        "passthrough_added_per_event": floor,
        "passthrough_share_of_plain_event": floor / per_event["plain"],
        "added_over_passthrough_per_event": added - floor,
    }


def hotpath_implementation() -> str:
    """``c`` when the C hot path is built and selected (the ``streamslo`` variants), else ``python``."""
    from otel_streamslo.server import hotpath

    return hotpath.IMPLEMENTATION


def headline(result: dict[str, Any]) -> dict[str, Any]:
    """Our cost per body message against a plain Starlette SSE event's CPU over uvicorn (goal 2%).

    Over uvicorn (the headline): the mean over process generations of the per-body-message slope,
    with its t interval. In-process: our code alone with warm caches (a lower bound). With
    ``--instructions``: the uvicorn pair per event in user-space instructions (deterministic; kernel
    work not counted).
    """
    plain = result["cpu"]["per_event_ns"]["plain"]
    key = "streamslo vs plain"
    per_message = result["inproc"]["added_ns_per_body_message"][key]
    events = result["inproc"]["events_per_response"][0]
    uv = result["cpu"]
    gens = uv["by_generation"]
    lo, hi = gens[key]["ci95"]
    out = {
        "goal_share": 0.02,
        "hot_path": hotpath_implementation(),
        "plain_starlette_sse_event_ns_over_uvicorn": plain,
        "uvicorn_added_ns_per_body_message": gens[key]["mean"],
        "uvicorn_share_of_plain_event": gens[key]["mean"] / plain,
        "uvicorn_share_of_plain_event_ci95": [lo / plain, hi / plain],
        "uvicorn_pure_python_share_of_plain_event": gens["streamslo-py vs plain"]["mean"] / plain,
        "uvicorn_passthrough_share_of_plain_event": gens["passthrough vs plain"]["mean"] / plain,
        "uvicorn_added_us_per_response": uv["added_us_per_response"][key],
        f"uvicorn_ratio_at_{events}_events": uv["ratio"][key],
        "inprocess_added_ns_per_body_message": per_message,
        "inprocess_added_us_per_response": result["inproc"]["added_us_per_response"][key],
        "inprocess_share_of_plain_event": per_message / plain,
    }
    if "cpu_contrib" in result:  # contrib's server span present: ours enriches it, creates none
        both = result["cpu_contrib"]
        ckey = "contrib+streamslo vs contrib"
        base = both["per_event_ns"]["contrib"]
        out["with_contrib_added_ns_per_body_message"] = both["by_generation"][ckey]["mean"]
        out["with_contrib_share_of_contrib_event"] = both["by_generation"][ckey]["mean"] / base
        out["with_contrib_added_us_per_response"] = both["added_us_per_response"][ckey]
    if "instructions" in result:
        out["uvicorn_instructions_share_per_event"] = result["instructions"]["share_of_plain_event"]
        out["uvicorn_instructions_passthrough_share_per_event"] = result["instructions"][
            "passthrough_share_of_plain_event"
        ]
        out["pure_python_uvicorn_instructions_share_per_event"] = result["instructions"][
            "pure_python_share_of_plain_event"
        ]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=360, help="over uvicorn, over all generations")
    parser.add_argument("--block", type=int, default=5, help="responses in a row per variant and length")
    parser.add_argument("--generations", type=int, default=12, help="fresh server processes (layouts)")
    parser.add_argument("--contrib", action="store_true", help="also contrib's middleware over uvicorn")
    parser.add_argument("--inproc-rounds", type=int, default=400)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--open", type=int, default=500)
    parser.add_argument("--instructions", action="store_true", help="also count instructions (valgrind)")
    parser.add_argument("--layouts", type=int, default=4, help="process layouts averaged by --instructions")
    parser.add_argument("--instructions-only", action="store_true", help="only the valgrind counts")
    once = ("VARIANT", "EVENTS", "SEED")
    parser.add_argument("--serve-once", nargs=3, metavar=once, help=argparse.SUPPRESS)
    parser.add_argument(
        "--serve", nargs="+", metavar="VARIANT EVENTS SHORT SEED [CORE]", help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.serve:
        v, n, short, seed, *core = args.serve
        serve(v, int(n), int(short), int(seed), int(core[0]) if core else None)
        return
    if args.serve_once:
        serve_once(args.serve_once[0], int(args.serve_once[1]), int(args.serve_once[2]))
        return
    if args.instructions_only:  # refresh the counts of the last full run's results
        result = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
        result["instructions"] = instructions(args.events, args.layouts)
        print(json.dumps(result["instructions"], indent=2, sort_keys=True), flush=True)
        if "cpu" in result:
            result["headline"] = headline(result)
            RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
        return
    load_before, started = os.getloadavg(), time.monotonic()
    result: dict[str, Any] = {
        "cpu": cpu(args.rounds, args.events, args.generations, args.block),
        "inproc": inproc(args.inproc_rounds, args.events),
        "memory": memory(args.open),
    }
    if args.contrib:  # a third of the rounds: contrib's span per event makes each round 6x longer
        rounds = max(args.generations, args.rounds // 3)
        result["cpu_contrib"] = cpu(
            rounds, args.events, args.generations, args.block, variants=CONTRIB_VARIANTS, pairs=CONTRIB_PAIRS
        )
    if args.instructions:
        result["instructions"] = instructions(args.events, args.layouts)
    result["headline"] = headline(result)
    result["machine"] = {
        "cpus": os.cpu_count(),
        "load_average_1m_before_after": [load_before[0], os.getloadavg()[0]],
        "python": platform.python_version(),
        "seconds": round(time.monotonic() - started, 1),
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
