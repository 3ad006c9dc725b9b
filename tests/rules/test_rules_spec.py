"""Validation of SLO specs: the native format, OpenSLO v1, and the errors users see."""

from __future__ import annotations

import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_streamslo.core.semconv import DURATION_BUCKETS
from otel_streamslo.rules import conventions, sli
from otel_streamslo.rules.spec import SpecError, load_spec, parse_selector, parse_spec

from .conftest import SLO_DIR

BASE: dict[str, Any] = {
    "version": "streamslo/v1",
    "service": "my-app",
    "availability": {"objective": 99.5},
    "latency": {"objective": 99, "threshold": 2.56},
}


def doc(**changes: Any) -> dict[str, Any]:
    """BASE with top-level or dotted-path changes (None deletes)."""
    data = copy.deepcopy(BASE)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = data
        for key in parents:
            node = node.setdefault(key, {})
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return data


def error_of(data: object) -> str:
    with pytest.raises(SpecError) as info:
        parse_spec(data)
    return str(info.value)


def test_committed_spec_loads_with_four_slos() -> None:
    spec = load_spec(SLO_DIR / "streamslo.yaml")
    assert [s.kind for s in spec.slos] == [
        "stream-availability",
        "response-availability",
        "http-availability",
        "ttft-latency",
    ]
    assert [s.alerting for s in spec.slos] == [True, True, False, True]
    assert spec.period == "30d"
    assert spec.period_days == 30


def test_defaults_follow_design() -> None:
    spec = parse_spec(doc())
    stream, http, latency = spec.slos
    assert (stream.name, http.name, latency.name) == (
        "stream-availability",
        "http-availability",
        "ttft-latency",
    )
    assert stream.objective == Decimal("99.5")
    assert http.objective == stream.objective  # naive SLO defaults to the same objective
    assert stream.error_budget == Decimal("0.005")
    # default selector is the service name; default bad outcome is "bad", counted against good+bad
    assert 'service_name="my-app"' in stream.error_query
    assert 'streamslo_sli_outcome="bad"' in stream.error_query
    assert 'streamslo_sli_outcome=~"good|bad"' in stream.total_query
    assert "excluded" not in stream.total_query


@pytest.mark.parametrize("objective", [100, 0, 101, -3, "high", True, None, float("nan")])
def test_bad_objective(objective: object) -> None:
    message = error_of(doc(availability__objective=objective))
    assert "spec.availability.objective" in message
    assert any(text in message for text in ("between 0 and 100", "must be a number", "is required"))


def test_missing_objective_is_required() -> None:
    assert "is required" in error_of(doc(availability={}))


def test_unknown_outcome() -> None:
    message = error_of(doc(availability__bad_outcomes=["bad", "terrible"]))
    assert "spec.availability.bad_outcomes" in message
    assert "'terrible'" in message
    assert "good, bad, excluded" in message


def test_outcome_cannot_be_good_and_bad() -> None:
    message = error_of(
        doc(availability__good_outcomes=["good", "excluded"], availability__bad_outcomes=["excluded"])
    )
    assert "excluded cannot be both good and bad" in message


def test_empty_bad_outcomes() -> None:
    assert "must not be empty" in error_of(doc(availability__bad_outcomes=[]))


def test_unknown_and_clashing_reasons() -> None:
    assert "'exploded'" in error_of(doc(availability__bad_reasons=["exploded"]))
    message = error_of(
        doc(
            availability__bad_reasons=["client_abandoned"],
            availability__excluded_reasons=["client_abandoned"],
        )
    )
    assert "client_abandoned cannot be both bad and excluded" in message


def test_reason_overrides_shape_the_queries() -> None:
    spec = parse_spec(
        doc(availability__bad_reasons=["client_abandoned"], availability__excluded_reasons=["idle_timeout"])
    )
    stream = spec.slos[0]
    assert 'streamslo_termination_reason="client_abandoned"' in stream.error_query
    assert 'streamslo_termination_reason!="idle_timeout"' in stream.error_query
    assert 'streamslo_termination_reason="client_abandoned"' in stream.total_query


@pytest.mark.parametrize("window", ["7d", "30x", "1h", "30", 30, "", "30d "])
def test_bad_window(window: object) -> None:
    message = error_of(doc(window=window))
    assert "spec.window" in message
    assert "28d, 30d" in message


def test_28d_window() -> None:
    assert parse_spec(doc(window="28d")).period_days == 28


@pytest.mark.parametrize("threshold", [2, 2.0, 2.5, 5, 0.005, 1000])
def test_latency_threshold_must_be_a_bucket_bound(threshold: float) -> None:
    message = error_of(doc(latency__threshold=threshold))
    assert "spec.latency.threshold" in message
    assert "not a bucket bound" in message
    assert "2.56" in message and "327.68" in message


