"""The demo, as a newcomer runs it: plain, zero-code, and exporting OTLP to the built collector."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from otel_streamslo.demo import DEFAULT_MIX, make_plans
from tests.e2e_collector.collector_harness import BINARY, CONFIG_STREAMSLO, Collector, parse_prometheus

BIN = Path(sys.executable).parent


def _demo(*args: str, env: dict[str, str] | None = None, prefix: tuple[str, ...] = ()) -> str:
    proc = subprocess.run(
        [*prefix, str(BIN / "otel-streamslo"), "demo", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_plans_are_reproducible_and_cover_the_mix() -> None:
    a = make_plans(300, 7, DEFAULT_MIX, 48)
    assert a == make_plans(300, 7, DEFAULT_MIX, 48)
    assert a != make_plans(300, 8, DEFAULT_MIX, 48)
    names = {p.fault.split("@")[0] for p in a}
    assert names == set(DEFAULT_MIX)
    assert any(p.cancel_after is not None for p in a)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_demo_report_accounts_for_every_call(provider: str) -> None:
    out = json.loads(
        _demo(
            "--provider", provider, "--calls", "60", "--chunk-delay", "0", "--server-sessions", "0", "--json"
        )
    )
    assert out["streams"] == 60
    assert sum(out["reasons"].values()) == 60
    assert sum(out["faults_injected"].values()) == 60
    # every HTTP 200 that failed mid-stream lowers stream availability below HTTP availability
    mid_stream = sum(
        out["reasons"].get(r, 0) for r in ("server_error_event", "connection_dropped", "truncated")
    )
    if mid_stream:
        assert out["stream_availability"] < out["http_availability"]
    assert out["ttft_p50"] <= out["ttft_p99"]
    assert "server" not in out


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_demo_default_mix_runs_to_its_report(provider: str) -> None:
    """The README's demo (300 calls, every fault of the mix): every reset is a dropped connection.

    The mix's resets land only in a full run; anthropic's async stream raises them as a raw
    ``httpx2.RemoteProtocolError``, which the demo app must handle as it handles SDK errors.
    """
    out = json.loads(_demo("--provider", provider, "--chunk-delay", "0", "--server-sessions", "0", "--json"))
    assert out["streams"] == 300
    assert sum(out["reasons"].values()) == 300
    assert out["faults_injected"]["reset"] >= 1
    assert out["reasons"]["connection_dropped"] == out["faults_injected"]["reset"]


def test_demo_server_side_billing_gap_and_remedy() -> None:
    out = json.loads(_demo("--calls", "10", "--chunk-delay", "0", "--server-sessions", "40", "--json"))
    usual, remedy = out["server"]["as_usual"], out["server"]["close_upstream_on_disconnect"]
    assert out["streams"] == 10  # the provider-leg report counts client spans only
    for side in (usual, remedy):
        assert side["responses"] == 40
        assert sum(side["user_reasons"].values()) == 40
        assert side["http_availability"] == 1.0  # the app answers 200 whatever happened upstream
        assert side["user_availability"] < 1.0  # ... and users got cut-off answers
        # a stop orphans the upstream stream unless that stream had already ended
        assert 1 <= side["orphaned_streams"] <= side["user_reasons"]["client_cancelled"]
    assert usual["tokens_after_disconnect"] > 0  # the producer-task route keeps reading after a stop
    assert (
        usual["billed_after_disconnect_share"] == usual["tokens_after_disconnect"] / usual["upstream_tokens"]
    )
    assert remedy["tokens_after_disconnect"] < usual["tokens_after_disconnect"]
    assert remedy["abort_propagation_p95"] < usual["abort_propagation_p95"]


def test_demo_text_report() -> None:
    text = _demo("--calls", "40", "--chunk-delay", "0", "--server-sessions", "16")
    assert "HTTP availability (naive):" in text
    assert "stream-aware availability:" in text
    assert "termination reasons:" in text
    assert "otel-streamslo demo (openai SDK, 40 streamed calls)" in text
    assert "server side: a chat app relaying the provider to 16 browser sessions" in text
    for row in ("user-facing availability", "tokens billed after users left", "abort propagation p50 / p95"):
        assert row in text


def test_demo_under_opentelemetry_instrument() -> None:
    out = _demo(
        "--calls",
        "30",
        "--chunk-delay",
        "0",
        "--server-sessions",
        "12",
        "--json",
        prefix=(
            str(BIN / "opentelemetry-instrument"),
            "--traces_exporter",
            "none",
            "--metrics_exporter",
            "none",
        ),
    )
    report = json.loads(out[out.index("{") :])
    assert report["streams"] == 30
    assert report["server"]["as_usual"]["responses"] == 12  # one verdict per response, no doubles


def test_demo_exports_otlp_to_the_collector(tmp_path: Path) -> None:
    assert BINARY.exists(), f"{BINARY} missing: run `bash collector/build.sh` (scripts/test.sh does)"
    col = Collector(config=CONFIG_STREAMSLO, log_path=tmp_path / "collector.log")
    col.start()
    try:
        out = json.loads(
            _demo(
                "--calls",
                "50",
                "--chunk-delay",
                "0",
                "--server-sessions",
                "0",
                "--json",
                env={
                    "OTEL_EXPORTER_OTLP_ENDPOINT": col.otlp_http,
                    "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
                },
            )
        )
        want = Counter(out["reasons"])
        got: Counter[str] = Counter()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            got = Counter()
            for s in parse_prometheus(col.scrape()):
                if s.name == "traces_span_metrics_calls_total" and "streamslo_termination_reason" in s.labels:
                    assert s.labels["service_name"] == "streamslo-demo"
                    got[s.labels["streamslo_termination_reason"]] += int(s.value)
            if sum(got.values()) >= 50:
                break
            time.sleep(0.5)
        assert got == want, col.log()
    finally:
        col.stop()
