"""What a benchmark worker runs: the same SDK app code in every variant, the variant's instrumentation,
and a no-op exporter that counts spans."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any, Optional

from opentelemetry import metrics, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult

from benchmarks._common import ReplayTransport

MESSAGES = [{"role": "user", "content": "Write a long answer."}]


class CountingExporter(SpanExporter):
    """A no-op exporter that counts what it was given (memory stays flat over many streams)."""

    def __init__(self) -> None:
        self.spans = 0
        self.names: dict[str, int] = {}

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.spans += len(spans)
        for s in spans:
            self.names[s.name] = self.names.get(s.name, 0) + 1
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        pass


# --- SDK apps: the same application code in every variant ----------------------------------------


def sdk_clients(
    sync_cls: Any, async_cls: Any, base_url: str, transport: Optional[ReplayTransport]
) -> tuple[Any, Any]:
    """A sync and an async client of one SDK (no retries), over ``transport`` when one is given."""
    import httpx2

    sync_kw: dict[str, Any] = {}
    async_kw: dict[str, Any] = {}
    if transport is not None:
        sync_kw["http_client"] = httpx2.Client(transport=transport)
        async_kw["http_client"] = httpx2.AsyncClient(transport=transport)
    return (
        sync_cls(base_url=base_url, api_key="bench", max_retries=0, **sync_kw),
        async_cls(base_url=base_url, api_key="bench", max_retries=0, **async_kw),
    )


class OpenAIApp:
    sdk = "openai"

    def __init__(self) -> None:
        import openai

        self.openai = openai

    def clients(self, base_url: str, transport: Optional[ReplayTransport]) -> tuple[Any, Any]:
        return sdk_clients(self.openai.OpenAI, self.openai.AsyncOpenAI, base_url + "/v1", transport)

    @staticmethod
    def _kwargs(tokens: int) -> dict[str, Any]:
        return {
            "model": "bench-model",
            "messages": MESSAGES,
            "stream": True,
            "stream_options": {"include_usage": True},
            "extra_headers": {"x-chaos-tokens": str(tokens)},
        }

    def create(self, client: Any, tokens: int) -> Any:
        return client.chat.completions.create(**self._kwargs(tokens))

    async def acreate(self, client: Any, tokens: int) -> Any:
        return await client.chat.completions.create(**self._kwargs(tokens))

    @staticmethod
    def is_content(chunk: Any) -> bool:
        choices = chunk.choices
        return bool(choices) and bool(choices[0].delta.content)

    def stream_classes(self) -> tuple[type, type]:
        return self.openai.Stream, self.openai.AsyncStream


class AnthropicApp:
    sdk = "anthropic"

    def __init__(self) -> None:
        import anthropic

        self.anthropic = anthropic

    def clients(self, base_url: str, transport: Optional[ReplayTransport]) -> tuple[Any, Any]:
        return sdk_clients(self.anthropic.Anthropic, self.anthropic.AsyncAnthropic, base_url, transport)

    @staticmethod
    def _kwargs(tokens: int) -> dict[str, Any]:
        return {
            "model": "bench-model",
            "max_tokens": 1_000_000,
            "messages": MESSAGES,
            "stream": True,
            "extra_headers": {"x-chaos-tokens": str(tokens)},
        }

    def create(self, client: Any, tokens: int) -> Any:
        return client.messages.create(**self._kwargs(tokens))

    async def acreate(self, client: Any, tokens: int) -> Any:
        return await client.messages.create(**self._kwargs(tokens))

    @staticmethod
    def is_content(event: Any) -> bool:
        return bool(event.type == "content_block_delta")

    def stream_classes(self) -> tuple[type, type]:
        return self.anthropic.Stream, self.anthropic.AsyncStream


App = Any  # OpenAIApp | AnthropicApp


# --- variants ------------------------------------------------------------------------------------


def setup_variant(sdk: str, variant: str, tp: TracerProvider, mp: MeterProvider) -> dict[str, Any]:
    """Instrument this process as ``variant``; returns what was done (raises if it cannot)."""
    info: dict[str, Any] = {"variant": variant}
    if variant.endswith("_base"):  # the same variant, run from a baseline checkout (see --path)
        variant = variant[: -len("_base")]
    if variant == "raw":
        info["what"] = "no instrumentation, no global providers"
        return info
    trace.set_tracer_provider(tp)
    metrics.set_meter_provider(mp)
    if variant in ("streamslo", "streamslo_replace"):
        import otel_streamslo

        info["module"] = os.path.dirname(otel_streamslo.__file__)
        if sdk == "openai":
            from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor

            OpenAIStreamInstrumentor().instrument(tracer_provider=tp, meter_provider=mp)
        else:
            from otel_streamslo.instrumentation.anthropic import AnthropicStreamInstrumentor

            # enrich (default): our attributes go into the SDK's own call span; replace: ours only
            mode = "replace" if variant == "streamslo_replace" else "enrich"
            info["anthropic_native_spans"] = mode
            AnthropicStreamInstrumentor().instrument(
                tracer_provider=tp, meter_provider=mp, anthropic_native_spans=mode
            )
    elif variant == "sdk_native":
        info["what"] = "anthropic SDK's own tracing to the global provider, no instrumentor"
    elif variant == "openai_v2":
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as V2

        V2().instrument(tracer_provider=tp, meter_provider=mp)
    elif variant == "openllmetry":
        os.environ.setdefault("TRACELOOP_TRACE_CONTENT", "false")
        if sdk == "openai":
            from opentelemetry.instrumentation.openai import OpenAIInstrumentor as LL

            LL().instrument(tracer_provider=tp, meter_provider=mp)
        else:
            from opentelemetry.instrumentation.anthropic import AnthropicInstrumentor as LLA

            LLA().instrument(tracer_provider=tp, meter_provider=mp)
    else:
        raise ValueError(f"unknown variant {variant!r}")
    return info
