"""Every way a consumer can leave a stream ends the span exactly once, with the right reason."""

from __future__ import annotations

import gc
from typing import Any

import openai

from tests.conftest import Telemetry
from tests.instrumentation.openai.test_latency_events import async_client, sync_client

MSG = [{"role": "user", "content": "hello"}]
H = {"x-chaos-tokens": "12"}


def reason(tel: Telemetry) -> str:
    return str((tel.only_span().attributes or {})["streamslo.termination.reason"])


def test_break_without_close_is_abandoned_at_collection(instrument_openai: Telemetry, chaos: Any) -> None:
    with sync_client(chaos) as client:
        stream = client.chat.completions.create(model="m", messages=MSG, stream=True, extra_headers=H)
        for _ in stream:
            break
        assert instrument_openai.spans() == []  # still open: the connection is still held
        del stream
        gc.collect()
    assert reason(instrument_openai) == "client_abandoned"
    assert (instrument_openai.only_span().attributes or {})["streamslo.sli.outcome"] == "excluded"


def test_with_block_left_early_is_cancelled(instrument_openai: Telemetry, chaos: Any) -> None:
    with sync_client(chaos) as client:
        with client.chat.completions.create(model="m", messages=MSG, stream=True, extra_headers=H) as stream:
            assert isinstance(stream, openai.Stream)
            next(iter(stream))
    assert reason(instrument_openai) == "client_cancelled"


def test_close_after_completion_keeps_completed(instrument_openai: Telemetry, chaos: Any) -> None:
    with sync_client(chaos) as client:
        with client.chat.completions.create(model="m", messages=MSG, stream=True, extra_headers=H) as stream:
            list(stream)
        stream.close()
    assert reason(instrument_openai) == "completed"


async def test_async_aclose_and_async_with(instrument_openai: Telemetry, chaos: Any) -> None:
    async with async_client(chaos) as client:
        stream = await client.chat.completions.create(model="m", messages=MSG, stream=True, extra_headers=H)
        async for _ in stream:
            break
        await stream.aclose()
        async with await client.chat.completions.create(
            model="m", messages=MSG, stream=True, extra_headers=H
        ) as stream2:
            assert isinstance(stream2, openai.AsyncStream)
            await stream2.__anext__()
    reasons = sorted((s.attributes or {})["streamslo.termination.reason"] for s in instrument_openai.spans())
    assert reasons == ["client_cancelled", "client_cancelled"]


def test_chat_stream_helper(instrument_openai: Telemetry, chaos: Any) -> None:
    with sync_client(chaos) as client:
        with client.chat.completions.stream(model="m", messages=MSG, extra_headers=H) as stream:
            final = stream.get_final_completion()
        assert final.choices[0].message.content
        with client.chat.completions.stream(model="m", messages=MSG, extra_headers=H) as stream:
            for event in stream:
                if event.type == "content.delta":
                    break
    reasons = [(s.attributes or {})["streamslo.termination.reason"] for s in instrument_openai.spans()]
    assert reasons == ["completed", "client_cancelled"]


async def test_async_chat_stream_helper(instrument_openai: Telemetry, chaos: Any) -> None:
    async with async_client(chaos) as client:
        async with client.chat.completions.stream(model="m", messages=MSG, extra_headers=H) as stream:
            text = [e.delta async for e in stream if e.type == "content.delta"]
        assert "".join(text)
        async with client.chat.completions.stream(model="m", messages=MSG, extra_headers=H) as stream:
            async for _ in stream:
                break
    reasons = [(s.attributes or {})["streamslo.termination.reason"] for s in instrument_openai.spans()]
    assert reasons == ["completed", "client_cancelled"]


def test_responses_stream_helper(instrument_openai: Telemetry, chaos: Any) -> None:
    with sync_client(chaos) as client:
        with client.responses.stream(model="m", input="hi", extra_headers=H) as stream:
            response = stream.get_final_response()
        assert response.output_text
    assert reason(instrument_openai) == "completed"


def test_with_raw_response_streams(instrument_openai: Telemetry, chaos: Any) -> None:
    with sync_client(chaos) as client:
        raw = client.chat.completions.with_raw_response.create(
            model="m", messages=MSG, stream=True, extra_headers=H
        )
        assert raw.headers["content-type"].startswith("text/event-stream")
        stream = raw.parse()
        assert raw.parse() is stream
        chunks = list(stream)
    assert len(chunks) > 12
    attrs = instrument_openai.only_span().attributes or {}
    assert attrs["streamslo.termination.reason"] == "completed"
    assert attrs["http.response.status_code"] == 200


async def test_with_streaming_response_async(instrument_openai: Telemetry, chaos: Any) -> None:
    async with (
        async_client(chaos) as client,
        client.chat.completions.with_streaming_response.create(
            model="m", messages=MSG, stream=True, extra_headers=H
        ) as response,
    ):
        stream = await response.parse()
        chunks = [c async for c in stream]
    assert len(chunks) > 12
    assert reason(instrument_openai) == "completed"


def test_non_streaming_calls_are_left_alone(instrument_openai: Telemetry, chaos: Any) -> None:
    with sync_client(chaos) as client:
        completion = client.chat.completions.create(model="m", messages=MSG)
        assert completion.choices[0].message.content
        assert type(completion).__name__ == "ChatCompletion"
    assert instrument_openai.spans() == []
    assert instrument_openai.points("streamslo.streams") == []


def test_request_phase_span_is_parent_of_nothing_after_return(
    instrument_openai: Telemetry, chaos: Any
) -> None:
    from opentelemetry import trace

    with sync_client(chaos) as client:
        stream = client.chat.completions.create(model="m", messages=MSG, stream=True, extra_headers=H)
        assert not trace.get_current_span().get_span_context().is_valid
        for _ in stream:
            assert not trace.get_current_span().get_span_context().is_valid
