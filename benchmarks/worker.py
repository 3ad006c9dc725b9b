"""One instrumentation variant in its own process, driven over stdin/stdout (JSON lines).

    python -m benchmarks.worker --sdk openai --variant raw|streamslo|openai_v2|openllmetry \
        --chaos-url http://127.0.0.1:PORT --script benchmarks/.cache/openai.json \
        [--sse-url http://127.0.0.1:PORT]

Instrumentors patch the same SDK methods, so each variant runs in a separate process and
patches never stack. The driver (``benchmarks.driver``) sends one command per line and reads one
JSON result per line; everything else the process prints goes to stderr.

Modes of a stream command:

``chaos``      the real SDK over a loopback socket to the chaos provider (another process)
``socket``     the real SDK over a loopback socket to ``benchmarks._sse_server`` (another process,
               pre-rendered bodies: the client never waits, so its CPU time is the measure)
``inproc``     the real SDK parsing recorded SSE bytes from an in-process httpx2 transport (no socket)
``preparsed``  the real SDK ``Stream`` classes yielding chunk objects parsed beforehand: the SDK's SSE
               and pydantic work is gone, so what is left is iteration plus the instrumentation
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import sys
import time
import traceback
import tracemalloc
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any, Callable, Optional, TextIO

import psutil
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

from benchmarks._common import ReplayTransport, SSEScript
from benchmarks.worker_apps import AnthropicApp, App, CountingExporter, OpenAIApp, setup_variant
from benchmarks.worker_streams import preparsed_streams, read_async, read_sync

# --- the worker ----------------------------------------------------------------------------------


class Worker:
    def __init__(self, app: App, chaos_url: str, script: SSEScript, sse_url: str = "") -> None:
        self.app = app
        self.chaos_url = chaos_url
        self.sse_url = sse_url
        self.script = script
        self.replay = ReplayTransport(script)
        self.loop = asyncio.new_event_loop()
        self._clients: dict[str, tuple[Any, Any]] = {}
        self._parsed: Optional[tuple[list[Any], list[Any], list[Any]]] = None
        self._open: Optional[tuple[ExitStack, str, Any]] = None
        self.proc = psutil.Process()

    def client(self, mode: str, api: str) -> Any:
        key = mode if mode in ("chaos", "socket") else "inproc"
        if key not in self._clients:
            if key == "chaos":
                self._clients[key] = self.app.clients(self.chaos_url, None)
            elif key == "socket":
                if not self.sse_url:
                    raise ValueError("socket mode needs --sse-url")
                self._clients[key] = self.app.clients(self.sse_url, None)
            else:
                self._clients[key] = self.app.clients("http://replay.invalid", self.replay)
        sync_client, async_client = self._clients[key]
        return sync_client if api == "sync" else async_client

    # --- preparsed mode: the SDK's Stream classes yield chunk objects parsed beforehand ----------

    def parsed(self) -> tuple[list[Any], list[Any], list[Any]]:
        if self._parsed is None:
            n = len(self.script.content)
            items = list(self.app.create(self.client("inproc", "sync"), n))
            flags = [self.app.is_content(c) for c in items]
            first = flags.index(True)
            last = len(flags) - 1 - flags[::-1].index(True)
            self._parsed = (items[:first], items[first : last + 1], items[last + 1 :])
        return self._parsed

    @contextmanager
    def preparsed(self) -> Iterator[None]:
        with preparsed_streams(self.app, *self.parsed()):
            yield

    @contextmanager
    def mode(self, mode: str) -> Iterator[None]:
        if mode == "preparsed":
            with self.preparsed():
                yield
        else:
            yield

    # --- commands ------------------------------------------------------------------------------

    def cmd_stream(self, mode: str, api: str, chunks: int, count: int = 1) -> dict[str, Any]:
        """``count`` streams of ``chunks`` content chunks; time of the iteration (after create())."""
        out = []
        client = self.client(mode, api)
        with self.mode(mode):
            for _ in range(count):
                gc.collect()
                if api == "sync":
                    out.append(self._sync_stream(client, chunks))
                else:
                    out.append(self.loop.run_until_complete(self._async_stream(client, chunks)))
        return {"streams": out}

    def _sync_stream(self, client: Any, chunks: int) -> dict[str, Any]:
        stream = self.app.create(client, chunks)
        n = 0
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        for _ in stream:
            n += 1
        t1 = time.perf_counter_ns()
        c1 = time.process_time_ns()
        return {"chunks": n, "wall_ns": t1 - t0, "cpu_ns": c1 - c0}

    async def _async_stream(self, client: Any, chunks: int) -> dict[str, Any]:
        stream = await self.app.acreate(client, chunks)
        n = 0
        c0 = time.process_time_ns()
        t0 = time.perf_counter_ns()
        async for _ in stream:
            n += 1
        t1 = time.perf_counter_ns()
        c1 = time.process_time_ns()
        return {"chunks": n, "wall_ns": t1 - t0, "cpu_ns": c1 - c0}

    # --- lockstep: one stream read in slices, so the driver can alternate variants every slice ----

    def cmd_open(self, mode: str, api: str, chunks: int) -> dict[str, Any]:
        """Create a stream of ``chunks`` content chunks and keep its iterator for ``read``."""
        self.cmd_close()
        gc.collect()
        stack = ExitStack()
        stack.enter_context(self.mode(mode))
        client = self.client(mode, api)
        if api == "sync":
            it: Any = iter(self.app.create(client, chunks))
        else:
            it = self.loop.run_until_complete(self._aopen(client, chunks))
        self._open = (stack, api, it)
        return {}

    async def _aopen(self, client: Any, chunks: int) -> Any:
        stream = await self.app.acreate(client, chunks)
        return stream.__aiter__()  # what `async for` calls; it then calls `__anext__` on the result

    def cmd_read(self, n: int) -> dict[str, Any]:
        """Read up to ``n`` chunks of the open stream; CPU and wall time of that read (ns)."""
        if self._open is None:
            raise ValueError("no open stream")
        _stack, api, it = self._open
        if api == "sync":
            k, done, cpu, wall = read_sync(it, n)
        else:
            k, done, cpu, wall = self.loop.run_until_complete(read_async(it, n))
        if done:
            self.cmd_close()
        return {"chunks": k, "done": done, "cpu_ns": cpu, "wall_ns": wall}

    def cmd_close(self) -> dict[str, Any]:
        if self._open is not None:
            stack, _api, _it = self._open
            self._open = None
            stack.close()
        return {}

    def cmd_ttft(self, mode: str, api: str, count: int, tokens: int = 8) -> dict[str, Any]:
        """``count`` short streams: create() call to the first content chunk in the app's hands (ns)."""
        client = self.client(mode, api)
        is_content = self.app.is_content
        ttft: list[int] = []
        create_ns: list[int] = []
        with self.mode(mode):
            for _ in range(count):
                if api == "sync":
                    t0 = time.perf_counter_ns()
                    stream = self.app.create(client, tokens)
                    t1 = time.perf_counter_ns()
                    first = 0
                    for chunk in stream:
                        if not first and is_content(chunk):
                            first = time.perf_counter_ns()
                else:
                    t0, t1, first = self.loop.run_until_complete(self._attft(client, tokens))
                ttft.append(first - t0)
                create_ns.append(t1 - t0)
        return {"ttft_ns": ttft, "create_ns": create_ns}

    async def _attft(self, client: Any, tokens: int) -> tuple[int, int, int]:
        is_content = self.app.is_content
        t0 = time.perf_counter_ns()
        stream = await self.app.acreate(client, tokens)
        t1 = time.perf_counter_ns()
        first = 0
        async for chunk in stream:
            if not first and is_content(chunk):
                first = time.perf_counter_ns()
        return t0, t1, first

    def cmd_mem_long(self, mode: str, chunks: int, checkpoints: list[int], traced: bool) -> dict[str, Any]:
        """One long sync stream; memory above the pre-stream baseline at chunk checkpoints."""
        client = self.client(mode, "sync")
        marks = set(checkpoints)
        samples: dict[str, dict[str, int]] = {}
        with self.mode(mode):
            gc.collect()
            if traced:
                tracemalloc.start()
            base_t = tracemalloc.get_traced_memory()[0] if traced else 0
            base_rss = self.proc.memory_info().rss
            if traced:
                tracemalloc.reset_peak()
            t0 = time.perf_counter_ns()
            stream = self.app.create(client, chunks)
            n = 0
            for _ in stream:
                n += 1
                if n in marks:
                    sample = {"rss": self.proc.memory_info().rss - base_rss}
                    if traced:
                        cur, peak = tracemalloc.get_traced_memory()
                        sample["traced"] = cur - base_t
                        sample["traced_peak"] = peak - base_t
                    samples[str(n)] = sample
            wall = time.perf_counter_ns() - t0
            del stream
            gc.collect()
            end: dict[str, int] = {"rss": self.proc.memory_info().rss - base_rss}
            if traced:
                cur, peak = tracemalloc.get_traced_memory()
                end["traced"] = cur - base_t
                end["traced_peak"] = peak - base_t
                tracemalloc.stop()
        return {"chunks": n, "samples": samples, "after_stream": end, "wall_s": wall / 1e9}

    def cmd_mem_concurrent(self, streams: int, traced: bool, tokens: int = 4) -> dict[str, Any]:
        """``streams`` async streams open at once (first chunk read); memory per open stream."""
        return self.loop.run_until_complete(self._mem_concurrent(streams, traced, tokens))

    async def _mem_concurrent(self, streams: int, traced: bool, tokens: int) -> dict[str, Any]:
        client = self.client("inproc", "async")
        # one stream first, so lazily built SDK / instrumentation state is not counted per stream
        warm = await self.app.acreate(client, tokens)
        async for _ in warm:
            pass
        del warm
        gc.collect()
        if traced:
            tracemalloc.start()
        base_t = tracemalloc.get_traced_memory()[0] if traced else 0
        base_rss = self.proc.memory_info().rss
        t0 = time.perf_counter()
        open_: list[tuple[Any, Any]] = []
        for _ in range(streams):
            s = await self.app.acreate(client, tokens)
            it = s.__aiter__()
            await it.__anext__()
            open_.append((s, it))
        opened_s = time.perf_counter() - t0
        gc.collect()
        res: dict[str, Any] = {"streams": streams, "open_s": round(opened_s, 3)}
        rss_open = self.proc.memory_info().rss - base_rss
        res["rss_per_stream"] = rss_open / streams
        if traced:
            res["traced_per_stream"] = (tracemalloc.get_traced_memory()[0] - base_t) / streams
        for _s, it in open_:
            async for _ in it:
                pass
        open_.clear()
        for _ in range(20):  # let the loop run the aclose() of async generators the SDK left suspended
            await asyncio.sleep(0)
        gc.collect()
        if traced:
            res["traced_after_close"] = tracemalloc.get_traced_memory()[0] - base_t
            tracemalloc.stop()
        res["rss_after_close"] = self.proc.memory_info().rss - base_rss
        return res


