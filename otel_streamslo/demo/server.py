"""The demo's server side: a chat app relaying the chaos provider to simulated browsers.

A small Starlette app (uvicorn on 127.0.0.1) streams the openai SDK's answer to each browser as
SSE; ``/agent`` does it through a producer task feeding a queue (the agent/callback pattern). The
browsers (httpx clients) read the answer, and some press stop. The same sessions run twice: as
apps usually are, and with ``close_upstream_on_disconnect`` on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from typing import Any, Callable, Optional

SERVER_MIX: dict[str, float] = {"none": 84.0, "reset": 5.0, "error_frame": 4.0, "eof": 4.0, "http_503": 3.0}
STOP_SHARE = 0.25  # users who press stop
AGENT_SHARE = 0.4  # sessions served by the producer-task route
TOKENS = 40
CHUNK_DELAY = 0.01
ROUTES = ("/chat", "/agent")


@dataclass(frozen=True)
class Session:
    """One simulated browser session."""

    route: str
    fault: str
    stop_after: Optional[int]


def make_sessions(n: int, seed: int) -> list[Session]:
    """A reproducible set of ``n`` sessions."""
    rng = random.Random(seed)
    names, weights = list(SERVER_MIX), list(SERVER_MIX.values())
    out = []
    for _ in range(n):
        fault = rng.choices(names, weights=weights, k=1)[0]
        if fault in ("reset", "error_frame", "eof"):
            fault = f"{fault}@{rng.randint(4, TOKENS - 4)}"
        stop = rng.randint(2, TOKENS // 3) if rng.random() < STOP_SHARE else None
        out.append(Session("/agent" if rng.random() < AGENT_SHARE else "/chat", fault, stop))
    return out


def _sse(data: Any, name: Optional[str] = None) -> str:
    return (f"event: {name}\n" if name else "") + f"data: {json.dumps(data)}\n\n"


def build_app(base_url: str, tel: Any, close_upstream: bool) -> Any:
    """The chat app, with the stream SLO middleware on the demo's providers."""
    import openai
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.requests import Request
    from starlette.routing import Route

    from otel_streamslo.server import StreamSLOMiddleware

    client = openai.AsyncOpenAI(base_url=base_url, api_key="chaos", max_retries=0)

    async def open_stream(request: Request) -> Any:
        headers = {
            "x-chaos-fault": request.query_params.get("fault", "none"),
            "x-chaos-tokens": str(TOKENS),
            "x-chaos-chunk-delay": str(CHUNK_DELAY),
        }
        messages: Any = [{"role": "user", "content": "hello"}]
        return await client.chat.completions.create(
            model="gpt-4o-mini", messages=messages, stream=True, extra_headers=headers
        )

    mw = Middleware(
        StreamSLOMiddleware,
        close_upstream_on_disconnect=close_upstream,
        tracer_provider=tel.tracer_provider,
        meter_provider=tel.meter_provider,
    )
    routes = [Route("/chat", _chat_route(open_stream)), Route("/agent", _agent_route(open_stream))]
    return Starlette(routes=routes, middleware=[mw])


def _chat_route(open_stream: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
    """The usual relay: the body generator reads the upstream; an upstream error becomes `event: error`."""
    import openai
    from starlette.responses import Response, StreamingResponse

    async def chat(request: Any) -> Response:
        async def body() -> AsyncIterator[str]:
            try:
                async for chunk in await open_stream(request):
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield _sse({"t": chunk.choices[0].delta.content})
                yield _sse("[DONE]")
            except openai.APIError:
                yield _sse({"message": "upstream failed"}, "error")

        return StreamingResponse(body(), media_type="text/event-stream")

    return chat


def _agent_route(open_stream: Callable[[Any], Awaitable[Any]]) -> Callable[[Any], Awaitable[Any]]:
    """The agent pattern: a producer task reads the upstream into a queue the response drains."""
    import openai
    from starlette.responses import Response, StreamingResponse

    tasks: set[asyncio.Task[None]] = set()

    async def agent(request: Any) -> Response:
        queue: asyncio.Queue[Optional[str]] = asyncio.Queue()

        async def produce() -> None:
            try:
                async for chunk in await open_stream(request):
                    if chunk.choices and chunk.choices[0].delta.content:
                        await queue.put(_sse({"t": chunk.choices[0].delta.content}))
                await queue.put(_sse("[DONE]"))
            except openai.APIError:
                await queue.put(_sse({"message": "upstream failed"}, "error"))
            finally:
                await queue.put(None)

        task = asyncio.get_running_loop().create_task(produce())
        tasks.add(task)
        task.add_done_callback(tasks.discard)

        async def body() -> AsyncIterator[str]:
            while (item := await queue.get()) is not None:
                yield item

        return StreamingResponse(body(), media_type="text/event-stream")

    return agent


class _QuietLostConnections(logging.Filter):
    """Drops asyncio's "socket.send() raised exception." warnings: the simulated users who pressed
    stop closed their sockets while the app still had events to send (a send after a disconnect is
    a silent no-op for the app; the middleware counts the disconnect itself)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() != "socket.send() raised exception."


def quiet_lost_connections() -> None:
    """Install :class:`_QuietLostConnections` on the asyncio logger (idempotent)."""
    asyncio_logger = logging.getLogger("asyncio")
    if not any(isinstance(f, _QuietLostConnections) for f in asyncio_logger.filters):
        asyncio_logger.addFilter(_QuietLostConnections())


class _Served:
    """uvicorn serving ``app`` on a free loopback port in a daemon thread."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        cfg = uvicorn.Config(app, http="h11", lifespan="off", log_config=None, access_log=False)
        self.server = uvicorn.Server(cfg)
        quiet_lost_connections()
        self.thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _serve(self) -> None:
        await self.server.serve(sockets=[self.sock])

    def __enter__(self) -> _Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline and self.thread.is_alive():
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


async def _browse(client: Any, url: str, s: Session) -> None:
    """One browser: reads the answer, or presses stop after ``stop_after`` events."""
    import httpx2

    seen = 0
    try:
        async with client.stream("GET", f"{url}{s.route}", params={"fault": s.fault}) as resp:
            async for line in resp.aiter_lines():
                if line.startswith("data:"):
                    seen += 1
                    if s.stop_after is not None and seen >= s.stop_after:
                        return  # leaving the block closes the connection: the user pressed stop
    except httpx2.HTTPError:
        pass


async def _browse_all(url: str, sessions: list[Session], concurrency: int) -> None:
    import httpx2

    sem = asyncio.Semaphore(concurrency)
    async with httpx2.AsyncClient(timeout=30.0, limits=httpx2.Limits(max_connections=concurrency)) as c:

        async def one(s: Session) -> None:
            async with sem:
                await _browse(c, url, s)

        await asyncio.gather(*(one(s) for s in sessions))


def run_pass(
    base_url: str, tel: Any, sessions: list[Session], close_upstream: bool, concurrency: int
) -> None:
    """Serve every session once; returns when every upstream stream of the pass has ended."""
    from otel_streamslo.core.record import open_records

    with _Served(build_app(base_url, tel, close_upstream)) as served:
        asyncio.run(_browse_all(served.url, sessions, concurrency))
        deadline = time.monotonic() + 20  # orphaned upstream streams finish on their own
        while open_records() and time.monotonic() < deadline:
            time.sleep(0.05)
