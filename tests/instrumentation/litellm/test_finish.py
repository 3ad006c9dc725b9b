"""Finish reasons: the provider's own where litellm keeps it, litellm's normalised one otherwise.

litellm's chunk types are real (``ModelResponseStream`` / ``StreamingChoices``); the chaos
provider cannot make litellm keep a raw reason, so these chunks are built directly.
"""

from __future__ import annotations

from typing import Any, Optional

import pytest

from otel_streamslo.core.calls import new_record
from otel_streamslo.core.config import Settings
from otel_streamslo.core.telemetry import make_telemetry
from otel_streamslo.instrumentation.litellm.stream import LiteLLMAdapter
from tests.conftest import Telemetry
from tests.contract.drivers.litellm_sdk import _litellm


def _chunk(finish: str, fields: Optional[dict[str, Any]]) -> Any:
    from litellm.types.utils import Delta, ModelResponseStream, StreamingChoices

    _litellm()
    choice = StreamingChoices(finish_reason=finish, delta=Delta(content=None))
    if fields is not None:
        choice.provider_specific_fields = fields
    return ModelResponseStream(id="x", model="m", choices=[choice])


@pytest.mark.parametrize(
    ("finish", "fields", "reason", "raw"),
    [
        ("stop", None, "completed", "stop"),
        ("length", None, "length", "length"),
        ("content_filter", None, "content_filter", "content_filter"),
        # litellm maps Anthropic's pause_turn to "length"; the provider's own reason says the turn ended
        ("pause_turn", {"stop_reason": "pause_turn"}, "completed", "pause_turn"),
        ("refusal", {"stop_reason": "refusal"}, "content_filter", "refusal"),
        # an unknown provider reason: litellm's normalised one decides
        ("stop", {"native_finish_reason": "SOMETHING_NEW"}, "completed", "stop"),
    ],
)
def test_finish_reason_read(
    telemetry: Telemetry, finish: str, fields: Optional[dict[str, Any]], reason: str, raw: str
) -> None:
    tel = make_telemetry(Settings(), telemetry.tracer_provider, telemetry.meter_provider)
    rec = new_record(tel, "anthropic", "m", (None, None))
    assert rec is not None
    rec.opened(200)
    LiteLLMAdapter(stream=None).on_chunk(rec, _chunk(finish, fields))
    rec.end(LiteLLMAdapter.end_event)
    attrs = dict(telemetry.only_span().attributes or {})
    assert attrs["streamslo.termination.reason"] == reason
    assert attrs["gen_ai.response.finish_reasons"] == (raw,)
