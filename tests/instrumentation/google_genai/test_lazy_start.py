"""The request is sent at the first ``next()``: the span and the TTFT clock start there.

A generator that is never iterated sent nothing: no span, no metrics, no open record (the autouse
fixture of tests/conftest.py checks that every record ended).
"""

from __future__ import annotations

import asyncio
import gc
import time
from typing import Any

from otel_streamslo.core.record import open_records
from tests.conftest import Telemetry
from tests.instrumentation.google_genai.conftest import MODEL, attrs_of, config, headers, make_client

PAUSE_S = 0.3


def test_span_starts_at_first_next_not_at_the_call(tel: Telemetry, chaos: Any) -> None:
    client = make_client(chaos)
    called_ns = time.time_ns()
    stream = client.models.generate_content_stream(model=MODEL, contents="hi", config=config(**headers()))
    time.sleep(PAUSE_S)  # the app does other work before iterating
    assert tel.spans() == [] and open_records() == []
    chaos.reset_log()
    first_next_ns = time.time_ns()
    items = list(stream)
    span = tel.only_span()
    attrs = attrs_of(span)
    assert span.start_time is not None and span.start_time >= first_next_ns > called_ns + PAUSE_S * 1e9 * 0.9
    assert attrs["streamslo.termination.reason"] == "completed"
    # the clocks start with the request: TTFT and TTC exclude the pause before the first next()
    elapsed_s = (time.time_ns() - first_next_ns) / 1e9
    assert 0 < attrs["streamslo.time_to_first_token"] <= attrs["streamslo.time_to_completion"] <= elapsed_s
    assert len(items) == attrs["streamslo.chunks.delivered"] and len(chaos.log) == 1


async def test_async_span_starts_at_first_anext(tel: Telemetry, chaos: Any) -> None:
    client = make_client(chaos)
    stream = await client.aio.models.generate_content_stream(
        model=MODEL, contents="hi", config=config(**headers())
    )
    await asyncio.sleep(PAUSE_S)
    assert tel.spans() == [] and open_records() == []
    first_next_ns = time.time_ns()
    items = [item async for item in stream]
    span = tel.only_span()
    assert span.start_time is not None and span.start_time >= first_next_ns
    assert attrs_of(span)["streamslo.termination.reason"] == "completed"
    assert len(items) == attrs_of(span)["streamslo.chunks.delivered"]
    await client.aio.aclose()


def test_never_iterated_makes_no_span(tel: Telemetry, chaos: Any) -> None:
    client = make_client(chaos)
    chaos.reset_log()
    stream = client.models.generate_content_stream(model=MODEL, contents="hi", config=config(**headers()))
    stream.close()  # closing before the first next() sends nothing either
    stream = client.models.generate_content_stream(model=MODEL, contents="hi", config=config(**headers()))
    del stream
    gc.collect()
    assert tel.spans() == [] and open_records() == []
    assert tel.stream_counts() == {} and tel.points("streamslo.streams.active") == []
    assert chaos.log == []  # the SDK sent nothing: nothing to observe


async def test_async_never_iterated_makes_no_span(tel: Telemetry, chaos: Any) -> None:
    client = make_client(chaos)
    chaos.reset_log()
    stream = await client.aio.models.generate_content_stream(
        model=MODEL, contents="hi", config=config(**headers())
    )
    await stream.aclose()
    stream = await client.aio.models.generate_content_stream(
        model=MODEL, contents="hi", config=config(**headers())
    )
    del stream
    gc.collect()
    await asyncio.sleep(0)
    assert tel.spans() == [] and open_records() == [] and tel.stream_counts() == {}
    assert chaos.log == []
    await client.aio.aclose()
