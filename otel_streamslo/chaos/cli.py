"""``otel-streamslo chaos-provider``: run the chaos provider in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from types import FrameType
from typing import Optional

from otel_streamslo.chaos.faults import parse_mix

__all__ = ["add_arguments", "main", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the chaos-provider options to ``parser`` (also used as a subcommand parser)."""
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=8787, help="port to bind, 0 = any free port (default: %(default)s)"
    )
    parser.add_argument(
        "--fault-rate",
        type=float,
        default=0.0,
        help="share of requests the picker faults, in [0, 1] (default: 0)",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault picker (default: random)")
    parser.add_argument(
        "--mix",
        default=None,
        help='weighted fault mix, e.g. "reset=1,error_frame=1,stall@4=0.5" (default: built-in mix)',
    )
    parser.add_argument(
        "--tokens", type=int, default=16, help="content tokens per response (default: %(default)s)"
    )
    parser.add_argument(
        "--chunk-delay", type=float, default=0.0, help="seconds between content tokens (default: %(default)s)"
    )
    parser.add_argument(
        "--ttft-seconds",
        type=float,
        default=2.5,
        help="first-token delay of slow_ttft (default: %(default)s)",
    )
    parser.add_argument(
        "--stall-seconds",
        type=float,
        default=30.0,
        help="pause of an explicit stall fault (default: %(default)s)",
    )
    parser.add_argument(
        "--picker-stall-seconds",
        type=float,
        default=1.0,
        help="pause of a stall chosen by the picker (default: %(default)s)",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        choices=["debug", "info", "warning", "error"],
        help="log level; info logs one line per request (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    """Serve until SIGINT/SIGTERM; return the process exit code."""
    try:
        from otel_streamslo.chaos.server import ChaosServer
    except ImportError as exc:  # starlette / uvicorn: the chaos extra
        hint = "pip install 'otel-streamslo[chaos]'"
        print(f"chaos-provider needs the 'chaos' extra ({exc}): {hint}", file=sys.stderr)
        return 2

    try:
        mix = parse_mix(args.mix) if args.mix else None
        server = ChaosServer(
            args.host,
            args.port,
            tokens=args.tokens,
            chunk_delay=args.chunk_delay,
            ttft_seconds=args.ttft_seconds,
            stall_seconds=args.stall_seconds,
            fault_rate=args.fault_rate,
            mix=mix,
            seed=args.seed,
            picker_stall_seconds=args.picker_stall_seconds,
            log_level=args.log_level,
        )
    except ValueError as exc:  # FaultError included
        print(f"chaos-provider: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    stop = threading.Event()
    restore = _handle_signals(stop)
    try:
        server.start()
    except (OSError, RuntimeError) as exc:
        _restore(restore)
        print(f"chaos-provider: cannot start: {exc}", file=sys.stderr)
        return 1
    print(f"chaos provider listening on {server.base_url}", flush=True)
    print(
        f"  OPENAI_BASE_URL={server.openai_base_url}  ANTHROPIC_BASE_URL={server.anthropic_base_url}",
        flush=True,
    )
    print(
        f"  google-genai HttpOptions(base_url={server.gemini_base_url!r})"
        f"  boto3 bedrock-runtime endpoint_url={server.bedrock_endpoint_url!r}",
        flush=True,
    )
    try:
        while not stop.wait(0.2) and server.running:
            pass
    finally:
        server.stop()
        _restore(restore)
    return 0 if stop.is_set() else 1


def _handle_signals(stop: threading.Event) -> dict[int, object]:
    """Route SIGINT/SIGTERM to ``stop`` (main thread only); return the previous handlers."""
    if threading.current_thread() is not threading.main_thread():
        return {}

    def handler(signum: int, frame: Optional[FrameType]) -> None:
        stop.set()

    previous: dict[int, object] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        previous[sig] = signal.signal(sig, handler)
    return previous


def _restore(previous: dict[int, object]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)  # type: ignore[arg-type]


def main(argv: Optional[list[str]] = None) -> int:
    """Standalone entry point: ``python -m otel_streamslo.chaos.cli [options]``."""
    parser = argparse.ArgumentParser(
        prog="otel-streamslo chaos-provider",
        description="OpenAI, Anthropic, Gemini and Bedrock streaming server with scripted faults.",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
