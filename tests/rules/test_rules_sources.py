"""``source: sdk_metrics``: the same SLOs counted from the SDK's unsampled counters."""

from __future__ import annotations

from typing import Any

import pytest

from otel_streamslo.rules.render import render
from otel_streamslo.rules.spec import SpecError, load_spec, parse_spec

from .conftest import RULES_DIR, SLO_DIR, check_rules_with_promtool, regenerated_stems

SDK_SPEC_DIR = SLO_DIR / "sdk-metrics"
SDK_RULES_DIR = RULES_DIR / "sdk-metrics"
BASE: dict[str, Any] = {
    "version": "streamslo/v1",
    "service": "s",
    "availability": {"objective": 99.5},
    "response_availability": {"objective": 99},
}


def identities(groups: list[dict[str, Any]]) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """Group name, rule name and labels of every rule: what dashboards and alert routing see."""
    return [
        (group["name"], rule.get("record") or rule["alert"], tuple(sorted(rule.get("labels", {}).items())))
        for group in groups
        for rule in group["rules"]
    ]


def test_sdk_source_counts_the_sdk_counters() -> None:
    stream, response, http = parse_spec({**BASE, "source": "sdk_metrics"}).slos
    for slo, counter in ((stream, "streamslo_streams_total"), (response, "streamslo_responses_total")):
        assert f'{counter}{{service_name="s", streamslo_sli_outcome="bad"}}' in slo.error_query
        assert f'{counter}{{service_name="s", streamslo_sli_outcome=~"good|bad"}}' in slo.total_query
    assert 'streamslo_streams_total{service_name="s", streamslo_sli_outcome="bad", ' in http.error_query
    assert 'streamslo_termination_reason="request_failed"' in http.error_query
    assert 'streamslo_streams_total{service_name="s", streamslo_sli_outcome!=""}' in http.total_query
    for slo in (stream, response, http):
        assert "traces_span_metrics" not in slo.error_query + slo.total_query
        assert "span_kind" not in slo.error_query + slo.total_query


def test_span_metrics_is_the_default_and_sources_are_checked() -> None:
    default, explicit = parse_spec(BASE), parse_spec({**BASE, "source": "span_metrics"})
    assert default == explicit
    assert all("traces_span_metrics_calls_total" in slo.error_query for slo in default.slos)
    with pytest.raises(
        SpecError, match=r"spec\.source: unknown value 'traces'; allowed: span_metrics, sdk_metrics"
    ):
        parse_spec({**BASE, "source": "traces"})
    custom = parse_spec(
        {**BASE, "source": "sdk_metrics", "metrics": {"streams": "my_streams", "responses": "my_responses"}}
    )
    assert "my_streams{" in custom.slos[0].error_query and "my_responses{" in custom.slos[1].error_query
    policy = parse_spec(
        {
            **BASE,
            "source": "sdk_metrics",
            "availability": {"objective": 99, "excluded_reasons": ["idle_timeout"]},
        }
    )
    assert 'streamslo_termination_reason!="idle_timeout"' in policy.slos[0].total_query


def test_both_sources_give_the_same_slo_names_and_labels() -> None:
    spans = render(load_spec(SLO_DIR / "streamslo.yaml"))["groups"]
    sdk = render(load_spec(SDK_SPEC_DIR / "streamslo.yaml"))["groups"]
    assert identities(sdk) == identities(spans)
    assert [r["expr"] for g in sdk for r in g["rules"]] != [r["expr"] for g in spans for r in g["rules"]]


def test_committed_sdk_rules_are_regenerated_byte_for_byte() -> None:
    assert regenerated_stems(SDK_SPEC_DIR, SDK_RULES_DIR) == ["streamslo"]


@pytest.mark.promtool
def test_sdk_rules_pass_promtool_check(promtool: str) -> None:
    check_rules_with_promtool(promtool, SDK_RULES_DIR)
