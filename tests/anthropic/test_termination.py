"""Every termination reason through the real anthropic SDK over HTTP to the chaos provider.

Each case runs on four code paths (``messages.create(stream=True)`` and the ``messages.stream()``
helper, sync and async) under each native-tracing setting, and checks the one span of the call,
the exception the application saw and the metrics.
"""

from __future__ import annotations

import json
import socket
from dataclasses import dataclass
from typing import Any, Optional

import anthropic
import httpx2
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from tests.anthropic.conftest import MODEL, MSG, Harness

TOKENS = 8
HEADERS = {"x-chaos-tokens": str(TOKENS), "x-chaos-stall-seconds": "1.5"}
PATHS = ("raw", "helper")
# Event types the helper adds on top of the raw events.
DERIVED = frozenset({"text", "input_json", "citation", "thinking", "signature", "compaction"})


@dataclass(frozen=True)
class Case:
    fault: str
    reason: str
    outcome: str
    exc: Optional[type[BaseException]] = None
    status: Optional[int] = 200
    first_token: bool = True
    finish: Optional[str] = None
    unseen_chunks: int = 0  # raw chunks delivered to a helper that failed before handing them on


CASES = [
    Case("none", "completed", "good", finish="end_turn"),
    Case("length", "length", "good", finish="max_tokens"),
    Case("content_filter", "content_filter", "good", finish="refusal"),
    Case("tool_calls", "completed", "good", finish="tool_use"),
    Case("unknown_event@2", "completed", "good", finish="end_turn"),
    Case("huge_chunk@2", "completed", "good", finish="end_turn"),
    Case("error_frame@3", "server_error_event", "bad", anthropic.APIStatusError),
    Case("malformed_json@2", "server_error_event", "bad", json.JSONDecodeError),
    Case("reset@3", "connection_dropped", "bad", httpx2.RemoteProtocolError),
    Case("stall@2", "idle_timeout", "bad", httpx2.ReadTimeout),
    Case("eof@3", "truncated", "bad"),
    Case("http_429", "request_failed", "bad", anthropic.RateLimitError, 429, False),
    Case("http_500", "request_failed", "bad", anthropic.InternalServerError, 500, False),
    Case("http_503", "request_failed", "bad", anthropic.InternalServerError, 503, False),
    Case("http_529", "request_failed", "bad", anthropic.OverloadedError, 529, False),
    Case("http_400", "request_failed", "excluded", anthropic.BadRequestError, 400, False),
]


def consume_sync(
    client: anthropic.Anthropic, path: str, fault: str, headers: Optional[dict[str, str]] = None
) -> tuple[list[Any], Optional[BaseException]]:
    """Run one scripted call to the end; return the events the app saw and what it raised."""
    events: list[Any] = []
    extra = {**HEADERS, "x-chaos-fault": fault, **(headers or {})}
    try:
        if path == "raw":
            stream = client.messages.create(
                model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=extra
            )
            for event in stream:
                events.append(event)
        else:
            with client.messages.stream(model=MODEL, max_tokens=64, messages=MSG, extra_headers=extra) as s:
                for event in s:
                    events.append(event)
    except Exception as exc:
        return events, exc
    return events, None


async def consume_async(
    client: anthropic.AsyncAnthropic, path: str, fault: str, headers: Optional[dict[str, str]] = None
) -> tuple[list[Any], Optional[BaseException]]:
    events: list[Any] = []
    extra = {**HEADERS, "x-chaos-fault": fault, **(headers or {})}
    try:
        if path == "raw":
            stream = await client.messages.create(
                model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=extra
            )
            async for event in stream:
                events.append(event)
        else:
            async with client.messages.stream(
                model=MODEL, max_tokens=64, messages=MSG, extra_headers=extra
            ) as s:
                async for event in s:
                    events.append(event)
    except Exception as exc:
        return events, exc
    return events, None


def raw_count(events: list[Any]) -> int:
    return sum(1 for e in events if getattr(e, "type", None) not in DERIVED)


