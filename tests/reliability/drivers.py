"""Drivers for the fault matrix: one way to open and consume a stream per (SDK, style, sync/async).

A driver opens a stream with a given chaos fault and a consumer behaviour, and returns what the
application observed: the number of items it received and the exception it saw (if any). The
matrix then checks the span, metrics and exceptions against the expected termination reason.
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Optional

TOKENS = 6
STALL_S = "2"
READ_TIMEOUT = 0.6
MODES = ("consume", "break", "close", "cancel", "drop")


@dataclass
class Observed:
    items: int
    exc: Optional[BaseException]


def headers(fault: str, mode: str = "consume") -> dict[str, str]:
    h = {"x-chaos-fault": fault, "x-chaos-tokens": str(TOKENS), "x-chaos-stall-seconds": STALL_S}
    if mode == "cancel":  # the consumer is waiting for the next chunk when the cancel arrives
        h["x-chaos-chunk-delay"] = "0.25"
    return h


def make_client(sdk: str, chaos: Any, *, asynchronous: bool) -> Any:
    """An SDK client for the chaos provider: no retries, a short read timeout (stall detection)."""
    import anthropic
    import openai

    if sdk == "openai":
        cls: Any = openai.AsyncOpenAI if asynchronous else openai.OpenAI
        url, timeout = chaos.openai_base_url, openai.Timeout(10, read=READ_TIMEOUT)
    else:
        cls = anthropic.AsyncAnthropic if asynchronous else anthropic.Anthropic
        url, timeout = chaos.anthropic_base_url, anthropic.Timeout(10, read=READ_TIMEOUT)
    return cls(base_url=url, api_key="t", max_retries=0, timeout=timeout)


MSG = [{"role": "user", "content": "hello"}]


def _open_sync(sdk: str, style: str, client: Any, fault: str) -> Any:
    """A stream (plain) or a stream manager (helper)."""
    h = headers(fault)
    if sdk == "openai":
        if style == "plain":
            return client.chat.completions.create(model="m", messages=MSG, stream=True, extra_headers=h)
        return client.chat.completions.stream(model="m", messages=MSG, extra_headers=h)
    if style == "plain":
        return client.messages.create(model="c", max_tokens=100, messages=MSG, stream=True, extra_headers=h)
    return client.messages.stream(model="c", max_tokens=100, messages=MSG, extra_headers=h)


async def _open_async(sdk: str, style: str, client: Any, fault: str, mode: str) -> Any:
    h = headers(fault, mode)
    if sdk == "openai":
        if style == "plain":
            return await client.chat.completions.create(model="m", messages=MSG, stream=True, extra_headers=h)
        return client.chat.completions.stream(model="m", messages=MSG, extra_headers=h)
    if style == "plain":
        return await client.messages.create(
            model="c", max_tokens=100, messages=MSG, stream=True, extra_headers=h
        )
    return client.messages.stream(model="c", max_tokens=100, messages=MSG, extra_headers=h)


def run_sync(sdk: str, style: str, mode: str, chaos: Any, fault: str) -> Observed:
    """Open and consume one stream synchronously in ``mode``."""
    client = make_client(sdk, chaos, asynchronous=False)
    items = 0
    try:
        with client:
            opened = _open_sync(sdk, style, client, fault)
            if style == "helper":
                with opened as stream:
                    if mode == "drop":
                        return Observed(0, None)
                    for _ in stream:
                        items += 1
                        if mode in ("break", "close"):
                            if mode == "close":
                                stream.close()
                            break
                return Observed(items, None)
            stream = opened
            if mode == "drop":
                del stream, opened
                gc.collect()
                return Observed(0, None)
            for _ in stream:
                items += 1
                if mode in ("break", "close"):
                    if mode == "close":
                        stream.close()
                    break
            del stream, opened
            gc.collect()
    except Exception as exc:
        gc.collect()
        return Observed(items, exc)
    return Observed(items, None)


async def run_async(sdk: str, style: str, mode: str, chaos: Any, fault: str) -> Observed:
    """Open and consume one stream asynchronously in ``mode`` (``cancel`` cancels the task mid-wait)."""
    client = make_client(sdk, chaos, asynchronous=True)
    box = Observed(0, None)
    first = asyncio.Event()

    async def consume() -> None:
        opened = await _open_async(sdk, style, client, fault, mode)
        if style == "helper":
            async with opened as stream:
                if mode == "drop":
                    return
                await _iterate(stream)
            return
        stream = opened
        if mode == "drop":
            del stream, opened
            gc.collect()
            return
        await _iterate(stream)
        del stream, opened
        gc.collect()

    async def _iterate(stream: Any) -> None:
        async for _ in stream:
            box.items += 1
            first.set()
            if mode in ("break", "close"):
                if mode == "close":
                    await stream.close()
                break

    try:
        async with client:
            if mode == "cancel":
                task = asyncio.create_task(consume())
                waiter: Awaitable[Any] = asyncio.ensure_future(first.wait())
                _done, _ = await asyncio.wait({task, waiter}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
                waiter.cancel()  # type: ignore[attr-defined]
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
                except Exception as exc:
                    box.exc = exc
            else:
                await consume()
    except Exception as exc:
        box.exc = exc
    gc.collect()
    return box


Runner = Callable[..., Any]
