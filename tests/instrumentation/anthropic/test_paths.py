"""Every SDK entry point that streams a Messages call: one span each, and the SDK API keeps working."""

from __future__ import annotations

import json
from typing import Any

import anthropic
import pytest

from tests.instrumentation.anthropic.conftest import MODEL, MSG, Harness

H = {"x-chaos-tokens": "6"}
TEXT = "tok0 tok1 tok2 tok3 tok4 tok5 "


def check_completed(h: Harness, chunks: int = 11) -> None:
    attrs = h.attrs()
    assert attrs["streamslo.termination.reason"] == "completed"
    assert attrs["streamslo.tokens.delivered"] == 6
    assert attrs["streamslo.chunks.delivered"] == chunks
    assert h.tel.stream_counts() == {("completed", "good"): 1}


# --- the messages.stream() helper API ------------------------------------------------------------


def test_helper_text_stream(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        with client.messages.stream(model=MODEL, max_tokens=64, messages=MSG, extra_headers=H) as stream:
            text = "".join(stream.text_stream)
            assert stream.get_final_text() == TEXT
    assert text == TEXT
    check_completed(harness)


def test_helper_get_final_message(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        with client.messages.stream(model=MODEL, max_tokens=64, messages=MSG, extra_headers=H) as stream:
            message = stream.get_final_message()
            assert stream.request_id is not None
            assert stream.response.status_code == 200
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 6
    assert message.content[0].type == "text"
    check_completed(harness)


def test_helper_until_done_and_snapshot(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        with client.messages.stream(model=MODEL, max_tokens=64, messages=MSG, extra_headers=H) as stream:
            stream.until_done()
            assert stream.current_message_snapshot.stop_reason == "end_turn"
            assert stream.get_final_text() == TEXT
    check_completed(harness)


async def test_async_helper_api(harness: Harness, chaos: Any) -> None:
    async with harness.aclient(chaos) as client:
        async with client.messages.stream(
            model=MODEL, max_tokens=64, messages=MSG, extra_headers=H
        ) as stream:
            text = "".join([t async for t in stream.text_stream])
            assert await stream.get_final_text() == TEXT
            message = await stream.get_final_message()
    assert text == TEXT
    assert message.stop_reason == "end_turn"
    check_completed(harness)


def test_helper_events_include_derived_events(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        with client.messages.stream(model=MODEL, max_tokens=64, messages=MSG, extra_headers=H) as stream:
            kinds = [event.type for event in stream]
    assert kinds.count("text") == 6
    assert kinds[-1] == "message_stop"
    check_completed(harness)


# --- raw responses -------------------------------------------------------------------------------


def test_with_raw_response(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        raw = client.messages.with_raw_response.create(
            model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H
        )
        assert raw.status_code == 200
        assert raw.headers.get("request-id")
        stream = raw.parse()
        assert raw.parse() is stream  # the SDK caches what it parsed; so do we
        events = list(stream)
    assert [e.type for e in events][-1] == "message_stop"
    check_completed(harness)


async def test_async_with_raw_response(harness: Harness, chaos: Any) -> None:
    async with harness.aclient(chaos) as client:
        raw = await client.messages.with_raw_response.create(
            model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H
        )
        stream = await raw.parse()
        events = [e async for e in stream]
    assert len(events) == 11
    check_completed(harness)


def test_with_streaming_response(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        with client.messages.with_streaming_response.create(
            model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H
        ) as response:
            events = list(response.parse())
    assert len(events) == 11
    check_completed(harness)


async def test_async_with_streaming_response(harness: Harness, chaos: Any) -> None:
    async with harness.aclient(chaos) as client:
        async with client.messages.with_streaming_response.create(
            model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H
        ) as response:
            events = [e async for e in await response.parse()]
    assert len(events) == 11
    check_completed(harness)


def test_with_streaming_response_closed_unread_is_cancelled(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        with client.messages.with_streaming_response.create(
            model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H
        ) as response:
            assert response.status_code == 200
    assert harness.reason() == "client_cancelled"


def test_raw_response_error_frame(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        raw = client.messages.with_raw_response.create(
            model=MODEL,
            max_tokens=64,
            messages=MSG,
            stream=True,
            extra_headers={**H, "x-chaos-fault": "error_frame@2"},
        )
        with pytest.raises(anthropic.APIStatusError):
            list(raw.parse())
    assert harness.reason() == "server_error_event"


# --- beta resources share the code path ----------------------------------------------------------


def test_beta_create_stream(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        stream = client.beta.messages.create(
            model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H
        )
        events = list(stream)
    assert len(events) == 11
    check_completed(harness)


def test_beta_stream_helper(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        with client.beta.messages.stream(model=MODEL, max_tokens=64, messages=MSG, extra_headers=H) as stream:
            assert stream.get_final_text() == TEXT
    check_completed(harness)


def test_beta_stream_helper_consumer_error(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client, pytest.raises(KeyError):
        with client.beta.messages.stream(model=MODEL, max_tokens=64, messages=MSG, extra_headers=H) as stream:
            for _ in stream:
                raise KeyError("app")
    assert harness.reason() == "consumer_error"


async def test_async_beta_stream_helper(harness: Harness, chaos: Any) -> None:
    async with harness.aclient(chaos) as client:
        async with client.beta.messages.stream(
            model=MODEL, max_tokens=64, messages=MSG, extra_headers=H
        ) as stream:
            assert await stream.get_final_text() == TEXT
    check_completed(harness)


# --- calls that do not stream pass through --------------------------------------------------------


def test_non_streamed_create_gets_no_span_from_us(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        message = client.messages.create(model=MODEL, max_tokens=64, messages=MSG, extra_headers=H)
    assert message.stop_reason == "end_turn"
    spans = harness.spans()
    if harness.native == "off":
        assert spans == []
    else:  # the SDK's own span, untouched by us
        assert [s.name for s in spans] == ["anthropic.messages.create"]
        assert not any(k.startswith("streamslo.") for k in (spans[0].attributes or {}))
    assert harness.tel.stream_counts() == {}


# --- content capture (opt-in) ---------------------------------------------------------------------


@pytest.mark.parametrize("native", ["off", "enrich"])
def test_content_capture_opt_in(telemetry: Any, chaos: Any, native: str) -> None:
    from tests.instrumentation.anthropic.conftest import instrument

    inst = instrument(telemetry, native, capture_content=True)
    h = Harness(telemetry, native)
    try:
        with h.client(chaos) as client:
            with client.messages.stream(model=MODEL, max_tokens=64, messages=MSG, extra_headers=H) as stream:
                stream.until_done()
    finally:
        inst.uninstrument()
    attrs = h.attrs()
    assert json.loads(attrs["gen_ai.input.messages"]) == MSG
    output = json.loads(attrs["gen_ai.output.messages"])
    assert output[0]["parts"][0]["content"] == TEXT


def test_content_not_captured_by_default(own: Harness, chaos: Any) -> None:
    with own.client(chaos) as client:
        list(client.messages.create(model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H))
    attrs = own.attrs()
    assert "gen_ai.input.messages" not in attrs
    assert "gen_ai.output.messages" not in attrs
