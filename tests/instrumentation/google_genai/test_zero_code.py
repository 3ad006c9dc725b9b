"""Zero-code use through ``opentelemetry-instrument`` (entry point ``google_genai_streamslo``)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from tests.instrumentation.openai.test_zero_code import _run
from tests.instrumentation.zero_code import INSTRUMENT, our_spans, reasons

APP = textwrap.dedent(
    """
    import os
    from google import genai
    from google.genai import types

    base = os.environ["CHAOS_URL"].removesuffix("/v1")
    options = types.HttpOptions(base_url=base, retry_options=types.HttpRetryOptions(attempts=1))
    client = genai.Client(api_key="t", http_options=options)
    for fault in ["none", "reset@2", "eof@2"]:
        cfg = types.GenerateContentConfig(
            http_options=types.HttpOptions(headers={"x-chaos-fault": fault, "x-chaos-tokens": "5"})
        )
        try:
            for _ in client.models.generate_content_stream(model="zero-code", contents="hi", config=cfg):
                pass
        except Exception:
            pass
    never = client.models.generate_content_stream(model="zero-code", contents="hi")  # never iterated
    print("APP-DONE")
    """
)


def test_opentelemetry_instrument_emits_our_spans(chaos: Any, tmp_path: Path) -> None:
    ours = our_spans(_run(APP, chaos, tmp_path, INSTRUMENT))
    assert reasons(ours) == ["completed", "connection_dropped", "truncated"]  # and none for `never`
    assert all(s["name"] == "generate_content zero-code" and s["kind"] == "SpanKind.CLIENT" for s in ours)
    assert all(s["attributes"]["gen_ai.provider.name"] == "gcp.gemini" for s in ours)
