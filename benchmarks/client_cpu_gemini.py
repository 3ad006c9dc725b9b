"""google-genai per-chunk overhead: client CPU per chunk, real SDK, chaos provider in another process.

``python -m benchmarks.client_cpu_gemini [--rounds N --streams N --tokens N]``. The chaos provider
(``benchmarks._chaos``) serves Gemini SSE over 127.0.0.1 from its own process, so the measure,
``time.process_time_ns()`` of this process around the iteration divided by the chunks delivered,
is what the application pays: the SDK's SSE decoding, pydantic, httpx2 / aiohttp, the socket, plus
the instrumentation and its span processor. Variants ``raw`` and ``streamslo`` (instrumented,
in-memory span exporter and metric reader) alternate within every round (order rotating), for the
sync client (httpx2) and the async client (aiohttp when installed); each round gives one paired
difference and ratio, the table shows their median and quartiles. With ``STREAMSLO_RECORD_RESULTS=1``
the result goes to ``results/client_cpu_gemini.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any, Callable

from benchmarks._chaos import chaos_process
from benchmarks._common import acpu_of_streams, cpu_of_streams, cpu_parser, paired_cpu_rounds, report_pairs


def make_client(base_url: str) -> Any:
    from google import genai
    from google.genai import types

    from otel_streamslo.demo.gemini import no_retries

    options = types.HttpOptions(base_url=base_url, timeout=30_000, **no_retries(types))
    return genai.Client(api_key="bench", http_options=options)


def sync_pass(client: Any, config: Any, streams: int) -> tuple[int, int]:
    def open_stream() -> Any:
        return client.models.generate_content_stream(model="bench", contents="hi", config=config)

    return cpu_of_streams(streams, open_stream)


def async_pass(client: Any, config: Any, streams: int) -> tuple[int, int]:
    def open_stream() -> Any:
        return client.aio.models.generate_content_stream(model="bench", contents="hi", config=config)

    loop = asyncio.new_event_loop()
    try:
        loop.run_until_complete(acpu_of_streams(streams, open_stream))  # warm this loop's pool, untimed
        return loop.run_until_complete(acpu_of_streams(streams, open_stream))
    finally:
        loop.run_until_complete(client.aio.aclose())
        loop.close()


def measure(
    args: argparse.Namespace, base_url: str, run_pass: Callable[[Any, Any, int], tuple[int, int]]
) -> dict[str, Any]:
    from google.genai import types

    from otel_streamslo.instrumentation.google_genai import GoogleGenAIStreamInstrumentor

    headers = {"x-chaos-fault": "none", "x-chaos-tokens": str(args.tokens), "x-chaos-chunk-delay": "0"}
    config = types.GenerateContentConfig(http_options=types.HttpOptions(headers=headers))
    client = make_client(base_url)

    def one_pass() -> tuple[int, int]:
        return run_pass(client, config, args.streams)

    return paired_cpu_rounds(args.rounds, GoogleGenAIStreamInstrumentor, one_pass)


def main(argv: list[str] | None = None) -> int:
    args = cpu_parser(__doc__ or "").parse_args(argv)
    with chaos_process() as base_url:
        results = {
            "sync_httpx2": measure(args, base_url, sync_pass),
            "async_default": measure(args, base_url, async_pass),
        }
    report_pairs("client_cpu_gemini", args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
