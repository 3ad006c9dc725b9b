"""The response lifecycle table: every row, first cause wins, sticky terminal state, illegal events raise."""

from __future__ import annotations

import itertools

import pytest

from otel_streamslo.server.lifecycle import (
    TRANSITIONS,
    DownstreamPolicy,
    DownstreamReason,
    ResponseEvent,
    ResponseLifecycle,
    ResponseLifecycleError,
    ResponseState,
)

E = ResponseEvent
R = DownstreamReason


def run(*events: ResponseEvent) -> ResponseLifecycle:
    lc = ResponseLifecycle(started_ns=0)
    for i, ev in enumerate(events, 1):
        lc.feed(ev, i)
    return lc


@pytest.mark.parametrize(
    ("events", "reason"),
    [
        ((E.START, E.FINAL_BODY), R.COMPLETED),
        ((E.START, E.UPSTREAM_BAD, E.ERROR_EVENT, E.FINAL_BODY), R.UPSTREAM_FAILED),
        ((E.START, E.ERROR_EVENT, E.UPSTREAM_BAD, E.FINAL_BODY), R.SERVER_ERROR_EVENT),
        ((E.START, E.APP_ERROR), R.APP_ERROR),
        ((E.START_ERROR_STATUS, E.ERROR_EVENT, E.FINAL_BODY), R.REQUEST_FAILED),
        ((E.START, E.DISCONNECT), R.CLIENT_CANCELLED),
        ((E.START, E.DISCONNECT, E.UPSTREAM_BAD, E.APP_ERROR), R.CLIENT_CANCELLED),
        ((E.UPSTREAM_BAD, E.START_ERROR_STATUS, E.FINAL_BODY), R.UPSTREAM_FAILED),
        ((E.START, E.UPSTREAM_BAD, E.DISCONNECT), R.UPSTREAM_FAILED),
        ((E.START, E.FINAL_BODY, E.DISCONNECT), R.COMPLETED),  # uvicorn's disconnect after a response
    ],
)
def test_first_cause_in_time_wins(events: tuple[ResponseEvent, ...], reason: DownstreamReason) -> None:
    lc = run(*events)
    assert lc.done and lc.reason is reason


def test_every_row_reaches_its_target() -> None:
    for (state, event), target in TRANSITIONS.items():
        lc = ResponseLifecycle(started_ns=0, state=state)
        got = lc.feed(event, 5)
        if isinstance(target, ResponseState):
            assert (got, lc.state) == (None, target)
        else:
            assert (got, lc.state, lc.ended_ns) == (target, ResponseState.DONE, 5)


def test_missing_rows_are_illegal() -> None:
    live = [s for s in ResponseState if s is not ResponseState.DONE]
    missing = [(s, e) for s, e in itertools.product(live, ResponseEvent) if (s, e) not in TRANSITIONS]
    assert (ResponseState.WAITING, E.FINAL_BODY) in missing
    for state, event in missing:
        with pytest.raises(ResponseLifecycleError):
            ResponseLifecycle(started_ns=0, state=state).feed(event, 1)


def test_terminal_state_is_sticky() -> None:
    lc = run(E.START, E.FINAL_BODY)
    for event in ResponseEvent:
        assert lc.feed(event, 99) is None
    assert (lc.reason, lc.ended_ns) == (R.COMPLETED, 2)


def test_reason_values_are_the_contract() -> None:
    assert [r.value for r in DownstreamReason] == [
        "completed",
        "upstream_failed",
        "server_error_event",
        "app_error",
        "request_failed",
        "client_cancelled",
    ]
    assert all(isinstance(r, str) for r in DownstreamReason)


@pytest.mark.parametrize(
    ("reason", "status", "outcome"),
    [
        (R.COMPLETED, 200, "good"),
        (R.CLIENT_CANCELLED, 200, "excluded"),
        (R.UPSTREAM_FAILED, 200, "bad"),
        (R.SERVER_ERROR_EVENT, 200, "bad"),
        (R.APP_ERROR, 200, "bad"),
        (R.REQUEST_FAILED, 500, "bad"),
        (R.REQUEST_FAILED, 429, "bad"),
        (R.REQUEST_FAILED, 403, "excluded"),
    ],
)
def test_default_policy(reason: DownstreamReason, status: int, outcome: str) -> None:
    assert DownstreamPolicy().outcome(reason, status) == outcome
