"""The stream lifecycle state machine: every transition, every reason, sticky terminal state."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_streamslo.core.lifecycle import (
    TRANSITIONS,
    Event,
    LifecycleError,
    Outcome,
    OutcomePolicy,
    State,
    StreamLifecycle,
    TerminationReason,
    parse_reasons,
)

E = Event
R = TerminationReason


def run(events: list[Event]) -> StreamLifecycle:
    lc = StreamLifecycle(started_ns=0)
    for i, ev in enumerate(events, start=1):
        lc.feed(ev, i * 10)
    return lc


# (events, expected terminal reason, expected state after each step)
SCRIPTS = [
    (
        [E.RESPONSE_OPENED, E.TOKEN, E.TOKEN, E.FINISH_COMPLETED, E.END_MARKER],
        R.COMPLETED,
        [State.OPEN, State.STREAMING, State.STREAMING, State.FINISHING, State.DONE],
    ),
    ([E.RESPONSE_OPENED, E.TOKEN, E.FINISH_LENGTH, E.END_MARKER], R.LENGTH, None),
    ([E.RESPONSE_OPENED, E.FINISH_CONTENT_FILTER, E.END_MARKER], R.CONTENT_FILTER, None),
    ([E.RESPONSE_OPENED, E.TOKEN, E.ERROR_EVENT], R.SERVER_ERROR_EVENT, None),
    ([E.RESPONSE_OPENED, E.TOKEN, E.TRANSPORT_ERROR], R.CONNECTION_DROPPED, None),
    ([E.RESPONSE_OPENED, E.TOKEN, E.TIMEOUT], R.IDLE_TIMEOUT, None),
    ([E.RESPONSE_OPENED, E.TOKEN, E.END_MARKER], R.TRUNCATED, None),
    ([E.RESPONSE_OPENED, E.TOKEN, E.FINISH_COMPLETED, E.EOF], R.TRUNCATED, None),
    ([E.REQUEST_FAILED], R.REQUEST_FAILED, [State.DONE]),
    ([E.TRANSPORT_ERROR], R.REQUEST_FAILED, None),
    ([E.TIMEOUT], R.REQUEST_FAILED, None),
    ([E.RESPONSE_OPENED, E.TOKEN, E.CANCEL], R.CLIENT_CANCELLED, None),
    ([E.CANCEL], R.CLIENT_CANCELLED, None),
    ([E.RESPONSE_OPENED, E.ABANDON], R.CLIENT_ABANDONED, None),
    ([E.RESPONSE_OPENED, E.TOKEN, E.CONSUMER_ERROR], R.CONSUMER_ERROR, None),
    ([E.RESPONSE_OPENED, E.TOKEN, E.FINISH_COMPLETED, E.TRANSPORT_ERROR], R.CONNECTION_DROPPED, None),
]


@pytest.mark.parametrize(("events", "reason", "states"), SCRIPTS)
def test_scripts_reach_their_reason(
    events: list[Event], reason: TerminationReason, states: list[State] | None
) -> None:
    lc = StreamLifecycle(started_ns=0)
    seen = []
    for i, ev in enumerate(events, start=1):
        lc.feed(ev, i * 10)
        seen.append(lc.state)
    assert lc.reason is reason
    assert lc.done
    assert lc.ended_ns == len(events) * 10
    if states is not None:
        assert seen == states


def test_every_reason_is_reachable() -> None:
    reached = {reason for _, reason, _ in SCRIPTS}
    assert reached == set(TerminationReason)


def test_first_finish_reason_wins_over_later_ones() -> None:
    lc = run([E.RESPONSE_OPENED, E.TOKEN, E.FINISH_LENGTH, E.FINISH_COMPLETED, E.END_MARKER])
    assert lc.reason is R.LENGTH


def test_ttft_is_first_token_not_response_open() -> None:
    lc = run([E.RESPONSE_OPENED, E.TOKEN, E.TOKEN, E.FINISH_COMPLETED, E.END_MARKER])
    assert lc.time_to_first_token_ns == 20
    assert lc.time_to_completion_ns == 50


def test_token_fast_path_matches_feed() -> None:
    lc = StreamLifecycle(started_ns=0)
    lc.feed(E.RESPONSE_OPENED, 5)
    lc.token(7)
    lc.token(9)
    assert lc.state is State.STREAMING
    assert lc.first_token_ns == 7


@pytest.mark.parametrize("event", [E.TOKEN, E.FINISH_COMPLETED, E.END_MARKER, E.EOF, E.ERROR_EVENT])
def test_illegal_transitions_raise(event: Event) -> None:
    lc = StreamLifecycle(started_ns=0)
    with pytest.raises(LifecycleError, match="not allowed in state requesting"):
        lc.feed(event, 1)
    assert lc.state is State.REQUESTING


def test_response_opened_twice_is_illegal() -> None:
    lc = run([E.RESPONSE_OPENED])
    with pytest.raises(LifecycleError):
        lc.feed(E.RESPONSE_OPENED, 99)


def test_terminal_state_is_sticky() -> None:
    lc = run([E.RESPONSE_OPENED, E.TOKEN, E.TRANSPORT_ERROR])
    for ev in Event:
        assert lc.feed(ev, 1000) is None
    assert lc.reason is R.CONNECTION_DROPPED
    assert lc.ended_ns == 30


def test_table_has_no_transition_out_of_done() -> None:
    assert not any(state is State.DONE for state, _ in TRANSITIONS)


@pytest.mark.parametrize(
    ("reason", "status", "outcome"),
    [
        (R.COMPLETED, 200, Outcome.GOOD),
        (R.LENGTH, 200, Outcome.GOOD),
        (R.CONTENT_FILTER, 200, Outcome.GOOD),
        (R.SERVER_ERROR_EVENT, 200, Outcome.BAD),
        (R.CONNECTION_DROPPED, 200, Outcome.BAD),
        (R.IDLE_TIMEOUT, 200, Outcome.BAD),
        (R.TRUNCATED, 200, Outcome.BAD),
        (R.REQUEST_FAILED, 429, Outcome.BAD),
        (R.REQUEST_FAILED, 500, Outcome.BAD),
        (R.REQUEST_FAILED, 503, Outcome.BAD),
        (R.REQUEST_FAILED, None, Outcome.BAD),
        (R.REQUEST_FAILED, 400, Outcome.EXCLUDED),
        (R.REQUEST_FAILED, 404, Outcome.EXCLUDED),
        (R.CLIENT_CANCELLED, 200, Outcome.EXCLUDED),
        (R.CLIENT_ABANDONED, 200, Outcome.EXCLUDED),
        (R.CONSUMER_ERROR, 200, Outcome.EXCLUDED),
    ],
)
def test_default_outcome_policy(reason: TerminationReason, status: int | None, outcome: Outcome) -> None:
    assert OutcomePolicy().outcome(reason, status) is outcome


def test_custom_policy_and_validation() -> None:
    policy = OutcomePolicy.from_names(good=["completed"], excluded=["length", "client_cancelled"])
    assert policy.outcome(R.LENGTH) is Outcome.EXCLUDED
    assert policy.outcome(R.CONTENT_FILTER) is Outcome.BAD
    assert policy.outcome(R.CLIENT_ABANDONED) is Outcome.BAD
    with pytest.raises(ValueError, match="good_reasons: unknown termination reason 'finished'"):
        OutcomePolicy.from_names(good=["finished"])
    with pytest.raises(ValueError, match="both good and excluded: completed"):
        OutcomePolicy.from_names(good=["completed"], excluded=["completed"])
    assert parse_reasons([" completed "], "k") == frozenset({R.COMPLETED})


@given(st.lists(st.sampled_from(list(Event)), max_size=30))
def test_any_event_sequence_ends_at_most_once(events: list[Event]) -> None:
    lc = StreamLifecycle(started_ns=0)
    terminals = 0
    for i, ev in enumerate([*events, E.ABANDON], start=1):
        before = lc.state
        try:
            reason = lc.feed(ev, i)
        except LifecycleError:
            assert (before, ev) not in TRANSITIONS
            assert lc.state is before
            continue
        if reason is not None:
            terminals += 1
            assert lc.reason is reason
    # ABANDON is legal from every live state, so every sequence ends exactly once.
    assert terminals == 1
    assert lc.done and lc.reason is not None
    ttft, ttc = lc.time_to_first_token_ns, lc.time_to_completion_ns
    assert ttc is not None
    if ttft is not None:
        assert 0 <= ttft <= ttc
    outcome = OutcomePolicy().outcome(lc.reason, 200)
    expected = (
        Outcome.GOOD
        if lc.reason in (R.COMPLETED, R.LENGTH, R.CONTENT_FILTER)
        else Outcome.EXCLUDED
        if lc.reason in (R.CLIENT_CANCELLED, R.CLIENT_ABANDONED, R.CONSUMER_ERROR)
        else Outcome.BAD
    )
    assert outcome is expected
