"""Fault matrix: every chaos fault x sync/async x plain/helper x SDK x consumer behaviour.

For every cell: exactly one span, the expected termination reason and outcome, the
``streamslo.streams`` counter agrees with the span, no active stream leaks, and any exception the
app sees is the SDK's own.
"""

from __future__ import annotations

import traceback
from typing import Any, Optional

import pytest

from otel_streamslo.core.lifecycle import OutcomePolicy, TerminationReason
from tests.conftest import Telemetry
from tests.reliability.drivers import MODES, Observed, run_async, run_sync

FAULTS: dict[str, str] = {
    "none": "completed",
    "length": "length",
    "content_filter": "content_filter",
    "tool_calls": "completed",
    "error_frame@3": "server_error_event",
    "reset@3": "connection_dropped",
    "stall@3": "idle_timeout",
    "eof@3": "truncated",
    "malformed_json@3": "server_error_event",
    "http_429": "request_failed",
    "http_503": "request_failed",
    "http_400": "request_failed",
}
STATUS = {"http_429": 429, "http_503": 503, "http_400": 400}
SDKS = ["openai", "anthropic"]


def expected_reason(fault: str, style: str, mode: str) -> str:
    natural = FAULTS[fault]
    if natural == "request_failed" or mode == "consume":
        return natural
    if mode in ("close", "cancel"):
        return "client_cancelled"
    # break / drop: a helper's `with` block closes the stream; a plain stream is abandoned
    return "client_cancelled" if style == "helper" else "client_abandoned"


@pytest.fixture
def instrumented(instrument_both: Telemetry) -> Telemetry:
    return instrument_both


def check(tel: Telemetry, sdk: str, fault: str, style: str, mode: str, seen: Observed) -> None:
    reason = expected_reason(fault, style, mode)
    span = tel.only_span()
    attrs = span.attributes or {}
    status: Optional[int] = STATUS.get(fault, 200)
    outcome = OutcomePolicy().outcome(TerminationReason(reason), status).value
    assert (attrs["streamslo.termination.reason"], attrs["streamslo.sli.outcome"]) == (reason, outcome), (
        seen.exc
    )
    assert attrs["gen_ai.provider.name"] == sdk
    assert tel.stream_counts() == {(reason, outcome): 1}
    assert tel.active() == 0
    if seen.exc is not None:  # raised by the SDK (or its JSON decoder), never by our code
        origin = traceback.extract_tb(seen.exc.__traceback__)[-1].filename
        assert "otel_streamslo" not in origin, (origin, repr(seen.exc))
    if style == "plain" and reason != "request_failed":
        assert attrs["streamslo.chunks.delivered"] == seen.items


CELLS = [
    (sdk, style, mode, fault)
    for sdk in SDKS
    for style in ("plain", "helper")
    for mode in MODES
    for fault in FAULTS
    if mode != "cancel"
]


@pytest.mark.parametrize(("sdk", "style", "mode", "fault"), CELLS)
def test_sync(instrumented: Telemetry, chaos: Any, sdk: str, style: str, mode: str, fault: str) -> None:
    seen = run_sync(sdk, style, mode, chaos, fault)
    check(instrumented, sdk, fault, style, mode, seen)


ASYNC_CELLS = [
    (sdk, style, mode, fault)
    for sdk in SDKS
    for style in ("plain", "helper")
    for mode in MODES
    for fault in FAULTS
]


@pytest.mark.parametrize(("sdk", "style", "mode", "fault"), ASYNC_CELLS)
async def test_async(
    instrumented: Telemetry, chaos: Any, sdk: str, style: str, mode: str, fault: str
) -> None:
    seen = await run_async(sdk, style, mode, chaos, fault)
    check(instrumented, sdk, fault, style, mode, seen)
