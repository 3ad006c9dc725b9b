"""Chat apps relaying the chaos provider through the real SDKs, and a uvicorn runner for them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any, Callable, Optional

import anthropic
import openai
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

MSG = [{"role": "user", "content": "hello"}]
SSE = "text/event-stream"


def headers_of(request: Request) -> dict[str, str]:
    """Chaos headers from the query string: ?fault=reset@3&tokens=12&delay=0.01."""
    q = request.query_params
    out = {"x-chaos-tokens": q.get("tokens", "8"), "x-chaos-fault": q.get("fault", "none")}
    if q.get("delay"):
        out["x-chaos-chunk-delay"] = q["delay"]
    return out


def event(data: Any, name: Optional[str] = None) -> str:
    head = f"event: {name}\n" if name else ""
    return f"{head}data: {json.dumps(data)}\n\n"


class Chat:
    """Route handlers; one instance per app, holding the SDK clients for one chaos provider."""

    def __init__(self, chaos: Any) -> None:
        self.oai = openai.AsyncOpenAI(base_url=chaos.openai_base_url, api_key="t", max_retries=0)
        self.oai_sync = openai.OpenAI(base_url=chaos.openai_base_url, api_key="t", max_retries=0)
        self.claude = anthropic.AsyncAnthropic(
            base_url=chaos.anthropic_base_url, api_key="t", max_retries=0, open_telemetry=False
        )
        self.streams: list[Any] = []  # upstream streams, for stream_outcome checks
        self.errors: list[BaseException] = []  # what the app's own code caught
        self.tasks: set[asyncio.Task[Any]] = set()

    async def _relay(self, request: Request) -> AsyncIterator[str]:
        try:
            stream = await self.oai.chat.completions.create(
                model="m", messages=MSG, stream=True, extra_headers=headers_of(request)
            )
            self.streams.append(stream)
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield event({"t": chunk.choices[0].delta.content})
            yield event("[DONE]")
        except openai.APIError as exc:
            self.errors.append(exc)
            yield event({"message": "upstream failed"}, "error")

    async def chat(self, request: Request) -> Response:
        """The usual relay: catches upstream errors and sends an SSE `error` event."""
        return StreamingResponse(self._relay(request), media_type=SSE)

    async def eager(self, request: Request) -> Response:
        """Awaits the upstream's first chunk before the response starts."""
        stream = await self.oai.chat.completions.create(
            model="m", messages=MSG, stream=True, extra_headers=headers_of(request)
        )
        self.streams.append(stream)
        first = await stream.__anext__()

        async def body() -> AsyncIterator[str]:
            yield event({"id": first.id})
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    yield event({"t": chunk.choices[0].delta.content})

        return StreamingResponse(body(), media_type=SSE)

    async def producer(self, request: Request) -> Response:
        """A producer task consumes the upstream into a queue; the response drains the queue."""
        queue: asyncio.Queue[Optional[str]] = asyncio.Queue()
        headers = headers_of(request)

        async def produce() -> None:
            try:
                stream = await self.oai.chat.completions.create(
                    model="m", messages=MSG, stream=True, extra_headers=headers
                )
                self.streams.append(stream)
                async for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        await queue.put(chunk.choices[0].delta.content)
            except openai.APIError as exc:
                self.errors.append(exc)
            finally:
                await queue.put(None)

        task = asyncio.get_running_loop().create_task(produce())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

        async def body() -> AsyncIterator[str]:
            while (item := await queue.get()) is not None:
                yield event({"t": item})

        return StreamingResponse(body(), media_type=SSE)

    def sync_chat(self, request: Request) -> Response:
        """A sync endpoint (threadpool) with a sync generator over the sync SDK."""
        headers = headers_of(request)

        def body() -> Iterator[str]:
            with self.oai_sync.chat.completions.create(
                model="m", messages=MSG, stream=True, extra_headers=headers
            ) as stream:
                self.streams.append(stream)
                for chunk in stream:
                    if chunk.choices and chunk.choices[0].delta.content:
                        yield event({"t": chunk.choices[0].delta.content})

        return StreamingResponse(body(), media_type=SSE)

    async def claude_chat(self, request: Request) -> Response:
        async def body() -> AsyncIterator[str]:
            try:
                stream = await self.claude.messages.create(
                    model="c", max_tokens=64, messages=MSG, stream=True, extra_headers=headers_of(request)
                )
                self.streams.append(stream)
                async for ev in stream:
                    if ev.type == "content_block_delta" and getattr(ev.delta, "text", None):
                        yield event({"t": ev.delta.text})
            except (anthropic.APIError, OSError) as exc:
                self.errors.append(exc)
                yield event({"message": "upstream failed"}, "error")
            except Exception as exc:  # anthropic does not wrap transport errors (httpx2.*)
                self.errors.append(exc)
                yield event({"message": "upstream failed"}, "error")

        return StreamingResponse(body(), media_type=SSE)

    async def error_event(self, request: Request) -> Response:
        async def body() -> AsyncIterator[str]:
            yield ": keep-alive\n\n"
            yield event({"t": "a"})
            yield event({"message": "quota"}, "error")

        return StreamingResponse(body(), media_type=SSE)

    async def raises(self, request: Request) -> Response:
        async def body() -> AsyncIterator[str]:
            yield event({"t": "a"})
            raise RuntimeError("app bug after the 200")

        return StreamingResponse(body(), media_type=SSE)

    async def status(self, request: Request) -> Response:
        async def body() -> AsyncIterator[str]:
            yield event({"message": "no"}, "error")
            yield event({"t": "x"})

        return StreamingResponse(body(), media_type=SSE, status_code=int(request.query_params["code"]))

    async def ndjson(self, request: Request) -> Response:
        async def body() -> AsyncIterator[str]:
            for i in range(3):
                yield json.dumps({"i": i}) + "\n"

        return StreamingResponse(body(), media_type="application/x-ndjson")

    async def chunked_text(self, request: Request) -> Response:
        async def body() -> AsyncIterator[bytes]:
            yield b"part one "
            yield b"part two"

        return StreamingResponse(body(), media_type="text/plain")

    async def plain(self, request: Request) -> Response:
        return JSONResponse({"ok": True})

    def routes(self) -> list[tuple[str, Callable[..., Any]]]:
        return [
            ("/chat", self.chat),
            ("/eager", self.eager),
            ("/producer", self.producer),
            ("/sync", self.sync_chat),
            ("/claude", self.claude_chat),
            ("/error-event", self.error_event),
            ("/raises", self.raises),
            ("/status", self.status),
            ("/ndjson", self.ndjson),
            ("/text", self.chunked_text),
            ("/plain", self.plain),
        ]


def starlette_app(chat: Chat, middleware: Optional[list[Any]] = None) -> Starlette:
    return Starlette(routes=[Route(p, h) for p, h in chat.routes()], middleware=middleware)


def fastapi_app(chat: Chat, **kwargs: Any) -> Any:
    import fastapi

    app = fastapi.FastAPI(**kwargs)
    for path, handler in chat.routes():
        app.add_api_route(path, handler, methods=["GET"])
    return app


class AppServer:
    """Real uvicorn (h11) serving ``app`` on 127.0.0.1, in a daemon thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        config = uvicorn.Config(
            app, http="h11", loop="asyncio", lifespan="off", log_config=None, access_log=False
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def __enter__(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started, "app server did not start"
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        with contextlib.suppress(OSError):
            self.sock.close()
