"""Zero-code use through `opentelemetry-instrument`, and interpreter exit with open streams.

Both run in a subprocess with the SDK's own tracing in its default state (on, global provider):
the realistic setting for the native-span policies.
"""

from __future__ import annotations

import subprocess
import textwrap
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import pytest

from tests.instrumentation.zero_code import INSTRUMENT, run_app, spans_in

APP = textwrap.dedent(
    """
    import os, anthropic
    client = anthropic.Anthropic(base_url=os.environ["CHAOS_URL"], api_key="t", max_retries=0)
    for fault in ["none", "reset@2", "eof@2"]:
        try:
            for _ in client.messages.create(
                model="zero-code", max_tokens=32, messages=[{"role": "user", "content": "hi"}], stream=True,
                extra_headers={"x-chaos-fault": fault, "x-chaos-tokens": "5"},
            ):
                pass
        except Exception:
            pass
    with client.messages.stream(
        model="zero-code", max_tokens=32, messages=[{"role": "user", "content": "hi"}],
        extra_headers={"x-chaos-tokens": "5"},
    ) as stream:
        stream.get_final_text()
    print("APP-DONE")
    """
)

EXIT_APP = textwrap.dedent(
    """
    import os, anthropic
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor, ConsoleSpanExporter
    from otel_streamslo.instrumentation.anthropic import AnthropicStreamInstrumentor

    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter()))
    trace.set_tracer_provider(provider)  # the SDK's own tracing (on by default) uses it too
    AnthropicStreamInstrumentor().instrument(anthropic_native_spans=os.environ["NATIVE"])
    client = anthropic.Anthropic(base_url=os.environ["CHAOS_URL"], api_key="t", max_retries=0)
    KEEP = client.messages.create(
        model="exit-model", max_tokens=32, messages=[{"role": "user", "content": "hi"}], stream=True,
        extra_headers={"x-chaos-tokens": "50"},
    )
    next(KEEP); next(KEEP); next(KEEP)
    print("LEAVING")
    """
)


def _run(code: str, chaos: Any, tmp_path: Path, *prefix: str, **env: str) -> subprocess.CompletedProcess[str]:
    env = {"CHAOS_URL": chaos.anthropic_base_url, "OTEL_SERVICE_NAME": "zero-code-app", **env}
    return run_app(code, tmp_path, env, *prefix)


def _registered() -> bool:
    return any(e.name == "anthropic_streamslo" for e in entry_points(group="opentelemetry_instrumentor"))


@pytest.mark.skipif(not _registered(), reason="entry point anthropic_streamslo not installed yet")
@pytest.mark.parametrize("native", ["enrich", "replace"])
def test_opentelemetry_instrument_one_span_per_call(chaos: Any, tmp_path: Path, native: str) -> None:
    proc = _run(
        APP,
        chaos,
        tmp_path,
        INSTRUMENT,
        OTEL_STREAMSLO_ANTHROPIC_NATIVE_SPANS=native,
    )
    assert proc.returncode == 0, proc.stderr
    assert "APP-DONE" in proc.stdout
    spans = [s for s in spans_in(proc.stdout) if s["kind"] == "SpanKind.CLIENT"]
    assert len(spans) == 4, [s["name"] for s in spans]  # one per call, whatever else is instrumented
    reasons = sorted(s["attributes"]["streamslo.termination.reason"] for s in spans)
    assert reasons == ["completed", "completed", "connection_dropped", "truncated"]
    name = "anthropic.messages.create" if native == "enrich" else "chat zero-code"
    assert all(s["name"] == name for s in spans)
    assert all(s["resource"]["attributes"]["service.name"] == "zero-code-app" for s in spans)


@pytest.mark.parametrize("native", ["enrich", "replace"])
def test_interpreter_exit_ends_open_streams(chaos: Any, tmp_path: Path, native: str) -> None:
    proc = _run(EXIT_APP, chaos, tmp_path, NATIVE=native)
    assert proc.returncode == 0, proc.stderr
    assert "LEAVING" in proc.stdout
    assert "Traceback" not in proc.stderr, proc.stderr
    spans = spans_in(proc.stdout)
    assert len(spans) == 1, [s["name"] for s in spans]
    attrs = spans[0]["attributes"]
    assert spans[0]["name"] == ("anthropic.messages.create" if native == "enrich" else "chat exit-model")
    assert attrs["streamslo.termination.reason"] == "client_abandoned"
    assert attrs["streamslo.sli.outcome"] == "excluded"
    assert attrs["streamslo.chunks.delivered"] == 3
