"""The chaos provider for the benchmarks, in its own process: ``python -m benchmarks._chaos``.

Prints ``chaos provider listening on URL`` and serves until stdin closes or SIGTERM.
:func:`chaos_process` starts it from a benchmark and yields that URL.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from types import FrameType
from typing import Optional


@contextlib.contextmanager
def chaos_process() -> Iterator[str]:
    """The chaos provider in a child process (its CPU is never the caller's); yields its base URL."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks._chaos"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"chaos provider did not start: {line!r}")
        yield line.strip().rsplit(" ", 1)[-1]
    finally:
        proc.stdin.close()  # the child exits when its stdin closes
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main() -> int:
    from otel_streamslo.chaos import ChaosServer  # here: a client importing chaos_process never loads it

    stop = threading.Event()

    def handler(signum: int, frame: Optional[FrameType]) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
    with ChaosServer(log_level="warning") as server:
        print(f"chaos provider listening on {server.base_url}", flush=True)

        def watch_stdin() -> None:  # the driver's end of the pipe closes when it exits
            sys.stdin.read()
            stop.set()

        threading.Thread(target=watch_stdin, daemon=True).start()
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
