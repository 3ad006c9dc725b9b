"""Server side: CPU added per body message by ``StreamSLOMiddleware``, and memory per open response.

CPU: real uvicorn (h11) serving a Starlette SSE endpoint on 127.0.0.1 in one thread, a client
(stdlib ``http.client``) reading it from another process. The measure is the server thread's CPU time
(``time.thread_time_ns()``, read inside the ASGI call at request start and end, so uvicorn's h11
encoding and socket writes of every event are in it), divided by the events of the response.
Variants, side by side in one run, interleaved response by response with a rotating order:

* ``plain``: the app alone (the baseline: an uninstrumented Starlette SSE response);
* ``streamslo``: the same app under ``StreamSLOMiddleware`` (no server span current: ours is created),
  with its C hot path (``otel_streamslo/server/_speedups.c``, built at install);
* ``contrib``: under contrib's ``OpenTelemetryMiddleware`` (one ``http send`` span per event);
* ``contrib+streamslo``: both, ours inside (enriching contrib's span).

In-process (no socket noise): the same variants called with a no-op ``send``. The per-response
part is our server span and the ``streamslo.responses`` point.

Both the uvicorn pair and the in-process calls run at ``--events`` and ``--events // 10`` per
response, so each splits into a per-body-message part (the slope) and a per-response part.
Headline (goal: at most 2% of the plain Starlette SSE event's CPU over uvicorn): the per-body-message
cost in-process (a lower bound: warm caches) and over uvicorn (end to end, noisier);
``--instructions`` adds the uvicorn pair counted in instructions under valgrind.

Memory: N responses held open mid-stream in one event loop (in-process ASGI calls), tracemalloc's
current size with the middleware minus without, per response.

Run: ``.venv/bin/python -m benchmarks.server_overhead [--rounds 60 --events 2000] [--instructions]``
(about 1.5 min, 2.5 with ``--instructions``); writes ``benchmarks/results/server_overhead.json``.
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
RESULTS = Path(__file__).parent / "results" / "server_overhead.json"


class CpuProbe:
    """Outermost ASGI wrapper: server-thread CPU time of each response, with its event count."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.samples: list[tuple[int, int]] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        events = 0

        async def counting(message: Any) -> None:
            nonlocal events
            if message["type"] == "http.response.body" and message.get("body"):
                events += 1
            await send(message)

        t0 = time.thread_time_ns()
        await self.app(scope, receive, counting)
        self.samples.append((time.thread_time_ns() - t0, events))


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
import http.client, sys
for line in sys.stdin:
    conn = http.client.HTTPConnection("127.0.0.1", int(line), timeout=30)
    conn.request("GET", "/chat")
    print(conn.getresponse().read().count(b"data:"), flush=True)
    conn.close()
