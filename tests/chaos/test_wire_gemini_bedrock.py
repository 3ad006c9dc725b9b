"""Wire builders of the Gemini and Bedrock dialects (pure): frames decode, usage matches what was sent."""

from __future__ import annotations

import base64
import binascii
import json
import struct
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from botocore.eventstream import ChecksumMismatch, EventStreamBuffer
from hypothesis import given, settings
from hypothesis import strategies as st

from otel_streamslo.chaos import FAULTS, Fault
from otel_streamslo.chaos.bedrock_converse import converse_stream
from otel_streamslo.chaos.bedrock_invoke import invoke_stream
from otel_streamslo.chaos.eventstream import encode_message, event_message, exception_message
from otel_streamslo.chaos.faults import HTTP_FAULTS
from otel_streamslo.chaos.gemini import gemini_stream
from otel_streamslo.chaos.plan import Frame, Reset, Step, StreamPlan

STREAM_FAULTS = [name for name in FAULTS if name not in HTTP_FAULTS and name != "huge_chunk"]
BEDROCK: dict[str, tuple[Callable[[StreamPlan], Iterator[Step]], str]] = {
    "converse": (converse_stream, "anthropic.claude-3-haiku-20240307-v1:0"),
    "invoke-anthropic": (invoke_stream, "anthropic.claude-3-haiku-20240307-v1:0"),
    "invoke-llama": (invoke_stream, "us.meta.llama3-1-8b-instruct-v1:0"),
}


def _plan(name: str, at: int | None, tokens: int, model: str = "m") -> StreamPlan:
    return StreamPlan(
        fault=Fault(name, at),
        model=model,
        tokens=tokens,
        serial=3,
        created=1,
        input_tokens=9,
        chunk_delay=0.01,
    )


def _decode(data: bytes) -> list[Any]:
    buffer = EventStreamBuffer()
    buffer.add_data(data)
    return list(buffer)


def test_encoder_round_trips_through_botocore() -> None:
    (message,) = _decode(event_message("contentBlockDelta", {"delta": {"text": "hé"}}))
    assert message.headers == {
        ":event-type": "contentBlockDelta",
        ":content-type": "application/json",
        ":message-type": "event",
    }
    assert json.loads(message.payload) == {"delta": {"text": "hé"}}
    (error,) = _decode(exception_message("throttlingException", {"message": "slow down"}))
    assert error.headers[":message-type"] == "exception"
    assert error.headers[":exception-type"] == "throttlingException"


def test_encoder_layout_and_checksums() -> None:
    data = encode_message({"a": "b"}, b"xyz")
    total, headers_length, prelude_crc = struct.unpack("!III", data[:12])
    assert (total, headers_length) == (len(data), 1 + 1 + 1 + 2 + 1)
    assert prelude_crc == binascii.crc32(data[:8])
    assert struct.unpack("!I", data[-4:])[0] == binascii.crc32(data[:-4])
    corrupted = data[:-5] + b"Q" + data[-4:]
    with pytest.raises(ChecksumMismatch):
        _decode(corrupted)


def _bedrock_usage(api: str, messages: list[Any]) -> int | None:
    for message in reversed(messages):
        if message.headers.get(":message-type") != "event":
            continue
        payload = json.loads(message.payload)
        if api == "converse" and message.headers[":event-type"] == "metadata":
            return int(payload["usage"]["outputTokens"])
        if api.startswith("invoke") and "bytes" in payload:
            inner = json.loads(base64.b64decode(payload["bytes"]))
            metrics = inner.get("amazon-bedrock-invocationMetrics")
            if metrics:
                return int(metrics["outputTokenCount"])
    return None


@settings(max_examples=120, deadline=None)
@given(
    st.sampled_from(sorted(BEDROCK)),
    st.sampled_from(STREAM_FAULTS),
    st.one_of(st.none(), st.integers(0, 10)),
    st.integers(0, 8),
)
def test_bedrock_frames_decode(api: str, name: str, at: int | None, tokens: int) -> None:
    build, model = BEDROCK[api]
    steps = list(build(_plan(name, at, tokens, model)))
    frames = [step for step in steps if isinstance(step, Frame)]
    messages = _decode(b"".join(frame.data for frame in frames))
    assert len(messages) == len(frames)  # one event-stream message per flush, every CRC valid
    kinds = [m.headers[":message-type"] for m in messages]
    assert kinds.count("exception") == (1 if name == "error_frame" else 0)
    reported = _bedrock_usage(api, messages) if name != "malformed_json" else None
    assert reported is None or reported == sum(frame.tokens for frame in frames)
    dropped = bool(steps) and isinstance(steps[-1], Reset)  # eof of nothing: no frames at all
    assert dropped == (name in {"reset", "tool_calls_reset"})


@settings(max_examples=120, deadline=None)
@given(st.sampled_from(STREAM_FAULTS), st.one_of(st.none(), st.integers(0, 10)), st.integers(0, 8))
def test_gemini_frames_carry_running_usage(name: str, at: int | None, tokens: int) -> None:
    steps = list(gemini_stream(_plan(name, at, tokens)))
    sent = 0
    for frame in (step for step in steps if isinstance(step, Frame)):
        assert frame.data.startswith(b"data: ") and frame.data.endswith(b"\n\n")
        sent += frame.tokens
        try:
            payload = json.loads(frame.data[len(b"data: ") :])
        except json.JSONDecodeError:
            assert name == "malformed_json"
            continue
        if "error" in payload:
            assert name == "error_frame" and next(iter(payload)) == "error"
            continue
        assert payload["usageMetadata"]["candidatesTokenCount"] == sent  # a running total, never a delta
