"""Zero-code use: ``opentelemetry-instrument`` loads ``litellm_streamslo`` (and our openai/anthropic
instrumentors, which must stay silent under litellm): one span per litellm call."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from tests.instrumentation.zero_code import INSTRUMENT, our_spans, run_app

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
    env = {
        "OPENAI_URL": chaos.openai_base_url,
        "ANTHROPIC_URL": chaos.anthropic_base_url,
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "OTEL_SERVICE_NAME": "zero-code-litellm",
    }
    ours = our_spans(run_app(APP, tmp_path, env, INSTRUMENT, timeout=240))
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
