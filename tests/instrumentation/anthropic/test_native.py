"""Coexistence with the SDK's own tracing: never two spans for one call, one verdict, both policies."""

from __future__ import annotations

import contextlib
import gc
import logging
import time
from collections.abc import Iterator
from typing import Any

import anthropic
import httpx2
import pytest
from opentelemetry import trace
from opentelemetry.trace import NoOpTracerProvider, StatusCode

from otel_streamslo.core.config import ENV_ANTHROPIC_NATIVE
from otel_streamslo.instrumentation.anthropic.native_spans import native_spans_mode
from tests.conftest import Telemetry
from tests.instrumentation.anthropic.conftest import MODEL, MSG, OUR_SCOPE, SDK_SCOPE, Harness, instrument

H = {"x-chaos-tokens": "6"}


def traced_client(h: Harness, chaos: Any, seen: list[httpx2.Request]) -> anthropic.Anthropic:
    return h.client(chaos, http_client=anthropic.DefaultHttpxClient(event_hooks={"request": [seen.append]}))


def span_ids_of(request: httpx2.Request) -> tuple[int, int]:
    _, trace_id, span_id, _ = request.headers["traceparent"].split("-")
    return int(trace_id, 16), int(span_id, 16)


@pytest.fixture
def enrich(telemetry: Telemetry) -> Iterator[Harness]:
    inst = instrument(telemetry, "enrich")
    yield Harness(telemetry, "enrich")
    inst.uninstrument()


@pytest.fixture
def replace(telemetry: Telemetry) -> Iterator[Harness]:
    inst = instrument(telemetry, "replace")
    yield Harness(telemetry, "replace")
    inst.uninstrument()


# --- enrich --------------------------------------------------------------------------------------


def test_enrich_one_span_with_sdk_and_streamslo_attributes(enrich: Harness, chaos: Any) -> None:
    seen: list[httpx2.Request] = []
    with traced_client(enrich, chaos, seen) as client:
        list(client.messages.create(model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H))
    span = enrich.only_span()
    assert span.instrumentation_scope is not None and span.instrumentation_scope.name == SDK_SCOPE
    attrs = dict(span.attributes or {})
    # The SDK's own attributes ...
    assert attrs["anthropic.request.id"]
    assert attrs["http.route"] == "/v1/messages"
    assert attrs["anthropic.message.stop_reason"] == "end_turn"
    # ... and ours, on the same span.
    assert attrs["streamslo.termination.reason"] == "completed"
    assert attrs["streamslo.sli.outcome"] == "good"
    assert attrs["gen_ai.usage.output_tokens"] == 6
    assert span.status.status_code is StatusCode.OK
    # The request carried the context of that one span.
    ctx = span.get_span_context()
    assert span_ids_of(seen[0]) == (ctx.trace_id, ctx.span_id)


def test_enrich_verdict_overrides_the_sdk_verdict(enrich: Harness, chaos: Any) -> None:
    """Uninstrumented, the SDK calls a stream without message_stop `api_error`; the verdict is ours."""
    with enrich.client(chaos) as client:
        list(
            client.messages.create(
                model=MODEL,
                max_tokens=64,
                messages=MSG,
                stream=True,
                extra_headers={**H, "x-chaos-fault": "eof@2"},
            )
        )
    span = enrich.only_span()
    assert (span.attributes or {})["error.type"] == "truncated"
    assert span.status.status_code is StatusCode.ERROR
    assert span.status.description == "truncated"


def test_enrich_span_ends_at_the_verdict_not_at_collection(enrich: Harness, chaos: Any) -> None:
    with enrich.client(chaos) as client:
        stream = client.messages.create(
            model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H
        )
        for event in stream:
            if event.type == "message_stop":
                break
        verdict_at = time.time_ns()
        time.sleep(0.2)
        del stream
        gc.collect()
    span = enrich.only_span()
    assert span.end_time is not None and span.end_time <= verdict_at
    assert (span.attributes or {})[
        "anthropic.message.stop_reason"
    ] == "end_turn"  # the SDK still wrote its own


def test_enrich_without_a_recording_sdk_span_falls_back_to_ours(telemetry: Telemetry, chaos: Any) -> None:
    inst = instrument(telemetry, "enrich")
    try:
        with anthropic.Anthropic(
            base_url=chaos.anthropic_base_url,
            api_key="t",
            max_retries=0,
            open_telemetry={"tracer_provider": NoOpTracerProvider()},
        ) as client:
            list(
                client.messages.create(model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H)
            )
    finally:
        inst.uninstrument()
    h = Harness(telemetry, "off")
    span = h.only_span()
    assert span.instrumentation_scope is not None and span.instrumentation_scope.name == OUR_SCOPE
    assert span.name == f"chat {MODEL}"
    assert (span.attributes or {})["streamslo.termination.reason"] == "completed"


