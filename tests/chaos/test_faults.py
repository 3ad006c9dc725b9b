"""Fault grammar and the seeded rate-based picker (pure, no server)."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otel_streamslo.chaos import FAULTS, Fault, FaultError, FaultPicker, parse_fault
from otel_streamslo.chaos.faults import DEFAULT_MIX, POSITIONAL_FAULTS, parse_mix, split_model


def test_fault_names() -> None:
    assert set(FAULTS) == {
        "none",
        "tool_calls",
        "tool_calls_reset",
        "error_frame",
        "reset",
        "stall",
        "eof",
        "length",
        "content_filter",
        "http_400",
        "http_429",
        "http_500",
        "http_503",
        "http_529",
        "slow_ttft",
        "malformed_json",
        "unknown_event",
        "missing_fields",
        "huge_chunk",
    }
    assert set(FAULTS) >= POSITIONAL_FAULTS
    assert set(DEFAULT_MIX) == {
        "error_frame",
        "reset",
        "stall",
        "eof",
        "length",
        "content_filter",
        "http_429",
        "http_500",
        "http_503",
        "slow_ttft",
    }


@pytest.mark.parametrize(
    ("spec", "fault"),
    [
        ("reset", Fault("reset")),
        ("reset@5", Fault("reset", 5)),
        ("  Error_Frame@0 ", Fault("error_frame", 0)),
        ("stall @ 3", Fault("stall", 3)),
        ("http_429", Fault("http_429")),
    ],
)
def test_parse_fault(spec: str, fault: Fault) -> None:
    assert parse_fault(spec) == fault


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "empty fault spec"),
        ("@3", "empty fault spec"),
        ("bogus", "unknown fault 'bogus'"),
        ("reset@", "non-negative integer"),
        ("reset@-1", "non-negative integer"),
        ("reset@x", "non-negative integer"),
        ("reset@1.5", "non-negative integer"),
        ("reset@99999999", "fault position must be in"),
    ],
)
def test_parse_fault_rejects(spec: str, message: str) -> None:
    with pytest.raises(FaultError, match=message):
        parse_fault(spec)


@given(st.sampled_from(FAULTS), st.one_of(st.none(), st.integers(0, 1_000_000)))
def test_fault_round_trip(name: str, at: int | None) -> None:
    fault = Fault(name, at)
    assert parse_fault(str(fault)) == fault


@given(st.sampled_from(FAULTS), st.one_of(st.none(), st.integers(0, 10_000)), st.integers(0, 10_000))
def test_position_is_clamped(name: str, at: int | None, tokens: int) -> None:
    fault = Fault(name, at)
    position = fault.position(tokens)
    assert 0 <= position <= tokens
    if at is None:
        assert position == (tokens if name == "length" else tokens // 2)
    resolved = parse_fault(fault.resolved(tokens))
    assert resolved.name == name
    assert resolved.at == (position if name in POSITIONAL_FAULTS else None)


def test_http_status() -> None:
    assert Fault("http_503").http_status == 503
    assert Fault("reset").http_status is None


def test_split_model() -> None:
    assert split_model("gpt-4o-mini+reset@5") == ("gpt-4o-mini", "reset@5")
    assert split_model("claude-sonnet-4-5") == ("claude-sonnet-4-5", None)
    for bad in ("+reset", "gpt-4o+"):
        with pytest.raises(FaultError):
            split_model(bad)


def test_parse_mix() -> None:
    assert parse_mix("reset=1, error_frame=2.5,stall@3=0,eof") == {
        "reset": 1.0,
        "error_frame": 2.5,
        "stall@3": 0.0,
        "eof": 1.0,
    }
    for bad in ("reset=x", "reset=-1", "bogus=1", "reset=inf"):
        with pytest.raises(FaultError):
            parse_mix(bad)


def _sequence(picker: FaultPicker, count: int = 200) -> list[str | None]:
    return [None if (f := picker.pick()) is None else str(f) for _ in range(count)]


def test_picker_is_reproducible_with_a_seed() -> None:
    first = _sequence(FaultPicker(0.5, seed=42))
    assert first == _sequence(FaultPicker(0.5, seed=42))
    assert first != _sequence(FaultPicker(0.5, seed=43))
    assert None in first and any(first)


def test_picker_rate_zero_never_faults() -> None:
    assert _sequence(FaultPicker(0.0, seed=1), 1000) == [None] * 1000


def test_picker_rate_one_always_faults() -> None:
    picks = _sequence(FaultPicker(1.0, seed=1), 1000)
    assert None not in picks
    assert {str(p).split("@")[0] for p in picks} == set(DEFAULT_MIX)


def test_picker_follows_weights() -> None:
    picker = FaultPicker(1.0, {"reset": 3, "eof": 1, "length": 0}, seed=7)
    counts = Counter(_sequence(picker, 4000))
    assert set(counts) == {"reset", "eof"}
    assert 2.5 < counts["reset"] / counts["eof"] < 3.6


def test_picker_rate_is_respected() -> None:
    picks = _sequence(FaultPicker(0.2, seed=3), 5000)
    assert 0.17 < sum(p is not None for p in picks) / len(picks) < 0.23


def test_picked_stall_is_short() -> None:
    fault = FaultPicker(1.0, {"stall": 1}, seed=0, stall_seconds=0.25).pick()
    assert fault == Fault("stall", None, 0.25)


@pytest.mark.parametrize(
    ("rate", "mix"),
    [(-0.1, None), (1.5, None), (float("nan"), None), (0.5, {"reset": 0}), (0.5, {"bogus": 1})],
)
def test_picker_rejects(rate: float, mix: dict[str, float] | None) -> None:
    with pytest.raises(FaultError):
        FaultPicker(rate, mix)
