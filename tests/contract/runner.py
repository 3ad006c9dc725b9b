"""Open one stream through a driver and leave it the way an application would (an ``ending``).

Returns what the application observed: the items it received, the exception it saw and, for a
helper consumed to the end, what the helper's accumulator returned. The same code runs every
driver; only ``Driver.start`` / ``astart`` and ``final`` / ``afinal`` differ per SDK.
"""

from __future__ import annotations

import asyncio
import gc
from dataclasses import dataclass, field
from typing import Any, Optional

from tests.contract.drivers import Driver
from tests.contract.faults import TOKENS

READ_TIMEOUT = 0.5  # a stall (below) outlasts it; healthy chunks come back-to-back
STALL_S = "2"
CANCEL_CHUNK_DELAY = "0.25"  # the consumer is waiting for the next chunk when the cancel arrives


class AppError(Exception):
    """The application's own failure inside its ``with`` block (ending ``raise``)."""


@dataclass
class Observed:
    items: list[Any] = field(default_factory=list)
    exc: Optional[BaseException] = None
    final: Any = None
    stream_class: Any = None  # ``stream.__class__`` as the app sees it (isinstance checks)


def headers(fault: str, ending: str = "consume", tokens: int = TOKENS) -> dict[str, str]:
    h = {"x-chaos-fault": fault, "x-chaos-tokens": str(tokens), "x-chaos-stall-seconds": STALL_S}
    if ending == "cancel":
        h["x-chaos-chunk-delay"] = CANCEL_CHUNK_DELAY
    return h


def make_client(
    driver: Driver, chaos: Any, tel: Any, *, asynchronous: bool, read: float = READ_TIMEOUT
) -> Any:
    return driver.client(
        driver.base_url(chaos),
        asynchronous=asynchronous,
        read_timeout=read,
        tracer_provider=tel.tracer_provider,
    )


# --- sync ----------------------------------------------------------------------------------------


def _iterate(stream: Any, ending: str, seen: Observed) -> None:
    seen.stream_class = stream.__class__
    for item in stream:
        seen.items.append(item)
        if ending == "raise":
            raise AppError("boom")
        if ending != "consume":
            break
    if ending == "close":
        stream.close()


def _raw(stream: Any, ending: str, seen: Observed) -> None:
    if ending in ("with", "raise"):
        with stream:
            _iterate(stream, ending, seen)
    elif ending != "drop":
        _iterate(stream, ending, seen)


def _helper(driver: Driver, manager: Any, ending: str, seen: Observed, final: bool) -> None:
    with manager as stream:
        if ending != "drop":
            _iterate(stream, ending, seen)
        if final:
            seen.final = driver.final(stream)


def run_sync(
    driver: Driver, client: Any, mode: str, ending: str, fault: str, *, final: bool = False
) -> Observed:
    """One call on a sync client, left by ``ending`` (never ``cancel``).

    ``final``: after consuming a helper, also call its accumulator (``get_final_message()`` ...).
    """
    seen = Observed()
    try:
        opened = driver.start(client, mode, headers(fault, ending))
        if mode == "helper":
            _helper(driver, opened, ending, seen, final)
        else:
            _raw(opened, ending, seen)
        del opened
    except Exception as exc:
        seen.exc = exc
    if ending in ("break", "drop"):
        gc.collect()  # an abandoned stream is ended by its finalizer
    return seen


# --- async ---------------------------------------------------------------------------------------


async def _aiterate(driver: Driver, stream: Any, ending: str, seen: Observed, first: asyncio.Event) -> None:
    seen.stream_class = stream.__class__
    async for item in stream:
        seen.items.append(item)
        first.set()
        if ending == "raise":
            raise AppError("boom")
        if ending not in ("consume", "cancel"):
            break
    if ending == "close":
        await driver.aclose(stream)


async def _aconsume(
    driver: Driver,
    client: Any,
    mode: str,
    ending: str,
    fault: str,
    seen: Observed,
    first: asyncio.Event,
    final: bool,
) -> None:
    opened = await driver.astart(client, mode, headers(fault, ending))
    if mode == "helper":
        async with opened as stream:
            if ending != "drop":
                await _aiterate(driver, stream, ending, seen, first)
            if final:
                seen.final = await driver.afinal(stream)
    elif ending in ("with", "raise"):
        async with opened:
            await _aiterate(driver, opened, ending, seen, first)
    elif ending != "drop":
        await _aiterate(driver, opened, ending, seen, first)
    del opened


async def _cancel_after_first(coro: Any, first: asyncio.Event, seen: Observed) -> None:
    task = asyncio.ensure_future(coro)
    waiter = asyncio.ensure_future(first.wait())
    await asyncio.wait({task, waiter}, timeout=5, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    await asyncio.sleep(0.05)
    task.cancel()
    try:
        await task
    except asyncio.CancelledError as exc:
        seen.exc = exc
    except Exception as exc:
        seen.exc = exc


async def run_async(
    driver: Driver, client: Any, mode: str, ending: str, fault: str, *, final: bool = False
) -> Observed:
    """One call on an async client, left by ``ending`` (``cancel``: the task is cancelled mid-wait)."""
    seen = Observed()
    first = asyncio.Event()
    coro = _aconsume(driver, client, mode, ending, fault, seen, first, final)
    try:
        if ending == "cancel":
            await _cancel_after_first(coro, first, seen)
        else:
            await coro
    except Exception as exc:
        seen.exc = exc
    if ending in ("break", "drop"):
        gc.collect()
        await asyncio.sleep(0)
    return seen


async def run_call(
    driver: Driver, chaos: Any, tel: Any, mode: str, is_async: bool, ending: str, fault: str
) -> Observed:
    """One call on a fresh sync or async client of ``driver``, left by ``ending``."""
    if is_async:
        async with make_client(driver, chaos, tel, asynchronous=True) as client:
            return await run_async(driver, client, mode, ending, fault)
    with make_client(driver, chaos, tel, asynchronous=False) as client:
        return run_sync(driver, client, mode, ending, fault)
