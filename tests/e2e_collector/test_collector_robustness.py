"""The built collector under malformed OTLP and under a sustained loopback load: no crash, no drops."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e_collector.collector_harness import BINARY, CONFIG_STREAMSLO, Collector, parse_prometheus
from tests.otlp_spans import client_span, export_body

CALLS = "traces_span_metrics_calls_total"
REASONS = ["completed", "length", "server_error_event", "connection_dropped", "truncated", "client_cancelled"]


@pytest.fixture(scope="module")
def collector(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Collector]:
    assert BINARY.exists(), f"{BINARY} missing: run `bash collector/build.sh` (scripts/test.sh does)"
    col = Collector(config=CONFIG_STREAMSLO, log_path=tmp_path_factory.mktemp("robust") / "collector.log")
    col.start()
    try:
        yield col
    finally:
        col.stop()


def post(col: Collector, body: bytes, content_type: str) -> int:
    req = urllib.request.Request(
        f"{col.otlp_http}/v1/traces", data=body, headers={"Content-Type": content_type}, method="POST"
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as err:
        return int(err.code)


def batch(start: int, n: int, service: str, reasons: list[object]) -> bytes:
    spans = []
    for i in range(start, start + n):
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "load",
            "gen_ai.request.stream": True,
            "http.response.status_code": 200,
            "streamslo.termination.reason": reasons[i % len(reasons)],
            "streamslo.time_to_first_token": 0.25,
        }
        begin = 1_700_000_000_000_000_000 + i
        trace_id, span_id = (i + 1).to_bytes(16, "big"), (i + 1).to_bytes(8, "big")
        spans.append(client_span("chat load", trace_id, span_id, begin, begin + 500_000_000, attrs))
    return export_body(service, spans, scope=None)


def calls_for(col: Collector, service: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in parse_prometheus(col.scrape()):
        if s.name == CALLS and s.labels.get("service_name") == service:
            key = f"{s.labels.get('streamslo_termination_reason')}/{s.labels.get('streamslo_sli_outcome')}"
            out[key] = out.get(key, 0) + int(s.value)
    return out


def self_metric(col: Collector, prefix: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{col.self_metrics_port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(s.value for s in parse_prometheus(text) if s.name.startswith(prefix))


def wait_total(col: Collector, service: str, want: int, timeout: float = 60) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    got: dict[str, int] = {}
    while time.monotonic() < deadline:
        got = calls_for(col, service)
        if sum(got.values()) >= want:
            break
        time.sleep(0.5)
    return got


def test_malformed_payloads_are_rejected_cleanly(collector: Collector) -> None:
    assert post(collector, os.urandom(512), "application/x-protobuf") == 400
    assert post(collector, b"{not json", "application/json") == 400
    assert post(collector, b'{"resourceSpans": "nope"}', "application/json") == 400
    assert post(collector, b"\x0a\xff\xff\xff\xff\x0f", "application/x-protobuf") == 400
    # still alive and serving
    assert collector.proc is not None and collector.proc.poll() is None
    collector.scrape()  # the Prometheus endpoint still answers
    assert post(collector, batch(0, 3, "after-garbage", ["completed"]), "application/x-protobuf") == 200
    assert wait_total(collector, "after-garbage", 3) == {"completed/good": 3}


def test_malformed_attribute_values_are_counted_not_dropped(collector: Collector) -> None:
    weird: list[object] = [7, "", "exploded", 3.5, True, "completed"]
    assert post(collector, batch(100, 12, "weird-attrs", weird), "application/x-protobuf") == 200
    got = wait_total(collector, "weird-attrs", 12)
    assert sum(got.values()) == 12, got
    assert got.get("completed/good") == 2
    assert sum(v for k, v in got.items() if k.endswith("/bad")) == 10, got


def test_json_otlp_is_accepted(collector: Collector) -> None:
    body = {
        "resourceSpans": [
            {
                "resource": {
                    "attributes": [{"key": "service.name", "value": {"stringValue": "json-client"}}]
                },
                "scopeSpans": [
                    {
                        "spans": [
                            {
                                "traceId": "0af7651916cd43dd8448eb211c80319c",
                                "spanId": "b7ad6b7169203331",
                                "name": "chat json",
                                "kind": 3,
                                "startTimeUnixNano": "1700000000000000000",
                                "endTimeUnixNano": "1700000001000000000",
                                "attributes": [
                                    {"key": "gen_ai.request.stream", "value": {"boolValue": True}},
                                    {"key": "http.response.status_code", "value": {"intValue": "200"}},
                                    {"key": "gen_ai.response.finish_reasons", "value": {"arrayValue": {}}},
                                ],
                            }
                        ]
                    }
                ],
            }
        ]
    }
    assert post(collector, json.dumps(body).encode(), "application/json") == 200
    # a foreign streaming span that returned 200 without finish reasons is truncated / bad
    assert wait_total(collector, "json-client", 1) == {"truncated/bad": 1}


@pytest.mark.slow
def test_sustained_load_drops_nothing(collector: Collector, tmp_path: Path) -> None:
    total, per_batch, rate = 60_000, 500, 6_000  # spans, spans per request, spans per second
    counters = (
        "otelcol_receiver_accepted_spans",
        "otelcol_receiver_refused_spans",
        "otelcol_receiver_failed_spans",
        "otelcol_exporter_sent_spans",
        "otelcol_exporter_send_failed_spans",
    )
    before = {name: self_metric(collector, name) for name in counters}
    started = time.monotonic()
    for k, start in enumerate(range(0, total, per_batch)):
        assert (
            post(collector, batch(10_000 + start, per_batch, "load", REASONS), "application/x-protobuf")
            == 200
        )
        pause = started + (k + 1) * per_batch / rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    elapsed = time.monotonic() - started
    got = wait_total(collector, "load", total, timeout=90)
    assert sum(got.values()) == total, got
    per_reason = total // len(REASONS)
    assert got["completed/good"] == per_reason
    assert got["client_cancelled/excluded"] == per_reason
    time.sleep(1)
    delta = {name: self_metric(collector, name) - before[name] for name in counters}
    assert delta == {
        "otelcol_receiver_accepted_spans": total,
        "otelcol_receiver_refused_spans": 0,
        "otelcol_receiver_failed_spans": 0,
        "otelcol_exporter_sent_spans": total,
        "otelcol_exporter_send_failed_spans": 0,
    }
    (tmp_path / "load.txt").write_text(
        f"{total} spans in {elapsed:.1f}s ({total / elapsed:.0f}/s), none dropped\n"
    )
    assert collector.proc is not None and collector.proc.poll() is None
