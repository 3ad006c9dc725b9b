"""Per-target patching: a missing or odd target is skipped on its own; suppression keys are honoured."""

from __future__ import annotations

import sys
import types
from collections.abc import Iterator
from typing import Any

import anthropic
import openai
import pytest
from opentelemetry import context
from opentelemetry.instrumentation.utils import suppress_instrumentation

from otel_streamslo import instrumented_targets
from otel_streamslo.core.calls import SUPPRESS_LANGUAGE_MODEL_INSTRUMENTATION_KEY
from otel_streamslo.core.patching import PatchSet, Target
from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor
from tests.conftest import Telemetry

MSG = [{"role": "user", "content": "hi"}]


def _identity_wrapper(wrapped: Any, instance: Any, args: Any, kwargs: Any) -> Any:
    return wrapped(*args, **kwargs)


@pytest.fixture
def fake_module() -> Iterator[types.ModuleType]:
    mod = types.ModuleType("streamslo_fake_sdk")

    class Client:
        def create(self) -> str:
            return "created"

        shape = 42  # present but not callable

    mod.Client = Client  # type: ignore[attr-defined]
    sys.modules[mod.__name__] = mod
    yield mod
    del sys.modules[mod.__name__]


def test_each_target_is_applied_or_skipped_on_its_own(fake_module: types.ModuleType) -> None:
    patches = PatchSet()
    results = [
        patches.apply(Target("streamslo_no_such_module", "X.create", lambda: _identity_wrapper)),
        patches.apply(Target(fake_module.__name__, "Client.missing", lambda: _identity_wrapper)),
        patches.apply(Target(fake_module.__name__, "Client.shape", lambda: _identity_wrapper)),
        patches.apply(Target(fake_module.__name__, "Client.create", _raise)),
        patches.apply(Target(fake_module.__name__, "Client.create", lambda: _identity_wrapper)),
    ]
    assert results == [False, False, False, False, True]
    assert patches.applied == ("streamslo_fake_sdk:Client.create",)
    assert set(patches.skipped) == {
        "streamslo_no_such_module:X.create",
        "streamslo_fake_sdk:Client.missing",
        "streamslo_fake_sdk:Client.shape",
    }  # the failed wrapper build of Client.create was forgotten once the good one applied
    assert "not callable" in patches.skipped["streamslo_fake_sdk:Client.shape"]
    assert fake_module.Client().create() == "created"
    patches.unwrap_all()
    assert not hasattr(fake_module.Client.create, "__wrapped__")
    assert patches.applied == ()


def _raise() -> Any:
    raise RuntimeError("cannot build")


def test_instrumented_targets_lists_what_was_patched(telemetry: Telemetry) -> None:
    inst = OpenAIStreamInstrumentor()
    inst.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    try:
        listed = instrumented_targets()["OpenAIStreamInstrumentor"]
        assert listed == inst.instrumented_targets()
        assert any(t.endswith(":Completions.create") for t in listed)
        assert any(t.endswith(":AsyncResponses.create") for t in listed)
        assert inst.skipped_targets() == {}
    finally:
        inst.uninstrument()
    assert "OpenAIStreamInstrumentor" not in instrumented_targets()