@pytest.mark.parametrize("bound", DURATION_BUCKETS)
def test_every_bucket_bound_is_accepted(bound: float) -> None:
    latency = parse_spec(doc(latency__threshold=bound)).slos[-1]
    assert f'le="{sli.format_le(bound)}"' in latency.error_query
    assert float(sli.format_le(bound)) == bound


def test_latency_threshold_required_for_histograms_and_refused_for_spans() -> None:
    assert "is required with source: histogram" in error_of(doc(latency__threshold=None))
    assert "does not apply to source: spans" in error_of(doc(latency__source="spans"))
    spans = parse_spec(doc(latency={"objective": 99, "source": "spans"})).slos[-1]
    assert 'streamslo_sli_latency="bad"' in spans.error_query
    assert "unknown value 'tempo'" in error_of(doc(latency__source="tempo"))


def test_unknown_fields_are_errors() -> None:
    assert "unknown field(s) objectve" in error_of(doc(availability__objectve=99))
    assert "unknown field(s) slos" in error_of(doc(slos=[]))


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ('service_name="my-app"', 'service_name="my-app"'),
        ('{service_name="my-app"}', 'service_name="my-app"'),
        (' job = "a",  env=~"prod|stage" , x!~"y\\"z",', 'job="a", env=~"prod|stage", x!~"y\\"z"'),
        ("", ""),
    ],
)
def test_selector_normalized(value: str, expected: str) -> None:
    assert parse_selector(value, "s") == expected


@pytest.mark.parametrize(
    "value", ["service_name=my-app", 'service_name="a" env="b"', "rate(x[5m])", '1abc="x"']
)
def test_selector_rejected(value: str) -> None:
    with pytest.raises(SpecError, match="matchers"):
        parse_selector(value, "spec.selector")


def test_selector_flows_into_every_slo_and_can_be_overridden() -> None:
    spec = parse_spec(doc(selector='job="llm", env="prod"', latency__selector='env="prod"'))
    stream, http, latency = spec.slos
    for slo in (stream, http):
        assert 'job="llm", env="prod"' in slo.error_query
        assert 'job="llm", env="prod"' in slo.total_query
    assert 'job="llm"' not in latency.error_query
    assert 'env="prod"' in latency.error_query


def test_version_labels_and_names() -> None:
    assert "use streamslo/v1" in error_of(doc(version="sloth/v1"))
    assert "set by the generator" in error_of(doc(labels={"sloth_id": "x"}))
    assert "not a valid Prometheus label name" in error_of(doc(labels={"bad-label": "x"}))
    assert "lowercase alphanumerics" in error_of(doc(service="My App"))
    assert "used more than once" in error_of(doc(http_availability={"name": "stream-availability"}))
    assert len(parse_spec(doc(http_availability={"enabled": False})).slos) == 2


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("version: [unclosed\n")
    with pytest.raises(SpecError, match=r"broken\.yaml: not valid YAML"):
        load_spec(path)
    path.write_text(yaml.safe_dump(doc(window="1w")))
    with pytest.raises(SpecError, match=r"broken\.yaml: spec\.window"):
        load_spec(path)


def test_termination_reasons_match_the_lifecycle() -> None:
    lifecycle = pytest.importorskip("otel_streamslo.core.lifecycle")
    assert set(conventions.TERMINATION_REASONS) == {r.value for r in lifecycle.TerminationReason}
    assert set(conventions.OUTCOMES) == {o.value for o in lifecycle.Outcome}


# --- OpenSLO ------------------------------------------------------------------------------------------

OPENSLO: dict[str, Any] = {
    "apiVersion": "openslo/v1",
    "kind": "SLO",
    "metadata": {"name": "chat-availability", "displayName": "Chat availability"},
    "spec": {
        "service": "my-app",
        "indicator": {
            "metadata": {"name": "chat-ok"},
            "spec": {
                "ratioMetric": {
                    "counter": True,
                    "good": {"metricSource": {"type": "Prometheus", "spec": {"query": 'ok_total{job="a"}'}}},
                    "total": {
                        "metricSource": {"type": "Prometheus", "spec": {"query": 'all_total{job="a"}'}}
                    },
                }
            },
        },
        "timeWindow": [{"duration": "30d", "isRolling": True}],
        "budgetingMethod": "Occurrences",
        "objectives": [{"displayName": "ok", "target": 0.995}],
    },
}


def openslo(**changes: Any) -> dict[str, Any]:
    data = copy.deepcopy(OPENSLO)
    ratio = data["spec"]["indicator"]["spec"]["ratioMetric"]
    for key, value in changes.items():
        target = ratio if key in ("good", "bad", "total", "counter") else data["spec"]
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    return data


