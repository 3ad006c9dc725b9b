"""openai specifics over HTTP: TTFT skips the role-only chunk, the latency SLI, bounded progress
events, concurrent async streams. Termination reasons are in tests/contract."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

import openai
import pytest

from tests.conftest import Telemetry

READ_TIMEOUT = 1.0  # the stall fault lasts 3 s; healthy chunks come back-to-back
HEADERS = {"x-chaos-tokens": "8", "x-chaos-stall-seconds": "3"}


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
