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
from typing import Any

from benchmarks._chaos import chaos_process
from benchmarks._common import acpu_of_streams, cpu_args, cpu_of_streams, paired_cpu_rounds, report_pairs

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
        "max_tokens": 64,
        "num_retries": 0,
        "max_retries": 0,
        "timeout": 30,
        "extra_headers": {"x-chaos-fault": "none", "x-chaos-tokens": str(tokens), "x-chaos-chunk-delay": "0"},
    }


def measure(
    args: argparse.Namespace, kwargs: dict[str, Any], loop: asyncio.AbstractEventLoop | None
) -> dict[str, Any]:
    """Sync ``completion`` passes (``loop`` None) or async ``acompletion`` passes on ``loop``."""
    from otel_streamslo.instrumentation.litellm import LiteLLMStreamInstrumentor

    litellm = load_litellm()

    def sync_pass() -> tuple[int, int]:
        return cpu_of_streams(args.streams, lambda: litellm.completion(**kwargs))

    def async_pass() -> tuple[int, int]:
        assert loop is not None
        return loop.run_until_complete(acpu_of_streams(args.streams, lambda: litellm.acompletion(**kwargs)))

    return paired_cpu_rounds(
        args.rounds, LiteLLMStreamInstrumentor, sync_pass if loop is None else async_pass
    )


def main(argv: list[str] | None = None) -> int:
    args = cpu_args(__doc__ or "", argv)
    load_litellm()  # imported before instrument(), so its targets exist
    loop = asyncio.new_event_loop()
    results: dict[str, dict[str, Any]] = {}
    try:
        with chaos_process() as base_url:
            for dialect in ROUTES:
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
