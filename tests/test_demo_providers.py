"""``otel-streamslo demo --provider bedrock|gemini``: every call accounted for, each fault with its reason."""

from __future__ import annotations

import json

import pytest

from tests.test_demo import _demo

REASON_OF_FAULT = {
    "error_frame": "server_error_event",
    "reset": "connection_dropped",
    "eof": "truncated",
    "stall": "idle_timeout",
    "length": "length",
    "content_filter": "content_filter",
}


@pytest.mark.parametrize("provider", ["bedrock", "gemini"])
def test_demo_accounts_for_every_call(provider: str) -> None:
    out = json.loads(
        _demo(
            "--provider", provider, "--calls", "60", "--chunk-delay", "0", "--server-sessions", "0", "--json"
        )
    )
    assert out["streams"] == 60 and sum(out["reasons"].values()) == 60
    faults, reasons = out["faults_injected"], out["reasons"]
    assert sum(faults.values()) == 60
    for fault, reason in REASON_OF_FAULT.items():
        assert reasons.get(reason, 0) == faults.get(fault, 0), (fault, faults, reasons)
    http = sum(n for f, n in faults.items() if f.startswith("http_"))
    assert reasons.get("request_failed", 0) == http
    clean = sum(faults.get(f, 0) for f in ("none", "slow_ttft", "tool_calls"))
    assert reasons.get("completed", 0) + reasons.get("client_cancelled", 0) == clean
    assert out["stream_availability"] < out["http_availability"]
