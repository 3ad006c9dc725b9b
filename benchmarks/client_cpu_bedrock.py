"""Bedrock (boto3) per-chunk overhead: client CPU per event, real SDK, chaos provider in another process.

``python -m benchmarks.client_cpu_bedrock [--rounds N --streams N --tokens N]``. The chaos provider
(``benchmarks._chaos``) serves the ``bedrock-runtime`` event stream over 127.0.0.1 from its own
process, so the measure, ``time.process_time_ns()`` of this process around the calls and the
iteration divided by the events delivered, is what the application pays: botocore's request
signing and event-stream decoding, urllib3, the socket, plus the instrumentation and its span
processor. Two operations, sync only (aiobotocore needs an older botocore than the installed one):
``converse_stream()`` and ``invoke_model_with_response_stream()`` on an ``anthropic.*`` model (the
application loop only iterates; the instrumentation decodes each chunk's JSON, which an application
does too). Variants ``raw`` and ``streamslo`` (``BedrockStreamInstrumentor`` on an in-memory
pipeline) alternate within every round (order rotating); each round gives one paired difference
and ratio, the table shows their median and quartiles. With ``STREAMSLO_RECORD_RESULTS=1`` the
result goes to ``results/client_cpu_bedrock.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Callable

from benchmarks._chaos import chaos_process
from benchmarks._common import cpu_of_streams, cpu_parser, paired_cpu_rounds, report_pairs

CONVERSE_MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
INVOKE_MODEL = "anthropic.claude-3-5-sonnet-20240620-v1:0"
MESSAGES = [{"role": "user", "content": [{"text": "hi"}]}]
INVOKE_BODY = json.dumps(
    {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 1_000_000,  # the chaos provider stops at max_tokens: x-chaos-tokens decides
        "messages": [{"role": "user", "content": "hi"}],
    }
)


def make_client(endpoint_url: str, headers: dict[str, str]) -> Any:
    """A ``bedrock-runtime`` client on the chaos provider that sends ``headers`` on every call."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": 1}, read_timeout=30, connect_timeout=10)
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",
        config=config,
    )

    def add_headers(request: Any, **kwargs: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    client.meta.events.register("before-sign.bedrock-runtime.*", add_headers)
    return client


def converse(client: Any) -> Any:
    return client.converse_stream(modelId=CONVERSE_MODEL, messages=MESSAGES)["stream"]


def invoke(client: Any) -> Any:
    return client.invoke_model_with_response_stream(modelId=INVOKE_MODEL, body=INVOKE_BODY)["body"]


def measure(args: argparse.Namespace, client: Any, open_stream: Callable[[Any], Any]) -> dict[str, Any]:
    from otel_streamslo.instrumentation.bedrock import BedrockStreamInstrumentor

    def one_pass() -> tuple[int, int]:
        return cpu_of_streams(args.streams, lambda: open_stream(client))

    return paired_cpu_rounds(args.rounds, BedrockStreamInstrumentor, one_pass)


def main(argv: list[str] | None = None) -> int:
    args = cpu_parser(__doc__ or "", rounds=61).parse_args(argv)  # cheap chunks: more rounds
    headers = {"x-chaos-fault": "none", "x-chaos-tokens": str(args.tokens), "x-chaos-chunk-delay": "0"}
    with chaos_process() as endpoint_url:
        client = make_client(endpoint_url, headers)
        try:
            results = {
                "converse_stream": measure(args, client, converse),
                "invoke_anthropic": measure(args, client, invoke),
            }
        finally:
            client.close()
    report_pairs("client_cpu_bedrock", args, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