def check(h: Harness, case: Case, events: list[Any], exc: Optional[BaseException]) -> None:
    span = h.only_span()
    attrs = dict(span.attributes or {})
    assert span.kind is SpanKind.CLIENT
    assert span.name == h.expected_name()
    assert span.instrumentation_scope is not None
    assert span.instrumentation_scope.name == h.expected_scope()
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "anthropic"
    assert attrs["gen_ai.request.model"] == MODEL
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["server.address"] == "127.0.0.1"
    assert isinstance(attrs["server.port"], int)
    assert attrs["streamslo.termination.reason"] == case.reason
    assert attrs["streamslo.sli.outcome"] == case.outcome
    assert attrs.get("http.response.status_code") == case.status
    if case.exc is None:
        assert exc is None
    else:
        assert isinstance(exc, case.exc), repr(exc)
    ttc = attrs["streamslo.time_to_completion"]
    assert isinstance(ttc, float) and ttc > 0
    if case.first_token:
        ttft = attrs["streamslo.time_to_first_token"]
        assert isinstance(ttft, float) and 0 < ttft <= ttc
        assert attrs["gen_ai.response.time_to_first_chunk"] <= ttft
        assert next(e.name for e in span.events) == "streamslo.first_token"
        assert attrs["streamslo.chunks.delivered"] == raw_count(events) + case.unseen_chunks
        assert attrs["streamslo.tokens.delivered"] >= 1
        assert attrs["gen_ai.response.id"].startswith("msg_")
        assert attrs["gen_ai.response.model"] == MODEL
        assert attrs["gen_ai.usage.input_tokens"] > 0
    else:
        assert "streamslo.time_to_first_token" not in attrs
        assert attrs["streamslo.chunks.delivered"] == 0
        assert events == []
    if case.outcome == "bad":
        assert span.status.status_code is StatusCode.ERROR
        expected_type = str(case.status) if case.reason == "request_failed" else case.reason
        assert attrs["error.type"] == expected_type
    elif case.reason == "request_failed":
        assert span.status.status_code is StatusCode.ERROR
        assert attrs["error.type"] == str(case.status)
    else:
        # The SDK's own span marks a successful call OK; ours leaves a good stream UNSET.
        expected = StatusCode.OK if h.sdk_span and case.outcome == "good" else StatusCode.UNSET
        assert span.status.status_code is expected
        assert "error.type" not in attrs
    if case.finish is not None:
        assert attrs["gen_ai.response.finish_reasons"] == (case.finish,)
    else:
        assert "gen_ai.response.finish_reasons" not in attrs
    if case.outcome == "good":
        assert attrs["streamslo.tokens.delivered"] == attrs["gen_ai.usage.output_tokens"]
        if case.fault in ("none", "length"):
            assert attrs["streamslo.tokens.delivered"] == TOKENS
    elif case.first_token:
        # Not completed: delivered tokens are counted from the deltas, no output usage arrived.
        assert "gen_ai.usage.output_tokens" not in attrs
    if case.fault == "tool_calls":
        assert attrs["streamslo.tool_calls.committed"] == 1
        tool_events = [e for e in span.events if e.name == "streamslo.tool_call"]
        assert len(tool_events) == 1
        assert (tool_events[0].attributes or {})["gen_ai.tool.name"] == "get_weather"
    else:
        assert attrs["streamslo.tool_calls.committed"] == 0
    # Metrics agree with the span.
    tel = h.tel
    assert tel.stream_counts() == {(case.reason, case.outcome): 1}
    assert tel.active() == 0
    durations = tel.points("gen_ai.client.operation.duration")
    assert sum(p.count for p in durations) == 1
    if "error.type" in attrs:
        assert durations[0].attributes["error.type"] == attrs["error.type"]
    ttft_points = tel.points("gen_ai.client.operation.time_to_first_chunk")
    assert sum(p.count for p in ttft_points) == (1 if case.first_token else 0)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.fault)
def test_sync(harness: Harness, chaos: Any, case: Case, path: str) -> None:
    with harness.client(chaos) as client:
        events, exc = consume_sync(client, path, case.fault)
    check(harness, case, events, exc)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.fault)
async def test_async(harness: Harness, chaos: Any, case: Case, path: str) -> None:
    async with harness.aclient(chaos) as client:
        events, exc = await consume_async(client, path, case.fault)
    check(harness, case, events, exc)


# An event without its required fields: the raw stream hands it to the app (whose business it
# is), the helper cannot accumulate it and raises: that stream failed on the provider's side.
MISSING_RAW = Case("missing_fields@2", "completed", "good", finish="end_turn")
MISSING_HELPER = Case("missing_fields@2", "server_error_event", "bad", AttributeError, unseen_chunks=1)


@pytest.mark.parametrize("path", PATHS)
def test_missing_fields_sync(harness: Harness, chaos: Any, path: str) -> None:
    with harness.client(chaos) as client:
        events, exc = consume_sync(client, path, "missing_fields@2")
    check(harness, MISSING_RAW if path == "raw" else MISSING_HELPER, events, exc)


@pytest.mark.parametrize("path", PATHS)
async def test_missing_fields_async(harness: Harness, chaos: Any, path: str) -> None:
    async with harness.aclient(chaos) as client:
        events, exc = await consume_async(client, path, "missing_fields@2")
    check(harness, MISSING_RAW if path == "raw" else MISSING_HELPER, events, exc)


@pytest.mark.parametrize("path", PATHS)
def test_connect_error_is_request_failed_without_status(harness: Harness, path: str) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = anthropic.Anthropic(
        base_url=f"http://127.0.0.1:{port}",
        api_key="t",
        max_retries=0,
        open_telemetry=harness.open_telemetry(),
    )
    with pytest.raises(anthropic.APIConnectionError):
        if path == "raw":
            client.messages.create(model=MODEL, max_tokens=8, messages=MSG, stream=True)
        else:
            with client.messages.stream(model=MODEL, max_tokens=8, messages=MSG):
                pass
    attrs = harness.attrs()
    assert attrs["streamslo.termination.reason"] == "request_failed"
    assert attrs["streamslo.sli.outcome"] == "bad"
    assert "http.response.status_code" not in attrs
    assert attrs["error.type"] == "APIConnectionError"
    assert harness.only_span().status.status_code is StatusCode.ERROR