def test_missing_responses_module_leaves_chat_instrumented(
    telemetry: Telemetry, chaos: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An SDK version without the Responses API (openai < 1.66) still gets chat streams recorded."""
    blocked = ("openai.resources.responses", "openai.lib.streaming.responses")
    for name in [m for m in sys.modules if m.startswith(blocked)]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setattr(sys, "meta_path", [_Blocker(blocked), *sys.meta_path])
    inst = OpenAIStreamInstrumentor()
    inst.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    monkeypatch.undo()  # the SDK itself imports normally again
    try:
        skipped = inst.skipped_targets()
        assert any("Responses.create" in name for name in skipped), skipped
        client = openai.OpenAI(base_url=chaos.openai_base_url, api_key="x", max_retries=0)
        for _ in client.chat.completions.create(model="m", messages=MSG, stream=True):  # type: ignore[arg-type]
            pass
        span = telemetry.only_span()
        assert span.attributes is not None
        assert span.attributes["streamslo.termination.reason"] == "completed"
    finally:
        inst.uninstrument()


class _Blocker:
    """A meta path finder that makes some modules unimportable, as in an SDK version without them."""

    def __init__(self, prefixes: tuple[str, ...]) -> None:
        self.prefixes = prefixes

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> None:
        if name.startswith(self.prefixes):
            raise ModuleNotFoundError(f"No module named {name!r}")


def _consume_openai(base_url: str) -> None:
    client = openai.OpenAI(base_url=base_url, api_key="x", max_retries=0)
    for _ in client.chat.completions.create(model="m", messages=MSG, stream=True):  # type: ignore[arg-type]
        pass


def _consume_anthropic(base_url: str) -> None:
    client = anthropic.Anthropic(base_url=base_url, api_key="x", max_retries=0)
    with client.messages.stream(model="m", max_tokens=64, messages=MSG) as stream:  # type: ignore[arg-type]
        for _ in stream.text_stream:
            pass


@pytest.mark.parametrize("how", ["language_model_key", "suppress_instrumentation"])
@pytest.mark.parametrize("sdk", ["openai", "anthropic"])
def test_suppression_keys_mean_no_span_and_no_metrics(
    instrument_both: Telemetry, chaos: Any, how: str, sdk: str
) -> None:
    consume = _consume_openai if sdk == "openai" else _consume_anthropic
    base_url = chaos.openai_base_url if sdk == "openai" else chaos.anthropic_base_url
    if how == "language_model_key":
        token = context.attach(context.set_value(SUPPRESS_LANGUAGE_MODEL_INSTRUMENTATION_KEY, True))
        try:
            consume(base_url)
        finally:
            context.detach(token)
    else:
        with suppress_instrumentation():
            consume(base_url)
    assert instrument_both.spans() == []
    assert instrument_both.points("streamslo.streams") == []
    consume(base_url)  # and once the key is gone, recording resumes
    assert instrument_both.only_span().attributes["streamslo.termination.reason"] == "completed"  # type: ignore[index]


def _write_module(root: Any, name: str) -> None:
    (root / f"{name}.py").write_text("class Client:\n    def create(self):\n        return 'created'\n")


def test_on_import_target_waits_for_the_application_to_import_it(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ``on_import`` target is not imported by ``apply()``; it is patched when the app imports it."""
    name = "streamslo_fake_optional_sdk"
    _write_module(tmp_path, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    patches = PatchSet()
    assert patches.apply(Target(name, "Client.create", lambda: _identity_wrapper, on_import=True)) is False
    assert name not in sys.modules
    assert set(patches.waiting) == {f"{name}:Client.create"} and patches.applied == ()
    mod = __import__(name)
    try:
        assert hasattr(mod.Client.create, "__wrapped__")
        assert patches.applied == (f"{name}:Client.create",) and patches.waiting == {}
        assert mod.Client().create() == "created"
        patches.unwrap_all()
        assert not hasattr(mod.Client.create, "__wrapped__")
    finally:
        del sys.modules[name]


def test_on_import_target_dropped_by_unwrap_all_and_rearmed_with_the_new_wrapper(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """After ``unwrap_all()`` an old hook applies nothing; a new ``apply()`` patches with its own wrapper."""
    name = "streamslo_fake_optional_sdk2"
    _write_module(tmp_path, name)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)
    built: list[str] = []

    def make(tag: str) -> Any:
        def build() -> Any:
            built.append(tag)
            return _identity_wrapper

        return build

    patches = PatchSet()
    patches.apply(Target(name, "Client.create", make("first"), on_import=True))
    patches.unwrap_all()
    assert patches.waiting == {}
    mod = __import__(name)
    try:
        assert not hasattr(mod.Client.create, "__wrapped__") and built == []
        del sys.modules[name]
        patches.apply(Target(name, "Client.create", make("second"), on_import=True))
        mod = __import__(name)
        assert hasattr(mod.Client.create, "__wrapped__")
        assert built == ["second"]  # the first hook, still registered in wrapt, applied nothing
        patches.unwrap_all()
    finally:
        sys.modules.pop(name, None)


def test_on_import_target_already_imported_is_patched_at_once(fake_module: types.ModuleType) -> None:
    patches = PatchSet()
    target = Target(fake_module.__name__, "Client.create", lambda: _identity_wrapper, on_import=True)
    assert patches.apply(target) is True
    assert patches.applied == ("streamslo_fake_sdk:Client.create",) and patches.waiting == {}
    patches.unwrap_all()
