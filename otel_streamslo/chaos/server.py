"""``ChaosServer``: the chaos provider on uvicorn in a background thread."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import socket
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Callable, Optional

import uvicorn

from otel_streamslo.chaos.app import build_app
from otel_streamslo.chaos.playback import install_log_filter
from otel_streamslo.chaos.state import ChaosSettings, ChaosState

__all__ = ["ChaosServer"]


class ChaosServer:
    """A chaos provider listening on ``host:port`` (port 0 picks a free port).

    ``start()`` returns once ``/healthz`` answers; ``stop()`` ends live streams (stalls
    included), shuts uvicorn down and joins its thread.  Usable as a context manager.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        tokens: int = 16,
        chunk_delay: float = 0.0,
        ttft_seconds: float = 2.5,
        stall_seconds: float = 30.0,
        fault_rate: float = 0.0,
        mix: Optional[Mapping[str, float]] = None,
        seed: Optional[int] = None,
        picker_stall_seconds: float = 1.0,
        startup_timeout: float = 10.0,
        log_level: str = "warning",
    ) -> None:
        self.host = host
        self.settings = ChaosSettings(
            tokens=tokens,
            chunk_delay=chunk_delay,
            ttft_seconds=ttft_seconds,
            stall_seconds=stall_seconds,
            fault_rate=fault_rate,
            mix=dict(mix) if mix is not None else None,
            seed=seed,
            picker_stall_seconds=picker_stall_seconds,
        )
        self.state = ChaosState(self.settings)
        self.app = build_app(state=self.state)
        self.startup_timeout = startup_timeout
        self.log_level = log_level
        self._requested_port = port
        self._port: Optional[int] = None
        self._server: Optional[uvicorn.Server] = None
        self._thread: Optional[threading.Thread] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._error: Optional[BaseException] = None

    # --- addresses -----------------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (after :meth:`start`)."""
        if self._port is None:
            raise RuntimeError("ChaosServer is not started")
        return self._port

    @property
    def base_url(self) -> str:
        """``http://HOST:PORT``."""
        host = "127.0.0.1" if self.host in {"", "0.0.0.0"} else self.host
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        """Base URL for the OpenAI SDK (``base_url + "/v1"``)."""
        return self.base_url + "/v1"

    @property
    def anthropic_base_url(self) -> str:
        """Base URL for the Anthropic SDK (same as ``base_url``)."""
        return self.base_url

    @property
    def gemini_base_url(self) -> str:
        """``HttpOptions(base_url=...)`` for google-genai (same as ``base_url``)."""
        return self.base_url

    @property
    def bedrock_endpoint_url(self) -> str:
        """``endpoint_url`` of a boto3 ``bedrock-runtime`` client (same as ``base_url``)."""
        return self.base_url

    # --- request log ---------------------------------------------------------------------------

    @property
    def log(self) -> list[dict[str, Any]]:
        """Copy of the served-request log."""
        return self.state.snapshot()

    def reset_log(self) -> None:
        """Clear the served-request log."""
        self.state.reset_log()

    def wait_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no logged request is in progress; return False on timeout."""
        return _wait_until(lambda: not self.state.busy(), timeout)

    # --- lifecycle -----------------------------------------------------------------------------

    def start(self) -> ChaosServer:
        """Bind, start uvicorn in a daemon thread and wait until ``/healthz`` answers."""
        if self._thread is not None:
            raise RuntimeError("ChaosServer already started")
        install_log_filter()
        sock = _bind(self.host, self._requested_port)
        self._port = sock.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            http="h11",
            loop="asyncio",
            ws="none",
            lifespan="off",
            log_config=None,
            log_level=self.log_level,
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._run, args=(self._server, sock), name=f"chaos-provider:{self._port}", daemon=True
        )
        self._thread.start()
        _wait_until(lambda: not self.running or self._healthy(), self.startup_timeout)
        if not (self.running and self._healthy()):
            self.stop()
            raise RuntimeError(f"chaos provider did not become ready on {self.base_url}: {self._error!r}")
        return self

    def _run(self, server: uvicorn.Server, sock: socket.socket) -> None:
        async def serve() -> None:
            self._loop = asyncio.get_running_loop()
            await server.serve(sockets=[sock])

        try:
            asyncio.run(serve())
        except BaseException as exc:  # reported by start(); the thread must not die silently
            self._error = exc
        finally:
            sock.close()

    def _healthy(self) -> bool:
        try:
            conn = http.client.HTTPConnection(self.base_url.removeprefix("http://"), timeout=1.0)
            try:
                conn.request("GET", "/healthz")
                return conn.getresponse().status == 200
            finally:
                conn.close()
        except OSError:
            return False

    @property
    def running(self) -> bool:
        """Whether the server thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    def stop(self, timeout: float = 5.0) -> None:
        """End live streams, shut uvicorn down and join its thread (idempotent)."""
        server, thread, loop = self._server, self._thread, self._loop
        if server is None or thread is None:
            return
        if loop is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self.state.cancel_all)
        server.should_exit = True
        thread.join(timeout)
        if thread.is_alive():
            server.force_exit = True
            thread.join(timeout)
        self._thread = None
        self._server = None

    def __enter__(self) -> ChaosServer:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc: Optional[BaseException],
        tb: Optional[TracebackType],
    ) -> None:
        self.stop()


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets whose protocol says TCP;
    # without it kept-alive clients wait ~40 ms (Nagle + delayed ACK) for each stream's first chunk.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def _wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.02) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)
