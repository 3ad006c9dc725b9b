"""Every termination reason of every driver: a stream consumed to its end, checked in full.

One table (faults.py) for every SDK; each cell checks the one span of the call (identity,
reason, outcome, status, error.type, timing, chunks, usage, finish reason, tool calls), the
exception the app saw and the metrics.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
from opentelemetry.trace import StatusCode

from tests.conftest import Telemetry
from tests.contract.checks import check_consumed, only_span
from tests.contract.conftest import cells
from tests.contract.drivers import DRIVERS, VARIANTS, Driver
from tests.contract.drivers.base import has_name
from tests.contract.runner import make_client, run_call, run_sync

ARGS = ("driver", "mode", "is_async", "ending", "fault")


@pytest.mark.parametrize(ARGS, cells(DRIVERS + VARIANTS))
async def test_consumed_stream_ends_with_its_reason(
    instrumented: Telemetry, chaos: Any, driver: Driver, mode: str, is_async: bool, ending: str, fault: str
) -> None:
    seen = await run_call(driver, chaos, instrumented, mode, is_async, ending, fault)
    check_consumed(instrumented, driver, fault, mode, seen)


class _Nowhere:
    """A chaos-provider stand-in whose URLs point at a closed loopback port (connect error)."""

    def __init__(self, port: int) -> None:
        self.base_url = f"http://127.0.0.1:{port}"
        self.openai_base_url = f"{self.base_url}/v1"
        self.anthropic_base_url = self.base_url


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.parametrize(ARGS, cells(DRIVERS + VARIANTS, ("none",), asyncs=(False,)))
def test_connect_error_is_request_failed_without_status(
    instrumented: Telemetry, driver: Driver, mode: str, is_async: bool, ending: str, fault: str
) -> None:
    with make_client(driver, _Nowhere(_closed_port()), instrumented, asynchronous=False) as client:
        seen = run_sync(driver, client, mode, ending, fault)
    assert seen.exc is not None and has_name(seen.exc, (driver.connect_error,)), repr(seen.exc)
    span = only_span(instrumented, driver)
    attrs = dict(span.attributes or {})
    assert (attrs["streamslo.termination.reason"], attrs["streamslo.sli.outcome"]) == (
        "request_failed",
        "bad",
    )
    assert "http.response.status_code" not in attrs
    assert attrs["error.type"] == driver.connect_error
    assert span.status.status_code is StatusCode.ERROR
    assert instrumented.stream_counts() == {("request_failed", "bad"): 1}
