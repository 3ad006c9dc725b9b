"""Run in a subprocess on an isolated older litellm (PYTHONPATH): prints one JSON line of results.

Two phases in one process (litellm's import is slow): ``sdk`` instruments only our openai and
anthropic instrumentors (the old litellm's ``chat.completions.with_raw_response.create`` then
makes an openai span: the path the suppression must close), then ``all`` adds litellm's (one span
per call).
"""

from __future__ import annotations

import asyncio
import gc
import importlib.metadata
import json
import os
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

FAULTS = ("none", "reset@3", "eof@3", "error_frame@3", "stall@3")


def _kwargs(chaos: Any, fault: str) -> dict[str, Any]:
    return {
        "model": "openai/gpt-4o-mini",
        "api_base": chaos.openai_base_url,
        "api_key": "x",
        "messages": [{"role": "user", "content": "hi"}],
        "stream": True,
        "stream_options": {"include_usage": True},
        "extra_headers": {"x-chaos-fault": fault, "x-chaos-tokens": "6", "x-chaos-stall-seconds": "2"},
        "timeout": 0.5,
        "num_retries": 0,
        "max_retries": 0,
    }


def _sync(chaos: Any, fault: str) -> str:
    import litellm

    try:
        for _ in litellm.completion(**_kwargs(chaos, fault)):
            pass
    except Exception as exc:
        return type(exc).__name__
    return ""


async def _async(chaos: Any, fault: str) -> str:
    import litellm

    try:
        async for _ in await litellm.acompletion(**_kwargs(chaos, fault)):
            pass
    except Exception as exc:
        return type(exc).__name__
    return ""


def main() -> None:
    import litellm

    from otel_streamslo.chaos import ChaosServer
    from otel_streamslo.instrumentation.anthropic import AnthropicStreamInstrumentor
    from otel_streamslo.instrumentation.litellm import LiteLLMStreamInstrumentor
    from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    for inst in (OpenAIStreamInstrumentor(), AnthropicStreamInstrumentor()):
        inst.instrument(tracer_provider=provider)
    phases: dict[str, list[Any]] = {}
    with ChaosServer(tokens=6) as chaos:
        phases["sdk"] = _phase(chaos, exporter)
        LiteLLMStreamInstrumentor().instrument(tracer_provider=provider)
        phases["all"] = _phase(chaos, exporter)
    origin = os.path.dirname(litellm.__file__)
    print(json.dumps({"version": importlib.metadata.version("litellm"), "origin": origin, **phases}))


def _phase(chaos: Any, exporter: InMemorySpanExporter) -> list[Any]:
    calls = []
    for is_async in (False, True):
        for fault in FAULTS:
            exporter.clear()
            raised = asyncio.run(_async(chaos, fault)) if is_async else _sync(chaos, fault)
            gc.collect()
            spans = [
                {k: v for k, v in (s.attributes or {}).items() if not isinstance(v, (list, tuple))}
                for s in exporter.get_finished_spans()
            ]
            calls.append({"async": is_async, "fault": fault, "raised": raised, "spans": spans})
    return calls


if __name__ == "__main__":
    main()
