"""Zero-code use through `opentelemetry-instrument`, and interpreter exit with open streams."""

from __future__ import annotations

import subprocess
import textwrap
from pathlib import Path
from typing import Any

from tests.instrumentation.zero_code import INSTRUMENT, our_spans, reasons, run_app

APP = textwrap.dedent(
    """
    import os, openai
    client = openai.OpenAI(base_url=os.environ["CHAOS_URL"], api_key="t", max_retries=0)
    for fault in ["none", "reset@2", "eof@2"]:
        try:
            for _ in client.chat.completions.create(
                model="zero-code", messages=[{"role": "user", "content": "hi"}], stream=True,
                extra_headers={"x-chaos-fault": fault, "x-chaos-tokens": "5"},
            ):
                pass
        except openai.APIConnectionError:
            pass
    print("APP-DONE")
    """
)

EXIT_APP = textwrap.dedent(
    """
    import os, openai
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, ConsoleSpanExporter
    from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    OpenAIStreamInstrumentor().instrument(tracer_provider=provider)
    client = openai.OpenAI(base_url=os.environ["CHAOS_URL"], api_key="t", max_retries=0)
    KEEP = client.chat.completions.create(
        model="exit-model", messages=[{"role": "user", "content": "hi"}], stream=True,
        extra_headers={"x-chaos-tokens": "50"},
    )
    next(KEEP); next(KEEP)
    print("LEAVING")
    """
)


def _run(code: str, chaos: Any, tmp_path: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    env = {"CHAOS_URL": chaos.openai_base_url, "OTEL_SERVICE_NAME": "zero-code-app"}
    return run_app(code, tmp_path, env, *prefix)


def test_opentelemetry_instrument_emits_our_spans(chaos: Any, tmp_path: Path) -> None:
    ours = our_spans(_run(APP, chaos, tmp_path, INSTRUMENT))
    assert reasons(ours) == ["completed", "connection_dropped", "truncated"]
    assert all(s["name"] == "chat zero-code" and s["kind"] == "SpanKind.CLIENT" for s in ours)
    assert all(s["resource"]["attributes"]["service.name"] == "zero-code-app" for s in ours)


def test_interpreter_exit_ends_open_streams(chaos: Any, tmp_path: Path) -> None:
    ours = our_spans(_run(EXIT_APP, chaos, tmp_path), done="LEAVING")
    assert len(ours) == 1
    attrs = ours[0]["attributes"]
    assert attrs["streamslo.termination.reason"] == "client_abandoned"
    assert attrs["streamslo.sli.outcome"] == "excluded"
    assert attrs["streamslo.chunks.delivered"] == 2
