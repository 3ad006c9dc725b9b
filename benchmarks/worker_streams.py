"""Stream helpers of a benchmark worker: timed reads of n items, and the preparsed mode's patched streams."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Any


def read_sync(it: Iterator[Any], n: int) -> tuple[int, bool, int, int]:
    k = 0
    done = False
    c0 = time.process_time_ns()
    t0 = time.perf_counter_ns()
    for _ in it:
        k += 1
        if k == n:
            break
    else:
        done = True
    t1 = time.perf_counter_ns()
    c1 = time.process_time_ns()
    return k, done, c1 - c0, t1 - t0


async def read_async(it: Any, n: int) -> tuple[int, bool, int, int]:
    k = 0
    done = False
    anext_ = type(it).__anext__
    c0 = time.process_time_ns()
    t0 = time.perf_counter_ns()
    try:
        while k < n:
            await anext_(it)
            k += 1
    except StopAsyncIteration:
        done = True
    t1 = time.perf_counter_ns()
    c1 = time.process_time_ns()
    return k, done, c1 - c0, t1 - t0


@contextmanager
def preparsed_streams(app: Any, prelude: list[Any], content: list[Any], tail: list[Any]) -> Iterator[None]:
    """Patch the SDK's Stream classes to yield these parsed chunks (content repeated to x-chaos-tokens)."""
    sync_cls, async_cls = app.stream_classes()
    orig_sync, orig_async = sync_cls.__stream__, async_cls.__stream__

    def plan(stream: Any) -> Iterator[Any]:
        n = int(stream.response.request.headers.get("x-chaos-tokens", "16"))
        yield from prelude
        k = len(content)
        for i in range(n):
            yield content[i % k]
        yield from tail

    def fake_sync(stream: Any) -> Iterator[Any]:
        try:
            yield from plan(stream)
        finally:
            stream.response.close()

    async def fake_async(stream: Any) -> AsyncIterator[Any]:
        try:
            for item in plan(stream):
                yield item
        finally:
            await stream.response.aclose()

    sync_cls.__stream__ = fake_sync
    async_cls.__stream__ = fake_async
    try:
        yield
    finally:
        sync_cls.__stream__ = orig_sync
        async_cls.__stream__ = orig_async
