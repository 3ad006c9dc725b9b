"""instrument() / uninstrument(): what is patched, and that uninstrument restores the SDK exactly."""

from __future__ import annotations

import importlib
from typing import Any

import anthropic
import pytest

from otel_streamslo.instrumentation.anthropic import AnthropicStreamInstrumentor
from tests.conftest import Telemetry
from tests.instrumentation.anthropic.conftest import MODEL, MSG, Harness, instrument

# (module, owner path, attribute): every patch point.
PATCHED = [
    ("anthropic._base_client", "SyncAPIClient", "request"),
    ("anthropic._base_client", "AsyncAPIClient", "request"),
    ("anthropic._base_client", "", "start_api_call_span"),
    ("anthropic.lib.streaming._messages", "MessageStreamManager", "__exit__"),
    ("anthropic.lib.streaming._messages", "MessageStream", "__exit__"),
    ("anthropic.lib.streaming._messages", "AsyncMessageStreamManager", "__aexit__"),
    ("anthropic.lib.streaming._messages", "AsyncMessageStream", "__aexit__"),
    ("anthropic.lib.streaming._messages", "", "withhold_message_snapshot"),
    ("anthropic.lib.streaming._beta_messages", "BetaMessageStreamManager", "__exit__"),
    ("anthropic.lib.streaming._beta_messages", "BetaMessageStream", "__exit__"),
    ("anthropic.lib.streaming._beta_messages", "BetaAsyncMessageStreamManager", "__aexit__"),
    ("anthropic.lib.streaming._beta_messages", "BetaAsyncMessageStream", "__aexit__"),
    ("anthropic.lib.streaming._beta_messages", "", "withhold_message_snapshot"),
]


def current() -> list[Any]:
    out = []
    for module, owner, attr in PATCHED:
        obj: Any = importlib.import_module(module)
        if owner:
            obj = getattr(obj, owner)
        out.append(vars(obj)[attr])
    return out


def test_uninstrument_restores_the_original_objects(telemetry: Telemetry) -> None:
    before = current()
    inst = instrument(telemetry, "enrich")
    during = current()
    assert all(a is not b for a, b in zip(before, during)), "every patch point is patched"
    assert all(hasattr(p, "__wrapped__") for p in during)
    inst.uninstrument()
    after = current()
    assert all(a is b for a, b in zip(before, after))


def test_uninstrumented_calls_record_nothing(telemetry: Telemetry, chaos: Any) -> None:
    instrument(telemetry, "off").uninstrument()
    h = Harness(telemetry, "off")
    with h.client(chaos) as client:
        stream = client.messages.create(model=MODEL, max_tokens=8, messages=MSG, stream=True)
        assert type(stream) is anthropic.Stream
        list(stream)
    assert h.spans() == []
    assert telemetry.stream_counts() == {}


def test_instrument_twice_patches_once(telemetry: Telemetry, chaos: Any) -> None:
    inst = instrument(telemetry, "off")
    try:
        AnthropicStreamInstrumentor().instrument(tracer_provider=telemetry.tracer_provider)  # no-op, warned
        h = Harness(telemetry, "off")
        with h.client(chaos) as client:
            list(client.messages.create(model=MODEL, max_tokens=8, messages=MSG, stream=True))
        assert len(h.spans()) == 1
    finally:
        inst.uninstrument()


def test_invalid_native_mode_raises_before_patching(telemetry: Telemetry) -> None:
    before = current()
    inst = AnthropicStreamInstrumentor()
    with pytest.raises(ValueError, match="anthropic_native_spans"):
        inst.instrument(tracer_provider=telemetry.tracer_provider, anthropic_native_spans="twice")
    assert all(a is b for a, b in zip(before, current()))
    assert not inst.is_instrumented_by_opentelemetry


def test_dependencies() -> None:
    from otel_streamslo.instrumentation.anthropic.package import _instruments

    deps = tuple(AnthropicStreamInstrumentor().instrumentation_dependencies())
    assert deps == tuple(_instruments)  # the floor itself is checked against pyproject by the compat tests
    [requirement] = deps
    assert requirement.replace(" ", "").startswith("anthropic>=0.")
