"""Fault matrix: every client-side ending x every chaos fault x every driver, mode, sync/async.

For every cell: exactly one span, the ending's reason and outcome (faults.ending_reason), status
and error.type, the ``streamslo.streams`` counter agrees with the span, no active stream leaks,
and any exception the app sees is the SDK's own (or the app's, or the cancellation).
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Telemetry
from tests.contract.checks import check_ending
from tests.contract.conftest import cells
from tests.contract.drivers import DRIVERS, VARIANTS, Driver
from tests.contract.faults import ENDINGS, MATRIX_FAULTS
from tests.contract.runner import run_call

ARGS = ("driver", "mode", "is_async", "ending", "fault")
EARLY = tuple(e for e in ENDINGS if e != "consume")  # consume: test_termination.py


# Variants (another span owner, e.g. the SDK's own span enriched): every ending, without faults.
@pytest.mark.parametrize(
    ARGS, cells(DRIVERS, MATRIX_FAULTS, EARLY) + cells(VARIANTS, ("none", "http_429"), EARLY)
)
async def test_client_ending(
    instrumented: Telemetry, chaos: Any, driver: Driver, mode: str, is_async: bool, ending: str, fault: str
) -> None:
    seen = await run_call(driver, chaos, instrumented, mode, is_async, ending, fault)
    check_ending(instrumented, driver, fault, mode, ending, seen)
