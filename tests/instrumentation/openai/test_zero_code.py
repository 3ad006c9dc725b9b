"""Zero-code use through `opentelemetry-instrument`, and interpreter exit with open streams."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent

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


def _spans(stdout: str) -> list[dict[str, Any]]:
    """Parse the console exporter's pretty-printed JSON objects out of stdout."""
    decoder = json.JSONDecoder()
    spans, i = [], 0
    while True:
        start = stdout.find("{", i)
        if start < 0:
            return spans
        try:
            obj, end = decoder.raw_decode(stdout, start)
        except json.JSONDecodeError:
            i = start + 1
            continue
        if isinstance(obj, dict) and "attributes" in obj and "context" in obj:
            spans.append(obj)
        i = end


def _run(code: str, chaos: Any, tmp_path: Path, *prefix: str) -> subprocess.CompletedProcess[str]:
    script = tmp_path / "app.py"
    script.write_text(code)
    env = {
        **os.environ,
        "CHAOS_URL": chaos.openai_base_url,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-code-app",
    }
    return subprocess.run(
        [*prefix, sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_opentelemetry_instrument_emits_our_spans(chaos: Any, tmp_path: Path) -> None:
    proc = _run(APP, chaos, tmp_path, str(BIN / "opentelemetry-instrument"))
    assert proc.returncode == 0, proc.stderr
    assert "APP-DONE" in proc.stdout
    ours = [s for s in _spans(proc.stdout) if "streamslo.termination.reason" in s["attributes"]]
    reasons = sorted(s["attributes"]["streamslo.termination.reason"] for s in ours)
    assert reasons == ["completed", "connection_dropped", "truncated"]
    assert all(s["name"] == "chat zero-code" and s["kind"] == "SpanKind.CLIENT" for s in ours)
    assert all(s["resource"]["attributes"]["service.name"] == "zero-code-app" for s in ours)


def test_interpreter_exit_ends_open_streams(chaos: Any, tmp_path: Path) -> None:
    proc = _run(EXIT_APP, chaos, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "LEAVING" in proc.stdout
    ours = [s for s in _spans(proc.stdout) if "streamslo.termination.reason" in s["attributes"]]
    assert len(ours) == 1
    attrs = ours[0]["attributes"]
    assert attrs["streamslo.termination.reason"] == "client_abandoned"
    assert attrs["streamslo.sli.outcome"] == "excluded"
    assert attrs["streamslo.chunks.delivered"] == 2
