"""The application sees the same events and the same exceptions with and without instrumentation."""

from __future__ import annotations

from typing import Any, Optional

import anthropic
import pytest

from tests.anthropic.conftest import MODEL, MSG, NATIVE, Harness, instrument
from tests.conftest import Telemetry

FAULTS = [
    "none",
    "length",
    "content_filter",
    "tool_calls",
    "tool_calls_reset",
    "error_frame@3",
    "reset@3",
    "eof@3",
    "malformed_json@2",
    "missing_fields@2",
    "unknown_event@2",
    "http_429",
    "http_400",
]
H = {"x-chaos-tokens": "6"}


def normalized(value: Any) -> Any:
    """A comparable form of an event: its dict without per-request ids."""
    if hasattr(value, "to_dict"):
        return (type(value).__name__, normalized(value.to_dict()))
    if isinstance(value, dict):
        return {k: normalized(v) for k, v in value.items() if k not in ("id", "request_id")}
    if isinstance(value, list):
        return [normalized(v) for v in value]
    return value


def outcome(events: list[Any], exc: Optional[BaseException]) -> tuple[Any, ...]:
    if exc is None:
        err: Any = None
    elif isinstance(exc, anthropic.APIStatusError):
        err = (type(exc), exc.status_code, exc.type)
    else:
        err = (type(exc), str(exc))
    return ([normalized(e) for e in events], err)


def run_sync(client: anthropic.Anthropic, path: str, fault: str) -> tuple[Any, ...]:
    events: list[Any] = []
    try:
        if path == "raw":
            stream = client.messages.create(
                model=MODEL,
                max_tokens=64,
                messages=MSG,
                stream=True,
                extra_headers={**H, "x-chaos-fault": fault},
            )
            assert isinstance(stream, anthropic.Stream)
            for event in stream:
                events.append(event)
        else:
            with client.messages.stream(
                model=MODEL, max_tokens=64, messages=MSG, extra_headers={**H, "x-chaos-fault": fault}
            ) as s:
                assert isinstance(s, anthropic.MessageStream)
                for event in s:
                    events.append(event)
                events.append(s.get_final_message())
    except Exception as exc:
        return outcome(events, exc)
    return outcome(events, None)


async def run_async(client: anthropic.AsyncAnthropic, path: str, fault: str) -> tuple[Any, ...]:
    events: list[Any] = []
    try:
        if path == "raw":
            stream = await client.messages.create(
                model=MODEL,
                max_tokens=64,
                messages=MSG,
                stream=True,
                extra_headers={**H, "x-chaos-fault": fault},
            )
            assert isinstance(stream, anthropic.AsyncStream)
            async for event in stream:
                events.append(event)
        else:
            async with client.messages.stream(
                model=MODEL, max_tokens=64, messages=MSG, extra_headers={**H, "x-chaos-fault": fault}
            ) as s:
                async for event in s:
                    events.append(event)
                events.append(await s.get_final_message())
    except Exception as exc:
        return outcome(events, exc)
    return outcome(events, None)


@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize("path", ["raw", "helper"])
def test_sync_same_events_and_exceptions(telemetry: Telemetry, chaos: Any, native: str, path: str) -> None:
    h = Harness(telemetry, native)
    with h.client(chaos) as client:
        plain = [run_sync(client, path, fault) for fault in FAULTS]
    inst = instrument(telemetry, native)
    try:
        with h.client(chaos) as client:
            observed = [run_sync(client, path, fault) for fault in FAULTS]
    finally:
        inst.uninstrument()
    for fault, a, b in zip(FAULTS, plain, observed):
        assert a == b, fault
    assert sum(telemetry.stream_counts().values()) == len(FAULTS)


@pytest.mark.parametrize("native", NATIVE)
@pytest.mark.parametrize("path", ["raw", "helper"])
async def test_async_same_events_and_exceptions(
    telemetry: Telemetry, chaos: Any, native: str, path: str
) -> None:
    h = Harness(telemetry, native)
    async with h.aclient(chaos) as client:
        plain = [await run_async(client, path, fault) for fault in FAULTS]
    inst = instrument(telemetry, native)
    try:
        async with h.aclient(chaos) as client:
            observed = [await run_async(client, path, fault) for fault in FAULTS]
    finally:
        inst.uninstrument()
    for fault, a, b in zip(FAULTS, plain, observed):
        assert a == b, fault
    assert sum(telemetry.stream_counts().values()) == len(FAULTS)


def test_stream_attributes_pass_through(own: Harness, chaos: Any) -> None:
    with own.client(chaos) as client:
        stream = client.messages.create(
            model=MODEL, max_tokens=64, messages=MSG, stream=True, extra_headers=H
        )
        assert stream.response.status_code == 200
        assert stream.response.headers["request-id"]
        assert isinstance(stream, anthropic.Stream)
        assert type(stream).__name__ != "Stream" and stream.__class__ is anthropic.Stream
        list(stream)
