"""Failures inside our own recording path never reach the application.

Each scenario breaks one part of the telemetry path (span processor on start / on end, exporter,
meter instruments, span methods, the chunk adapter) and checks that the app sees exactly the
chunks and exceptions it sees uninstrumented, and that our errors were logged at debug level.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import SpanProcessor
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor
from tests.conftest import Telemetry
from tests.instrumentation.openai.test_instrumentor import observe

FAULTS = [
    "none",
    "tool_calls",
    "reset@3",
    "error_frame@3",
    "eof@3",
    "stall@2",
    "http_429",
    "malformed_json@2",
]


class Boom(RuntimeError):
    pass


def _raise(*_: Any, **__: Any) -> Any:
    raise Boom("injected")


class RaisingProcessor(SpanProcessor):
    def __init__(self, on: str) -> None:
        self.on = on

    def on_start(self, span: Any, parent_context: Any = None) -> None:
        if self.on == "start":
            raise Boom("on_start")

    def on_end(self, span: Any) -> None:
        if self.on == "end":
            raise Boom("on_end")


class RaisingExporter(SpanExporter):
    def export(self, spans: Any) -> Any:
        raise Boom("export")


def _processor_start(tel: Telemetry, inst: OpenAIStreamInstrumentor) -> None:
    tel.tracer_provider.add_span_processor(RaisingProcessor("start"))


def _processor_end(tel: Telemetry, inst: OpenAIStreamInstrumentor) -> None:
    tel.tracer_provider.add_span_processor(RaisingProcessor("end"))


def _exporter(tel: Telemetry, inst: OpenAIStreamInstrumentor) -> None:
    tel.tracer_provider.add_span_processor(SimpleSpanProcessor(RaisingExporter()))


def _meters(tel: Telemetry, inst: OpenAIStreamInstrumentor) -> None:
    assert inst.telemetry is not None
    ins = inst.telemetry.instruments
    for name in ("streams", "active", "tokens"):
        getattr(ins, name).add = _raise
    for name in ("duration", "ttft", "per_chunk", "token_usage"):
        getattr(ins, name).record = _raise


def _span_methods(tel: Telemetry, inst: OpenAIStreamInstrumentor) -> None:
    from opentelemetry.sdk.trace import Span

    mp = pytest.MonkeyPatch()
    for name in ("add_event", "set_attributes", "set_status", "record_exception"):
        mp.setattr(Span, name, _raise)
    _UNDO.append(mp.undo)


def _adapter(tel: Telemetry, inst: OpenAIStreamInstrumentor) -> None:
    from otel_streamslo.instrumentation.openai import chat as openai_adapters

    mp = pytest.MonkeyPatch()
    mp.setattr(openai_adapters.ChatAdapter, "on_chunk", _raise)
    mp.setattr(openai_adapters.ChatAdapter, "classify", staticmethod(_raise))
    _UNDO.append(mp.undo)


def _tracer(tel: Telemetry, inst: OpenAIStreamInstrumentor) -> None:
    assert inst.telemetry is not None

    class BrokenTracer:
        def start_span(self, *a: Any, **k: Any) -> Any:
            raise Boom("tracer")

    inst.telemetry.tracer = BrokenTracer()  # type: ignore[assignment]


_UNDO: list[Callable[[], None]] = []
SCENARIOS: dict[str, Callable[[Telemetry, OpenAIStreamInstrumentor], None]] = {
    "span_processor_on_start": _processor_start,
    "span_processor_on_end": _processor_end,
    "exporter": _exporter,
    "meter_instruments": _meters,
    "span_methods": _span_methods,
    "chunk_adapter": _adapter,
    "tracer": _tracer,
}


@pytest.fixture(scope="module")
def baseline(chaos: Any) -> dict[str, Any]:
    """What the app sees uninstrumented, per fault."""
    return {fault: observe(chaos, "chat", fault) for fault in FAULTS}


@pytest.fixture
def undo() -> Iterator[None]:
    yield
    while _UNDO:
        _UNDO.pop()()


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_app_unaffected_by_broken_telemetry(
    telemetry: Telemetry,
    chaos: Any,
    baseline: dict[str, Any],
    scenario: str,
    undo: None,
    caplog: pytest.LogCaptureFixture,
) -> None:
    inst = OpenAIStreamInstrumentor()
    inst.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        SCENARIOS[scenario](telemetry, inst)
        with caplog.at_level(logging.DEBUG):
            for fault in FAULTS:
                assert observe(chaos, "chat", fault) == baseline[fault], fault
    finally:
        inst.uninstrument()
        while _UNDO:
            _UNDO.pop()()
    ours = [
        r
        for r in caplog.records
        if r.name.startswith("otel_streamslo") and not r.name.startswith("otel_streamslo.chaos")
    ]
    if scenario in ("meter_instruments", "span_methods", "chunk_adapter", "tracer"):
        assert ours, "our own failures must be logged"
        assert all(r.levelno == logging.DEBUG for r in ours), [(r.levelname, r.getMessage()) for r in ours]
        assert any(r.exc_info and isinstance(r.exc_info[1], Boom) for r in ours)
    if scenario in ("meter_instruments", "chunk_adapter", "span_processor_on_end", "exporter"):
        # the tracer is intact: every call still ends exactly one span
        assert len(telemetry.spans()) == len(FAULTS)
