"""The app sees exactly what it would see uninstrumented; uninstrument() restores the SDK."""

from __future__ import annotations

from typing import Any, Optional

import openai
import pytest
from openai.lib.streaming.chat import _completions as chat_helpers
from openai.resources.chat.completions import completions as chat_resources
from openai.resources.responses import responses as responses_resources

from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor
from tests.conftest import Telemetry
from tests.instrumentation.openai.test_latency_events import sync_client

VOLATILE = {
    "id",
    "call_id",
    "created",
    "created_at",
    "sequence_number",
    "response",
    "item_id",
    "system_fingerprint",
}


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in VOLATILE}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def observe(chaos: Any, api: str, fault: str) -> tuple[list[Any], Optional[tuple[str, str]]]:
    """What the application sees: scrubbed chunk dumps and the exception type + message."""
    seen: list[Any] = []
    headers = {"x-chaos-fault": fault, "x-chaos-tokens": "6"}
    with sync_client(chaos) as client:
        try:
            if api == "chat":
                stream: Any = client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "x"}], stream=True, extra_headers=headers
                )
            else:
                stream = client.responses.create(model="m", input="x", stream=True, extra_headers=headers)
            for chunk in stream:
                seen.append(_scrub(chunk.model_dump()))
        except Exception as exc:
            msg = str(exc).split(" (request id")[0]
            return seen, (type(exc).__qualname__, msg)
    return seen, None


def test_uninstrument_restores_the_sdk(telemetry: Telemetry, chaos: Any) -> None:
    originals = {
        (chat_resources.Completions, "create"): chat_resources.Completions.__dict__["create"],
        (chat_resources.AsyncCompletions, "create"): chat_resources.AsyncCompletions.__dict__["create"],
        (responses_resources.Responses, "create"): responses_resources.Responses.__dict__["create"],
        (responses_resources.AsyncResponses, "create"): responses_resources.AsyncResponses.__dict__["create"],
        (chat_helpers.ChatCompletionStream, "close"): chat_helpers.ChatCompletionStream.__dict__["close"],
    }
    inst = OpenAIStreamInstrumentor()
    inst.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    for (owner, name), original in originals.items():
        assert owner.__dict__[name] is not original
    inst.uninstrument()
    for (owner, name), original in originals.items():
        assert owner.__dict__[name] is original
    with sync_client(chaos) as client:
        stream = client.chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}], stream=True
        )
        assert type(stream) is openai.Stream
        list(stream)
    assert telemetry.spans() == []


def test_instrument_twice_patches_once(telemetry: Telemetry, chaos: Any) -> None:
    inst = OpenAIStreamInstrumentor()
    inst.instrument(tracer_provider=telemetry.tracer_provider, meter_provider=telemetry.meter_provider)
    OpenAIStreamInstrumentor().instrument(tracer_provider=telemetry.tracer_provider)
    try:
        with sync_client(chaos) as client:
            list(
                client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": "x"}], stream=True
                )
            )
    finally:
        inst.uninstrument()
    assert len(telemetry.spans()) == 1


def test_invalid_settings_fail_at_instrument_time(telemetry: Telemetry) -> None:
    inst = OpenAIStreamInstrumentor()
    with pytest.raises(ValueError, match="good_reasons: unknown termination reason 'fine'"):
        inst.instrument(tracer_provider=telemetry.tracer_provider, good_reasons=["fine"])
    inst.uninstrument()
