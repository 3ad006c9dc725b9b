"""Drive one peer instrumentation over its real SDK against the chaos provider, exporting its spans
over OTLP to the given collectors.

Peers: OpenLLMetry, OpenInference, contrib genai-openai (openai SDK), contrib google-genai
(google-genai SDK, ``generate_content_stream``) and contrib botocore (boto3, Bedrock
``converse_stream`` as ``botocore``; ``invoke_model_with_response_stream`` on a Claude model as
``botocore_invoke``, on a Llama model as ``botocore_invoke_meta``). Run in a subprocess with the
peer's isolated install directory first on ``PYTHONPATH`` (peers are never installed into the
project's venv), e.g.::

    PYTHONPATH=<peer dir>:<repo> python -m tests.e2e_collector.peer_driver openllmetry CHAOS_URL OTLP...

Each scenario's spans are renamed ``<name> [<scenario>]`` so a spanmetrics series tells them apart.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import json
import sys
from typing import Any, Callable, Optional

from opentelemetry.context import Context
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor

# scenario -> (chaos fault, consumer behaviour)
SCENARIOS: dict[str, tuple[str, str]] = {
    "ok": ("none", "consume"),
    "length": ("length", "consume"),
    "error_frame": ("error_frame@3", "consume"),
    "drop": ("reset@3", "consume"),
    "truncated": ("eof@3", "consume"),
    "stall": ("stall@2", "consume"),
    "http_500": ("http_500", "consume"),
    "http_400": ("http_400", "consume"),
    "close": ("none", "close"),
    "abandon": ("none", "abandon"),
}
READ_TIMEOUT = 0.8  # seconds; the stall lasts 3
BEDROCK_CLAUDE = "anthropic.claude-3-5-sonnet-20240620-v1:0"
# botocore peer -> Bedrock operation; invoke operation -> (model id, request body)
BEDROCK_PEERS = {"botocore": "converse", "botocore_invoke": "invoke", "botocore_invoke_meta": "invoke_meta"}
INVOKE_BODIES: dict[str, tuple[str, dict[str, Any]]] = {
    "invoke": (
        BEDROCK_CLAUDE,
        {
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
        },
    ),
    "invoke_meta": ("meta.llama3-1-8b-instruct-v1:0", {"prompt": "hi", "max_gen_len": 64}),
}

Call = Callable[[str], Any]  # chaos fault -> the stream the app reads


class _Tag(SpanProcessor):
    """Appends the running scenario to every span's name, also when the peer renames the span later
    (botocore's Bedrock extension does, after the start)."""

    scenario = ""

    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        tag = f" [{self.scenario}]"
        rename = span.update_name
        rename(span.name + tag)

        def update_name(name: str) -> None:
            rename(name + tag)

        span.update_name = update_name  # type: ignore[method-assign]


def instrument(peer: str, tp: TracerProvider) -> None:
    if peer == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor as Inst
    elif peer == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor as Inst  # type: ignore[no-redef]
    elif peer == "genai_openai":
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor as Inst  # type: ignore[no-redef]
    elif peer == "google_genai":
        from opentelemetry.instrumentation.google_genai import GoogleGenAiSdkInstrumentor as Inst  # type: ignore[no-redef]
    elif peer in BEDROCK_PEERS:
        from opentelemetry.instrumentation.botocore import BotocoreInstrumentor as Inst  # type: ignore[no-redef]
    else:
        raise SystemExit(f"unknown peer {peer}")
    Inst().instrument(tracer_provider=tp, skip_dep_check=True)


def read(stream: Any, mode: str) -> None:
    """Consume, or take one item then close / drop the stream."""
    for _item in stream:
        if mode != "consume":
            break
    if mode == "close":
        stream.close()
    del stream
    gc.collect()


def openai_caller(chaos_url: str) -> tuple[Call, Callable[[], None], tuple[type[BaseException], ...]]:
    import openai

    client = openai.OpenAI(
        base_url=chaos_url + "/v1", api_key="t", max_retries=0, timeout=openai.Timeout(10, read=READ_TIMEOUT)
    )

    def call(fault: str) -> Any:
        return client.chat.completions.create(
            model="peer-model",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=headers(fault),
        )

    return call, client.close, (openai.OpenAIError,)


def gemini_caller(chaos_url: str) -> tuple[Call, Callable[[], None], tuple[type[BaseException], ...]]:
    from google import genai
    from google.genai import errors, types

    from otel_streamslo.demo.gemini import no_retries

    options = types.HttpOptions(base_url=chaos_url, timeout=int(READ_TIMEOUT * 1000), **no_retries(types))
    client = genai.Client(api_key="t", http_options=options)

    def call(fault: str) -> Any:
        config = types.GenerateContentConfig(http_options=types.HttpOptions(headers=headers(fault)))
        return client.models.generate_content_stream(model="gemini-test", contents="hi", config=config)

    return call, client.close, (errors.APIError, OSError, *_httpx_errors())


def bedrock_caller(
    chaos_url: str, operation: str
) -> tuple[Call, Callable[[], None], tuple[type[BaseException], ...]]:
    import boto3
    from botocore.config import Config
    from botocore.exceptions import BotoCoreError, ClientError
    from urllib3.exceptions import HTTPError

    config = Config(retries={"total_max_attempts": 1}, read_timeout=READ_TIMEOUT, connect_timeout=10)
    client = boto3.client(
        "bedrock-runtime",
        endpoint_url=chaos_url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=config,
    )
    current: dict[str, str] = {}

    def add_headers(request: Any, **_: Any) -> None:
        for name, value in current.items():
            request.headers[name] = value

    client.meta.events.register("before-sign.bedrock-runtime.*", add_headers)

    def call(fault: str) -> Any:
        current.clear()
        current.update(headers(fault))
        if operation == "converse":
            messages = [{"role": "user", "content": [{"text": "hi"}]}]
            return client.converse_stream(modelId=BEDROCK_CLAUDE, messages=messages)["stream"]
        model, body = INVOKE_BODIES[operation]
        return client.invoke_model_with_response_stream(modelId=model, body=json.dumps(body))["body"]

    return call, client.close, (BotoCoreError, ClientError, HTTPError, OSError)


def _httpx_errors() -> tuple[type[BaseException], ...]:
    out: list[type[BaseException]] = []
    for name in ("httpx", "httpx2"):
        with contextlib.suppress(ImportError):
            out.append(importlib.import_module(name).HTTPError)
    return tuple(out)


def headers(fault: str) -> dict[str, str]:
    return {"x-chaos-fault": fault, "x-chaos-tokens": "8", "x-chaos-stall-seconds": "3"}


def caller(peer: str, chaos_url: str) -> tuple[Call, Callable[[], None], tuple[type[BaseException], ...]]:
    if peer == "google_genai":
        return gemini_caller(chaos_url)
    if peer in BEDROCK_PEERS:
        return bedrock_caller(chaos_url, BEDROCK_PEERS[peer])
    return openai_caller(chaos_url)


def drive(peer: str, chaos_url: str, tp: TracerProvider) -> None:
    """Instrument ``tp`` with the peer and run every scenario once (spans tagged by scenario)."""
    tag = _Tag()
    tp.add_span_processor(tag)
    instrument(peer, tp)
    call, close, expected = caller(peer, chaos_url)
    for scenario, (fault, mode) in SCENARIOS.items():
        tag.scenario = scenario
        with contextlib.suppress(*expected):
            read(call(fault), mode)
        gc.collect()
    close()


def main(argv: list[str]) -> int:
    peer, chaos_url, *endpoints = argv
    tp = TracerProvider(resource=Resource.create({"service.name": f"peer-{peer}"}))
    for ep in endpoints:
        tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=ep)))
    drive(peer, chaos_url, tp)
    tp.force_flush()
    tp.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
