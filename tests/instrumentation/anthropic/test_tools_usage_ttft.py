"""Tool calls, usage numbers and TTFT: over HTTP, and the adapter on synthetic events."""

from __future__ import annotations

from typing import Any, Optional

import anthropic
import httpx2
import pytest
from anthropic.types import (
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
)

from otel_streamslo.core.config import Settings
from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.telemetry import make_telemetry
from otel_streamslo.instrumentation.anthropic.errors import classify_anthropic_error
from otel_streamslo.instrumentation.anthropic.messages import MessagesAdapter, input_tokens_of
from tests.conftest import Telemetry
from tests.instrumentation.anthropic.conftest import MODEL, MSG, Harness


def run(client: anthropic.Anthropic, fault: str, **headers: str) -> tuple[list[Any], Optional[BaseException]]:
    events: list[Any] = []
    try:
        stream = client.messages.create(
            model=MODEL,
            max_tokens=64,
            messages=MSG,
            stream=True,
            extra_headers={"x-chaos-fault": fault, "x-chaos-tokens": "6", **headers},
        )
        for event in stream:
            events.append(event)
    except Exception as exc:
        return events, exc
    return events, None


# --- tool calls ----------------------------------------------------------------------------------


def test_tool_call_completed(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        events, exc = run(client, "tool_calls")
    assert exc is None
    span = harness.only_span()
    attrs = dict(span.attributes or {})
    assert attrs["streamslo.termination.reason"] == "completed"
    assert attrs["gen_ai.response.finish_reasons"] == ("tool_use",)
    assert attrs["streamslo.tool_calls.committed"] == 1
    [tool] = [e for e in span.events if e.name == "streamslo.tool_call"]
    assert dict(tool.attributes or {}) == {"gen_ai.tool.name": "get_weather", "streamslo.tool_call.index": 1}
    # Text preamble (2 deltas) + the tool's input_json_delta fragments, as the provider counted them.
    json_deltas = sum(
        1 for e in events if e.type == "content_block_delta" and e.delta.type == "input_json_delta"
    )
    assert attrs["streamslo.tokens.delivered"] == attrs["gen_ai.usage.output_tokens"] == 2 + json_deltas


def test_reset_in_second_tool_call_commits_only_the_first(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        events, exc = run(client, "tool_calls_reset")
    assert isinstance(exc, httpx2.RemoteProtocolError)
    starts = [e for e in events if e.type == "content_block_start" and e.content_block.type == "tool_use"]
    assert len(starts) == 2  # the second tool call had begun streaming
    span = harness.only_span()
    attrs = dict(span.attributes or {})
    assert attrs["streamslo.termination.reason"] == "connection_dropped"
    assert attrs["streamslo.sli.outcome"] == "bad"
    assert attrs["streamslo.tool_calls.committed"] == 1
    assert [
        (e.attributes or {})["streamslo.tool_call.index"]
        for e in span.events
        if e.name == "streamslo.tool_call"
    ] == [1]


async def test_async_helper_tool_call(harness: Harness, chaos: Any) -> None:
    async with harness.aclient(chaos) as client:
        async with client.messages.stream(
            model=MODEL, max_tokens=64, messages=MSG, extra_headers={"x-chaos-fault": "tool_calls"}
        ) as stream:
            message = await stream.get_final_message()
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert harness.attrs()["streamslo.tool_calls.committed"] == 1


# --- usage ---------------------------------------------------------------------------------------


def test_usage_input_from_message_start_output_from_message_delta(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        events, exc = run(client, "none")
    assert exc is None
    start = events[0].message.usage
    delta = next(e for e in events if e.type == "message_delta").usage
    assert start.output_tokens == 1  # message_start's placeholder: not added to the output
    attrs = harness.attrs()
    assert attrs["gen_ai.usage.input_tokens"] == start.input_tokens
    assert attrs["gen_ai.usage.output_tokens"] == delta.output_tokens == 6
    assert attrs["streamslo.tokens.delivered"] == 6
    points = {p.attributes["gen_ai.token.type"]: p for p in harness.tel.points("gen_ai.client.token.usage")}
    assert points["input"].sum == start.input_tokens
    assert points["output"].sum == 6
    assert sum(int(p.value) for p in harness.tel.points("streamslo.tokens.delivered")) == 6


def test_usage_when_not_completed_counts_delivered_deltas(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos) as client:
        _, exc = run(client, "reset@4")
    assert exc is not None
    attrs = harness.attrs()
    assert attrs["streamslo.tokens.delivered"] == 4
    assert "gen_ai.usage.output_tokens" not in attrs
    assert attrs["gen_ai.usage.input_tokens"] > 0


# --- TTFT ----------------------------------------------------------------------------------------


def test_ttft_excludes_message_start_and_ping(harness: Harness, chaos: Any) -> None:
    with harness.client(chaos, read=5) as client:
        events, exc = run(client, "slow_ttft", **{"x-chaos-ttft-seconds": "0.6"})
    assert exc is None
    # message_start and content_block_start arrive at once, the first text_delta after the pause.
    assert [e.type for e in events[:3]] == ["message_start", "content_block_start", "content_block_delta"]
    attrs = harness.attrs()
    assert attrs["streamslo.termination.reason"] == "completed"
    assert attrs["gen_ai.response.time_to_first_chunk"] < 0.5
    assert attrs["streamslo.time_to_first_token"] >= 0.6
    [ttft] = harness.tel.points("gen_ai.client.operation.time_to_first_chunk")
    assert ttft.sum >= 0.6


# --- the adapter on synthetic events -------------------------------------------------------------


@pytest.fixture
def record(telemetry: Telemetry) -> StreamRecord:
    tel = make_telemetry(Settings(), telemetry.tracer_provider, telemetry.meter_provider)
    rec = StreamRecord(tel, provider="anthropic", request_model=MODEL)
    rec.opened(200)
    return rec


def message_start(**usage: Any) -> RawMessageStartEvent:
    return RawMessageStartEvent.construct(
        type="message_start",
        message={
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": MODEL,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {"input_tokens": 10, "output_tokens": 1, **usage},
        },
    )


def delta(kind: str, **fields: Any) -> RawContentBlockDeltaEvent:
    return RawContentBlockDeltaEvent.construct(
        type="content_block_delta", index=0, delta=anthropic.types.TextDelta.construct(type=kind, **fields)
    )


def message_delta(stop_reason: Optional[str], output_tokens: int = 5, **usage: Any) -> RawMessageDeltaEvent:
    return RawMessageDeltaEvent.construct(
        type="message_delta",
        delta={"stop_reason": stop_reason, "stop_sequence": None},
        usage={"output_tokens": output_tokens, **usage},
    )


def feed(rec: StreamRecord, *events: Any, adapter: Optional[MessagesAdapter] = None) -> MessagesAdapter:
    adapter = adapter or MessagesAdapter()
    for event in events:
        rec.chunks += 1
        adapter.on_chunk(rec, event)
    return adapter


def test_input_tokens_include_cache_reads_and_writes(record: StreamRecord) -> None:
    feed(record, message_start(cache_read_input_tokens=100, cache_creation_input_tokens=20))
    assert record.input_tokens == 130
    assert record.output_tokens is None
    record.end(Event.CANCEL)


def test_message_delta_usage_is_cumulative_and_may_carry_input(record: StreamRecord) -> None:
    feed(record, message_start(), message_delta("end_turn", 7, input_tokens=12, cache_read_input_tokens=3))
    assert (record.input_tokens, record.output_tokens) == (15, 7)
    record.end(Event.CANCEL)


def test_only_text_and_tool_input_deltas_are_tokens(record: StreamRecord) -> None:
    adapter = feed(
        record,
        message_start(),
        delta("thinking_delta", thinking="hmm"),
        delta("signature_delta", signature="s"),
    )
    assert record.tokens == 0
    assert record.lc.first_token_ns is None
    feed(record, delta("input_json_delta", partial_json="{"), delta("text_delta", text="hi"), adapter=adapter)
    assert record.tokens == 2
    assert record.lc.first_token_ns is not None
    record.end(Event.CANCEL)


@pytest.mark.parametrize(
    ("stop_reason", "reason"),
    [
        ("end_turn", "completed"),
        ("tool_use", "completed"),
        ("stop_sequence", "completed"),
        ("pause_turn", "completed"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("refusal", "content_filter"),
        ("a_future_reason", "completed"),
        (None, "truncated"),  # message_stop without a stop reason
    ],
)
def test_stop_reasons(record: StreamRecord, stop_reason: Optional[str], reason: str) -> None:
    adapter = feed(record, message_start(), delta("text_delta", text="x"), message_delta(stop_reason))
    assert not record.done
    feed(record, RawMessageStopEvent.construct(type="message_stop"), adapter=adapter)
    assert record.lc.reason is not None and record.lc.reason.value == reason


def test_eof_without_message_stop_is_truncated(record: StreamRecord) -> None:
    adapter = feed(record, message_start(), delta("text_delta", text="x"), message_delta("end_turn"))
    record.end(adapter.end_event)
    assert record.lc.reason is not None and record.lc.reason.value == "truncated"


def test_tool_block_committed_at_its_stop_only(record: StreamRecord) -> None:
    start = RawContentBlockStartEvent.construct(
        type="content_block_start",
        index=1,
        content_block={"type": "tool_use", "id": "t", "name": "f", "input": {}},
    )
    adapter = feed(record, message_start(), start, delta("input_json_delta", partial_json="{}"))
    assert record.tool_calls == 0
    feed(record, RawContentBlockStopEvent.construct(type="content_block_stop", index=0), adapter=adapter)
    assert record.tool_calls == 0  # a text block's stop
    feed(record, RawContentBlockStopEvent.construct(type="content_block_stop", index=1), adapter=adapter)
    assert record.tool_calls == 1
    feed(record, RawContentBlockStopEvent.construct(type="content_block_stop", index=1), adapter=adapter)
    assert record.tool_calls == 1  # once per block
    record.end(Event.CANCEL)


def test_malformed_events_never_raise(record: StreamRecord) -> None:
    adapter = MessagesAdapter()
    for event in (
        object(),
        {"type": "message_start"},
        RawContentBlockDeltaEvent.construct(type="content_block_delta"),
    ):
        adapter.on_chunk(record, event)
    record.end(Event.CANCEL)


def test_classify_errors() -> None:
    request = httpx2.Request("POST", "http://x/v1/messages")
    response = httpx2.Response(200, request=request)
    assert (
        classify_anthropic_error(anthropic.APIStatusError("e", response=response, body=None))
        is Event.ERROR_EVENT
    )
    assert classify_anthropic_error(anthropic.APITimeoutError(request)) is Event.TIMEOUT
    assert classify_anthropic_error(anthropic.APIConnectionError(request=request)) is Event.TRANSPORT_ERROR
    assert classify_anthropic_error(httpx2.ReadTimeout("t")) is Event.TIMEOUT
    assert classify_anthropic_error(httpx2.RemoteProtocolError("r")) is Event.TRANSPORT_ERROR
    assert classify_anthropic_error(httpx2.ReadError("r")) is Event.TRANSPORT_ERROR
    assert classify_anthropic_error(ConnectionResetError()) is Event.TRANSPORT_ERROR
    assert classify_anthropic_error(ValueError("bad json")) is Event.ERROR_EVENT
    assert input_tokens_of(None) is None
