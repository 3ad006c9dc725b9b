"""Fixtures of the contract suite: parameters over every driver, the driver's instrumentor."""

from __future__ import annotations

import contextlib
import gc
import importlib
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import Telemetry
from tests.contract.drivers import Driver

# Tests call gc.collect() to run abandoned streams' finalizers; freeze the SDK modules the drivers
# load lazily (helpers, streaming types) so each collection skips them, as tests/conftest.py does.
for _module in ("openai.lib.streaming", "openai.types.responses", "anthropic.lib.streaming"):
    with contextlib.suppress(ImportError):  # an old SDK without that API: its drivers skip
        importlib.import_module(_module)
gc.collect()
gc.freeze()


def cells(
    drivers: Any, faults: Any = None, endings: Any = ("consume",), asyncs: Any = (False, True)
) -> list[Any]:
    """Params (driver, mode, is_async, ending, fault); skipped where the installed SDK lacks the API."""
    out = []
    for driver in drivers:
        for mode in driver.modes:
            skip = driver.missing(mode)
            for is_async in asyncs:
                for ending in endings:
                    if (ending == "cancel" and not is_async) or (ending == "with" and mode != "raw"):
                        continue
                    if is_async not in driver.asyncs or ending not in driver.endings:
                        continue
                    for fault in faults if faults is not None else driver.faults:
                        if fault not in driver.faults:
                            continue
                        marks = [pytest.mark.skip(reason=skip)] if skip else []
                        xfail = XFAIL.get((driver.name, mode, fault, ending))
                        if xfail:
                            marks.append(pytest.mark.xfail(reason=xfail, strict=True))
                        cid = f"{driver.id}-{mode}-{'async' if is_async else 'sync'}-{ending}-{fault}"
                        out.append(pytest.param(driver, mode, is_async, ending, fault, marks=marks, id=cid))
    return out


# Known gaps, as strict xfails: (driver, mode, fault, ending) -> why. Empty: none known.
XFAIL: dict[tuple[str, str, str, str], str] = {}


def instrument(driver: Driver, tel: Telemetry, **kwargs: Any) -> Any:
    inst = driver.instrumentor()
    inst.instrument(
        tracer_provider=tel.tracer_provider,
        meter_provider=tel.meter_provider,
        **{**driver.instrument_kwargs(), **kwargs},
    )
    return inst


@pytest.fixture
def instrumented(request: pytest.FixtureRequest, telemetry: Telemetry) -> Iterator[Telemetry]:
    """The parametrised driver's instrumentor on the in-memory pipeline."""
    driver: Driver = request.getfixturevalue("driver")
    inst = instrument(driver, telemetry)
    try:
        yield telemetry
    finally:
        inst.uninstrument()
