"""The application sees the same items, helper results and exceptions with and without us.

Each cell runs every fault of the driver (stalls aside: they only add read-timeout waits)
uninstrumented, then instrumented, on the same kind of client, and compares what the app saw:
every item (id-free dumps), what the helper's accumulator returned, the exception's class and
message. Instrumented, every call made exactly one stream record (``streamslo.streams``).
"""

from __future__ import annotations

import gc
from typing import Any

import pytest

from tests.conftest import Telemetry
from tests.contract.conftest import instrument
from tests.contract.drivers import DRIVERS, VARIANTS, Driver
from tests.contract.runner import Observed, make_client, run_async, run_sync


def _cells() -> list[Any]:
    out = []
    for driver in DRIVERS + VARIANTS:
        for mode in driver.modes:
            skip = driver.missing(mode)
            for is_async in driver.asyncs:
                marks = [pytest.mark.skip(reason=skip)] if skip else []
                cid = f"{driver.id}-{mode}-{'async' if is_async else 'sync'}"
                out.append(pytest.param(driver, mode, is_async, marks=marks, id=cid))
    return out


def faults_of(driver: Driver) -> list[str]:
    return [f for f in driver.faults if not f.startswith("stall")]


def seen_as_data(driver: Driver, seen: Observed) -> Any:
    exc = None if seen.exc is None else driver.describe_exception(seen.exc)
    final = None if seen.final is None else driver.dump(seen.final)
    return (seen.stream_class, [driver.dump(i) for i in seen.items], final, exc)


async def observe(driver: Driver, chaos: Any, tel: Telemetry, mode: str, is_async: bool) -> list[Any]:
    out = []
    if is_async:
        async with make_client(driver, chaos, tel, asynchronous=True) as client:
            for fault in faults_of(driver):
                out.append(
                    seen_as_data(driver, await run_async(driver, client, mode, "consume", fault, final=True))
                )
    else:
        with make_client(driver, chaos, tel, asynchronous=False) as client:
            for fault in faults_of(driver):
                # Finalize the previous call's dropped stream here, not inside the next request: httpcore
                # 1.0.9 (httpx 0.27) deadlocks when the GC closes a response inside its own pool lock.
                gc.collect()
                out.append(seen_as_data(driver, run_sync(driver, client, mode, "consume", fault, final=True)))
    return out


@pytest.mark.parametrize(("driver", "mode", "is_async"), _cells())
async def test_same_items_and_exceptions(
    telemetry: Telemetry, chaos: Any, driver: Driver, mode: str, is_async: bool
) -> None:
    plain = await observe(driver, chaos, telemetry, mode, is_async)
    inst = instrument(driver, telemetry)
    try:
        instrumented = await observe(driver, chaos, telemetry, mode, is_async)
    finally:
        inst.uninstrument()
    for fault, a, b in zip(faults_of(driver), plain, instrumented):
        assert b == a, fault
    assert sum(telemetry.stream_counts().values()) == len(faults_of(driver))
    assert telemetry.active() == 0