@pytest.mark.parametrize("native", ["enrich", "replace"])
def test_no_otel_warnings_in_any_path(telemetry: Telemetry, chaos: Any, native: str, caplog: Any) -> None:
    """No write to an ended span, no double end, whichever side finishes first."""
    inst = instrument(telemetry, native)
    h = Harness(telemetry, native)
    caplog.set_level(logging.WARNING, logger="opentelemetry")
    try:
        with h.client(chaos) as client:
            for fault in ("none", "eof@2", "error_frame@2", "reset@2", "http_429", "tool_calls"):
                with contextlib.suppress(Exception):
                    list(
                        client.messages.create(
                            model=MODEL,
                            max_tokens=64,
                            messages=MSG,
                            stream=True,
                            extra_headers={**H, "x-chaos-fault": fault},
                        )
                    )
            stream = client.messages.create(
                model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H
            )
            next(iter(stream))
            stream.close()
            # Reading a closed stream: depending on the socket's state httpx2 ends it quietly or raises
            # ReadError (bad file descriptor), with or without instrumentation; either way no OTel warning.
            with contextlib.suppress(Exception):
                for _ in stream:
                    pass
            stream = client.messages.create(
                model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H
            )
            next(iter(stream))
            del stream
            gc.collect()
            with client.messages.stream(model=MODEL, max_tokens=64, messages=MSG, extra_headers=H) as s:
                s.get_final_message()
    finally:
        inst.uninstrument()
    gc.collect()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("opentelemetry")] == []
    assert len(h.spans()) == 9
    assert sum(telemetry.stream_counts().values()) == 9


# --- replace -------------------------------------------------------------------------------------


def test_replace_one_span_and_the_sdk_propagates_it(replace: Harness, chaos: Any) -> None:
    seen: list[httpx2.Request] = []
    with traced_client(replace, chaos, seen) as client:
        with client.messages.stream(model=MODEL, max_tokens=64, messages=MSG, extra_headers=H) as s:
            s.get_final_text()
    span = replace.only_span()
    assert span.instrumentation_scope is not None and span.instrumentation_scope.name == OUR_SCOPE
    assert not any(k.startswith("anthropic.") for k in (span.attributes or {}))
    ctx = span.get_span_context()
    assert span_ids_of(seen[0]) == (ctx.trace_id, ctx.span_id)


# --- both: the call span is a child of the application's span -------------------------------------


@pytest.mark.parametrize("native", ["off", "enrich", "replace"])
def test_call_span_is_child_of_the_current_span(telemetry: Telemetry, chaos: Any, native: str) -> None:
    inst = instrument(telemetry, native)
    h = Harness(telemetry, native)
    app_tracer = telemetry.tracer_provider.get_tracer("app")
    try:
        with h.client(chaos) as client, app_tracer.start_as_current_span("handler") as parent:
            stream = client.messages.create(
                model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H
            )
            assert trace.get_current_span() is parent  # never left attached across iteration
            for _ in stream:
                assert trace.get_current_span() is parent
    finally:
        inst.uninstrument()
    spans = {s.name: s for s in h.spans()}
    assert set(spans) == {"handler", h.expected_name()}
    call = spans[h.expected_name()]
    assert call.parent is not None and call.parent.span_id == parent.get_span_context().span_id


# --- the setting ---------------------------------------------------------------------------------


def test_mode_from_kwarg_env_and_default() -> None:
    assert native_spans_mode({}, {}) == "enrich"
    assert native_spans_mode({}, {ENV_ANTHROPIC_NATIVE: " Replace "}) == "replace"
    assert (
        native_spans_mode({"anthropic_native_spans": "enrich"}, {ENV_ANTHROPIC_NATIVE: "replace"}) == "enrich"
    )
    with pytest.raises(ValueError, match="anthropic_native_spans"):
        native_spans_mode({"anthropic_native_spans": "both"}, {})
    with pytest.raises(ValueError, match=ENV_ANTHROPIC_NATIVE):
        native_spans_mode({}, {ENV_ANTHROPIC_NATIVE: "off"})


def test_env_selects_replace(telemetry: Telemetry, chaos: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from otel_streamslo.instrumentation.anthropic import AnthropicStreamInstrumentor

    monkeypatch.setenv(ENV_ANTHROPIC_NATIVE, "replace")
    inst = AnthropicStreamInstrumentor()
    inst.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    h = Harness(telemetry, "replace")
    try:
        with h.client(chaos) as client:
            list(
                client.messages.create(model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H)
            )
    finally:
        inst.uninstrument()
    span = h.only_span()
    assert span.instrumentation_scope is not None and span.instrumentation_scope.name == OUR_SCOPE
