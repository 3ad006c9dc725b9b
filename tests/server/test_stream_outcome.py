"""``otel_streamslo.stream_outcome``: the verdict of an instrumented stream, for the app to act on."""

from __future__ import annotations

from typing import Any, Optional

import openai
import pytest

from otel_streamslo import StreamOutcome, stream_outcome
from tests.conftest import Telemetry

MSG = [{"role": "user", "content": "hello"}]


def client(chaos: Any) -> openai.OpenAI:
    return openai.OpenAI(
        base_url=chaos.openai_base_url, api_key="t", max_retries=0, timeout=openai.Timeout(10, read=0.3)
    )


@pytest.mark.parametrize(
    ("fault", "reason", "outcome"),
    [
        ("none", "completed", "good"),
        ("length@3", "length", "good"),
        ("content_filter@3", "content_filter", "good"),
        ("error_frame@3", "server_error_event", "bad"),
        ("reset@3", "connection_dropped", "bad"),
        ("stall@2", "idle_timeout", "bad"),
        ("eof@3", "truncated", "bad"),
    ],
)
def test_after_the_stream_ended(
    instrument_openai: Telemetry, chaos: Any, fault: str, reason: str, outcome: str
) -> None:
    headers = {"x-chaos-fault": fault, "x-chaos-tokens": "6", "x-chaos-stall-seconds": "1"}
    with client(chaos) as c:
        stream = c.chat.completions.create(model="m", messages=MSG, stream=True, extra_headers=headers)
        seen: Optional[StreamOutcome] = stream_outcome(stream)
        try:
            for _ in stream:
                pass
        except openai.APIError:
            pass
        got = stream_outcome(stream)
        stream.close()
    assert seen is None  # still open
    assert got == StreamOutcome(reason, outcome)
    assert (got.reason, got.outcome) == (reason, outcome)


def test_cancelled_by_close(instrument_openai: Telemetry, chaos: Any) -> None:
    with client(chaos) as c:
        stream = c.chat.completions.create(model="m", messages=MSG, stream=True)
        next(iter(stream))
        assert stream_outcome(stream) is None
        stream.close()
        assert stream_outcome(stream) == ("client_cancelled", "excluded")


def test_consumer_error(instrument_openai: Telemetry, chaos: Any) -> None:
    with client(chaos) as c:
        with pytest.raises(KeyError):
            with c.chat.completions.create(model="m", messages=MSG, stream=True) as stream:
                for _ in stream:
                    raise KeyError("app bug")
        assert stream_outcome(stream) == ("consumer_error", "excluded")


async def test_async_stream_cancelled_by_the_remedy_path(instrument_openai: Telemetry, chaos: Any) -> None:
    async with openai.AsyncOpenAI(base_url=chaos.openai_base_url, api_key="t", max_retries=0) as c:
        stream = await c.chat.completions.create(model="m", messages=MSG, stream=True)
        await stream.__anext__()
        await stream.aclose()
        assert stream_outcome(stream) == ("client_cancelled", "excluded")


def test_not_instrumented_is_none(chaos: Any) -> None:
    with client(chaos) as c:
        stream = c.chat.completions.create(model="m", messages=MSG, stream=True)
        list(stream)
    assert stream_outcome(stream) is None
    assert stream_outcome(object()) is None
    assert stream_outcome(None) is None
