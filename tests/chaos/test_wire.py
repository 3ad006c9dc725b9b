"""Wire builders (pure): every scripted frame is well-formed SSE and usage matches what was sent."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from openai._streaming import SSEDecoder

from otel_streamslo.chaos import FAULTS, Fault
from otel_streamslo.chaos.anthropic_messages import messages_stream
from otel_streamslo.chaos.faults import HTTP_FAULTS
from otel_streamslo.chaos.openai_chat import chat_stream
from otel_streamslo.chaos.openai_responses import responses_stream
from otel_streamslo.chaos.plan import Frame, Pause, Reset, Step, StreamPlan

STREAMS: dict[str, Callable[[StreamPlan], Iterator[Step]]] = {
    "chat": chat_stream,
    "responses": responses_stream,
    "messages": messages_stream,
}
STREAM_FAULTS = [name for name in FAULTS if name not in HTTP_FAULTS and name != "huge_chunk"]


def _plan(name: str, at: int | None, tokens: int, include_usage: bool = True) -> StreamPlan:
    return StreamPlan(
        fault=Fault(name, at),
        model="m",
        tokens=tokens,
        serial=7,
        created=1_700_000_000,
        input_tokens=11,
        chunk_delay=0.01,
        stall_seconds=3.0,
        include_usage=include_usage,
    )


def _events(steps: list[Step]) -> list[Any]:
    data = b"".join(step.data for step in steps if isinstance(step, Frame))
    return list(SSEDecoder().iter_bytes(iter([data])))


def _reported_usage(api: str, payloads: list[Any]) -> int | None:
    for payload in reversed(payloads):
        if api == "chat" and payload.get("usage"):
            return int(payload["usage"]["completion_tokens"])
        if api == "responses" and payload.get("type") in {"response.completed", "response.incomplete"}:
            return int(payload["response"]["usage"]["output_tokens"])
        if api == "messages" and payload.get("type") == "message_delta":
            return int(payload["usage"]["output_tokens"])
    return None


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(sorted(STREAMS)),
    st.sampled_from(STREAM_FAULTS),
    st.one_of(st.none(), st.integers(0, 12)),
    st.integers(0, 10),
)
def test_frames_are_well_formed(api: str, name: str, at: int | None, tokens: int) -> None:
    steps = list(STREAMS[api](_plan(name, at, tokens)))
    events = _events(steps)
    frames = [step for step in steps if isinstance(step, Frame)]
    assert len(events) == len(frames)  # one SSE event per flush
    payloads = []
    for event in events:
        if event.data == "[DONE]":
            continue
        try:
            payload = json.loads(event.data)
        except json.JSONDecodeError:
            assert name == "malformed_json"
            continue
        payloads.append(payload)
        if api != "chat":
            assert event.event == payload["type"]  # `event:` line names the data type
    sent = sum(frame.tokens for frame in frames)
    reported = _reported_usage(api, payloads)
    assert reported is None or reported == sent
    assert isinstance(steps[-1], Reset) == (name in {"reset", "tool_calls_reset"})
    assert all(s.seconds > 0 for s in steps if isinstance(s, Pause))
    if api == "responses":
        numbers = [p["sequence_number"] for p in payloads]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
        assert numbers[0] == 0


def test_chat_done_marker_only_on_finish() -> None:
    for name in STREAM_FAULTS:
        events = _events(list(chat_stream(_plan(name, 2, 4))))
        has_done = events[-1].data == "[DONE]"
        assert has_done == (name not in {"error_frame", "reset", "eof", "tool_calls_reset"}), name
