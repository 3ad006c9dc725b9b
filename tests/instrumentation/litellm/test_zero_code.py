"""Zero-code use: ``opentelemetry-instrument`` loads ``litellm_streamslo`` (and our openai/anthropic
instrumentors, which must stay silent under litellm): one span per litellm call."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tests.instrumentation.openai.test_zero_code import _spans

BIN = Path(sys.executable).parent

APP = textwrap.dedent(
    """
    import asyncio, os, litellm
    from litellm.exceptions import MidStreamFallbackError
    ROUTES = [("openai/gpt-4o-mini", os.environ["OPENAI_URL"]),
              ("anthropic/claude-zero", os.environ["ANTHROPIC_URL"])]

    def kw(model, base, fault):
        return dict(model=model, api_base=base, api_key="x", messages=[{"role": "user", "content": "hi"}],
                    stream=True, num_retries=0, max_retries=0, max_tokens=50,
                    extra_headers={"x-chaos-fault": fault, "x-chaos-tokens": "5"})

    async def consume_async(model, base, fault):
        async for _ in await litellm.acompletion(**kw(model, base, fault)):
            pass

    for model, base in ROUTES:
        for fault in ["none", "reset@2"]:
            for run in ("sync", "async"):
                try:
                    if run == "sync":
                        for _ in litellm.completion(**kw(model, base, fault)):
                            pass
                    else:
                        asyncio.run(consume_async(model, base, fault))
                except MidStreamFallbackError:
                    pass
    print("APP-DONE")
    """
)


def test_opentelemetry_instrument_one_span_per_litellm_call(chaos: Any, tmp_path: Path) -> None:
    script = tmp_path / "app.py"
    script.write_text(APP)
    env = {
        **os.environ,
        "OPENAI_URL": chaos.openai_base_url,
        "ANTHROPIC_URL": chaos.anthropic_base_url,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        "OTEL_SERVICE_NAME": "zero-code-litellm",
    }
    proc = subprocess.run(
        [str(BIN / "opentelemetry-instrument"), sys.executable, str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "APP-DONE" in proc.stdout
    ours = [s for s in _spans(proc.stdout) if "streamslo.termination.reason" in s["attributes"]]
    got = sorted(
        (
            s["attributes"]["gen_ai.provider.name"],
            s["attributes"]["streamslo.termination.reason"],
            s["attributes"]["streamslo.attempts"],
        )
        for s in ours
    )
    want = sorted(
        (provider, reason, 1)
        for provider in ("openai", "anthropic")
        for reason in ("completed", "connection_dropped")
        for _ in ("sync", "async")
    )
    assert got == want  # 8 calls, 8 spans: none from the openai / anthropic instrumentors underneath
