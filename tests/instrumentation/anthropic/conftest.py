"""Fixtures of the anthropic tests: the instrumentor under each native-tracing setting, SDK clients.

``native`` settings:

* ``off``: the SDK's own tracing is disabled on the client (``open_telemetry=False``); ours is the span.
* ``enrich``: SDK tracing on (into the same in-memory pipeline), policy ``enrich``: the SDK's span
  is the span, enriched with ours.
* ``replace``: SDK tracing on, policy ``replace``: our span is the only span.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from typing import Any, Optional

import anthropic
import anthropic.lib.streaming
import anthropic.resources.beta.messages
import anthropic.resources.messages
import pytest
from anthropic.types import MessageParam
from opentelemetry.sdk.trace import ReadableSpan

from otel_streamslo.instrumentation.anthropic import AnthropicStreamInstrumentor
from tests.conftest import Telemetry

# A full gc.collect() (the fixtures run several per test, to detect abandoned streams) walks every
# object of the anthropic type modules: ~0.5 s each. The modules are loaded above; freeze what
# exists now (modules, classes; no test objects yet), as tests/chaos does. Later objects are collected.
gc.freeze()

SDK_SCOPE = "com.anthropic.sdk.python"
OUR_SCOPE = "otel_streamslo"
MODEL = "claude-test"
MSG: list[MessageParam] = [{"role": "user", "content": "hello"}]
NATIVE = ("off", "enrich", "replace")


class Harness:
    """One instrumented setting: the telemetry pipeline, how to build clients, what to expect."""

    def __init__(self, tel: Telemetry, native: str) -> None:
        self.tel = tel
        self.native = native

    # --- clients ---------------------------------------------------------------------------------

    def open_telemetry(self) -> Any:
        if self.native == "off":
            return False
        return {"tracer_provider": self.tel.tracer_provider}

    def client(self, chaos: Any, read: float = 0.4, **kw: Any) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url=chaos.anthropic_base_url,
            api_key="test",
            max_retries=0,
            timeout=anthropic.Timeout(10, read=read),
            open_telemetry=self.open_telemetry(),
            **kw,
        )

    def aclient(self, chaos: Any, read: float = 0.4, **kw: Any) -> anthropic.AsyncAnthropic:
        return anthropic.AsyncAnthropic(
            base_url=chaos.anthropic_base_url,
            api_key="test",
            max_retries=0,
            timeout=anthropic.Timeout(10, read=read),
            open_telemetry=self.open_telemetry(),
            **kw,
        )

    # --- spans -----------------------------------------------------------------------------------

    def spans(self) -> list[ReadableSpan]:
        """Every finished span, whatever its scope (the SDK's and ours)."""
        return list(self.tel.exporter.get_finished_spans())

    def only_span(self) -> ReadableSpan:
        """The one span of the one call of the test (asserts there is exactly one)."""
        gc.collect()
        spans = self.spans()
        assert len(spans) == 1, [
            (s.name, s.instrumentation_scope.name if s.instrumentation_scope else None) for s in spans
        ]
        return spans[0]

    def attrs(self) -> dict[str, Any]:
        return dict(self.only_span().attributes or {})

    def reason(self) -> str:
        return str(self.attrs()["streamslo.termination.reason"])

    @property
    def sdk_span(self) -> bool:
        """Whether the call's span is the SDK's own (enriched) span."""
        return self.native == "enrich"

    def expected_name(self, model: str = MODEL) -> str:
        return "anthropic.messages.create" if self.sdk_span else f"chat {model}"

    def expected_scope(self) -> str:
        return SDK_SCOPE if self.sdk_span else OUR_SCOPE


def instrument(tel: Telemetry, native: str, **kwargs: Any) -> AnthropicStreamInstrumentor:
    inst = AnthropicStreamInstrumentor()
    mode: Optional[str] = "replace" if native == "replace" else "enrich"
    inst.instrument(
        tracer_provider=tel.tracer_provider,
        meter_provider=tel.meter_provider,
        anthropic_native_spans=mode,
        **kwargs,
    )
    return inst


@pytest.fixture(params=NATIVE)
def harness(request: pytest.FixtureRequest, telemetry: Telemetry) -> Iterator[Harness]:
    """The instrumentor under each native-tracing setting."""
    inst = instrument(telemetry, request.param)
    try:
        yield Harness(telemetry, request.param)
    finally:
        inst.uninstrument()
        gc.collect()


@pytest.fixture
def own(telemetry: Telemetry) -> Iterator[Harness]:
    """The instrumentor with SDK tracing off (our span only); for tests about one code path."""
    inst = instrument(telemetry, "off")
    try:
        yield Harness(telemetry, "off")
    finally:
        inst.uninstrument()
        gc.collect()
