"""Fixtures of the google-genai tests: the instrumentor on the in-memory pipeline, SDK clients."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any, Optional

import google.genai.models
import pytest
from google import genai
from google.genai import types

from otel_streamslo.demo.gemini import no_retries
from otel_streamslo.instrumentation.google_genai import GoogleGenAIStreamInstrumentor
from tests.conftest import Telemetry

gc.freeze()  # the SDK's type modules are large: keep the tests' gc.collect() calls cheap

MODEL = "gemini-test"
_ = google.genai.models


def headers(fault: str = "none", tokens: int = 6, **extra: str) -> dict[str, str]:
    h = {"x-chaos-fault": fault, "x-chaos-tokens": str(tokens), "x-chaos-stall-seconds": "2"}
    h.update(extra)
    return h


def make_client(
    chaos: Any,
    *,
    timeout_s: float = 0.5,
    transport: str = "",
    vertexai: bool = False,
    hdrs: Optional[dict[str, str]] = None,
) -> Any:
    """A client for the chaos provider (no retries); ``transport="httpx2"``: async on httpx2."""
    kw: dict[str, Any] = {}
    if transport == "httpx2":
        import google.genai._api_client as api
        import httpx2

        if getattr(api, "httpx2", None) is None:
            pytest.skip(f"google-genai {genai.__version__} has no httpx2 transport")

        kw["async_client_args"] = {"transport": httpx2.AsyncHTTPTransport()}
    options = types.HttpOptions(
        base_url=chaos.gemini_base_url,
        timeout=int(timeout_s * 1000),
        **no_retries(types),
        headers=hdrs,
        **kw,
    )
    return genai.Client(api_key="test", vertexai=vertexai or None, http_options=options)


def config(**hdrs: str) -> Any:
    """Per-call config carrying the chaos headers."""
    return types.GenerateContentConfig(http_options=types.HttpOptions(headers=hdrs))


@pytest.fixture
def tel(telemetry: Telemetry) -> Iterator[Telemetry]:
    with telemetry.instrumented(GoogleGenAIStreamInstrumentor()) as tel:
        yield tel


def attrs_of(span: Any) -> dict[str, Any]:
    return dict(span.attributes or {})
