"""A minimal, fast SSE server for the client-CPU benchmark, in its own process.

    python -m benchmarks._sse_server --openai SCRIPT.json --anthropic SCRIPT.json

Prints ``sse server listening on URL`` and serves until stdin closes or SIGTERM. It answers
``POST /v1/chat/completions`` with the OpenAI script and ``POST /v1/messages`` with the Anthropic
script (``benchmarks._common.SSEScript``, recorded from the chaos provider), with ``x-chaos-tokens``
content events. Each SSE event is its own HTTP/1.1 chunk (``transfer-encoding: chunked``, as the
providers send them), but the body is pre-rendered and written in large ``sendall`` calls, so the
server spends almost no CPU and never makes the client wait: the client reads many events per
``recv`` (the fewest syscalls per chunk, so the SDK's own per-chunk time is at its smallest and an
instrumentation's share of it at its largest). Keep-alive, one thread per connection, 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Optional

from benchmarks._common import SSEScript

_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream; charset=utf-8\r\n"
    b"transfer-encoding: chunked\r\n"
    b"cache-control: no-cache\r\n"
    b"x-request-id: req_bench\r\n"
    b"request-id: req_bench\r\n"
    b"\r\n"
)
_BLOCK = 1 << 16


def _frame(event: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(event), event)


class Bodies:
    """Pre-rendered chunked bodies per (path, content events), built once."""

    def __init__(self, scripts: dict[bytes, SSEScript]) -> None:
        self._scripts = scripts
        self._cache: dict[tuple[bytes, int], bytes] = {}
        self._lock = threading.Lock()

    def get(self, path: bytes, tokens: int) -> Optional[bytes]:
        key = (path, tokens)
        with self._lock:
            body = self._cache.get(key)
            if body is None:
                script = self._scripts.get(path)
                if script is None:
                    return None
                body = b"".join(_frame(e) for e in script.events(tokens)) + b"0\r\n\r\n"
                if len(self._cache) > 32:
                    self._cache.clear()
                self._cache[key] = body
        return body


Request = tuple[bytes, dict[bytes, bytes]]


def _read_request(conn: socket.socket, buf: bytes) -> tuple[Optional[Request], bytes]:
    """One request (path, lower-cased headers) and what is left in the buffer; None at EOF."""
    while b"\r\n\r\n" not in buf:
        data = conn.recv(_BLOCK)
        if not data:
            return None, b""
        buf += data
    head, buf = buf.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    parts = lines[0].split(b" ")
    path = parts[1].split(b"?", 1)[0] if len(parts) > 1 else b"/"
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    length = int(headers.get(b"content-length", b"0") or 0)
    while len(buf) < length:
        data = conn.recv(_BLOCK)
        if not data:
            return None, b""
        buf += data
    return (path, headers), buf[length:]


def serve_connection(conn: socket.socket, bodies: Bodies) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    with conn:
        while True:
            try:
                req, buf = _read_request(conn, buf)
            except (OSError, ValueError):
                return
            if req is None:
                return
            path, headers = req
            tokens = int(headers.get(b"x-chaos-tokens", b"16") or 16)
            body = bodies.get(path, tokens)
            try:
                if body is None:
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                    continue
                conn.sendall(_HEAD)
                view = memoryview(body)
                for i in range(0, len(body), _BLOCK):
                    conn.sendall(view[i : i + _BLOCK])
            except OSError:
                return


def main(argv: Optional[list[str]] = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--openai", type=Path, required=True)
    p.add_argument("--anthropic", type=Path, required=True)
    args = p.parse_args(argv)
    pin = os.environ.get("BENCH_PIN_CPU")
    if pin and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(pin)})
    bodies = Bodies(
        {
            b"/v1/chat/completions": SSEScript.load(args.openai),
            b"/v1/messages": SSEScript.load(args.anthropic),
        }
    )
    stop = threading.Event()

    def handler(signum: int, frame: Optional[FrameType]) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    lsock.settimeout(0.5)
    print(f"sse server listening on http://127.0.0.1:{lsock.getsockname()[1]}", flush=True)

    def watch_stdin() -> None:  # the driver's end of the pipe closes when it exits
        sys.stdin.read()
        stop.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    while not stop.is_set():
        try:
            conn, _ = lsock.accept()
        except socket.timeout:
            continue
        except OSError:
            break
        conn.settimeout(None)
        threading.Thread(target=serve_connection, args=(conn, bodies), daemon=True).start()
    lsock.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
