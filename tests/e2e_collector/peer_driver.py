"""Drive one peer instrumentation (OpenLLMetry, OpenInference, contrib genai-openai) over the real
openai SDK against the chaos provider, exporting its spans over OTLP to the given collectors.

Run in a subprocess with the peer's isolated install directory first on ``PYTHONPATH`` (peers are
never installed into the project's venv), e.g.::

    PYTHONPATH=<peer dir>:<repo> python -m tests.e2e_collector.peer_driver openllmetry BASE_URL OTLP...

Each scenario's spans are renamed ``<name> [<scenario>]`` so a spanmetrics series tells them apart.
"""

from __future__ import annotations

import gc
import sys
from typing import Any, Optional

import openai
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


class _Tag(SpanProcessor):
    """Appends the running scenario to every span's name."""

    scenario = ""

    def on_start(self, span: Span, parent_context: Optional[Context] = None) -> None:
        span.update_name(f"{span.name} [{self.scenario}]")


def instrument(peer: str, tp: TracerProvider) -> None:
    if peer == "openllmetry":
        from opentelemetry.instrumentation.openai import OpenAIInstrumentor
    elif peer == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor  # type: ignore[no-redef]
    elif peer == "genai_openai":
        from opentelemetry.instrumentation.genai.openai import OpenAIInstrumentor  # type: ignore[no-redef]
    else:
        raise SystemExit(f"unknown peer {peer}")
    OpenAIInstrumentor().instrument(tracer_provider=tp, skip_dep_check=True)


def run(client: openai.OpenAI, fault: str, mode: str) -> None:
    headers = {"x-chaos-fault": fault, "x-chaos-tokens": "8", "x-chaos-stall-seconds": "3"}
    try:
        stream: Any = client.chat.completions.create(
            model="peer-model",
            messages=[{"role": "user", "content": "hi"}],
            stream=True,
            stream_options={"include_usage": True},
            extra_headers=headers,
        )
        for _chunk in stream:
            if mode != "consume":
                break
        if mode == "close":
            stream.close()
        del stream
        gc.collect()
    except openai.OpenAIError:
        pass


def main(argv: list[str]) -> int:
    peer, base_url, *endpoints = argv
    tp = TracerProvider(resource=Resource.create({"service.name": f"peer-{peer}"}))
    tag = _Tag()
    tp.add_span_processor(tag)
    for ep in endpoints:
        tp.add_span_processor(SimpleSpanProcessor(OTLPSpanExporter(endpoint=ep)))
    instrument(peer, tp)
    client = openai.OpenAI(
        base_url=base_url, api_key="t", max_retries=0, timeout=openai.Timeout(10, read=0.8)
    )
    for scenario, (fault, mode) in SCENARIOS.items():
        tag.scenario = scenario
        run(client, fault, mode)
        gc.collect()
    client.close()
    tp.force_flush()
    tp.shutdown()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