"""


def decompose(total: dict[tuple[str, int], list[int]], events: int, short: int) -> dict[str, Any]:
    """Per-event medians at ``events``, and each pair's added cost: per event, per body message
    (the slope between the two lengths, per round) and per response (the rest of the short one)."""
    per_event = {v: [ns / events for ns in total[(v, events)]] for v in VARIANTS}
    out: dict[str, Any] = {
        "events_per_response": [events, short],
        "per_event_ns": {v: statistics.median(per_event[v]) for v in VARIANTS},
        "added_ns_per_event": {},
        "ratio": {},
        "added_ns_per_body_message": {},
        "added_us_per_response": {},
    }
    for v, base in PAIRS:
        key = f"{v} vs {base}"
        long_added = [a - b for a, b in zip(total[(v, events)], total[(base, events)])]
        short_added = [a - b for a, b in zip(total[(v, short)], total[(base, short)])]
        slopes = [(la - sa) / (events - short) for la, sa in zip(long_added, short_added)]
        out["added_ns_per_event"][key] = statistics.median(la / events for la in long_added)
        out["ratio"][key] = statistics.median(a / b for a, b in zip(per_event[v], per_event[base]))
        out["added_ns_per_body_message"][key] = statistics.median(slopes)
        out["added_us_per_response"][key] = statistics.median(
            (sa - slope * short) / 1000 for sa, slope in zip(short_added, slopes)
        )
    return out


def cpu(rounds: int, events: int) -> dict[str, Any]:
    """Every variant over uvicorn at ``events`` and ``events // 10`` per response, interleaved."""
    exporter, tp, mp = providers()
    short = max(1, events // 10)
    runs = [(v, n) for v in VARIANTS for n in (events, short)]
    probes = {run: build(run[0], run[1], tp, mp) for run in runs}
    servers = {run: Served(p) for run, p in probes.items()}
    client = subprocess.Popen(
        [sys.executable, "-c", CLIENT], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert client.stdin is not None and client.stdout is not None
    stdin, stdout = client.stdin, client.stdout

    def get(run: tuple[str, int]) -> None:
        stdin.write(f"{servers[run].port}\n")
        stdin.flush()
        assert int(stdout.readline()) == run[1]

    try:
        for run in runs:  # warm-up
            get(run)
            probes[run].samples.clear()
        for r in range(rounds):
            for run in runs[r % len(runs) :] + runs[: r % len(runs)]:
                get(run)
            exporter.clear()
    finally:
        stdin.close()
        client.wait(30)
        for s in servers.values():
            s.stop()
    out = decompose({run: [ns for ns, _ in probes[run].samples] for run in runs}, events, short)
    out["rounds"] = rounds
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
    out = decompose({run: [ns for ns, _ in probes[run].samples] for run in runs}, events, short)
    out["rounds"] = rounds
    return out


def serve_once(variant: str, events: int, seed: int = 0) -> None:
    """One response of ``variant`` over uvicorn to a client process (the child of ``instructions``)."""
    from benchmarks._layout import perturb_layout

    perturb_layout(seed)
    if variant.endswith("-py"):  # before otel_streamslo is imported: the fallback, as without a compiler
        os.environ["OTEL_STREAMSLO_PURE_PYTHON"] = "1"
    _, tp, mp = providers()
    served = Served(build(variant, events, tp, mp))
    try:
        got = subprocess.run(
            [sys.executable, "-c", CLIENT],
            input=f"{served.port}\n",
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

    In-process: our code alone with warm caches (a lower bound). Over uvicorn: the same split from
    the end-to-end pair, caches as uvicorn leaves them (noisier). With ``--instructions``: the
    uvicorn pair per event in user-space instructions (deterministic; kernel work not counted).
    """
    plain = result["cpu"]["per_event_ns"]["plain"]
    key = "streamslo vs plain"
    per_message = result["inproc"]["added_ns_per_body_message"][key]
    events = result["inproc"]["events_per_response"][0]
    uv = result["cpu"]
    out = {
        "goal_share": 0.02,
        "hot_path": hotpath_implementation(),
        "plain_starlette_sse_event_ns_over_uvicorn": plain,
        "inprocess_added_ns_per_body_message": per_message,
        "inprocess_added_us_per_response": result["inproc"]["added_us_per_response"][key],
        "inprocess_share_of_plain_event": per_message / plain,
        "uvicorn_added_ns_per_body_message": uv["added_ns_per_body_message"][key],
        "uvicorn_share_of_plain_event": uv["added_ns_per_body_message"][key] / plain,
        "uvicorn_added_us_per_response": uv["added_us_per_response"][key],
        f"uvicorn_ratio_at_{events}_events": uv["ratio"][key],
    }
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
    parser.add_argument("--rounds", type=int, default=60)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--open", type=int, default=500)
    parser.add_argument("--instructions", action="store_true", help="also count instructions (valgrind)")
    parser.add_argument("--layouts", type=int, default=4, help="process layouts averaged by --instructions")
    parser.add_argument("--instructions-only", action="store_true", help="only the valgrind counts")
    once = ("VARIANT", "EVENTS", "SEED")
    parser.add_argument("--serve-once", nargs=3, metavar=once, help=argparse.SUPPRESS)
    args = parser.parse_args()
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
        "cpu": cpu(args.rounds, args.events),
        "inproc": inproc(args.rounds * 2, args.events),
        "memory": memory(args.open),
    }
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
