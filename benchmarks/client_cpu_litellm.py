"""litellm per-chunk overhead: client CPU per chunk, real SDK, chaos provider in another process.

``python -m benchmarks.client_cpu_litellm [--rounds N --streams N --tokens N]``. The chaos provider
(``benchmarks._chaos``) serves the OpenAI and Anthropic dialects over 127.0.0.1 from its own
process; litellm reaches it with ``api_base`` (``model="openai/..."``: the openai SDK underneath;
``model="anthropic/..."``: litellm's own handler). The measure, ``time.process_time_ns()`` of this
process around the calls and the iteration divided by the chunks delivered, is what the
application pays: litellm's ``CustomStreamWrapper`` and logging, the SDK or handler, the HTTP
client, the socket, plus the instrumentation and its span processor. ``litellm.completion(stream=True)``
sync and ``litellm.acompletion(stream=True)`` async (one event loop for the whole run, as an
application has). Variants ``raw`` and ``streamslo`` (``LiteLLMStreamInstrumentor`` on an
in-memory pipeline) alternate within every round (order rotating); each round gives one paired
difference and ratio, the table shows their median and quartiles. With
``STREAMSLO_RECORD_RESULTS=1`` the result goes to ``results/client_cpu_litellm.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys
import time
from typing import Any

from benchmarks._chaos import chaos_process
from benchmarks._common import acpu_of_streams, cpu_of_streams, cpu_parser, paired_cpu_rounds, report_pairs

#: dialect -> (litellm model, path of the chaos provider's base URL litellm's ``api_base`` takes)
ROUTES = {"openai": ("openai/gpt-4o-mini", "/v1"), "anthropic": ("anthropic/claude-sonnet-4-5", "")}


def load_litellm() -> Any:
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no fetch of the remote cost map
    return importlib.import_module("litellm")


def call_kwargs(base_url: str, dialect: str, tokens: int) -> dict[str, Any]:
    model, path = ROUTES[dialect]
    return {
        "model": model,
        "messages": [{"role": "user", "content": "hi"}],
        "api_base": base_url + path,
        "api_key": "bench",
        "stream": True,
        "stream_options": {"include_usage": True},
        "max_tokens": 1_000_000,  # the chaos provider stops at max_tokens: x-chaos-tokens decides
        "num_retries": 0,
        "max_retries": 0,
        "timeout": 30,
        "extra_headers": {"x-chaos-fault": "none", "x-chaos-tokens": str(tokens), "x-chaos-chunk-delay": "0"},
    }


def settle() -> None:
    """Wait (bounded) until litellm's logging thread pool has run everything submitted to it."""
    from litellm.litellm_core_utils.thread_pool_executor import executor

    deadline = time.monotonic() + 10
    try:
        while executor._pending_slots._value < executor._max_pending_tasks and time.monotonic() < deadline:
            time.sleep(0.001)
    except AttributeError:  # another litellm: no wait (its background CPU may then fall in a later pass)
        return


async def asettle() -> None:
    """Await the tasks the streams left on the loop (success handlers, caching), then :func:`settle`."""
    from litellm.litellm_core_utils.logging_worker import GLOBAL_LOGGING_WORKER

    keep = {asyncio.current_task(), getattr(GLOBAL_LOGGING_WORKER, "_worker_task", None)}
    for _ in range(100):
        left = [t for t in asyncio.all_tasks() if t not in keep]
        if not left:
            break
        await asyncio.wait(left, timeout=10)
    settle()


def measure(
    args: argparse.Namespace, kwargs: dict[str, Any], loop: asyncio.AbstractEventLoop | None
) -> dict[str, Any]:
    """Sync ``completion`` passes (``loop`` None) or async ``acompletion`` passes on ``loop``."""
    from otel_streamslo.instrumentation.litellm import LiteLLMStreamInstrumentor

    litellm = load_litellm()

    def sync_pass() -> tuple[int, int]:
        return cpu_of_streams(args.streams, lambda: litellm.completion(**kwargs), settle)

    def async_pass() -> tuple[int, int]:
        assert loop is not None
        run = acpu_of_streams(args.streams, lambda: litellm.acompletion(**kwargs), asettle)
        return loop.run_until_complete(run)

    return paired_cpu_rounds(
        args.rounds, LiteLLMStreamInstrumentor, sync_pass if loop is None else async_pass
    )


def main(argv: list[str] | None = None) -> int:
    parser = cpu_parser(__doc__ or "", rounds=31, streams=1)  # ~1 ms chunks: short passes, more pairs
    parser.add_argument("--dialects", default=",".join(ROUTES), help="comma-separated: openai,anthropic")
    parser.add_argument(
        "--no-streaming-logging",
        action="store_true",
        help="litellm.disable_streaming_logging = True (no logging task per sync chunk on litellm's threads)",
    )
    args = parser.parse_args(argv)
    litellm = load_litellm()  # imported before instrument(), so its targets exist
    litellm.disable_streaming_logging = args.no_streaming_logging
    loop = asyncio.new_event_loop()
    results: dict[str, dict[str, Any]] = {}
    try:
        with chaos_process() as base_url:
            for dialect in args.dialects.split(","):
                kwargs = call_kwargs(base_url, dialect, args.tokens)
                results[f"sync_{dialect}"] = measure(args, kwargs, None)
                results[f"async_{dialect}"] = measure(args, kwargs, loop)
    finally:
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    report_pairs("client_cpu_litellm", args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