def test_openslo_good_total_counter() -> None:
    spec = parse_spec(openslo())
    (slo,) = spec.slos
    assert (spec.service, slo.name, slo.objective, spec.period) == (
        "my-app",
        "chat-availability",
        Decimal("99.5"),
        "30d",
    )
    assert slo.total_query == 'sum(rate(all_total{job="a"}[{{.window}}]))'
    assert slo.error_query == (
        '((sum(rate(all_total{job="a"}[{{.window}}]))) - (sum(rate(ok_total{job="a"}[{{.window}}]))))'
    )
    assert spec.version == "openslo/v1"


def test_openslo_bad_total_with_window_placeholder() -> None:
    bad = {"metricSource": {"type": "Prometheus", "spec": {"query": "sum(rate(err_total[{{ .window }}]))"}}}
    total = {"metricSource": {"spec": "sum(rate(all_total[{{.window}}]))\n"}}  # spec may be the query itself
    spec = parse_spec(
        openslo(good=None, bad=bad, total=total, counter=False, objectives=[{"targetPercent": 99.9}])
    )
    (slo,) = spec.slos
    assert slo.error_query == "sum(rate(err_total[{{.window}}]))"
    assert slo.total_query == "sum(rate(all_total[{{.window}}]))"
    assert slo.objective == Decimal("99.9")
    assert slo.error_budget == Decimal("0.001")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"total": None}, "total: is required"),
        ({"bad": {"metricSource": {"spec": {"query": "x"}}}}, "exactly one of good or bad"),
        ({"counter": False}, "needs a {{.window}} range placeholder"),
        ({"timeWindow": [{"duration": "7d", "isRolling": True}]}, "rolling window of 28d or 30d"),
        ({"timeWindow": [{"duration": "4w", "isRolling": False}]}, "rolling window"),
        ({"budgetingMethod": "Timeslices"}, "only Occurrences"),
        ({"objectives": [{"target": 1.5}]}, "between 0 and 100"),
        ({"objectives": []}, "exactly one objective"),
        (
            {"total": {"metricSource": {"type": "Datadog", "spec": {"query": "x"}}}},
            "only Prometheus sources are supported",
        ),
    ],
)
def test_openslo_errors(changes: dict[str, Any], message: str) -> None:
    assert message in error_of(openslo(**changes))


def test_openslo_4w_is_28d_and_kind_checked() -> None:
    assert parse_spec(openslo(timeWindow=[{"duration": "4w", "isRolling": True}])).period == "28d"
    assert "only OpenSLO kind: SLO" in error_of({**OPENSLO, "kind": "Service"})
    assert "openslo/v1alpha' is not supported" in error_of({**OPENSLO, "apiVersion": "openslo/v1alpha"})


def test_slis_select_on_span_kind() -> None:
    spec = parse_spec(doc(response_availability={"objective": 99}))
    stream, response, http, latency = spec.slos
    client, server = 'span_kind="SPAN_KIND_CLIENT"', 'span_kind="SPAN_KIND_SERVER"'
    for slo in (stream, http):  # the provider leg and its naive HTTP view
        assert client in slo.error_query and client in slo.total_query
        assert server not in slo.error_query + slo.total_query
    assert server in response.error_query and server in response.total_query
    assert client not in response.error_query + response.total_query
    assert (response.name, response.kind, response.objective, response.alerting) == (
        "response-availability",
        "response-availability",
        Decimal("99"),
        True,
    )
    assert "span_kind" not in latency.error_query  # histogram source: the SDK's client histogram


def test_response_availability_defaults_and_reasons() -> None:
    assert [s.kind for s in parse_spec(doc()).slos] == [
        "stream-availability",
        "http-availability",
        "ttft-latency",
    ]  # opt-in: only specs with a response_availability section get it
    (response,) = [
        s for s in parse_spec(doc(response_availability={})).slos if s.kind == "response-availability"
    ]
    assert response.objective == Decimal("99.5")  # defaults to the availability objective
    custom = parse_spec(
        doc(response_availability={"bad_reasons": ["client_cancelled"], "excluded_reasons": ["app_error"]})
    ).slos[1]
    assert 'streamslo_termination_reason="client_cancelled"' in custom.error_query
    assert 'streamslo_termination_reason!="app_error"' in custom.total_query
    message = error_of(doc(response_availability={"bad_reasons": ["idle_timeout"]}))
    assert "spec.response_availability.bad_reasons" in message and "upstream_failed" in message
    assert "spec.response_availability: unknown field(s) threshold" in error_of(
        doc(response_availability={"threshold": 1})
    )
    assert "used more than once" in error_of(doc(response_availability={"name": "stream-availability"}))
