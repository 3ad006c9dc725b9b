"""``inferred``: which span-metrics series count, ours or those inferred from other instrumentations."""

from __future__ import annotations

import re
from typing import Any

import pytest

from otel_streamslo.rules import sli
from otel_streamslo.rules.conventions import CALLS_METRIC, SPAN_DURATION_METRIC
from otel_streamslo.rules.spec import SLO, SpecError, load_spec, parse_spec

from .conftest import RULES_DIR, SLO_DIR, check_rules_with_promtool, regenerated_stems
from .test_rules_dashboards import DASHBOARD_FILES, expressions, load

PEERS_SPEC_DIR = SLO_DIR / "peers"
PEERS_RULES_DIR = RULES_DIR / "peers"
EXCLUDE = 'streamslo_inferred!="true"'
ONLY = 'streamslo_inferred="true"'
BASE: dict[str, Any] = {
    "version": "streamslo/v1",
    "service": "s",
    "availability": {"objective": 99.5},
    "response_availability": {"objective": 99},
    "latency": {"objective": 99, "source": "spans"},
}
SELECTOR = re.compile(r"(\w+)\{([^}]*)\}")


def selectors(query: str, metric: str = CALLS_METRIC) -> list[str]:
    """The matchers of every vector selector of ``metric`` in ``query``."""
    found = [m.group(2) for m in SELECTOR.finditer(query) if m.group(1) == metric]
    assert found, query
    return found


def queries(slo: SLO) -> list[str]:
    return selectors(slo.error_query) + selectors(slo.total_query)


def test_default_excludes_inferred_spans_in_every_span_sli() -> None:
    slos = parse_spec(BASE).slos
    assert [slo.kind for slo in slos] == [
        "stream-availability",
        "response-availability",
        "http-availability",
        "ttft-latency",
    ]
    for slo in slos:
        for matchers in queries(slo):
            assert EXCLUDE in matchers.split(", "), (slo.name, matchers)


@pytest.mark.parametrize(("mode", "expected"), [("exclude", EXCLUDE), ("only", ONLY)])
def test_exclude_and_only_select_on_the_label(mode: str, expected: str) -> None:
    for slo in parse_spec({**BASE, "inferred": mode}).slos:
        for matchers in queries(slo):
            assert [m for m in matchers.split(", ") if m.startswith("streamslo_inferred")] == [expected]


def test_include_selects_nothing_on_the_label() -> None:
    included = parse_spec({**BASE, "inferred": "include"}).slos
    for slo in included:
        assert "streamslo_inferred" not in slo.error_query + slo.total_query, slo.name
    excluded = parse_spec(BASE).slos
    for mine, theirs in zip(included, excluded):
        assert mine.total_query == theirs.total_query.replace(f", {EXCLUDE}", "")


def test_invalid_mode_is_rejected() -> None:
    with pytest.raises(
        SpecError, match=r"spec\.inferred: unknown value 'yes'; allowed: exclude, include, only"
    ):
        parse_spec({**BASE, "inferred": "yes"})


def test_sdk_counters_never_select_on_the_label() -> None:
    sdk = {**BASE, "source": "sdk_metrics", "latency": {"objective": 99, "threshold": 2.56}}
    for slo in parse_spec(sdk).slos:
        assert "streamslo_inferred" not in slo.error_query + slo.total_query, slo.name
    with pytest.raises(SpecError, match=r"spec\.inferred: applies to span metrics only"):
        parse_spec({**sdk, "inferred": "include"})
    # span-source latency still reads span metrics, so the option applies there
    stream, _, _, latency = parse_spec({**BASE, "source": "sdk_metrics", "inferred": "only"}).slos
    assert "streamslo_inferred" not in stream.total_query
    assert all(ONLY in m for m in queries(latency))


def test_sli_module_rejects_an_unknown_mode() -> None:
    with pytest.raises(ValueError, match="unknown inferred mode"):
        sli.inferred_matcher("all")


def test_committed_spec_and_peers_spec_differ_only_in_the_label() -> None:
    ours = {slo.name: slo for slo in load_spec(SLO_DIR / "streamslo.yaml").slos}
    peers = load_spec(PEERS_SPEC_DIR / "streamslo.yaml")
    for slo in peers.slos:
        assert "streamslo_inferred" not in slo.error_query + slo.total_query, slo.name
        if slo.kind != "ttft-latency":  # histogram there, span verdicts here (peers have no histogram)
            assert slo.total_query == ours[slo.name].total_query.replace(f", {EXCLUDE}", "")


def test_committed_peers_rules_are_regenerated_byte_for_byte() -> None:
    assert regenerated_stems(PEERS_SPEC_DIR, PEERS_RULES_DIR) == ["streamslo"]


@pytest.mark.promtool
def test_peers_rules_pass_promtool_check(promtool: str) -> None:
    check_rules_with_promtool(promtool, PEERS_RULES_DIR)


def test_dashboards_count_span_metrics_like_the_default_rules() -> None:
    """Every span-metrics selector of every panel leaves out inferred spans."""
    seen = 0
    for path in DASHBOARD_FILES:
        for where, expr in expressions(load(path)):
            for metric in (CALLS_METRIC, f"{SPAN_DURATION_METRIC}_bucket"):
                for matchers in (m.group(2) for m in SELECTOR.finditer(expr) if m.group(1) == metric):
                    assert EXCLUDE in matchers.split(", "), (where, matchers)
                    seen += 1
    assert seen > 20
