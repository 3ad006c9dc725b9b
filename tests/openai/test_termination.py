"""Every termination reason, through the real openai SDK over HTTP to the chaos provider."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import dataclass
from typing import Any, Optional

import openai
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from tests.conftest import Telemetry


@dataclass(frozen=True)
class Case:
    fault: str
    reason: str
    outcome: str
    exc: Optional[type[BaseException]] = None
    status: Optional[int] = 200
    first_token: bool = True


CASES = [
    Case("none", "completed", "good"),
    Case("length", "length", "good"),
    Case("content_filter", "content_filter", "good"),
    Case("tool_calls", "completed", "good"),
    Case("error_frame@3", "server_error_event", "bad", openai.APIError),
    Case("reset@3", "connection_dropped", "bad", openai.APIConnectionError),
    Case("stall@2", "idle_timeout", "bad", openai.APITimeoutError),
    Case("eof@3", "truncated", "bad"),
    Case("http_429", "request_failed", "bad", openai.RateLimitError, 429, False),
    Case("http_500", "request_failed", "bad", openai.InternalServerError, 500, False),
    Case("http_503", "request_failed", "bad", openai.InternalServerError, 503, False),
    Case("http_400", "request_failed", "excluded", openai.BadRequestError, 400, False),
]
TOKENS = 8
READ_TIMEOUT = 1.0  # the stall fault lasts 3 s; healthy chunks come back-to-back
HEADERS = {"x-chaos-tokens": str(TOKENS), "x-chaos-stall-seconds": "3"}


# Responses tool calls have their own test (test_responses_tool_call).
CELLS = [
    (c, api)
    for api in ("chat", "responses")
    for c in CASES
    if not (api == "responses" and c.fault == "tool_calls")
]
CELL_IDS = [f"{c.fault}-{api}" for c, api in CELLS]


def sync_client(chaos: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=chaos.openai_base_url,
        api_key="test",
        max_retries=0,
        timeout=openai.Timeout(10, read=READ_TIMEOUT),
    )


def async_client(chaos: Any) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(
        base_url=chaos.openai_base_url,
        api_key="test",
        max_retries=0,
        timeout=openai.Timeout(10, read=READ_TIMEOUT),
    )


def consume_sync(client: openai.OpenAI, api: str, fault: str) -> tuple[list[Any], Optional[BaseException]]:
    chunks: list[Any] = []
    try:
        if api == "chat":
            stream: Any = client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hello"}],
                stream=True,
                stream_options={"include_usage": True},
                extra_headers={**HEADERS, "x-chaos-fault": fault},
            )
        else:
            stream = client.responses.create(
                model="gpt-4o-mini",
                input="hello",
                stream=True,
                extra_headers={**HEADERS, "x-chaos-fault": fault},
            )
        for chunk in stream:
            chunks.append(chunk)
    except Exception as exc:
        return chunks, exc
    return chunks, None


async def consume_async(
    client: openai.AsyncOpenAI, api: str, fault: str
) -> tuple[list[Any], Optional[BaseException]]:
    chunks: list[Any] = []
    try:
        if api == "chat":
            stream: Any = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "hello"}],
                stream=True,
                stream_options={"include_usage": True},
                extra_headers={**HEADERS, "x-chaos-fault": fault},
            )
        else:
            stream = await client.responses.create(
                model="gpt-4o-mini",
                input="hello",
                stream=True,
                extra_headers={**HEADERS, "x-chaos-fault": fault},
            )
        async for chunk in stream:
            chunks.append(chunk)
    except Exception as exc:
        return chunks, exc
    return chunks, None


def check_span(tel: Telemetry, case: Case, api: str, exc: Optional[BaseException]) -> None:
    span = tel.only_span()
    attrs = dict(span.attributes or {})
    assert span.kind is SpanKind.CLIENT
    assert span.name == "chat gpt-4o-mini"
    assert attrs["gen_ai.operation.name"] == "chat"
    assert attrs["gen_ai.provider.name"] == "openai"
    assert attrs["gen_ai.request.model"] == "gpt-4o-mini"
    assert attrs["gen_ai.request.stream"] is True
    assert attrs["server.address"] == "127.0.0.1"
    assert isinstance(attrs["server.port"], int)
    assert attrs["streamslo.termination.reason"] == case.reason
    assert attrs["streamslo.sli.outcome"] == case.outcome
    assert attrs.get("http.response.status_code") == case.status
    # The Responses API delivers an error frame as an `error` event, not as an exception.
    expected_exc = None if api == "responses" and case.fault.startswith("error_frame") else case.exc
    if expected_exc is None:
        assert exc is None
    else:
        assert isinstance(exc, expected_exc), exc
    ttc = attrs["streamslo.time_to_completion"]
    assert isinstance(ttc, float) and ttc > 0
    if case.first_token:
        ttft = attrs["streamslo.time_to_first_token"]
        assert isinstance(ttft, float) and 0 < ttft <= ttc
        assert attrs["gen_ai.response.time_to_first_chunk"] <= ttft
        assert span.events[0].name == "streamslo.first_token"
        assert attrs["streamslo.chunks.delivered"] >= 1
        assert attrs["streamslo.tokens.delivered"] >= 1
    else:
        assert "streamslo.time_to_first_token" not in attrs
        assert attrs["streamslo.chunks.delivered"] == 0
    if case.outcome == "bad":
        assert span.status.status_code is StatusCode.ERROR
        expected_type = str(case.status) if case.reason == "request_failed" else case.reason
        assert attrs["error.type"] == expected_type
    elif case.reason == "request_failed":
        assert span.status.status_code is StatusCode.ERROR
        assert attrs["error.type"] == str(case.status)
    else:
        assert span.status.status_code is StatusCode.UNSET
        assert "error.type" not in attrs
    if case.reason == "completed":
        assert attrs["streamslo.tokens.delivered"] == attrs["gen_ai.usage.output_tokens"]
        if case.fault == "none":
            assert attrs["streamslo.tokens.delivered"] == TOKENS
            assert attrs["gen_ai.usage.input_tokens"] > 0
    if case.fault == "tool_calls":
        assert attrs["streamslo.tool_calls.committed"] == 1
        tool_events = [e for e in span.events if e.name == "streamslo.tool_call"]
        assert len(tool_events) == 1
        assert (tool_events[0].attributes or {})["gen_ai.tool.name"] == "get_weather"
    # metrics agree with the span
    assert tel.stream_counts() == {(case.reason, case.outcome): 1}
    assert tel.active() == 0
    durations = tel.points("gen_ai.client.operation.duration")
    assert sum(p.count for p in durations) == 1
    if case.outcome == "bad":
        assert durations[0].attributes["error.type"] == attrs["error.type"]
    ttft_points = tel.points("gen_ai.client.operation.time_to_first_chunk")
    assert sum(p.count for p in ttft_points) == (1 if case.first_token else 0)


@pytest.mark.parametrize(("case", "api"), CELLS, ids=CELL_IDS)
def test_sync(instrument_openai: Telemetry, chaos: Any, case: Case, api: str) -> None:
    with sync_client(chaos) as client:
        chunks, exc = consume_sync(client, api, case.fault)
    check_span(instrument_openai, case, api, exc)
    attrs = instrument_openai.only_span().attributes or {}
    if case.first_token:
        assert attrs["streamslo.chunks.delivered"] == len(chunks)


@pytest.mark.parametrize(("case", "api"), CELLS, ids=CELL_IDS)
async def test_async(instrument_openai: Telemetry, chaos: Any, case: Case, api: str) -> None:
    async with async_client(chaos) as client:
        chunks, exc = await consume_async(client, api, case.fault)
    check_span(instrument_openai, case, api, exc)
    attrs = instrument_openai.only_span().attributes or {}
    if case.first_token:
        assert attrs["streamslo.chunks.delivered"] == len(chunks)


def test_responses_tool_call(instrument_openai: Telemetry, chaos: Any) -> None:
    with sync_client(chaos) as client:
        _, exc = consume_sync(client, "responses", "tool_calls")
    assert exc is None
    attrs = instrument_openai.only_span().attributes or {}
    assert attrs["streamslo.termination.reason"] == "completed"
    assert attrs["streamslo.tool_calls.committed"] == 1


def test_tool_call_committed_before_reset(instrument_openai: Telemetry, chaos: Any) -> None:
    with sync_client(chaos) as client:
        _, exc = consume_sync(client, "chat", "tool_calls_reset")
    assert isinstance(exc, openai.APIConnectionError)
    attrs = instrument_openai.only_span().attributes or {}
    assert attrs["streamslo.termination.reason"] == "connection_dropped"
    assert attrs["streamslo.tool_calls.committed"] == 1


def test_connect_error_is_request_failed_without_status(instrument_openai: Telemetry) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="t", max_retries=0)
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}], stream=True)
    attrs = instrument_openai.only_span().attributes or {}
    assert attrs["streamslo.termination.reason"] == "request_failed"
    assert attrs["streamslo.sli.outcome"] == "bad"
    assert "http.response.status_code" not in attrs
    assert attrs["error.type"] == "APIConnectionError"


def test_slow_ttft_measures_first_content_not_role_chunk(instrument_openai: Telemetry, chaos: Any) -> None:
    with sync_client(chaos) as client:
        client = client.with_options(timeout=openai.Timeout(10, read=5))
        stream = client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[{"role": "user", "content": "x"}],
            stream=True,
            extra_headers={
                "x-chaos-fault": "slow_ttft",
                "x-chaos-ttft-seconds": "0.6",
                "x-chaos-tokens": "3",
            },
        )
        chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    attrs = instrument_openai.only_span().attributes or {}
    assert attrs["streamslo.termination.reason"] == "completed"
    assert attrs["gen_ai.response.time_to_first_chunk"] < 0.5
    assert attrs["streamslo.time_to_first_token"] >= 0.6
    assert attrs["streamslo.sli.latency"] == "good"  # default threshold 2 s


def test_latency_sli_uses_the_ttft_threshold(telemetry: Telemetry, chaos: Any) -> None:
    from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor

    inst = OpenAIStreamInstrumentor()
    inst.instrument(tracer_provider=telemetry.tracer_provider, ttft_threshold=0.3)
    try:
        with sync_client(chaos) as client:
            for ttft in ("0.5", "0"):
                fault = "slow_ttft" if ttft != "0" else "none"
                list(
                    client.with_options(timeout=5).chat.completions.create(
                        model="m",
                        messages=[{"role": "user", "content": "x"}],
                        stream=True,
                        extra_headers={"x-chaos-fault": fault, "x-chaos-ttft-seconds": ttft},
                    )
                )
            with pytest.raises(openai.RateLimitError):
                client.chat.completions.create(
                    model="m",
                    messages=[{"role": "user", "content": "x"}],
                    stream=True,
                    extra_headers={"x-chaos-fault": "http_429"},
                )
    finally:
        inst.uninstrument()
    verdicts = [(s.attributes or {})["streamslo.sli.latency"] for s in telemetry.spans()]
    assert verdicts == ["bad", "good", "excluded"]


async def test_progress_events_are_bounded(telemetry: Telemetry, chaos: Any) -> None:
    from otel_streamslo.instrumentation.openai import OpenAIStreamInstrumentor

    inst = OpenAIStreamInstrumentor()
    inst.instrument(
        tracer_provider=telemetry.tracer_provider,
        meter_provider=telemetry.meter_provider,
        progress_every_tokens=10,
        max_progress_events=5,
    )
    try:
        async with async_client(chaos) as client:
            stream = await client.chat.completions.create(
                model="gpt-4o-mini",
                messages=[{"role": "user", "content": "x"}],
                stream=True,
                extra_headers={"x-chaos-tokens": "500"},
            )
            n = 0
            async for _ in stream:
                n += 1
    finally:
        inst.uninstrument()
    span = telemetry.only_span()
    progress = [e for e in span.events if e.name == "streamslo.progress"]
    assert len(progress) == 5
    assert [(e.attributes or {})["streamslo.tokens.delivered"] for e in progress] == [10, 20, 30, 40, 50]
    assert (span.attributes or {})["streamslo.tokens.delivered"] == 500
    assert len(span.events) == 1 + 5


async def test_concurrent_async_streams_do_not_cross_talk(instrument_openai: Telemetry, chaos: Any) -> None:
    faults = ["none", "reset@2", "eof@4", "error_frame@1", "length"] * 8
    async with async_client(chaos) as client:
        client = client.with_options(timeout=30)
        results = await asyncio.gather(*(consume_async(client, "chat", f) for f in faults))
    spans = instrument_openai.spans()
    assert len(spans) == len(faults)
    expected = {"none": "completed", "reset": "connection_dropped", "eof": "truncated"}
    expected |= {"error_frame": "server_error_event", "length": "length"}
    got = sorted((s.attributes or {})["streamslo.termination.reason"] for s in spans)
    seen = sorted(f"{f}:{type(e).__name__}:{e!r}" for f, (_, e) in zip(faults, results) if e is not None)
    assert got == sorted(expected[f.split("@")[0]] for f in faults), seen
    assert len({s.context.span_id for s in spans}) == len(faults)
    assert instrument_openai.active() == 0
    assert sum(len(c) for c, _ in results) == sum(
        (s.attributes or {})["streamslo.chunks.delivered"] for s in spans
    )
