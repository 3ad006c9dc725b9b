"""The collector's names come from the Python source of truth.

- scripts/gen_collector_names.py: how it derives reasons from the lifecycle and the SDKs'
  finish maps, and that it refuses a raw finish name two SDKs map differently;
- collector/config/otelcol-contrib.yaml (hand-written OTTL): its finish-name lists, policy
  lists and known-reason regex equal the Python source.

(The Go side, names_gen.go, is regenerated and diffed by collector/test.sh.)
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType

import pytest
import yaml

from otel_streamslo.core.lifecycle import Event, OutcomePolicy, TerminationReason

REPO = Path(__file__).resolve().parents[2]
CONTRIB = REPO / "collector" / "config" / "otelcol-contrib.yaml"


def _load_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "gen_collector_names", REPO / "scripts" / "gen_collector_names.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


gen = _load_generator()


def python_finish_mapping() -> dict[str, str]:
    return {raw: r.value for raw, r in gen.finish_mapping(gen.sdk_finish_maps()).items()}


def test_discovers_every_sdk_finish_module() -> None:
    import otel_streamslo.instrumentation as inst

    sdks = {p.name for p in Path(inst.__path__[0]).iterdir() if (p / "finish.py").exists()}
    assert sdks >= {"openai", "anthropic"}
    assert set(gen.sdk_finish_maps()) == sdks


def test_finish_events_map_to_reasons_through_the_transition_table() -> None:
    assert gen.event_reason(Event.FINISH_LENGTH) is TerminationReason.LENGTH
    assert gen.event_reason(Event.FINISH_CONTENT_FILTER) is TerminationReason.CONTENT_FILTER
    assert gen.event_reason(Event.FINISH_COMPLETED) is TerminationReason.COMPLETED
    assert gen.event_reason(Event.ERROR_EVENT) is TerminationReason.SERVER_ERROR_EVENT
    with pytest.raises(ValueError, match="token"):
        gen.event_reason(Event.TOKEN)  # stays STREAMING: not a finish


def test_the_known_disagreement_is_fixed() -> None:
    mapping = python_finish_mapping()
    assert mapping["model_context_window_exceeded"] == "length"
    assert mapping["max_output_tokens"] == "length"
    go = (REPO / "collector" / "streamsloprocessor" / "names_gen.go").read_text()
    assert re.search(r'"model_context_window_exceeded":\s+ReasonLength,', go)
    assert re.search(r'"max_output_tokens":\s+ReasonLength,', go)


def test_conflicting_raw_name_fails_loudly() -> None:
    maps: Mapping[str, Mapping[str, Event]] = {
        "a": {"stop": Event.FINISH_COMPLETED, "max_tokens": Event.FINISH_LENGTH},
        "b": {"max_tokens": Event.FINISH_COMPLETED},
    }
    with pytest.raises(
        gen.NameConflict, match="'max_tokens' maps to finish_length in a but to finish_completed in b"
    ):
        gen.finish_mapping(maps)
    same = {"a": {"stop": Event.FINISH_COMPLETED}, "b": {"stop": Event.FINISH_COMPLETED}}
    assert gen.finish_mapping(same) == {"stop": TerminationReason.COMPLETED}


def test_server_reasons_come_from_the_downstream_lifecycle() -> None:
    from otel_streamslo.server.lifecycle import DownstreamPolicy, DownstreamReason

    assert tuple(r.value for r in DownstreamReason) == gen.SERVER_REASONS
    assert set(gen.SERVER_ONLY_REASONS) == {"upstream_failed", "app_error"}
    good, excluded = gen.default_policy()
    assert {r.value for r in DownstreamPolicy().good} <= good
    assert {r.value for r in DownstreamPolicy().excluded} <= excluded
    assert "upstream_failed" not in good | excluded and "app_error" not in good | excluded  # bad


def test_generated_go_lists_every_reason() -> None:
    go = gen.render(gen.sdk_finish_maps())
    for r in [*TerminationReason, *gen.SERVER_ONLY_REASONS]:
        name = r.value if isinstance(r, TerminationReason) else r
        assert f'{gen.const_name(name)} = "{name}"' in go


# -- the stock-contrib OTTL config ------------------------------------------------------

FR = r'span\.cache\["fr"\]'
SET_REASON = re.compile(r'^set\(span\.attributes\["streamslo\.termination\.reason"\], "(\w+)"\) where (.*)$')
SET_OUTCOME = re.compile(r'^set\(span\.attributes\["streamslo\.sli\.outcome"\], "(\w+)"\) where (.*)$')


def ottl_statements() -> list[str]:
    doc = yaml.safe_load(CONTRIB.read_text())
    blocks = doc["processors"]["transform/streamslo"]["trace_statements"]
    return [s for b in blocks for s in b["statements"]]


def ottl_finish_mapping() -> dict[str, dict[str, set[str]]]:
    """reason -> {"list": raw names tested with ContainsValue, "string": raw names tested with ==}."""
    out: dict[str, dict[str, set[str]]] = {}
    for stmt in ottl_statements():
        m = SET_REASON.match(stmt)
        if not m or 'span.cache["fr"]' not in m.group(2):
            continue
        names = out.setdefault(m.group(1), {"list": set(), "string": set()})
        names["list"] |= set(re.findall(rf'ContainsValue\({FR}, "(\w+)"\)', m.group(2)))
        names["string"] |= set(re.findall(rf'{FR} == "(\w+)"', m.group(2)))
    return out


def test_ottl_finish_names_equal_the_sdks_finish_maps() -> None:
    want: dict[str, set[str]] = {}
    for raw, reason in python_finish_mapping().items():
        if reason != "completed":  # the OTTL default for a non-empty finish list
            want.setdefault(reason, set()).add(raw)
    got = {r: v for r, v in ottl_finish_mapping().items() if v["list"] or v["string"]}
    assert "completed" not in got
    assert {r: v["list"] for r, v in got.items()} == want
    assert {r: v["string"] for r, v in got.items()} == want


def test_ottl_policy_lists_equal_the_default_policy() -> None:
    by_outcome: dict[str, set[str]] = {}
    for stmt in ottl_statements():
        m = SET_OUTCOME.match(stmt)
        if m and "request_failed" not in m.group(2):
            by_outcome.setdefault(m.group(1), set()).update(
                re.findall(r'span\.cache\["reason"\] == "(\w+)"', m.group(2))
            )
    good, excluded = gen.default_policy()
    assert by_outcome["good"] == good
    assert by_outcome["excluded"] == excluded
    policy = OutcomePolicy()
    assert good >= {r.value for r in policy.good} and excluded >= {r.value for r in policy.excluded}


def test_ottl_known_reason_regex_lists_every_reason() -> None:
    (regex,) = [
        m
        for s in ottl_statements()
        for m in re.findall(r'IsMatch\(span\.cache\["reason"\], "\^\(([\w|]+)\)\$"\)', s)
    ]
    known = {r.value for r in TerminationReason} | set(gen.SERVER_REASONS)
    assert set(regex.split("|")) == known
