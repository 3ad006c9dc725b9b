"""The chaos provider for the benchmarks, in its own process: ``python -m benchmarks._chaos``.

Prints ``chaos provider listening on URL`` and serves until stdin closes or SIGTERM.

"""

from __future__ import annotations

import signal
import sys
import threading
from types import FrameType
from typing import Optional

from otel_streamslo.chaos import ChaosServer


def main() -> int:
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