def _send(out: TextIO, doc: dict[str, Any]) -> None:
    out.write(json.dumps(doc) + "\n")
    out.flush()


def _parse_args(argv: Optional[list[str]]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sdk", choices=["openai", "anthropic"], required=True)
    p.add_argument("--variant", required=True)
    p.add_argument("--chaos-url", required=True)
    p.add_argument("--script", required=True)
    p.add_argument("--sse-url", default="", help="benchmarks._sse_server for the socket mode")
    p.add_argument("--path", action="append", default=[], help="put DIR first on sys.path (peers, baseline)")
    return p.parse_args(argv)


def _telemetry(
    tp: TracerProvider, reader: InMemoryMetricReader, exporter: CountingExporter
) -> dict[str, Any]:
    """What the variant emitted so far: span count and names, metric names."""
    tp.force_flush()
    data = reader.get_metrics_data()
    names = sorted(
        {m.name for rm in data.resource_metrics for sm in rm.scope_metrics for m in sm.metrics}
        if data is not None
        else set()
    )
    return {"spans": exporter.spans, "span_names": exporter.names, "metrics": names}


def _serve(proto: TextIO, handlers: dict[str, Callable[..., dict[str, Any]]]) -> None:
    """One JSON command per stdin line, one JSON answer per line on ``proto``, until ``quit``."""
    for line in sys.stdin:
        if not line.strip():
            continue
        cmd = json.loads(line)
        name = cmd.pop("cmd")
        if name == "quit":
            break
        try:
            _send(proto, {"ok": True, **handlers[name](**cmd)})
        except Exception as exc:
            _send(
                proto, {"ok": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
            )


def main(argv: Optional[list[str]] = None) -> int:
    args = _parse_args(argv)
    pin = os.environ.get("BENCH_PIN_CPU")
    if pin and hasattr(os, "sched_setaffinity"):  # every variant on the same CPU: no placement bias
        os.sched_setaffinity(0, {int(pin)})
    for extra in reversed(args.path):
        sys.path.insert(0, extra)

    # protocol on the original stdout; anything printed by libraries goes to stderr
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)

    exporter = CountingExporter()
    tp = TracerProvider()
    tp.add_span_processor(BatchSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    mp = MeterProvider(metric_readers=[reader])
    try:
        app: App = OpenAIApp() if args.sdk == "openai" else AnthropicApp()
        info = setup_variant(args.sdk, args.variant, tp, mp)
        worker = Worker(app, args.chaos_url, SSEScript.load(Path(args.script)), args.sse_url)
    except Exception as exc:
        _send(
            proto, {"ready": False, "error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        )
        return 1
    _send(proto, {"ready": True, "info": info, "pid": os.getpid()})
    _serve(
        proto,
        {
            "stream": worker.cmd_stream,
            "open": worker.cmd_open,
            "read": worker.cmd_read,
            "close": worker.cmd_close,
            "ttft": worker.cmd_ttft,
            "mem_long": worker.cmd_mem_long,
            "mem_concurrent": worker.cmd_mem_concurrent,
            "telemetry": lambda: _telemetry(tp, reader, exporter),
        },
    )
    tp.shutdown()
    mp.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
