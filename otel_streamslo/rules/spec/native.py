"""The native ``streamslo/v1`` spec format (documented in dashboards/README.md)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from otel_streamslo.rules import sli
from otel_streamslo.rules.conventions import (
    CALLS_METRIC,
    INFERRED_EXCLUDE,
    INFERRED_MODES,
    KIND_HTTP,
    KIND_LATENCY,
    KIND_RESPONSE,
    KIND_STREAM,
    LATENCY_SOURCES,
    NATIVE_VERSION,
    OUTCOMES,
    RESPONSE_REASONS,
    RESPONSES_METRIC,
    SOURCE_SPAN_METRICS,
    SOURCES,
    STREAMS_METRIC,
    TERMINATION_REASONS,
    TTFT_HISTOGRAM,
)
from otel_streamslo.rules.spec import fields as f
from otel_streamslo.rules.spec.model import SLO, Alerting, RuleDeployment, Spec

STREAM_DESCRIPTION = "Streams that failed after the response began count as errors."
RESPONSE_DESCRIPTION = "Streamed responses of the app that users got cut off or failed count as errors."
HTTP_DESCRIPTION = "Naive HTTP view of the same streams (5xx, 429, connect errors); for comparison only."
TOP_FIELDS = (
    "version",
    "service",
    "source",
    "inferred",
    "window",
    "selector",
    "labels",
    "metrics",
    "availability",
    "response_availability",
    "http_availability",
    "latency",
    "alerting",
    "prometheus_operator",
    "mimir",
)
AVAILABILITY_FIELDS = (
    "name",
    "objective",
    "description",
    "selector",
    "alerting",
    "good_outcomes",
    "bad_outcomes",
    "bad_reasons",
    "excluded_reasons",
)
HTTP_FIELDS = ("enabled", "name", "objective", "description", "selector")
LATENCY_FIELDS = ("name", "objective", "description", "selector", "alerting", "source", "threshold")
ALERTING_FIELDS = ("page_severity", "ticket_severity", "page_for", "ticket_for", "runbook_url", "labels")
METRICS_FIELDS = ("calls", "streams", "responses", "ttft_histogram")
OPERATOR_FIELDS = ("name", "namespace", "labels", "annotations")


def rule_deployment(data: Mapping[str, Any]) -> RuleDeployment:
    """The ``prometheus_operator`` and ``mimir`` sections (both optional)."""
    where = "spec.prometheus_operator"
    operator = f.mapping(data.get("prometheus_operator") or {}, where)
    f.no_unknown(operator, OPERATOR_FIELDS, where)
    mimir = f.mapping(data.get("mimir") or {}, "spec.mimir")
    f.no_unknown(mimir, ("namespace",), "spec.mimir")
    name, namespace = operator.get("name"), operator.get("namespace")
    return RuleDeployment(
        operator_name=None if name is None else f.k8s_name(name, f"{where}.name"),
        operator_namespace=None if namespace is None else f.k8s_name(namespace, f"{where}.namespace"),
        operator_labels=f.k8s_labels(operator.get("labels"), f"{where}.labels"),
        operator_annotations=f.k8s_annotations(operator.get("annotations"), f"{where}.annotations"),
        mimir_namespace=None
        if mimir.get("namespace") is None
        else f.text(mimir["namespace"], "spec.mimir.namespace"),
    )


def verdict_selection(
    data: Mapping[str, Any], where: str, reasons: tuple[str, ...] = TERMINATION_REASONS
) -> sli.VerdictSelection:
    """``good_outcomes``, ``bad_outcomes``, ``bad_reasons``, ``excluded_reasons`` of an SLO."""
    good = f.choices(data.get("good_outcomes", ["good"]), OUTCOMES, f"{where}.good_outcomes")
    bad = f.choices(data.get("bad_outcomes", ["bad"]), OUTCOMES, f"{where}.bad_outcomes", allow_empty=False)
    both = sorted(set(good) & set(bad))
    if both:
        raise f.fail(where, f"outcome(s) {', '.join(both)} cannot be both good and bad")
    bad_reasons = f.choices(data.get("bad_reasons"), reasons, f"{where}.bad_reasons")
    excluded = f.choices(data.get("excluded_reasons"), reasons, f"{where}.excluded_reasons")
    clash = sorted(set(bad_reasons) & set(excluded))
    if clash:
        raise f.fail(where, f"reason(s) {', '.join(clash)} cannot be both bad and excluded")
    return sli.VerdictSelection(good, bad, bad_reasons, excluded)


def alerting(value: object, where: str) -> Alerting:
    """The ``alerting`` section."""
    if value is None:
        return Alerting()
    data = f.mapping(value, where)
    f.no_unknown(data, ALERTING_FIELDS, where)
    default = Alerting()
    page_for = data.get("page_for")
    ticket_for = data.get("ticket_for")
    return Alerting(
        page_severity=f.text(data.get("page_severity", default.page_severity), f"{where}.page_severity"),
        ticket_severity=f.text(
            data.get("ticket_severity", default.ticket_severity), f"{where}.ticket_severity"
        ),
        page_for=None if page_for is None else f.duration(page_for, f"{where}.page_for"),
        ticket_for=None if ticket_for is None else f.duration(ticket_for, f"{where}.ticket_for"),
        runbook_url=f.text(data.get("runbook_url", default.runbook_url), f"{where}.runbook_url"),
        labels=f.labels(data.get("labels"), f"{where}.labels"),
    )


def stream_slo(data: Mapping[str, Any], selector: str, source: sli.CountingSource) -> SLO:
    """The required ``availability`` section: the stream-aware availability SLO."""
    where = "spec.availability"
    if "availability" not in data:
        raise f.fail(where, "is required (the stream-aware availability SLO)")
    avail = f.mapping(data["availability"], where)
    f.no_unknown(avail, AVAILABILITY_FIELDS, where)
    if "objective" not in avail:
        raise f.fail(f"{where}.objective", "is required (percent, e.g. 99.5)")
    objective = f.objective(avail["objective"], f"{where}.objective")
    own_selector = f.parse_selector(avail.get("selector", selector), f"{where}.selector")
    events = source.stream_events(own_selector, verdict_selection(avail, where))
    error, total = sli.error_and_total(events)
    return SLO(
        name=f.name(avail.get("name", KIND_STREAM), f"{where}.name"),
        kind=KIND_STREAM,
        objective=objective,
        description=f.text(avail.get("description", STREAM_DESCRIPTION), f"{where}.description"),
        error_query=error,
        total_query=total,
        alerting=f.flag(avail.get("alerting", True), f"{where}.alerting"),
    )


def response_slo(
    data: Mapping[str, Any], selector: str, source: sli.CountingSource, stream: SLO
) -> list[SLO]:
    """The optional ``response_availability`` section: the user-facing SLO of server spans."""
    where = "spec.response_availability"
    if data.get("response_availability") is None:
        return []
    resp = f.mapping(data["response_availability"], where)
    f.no_unknown(resp, AVAILABILITY_FIELDS, where)
    objective = f.objective(resp.get("objective", stream.objective), f"{where}.objective")
    own_selector = f.parse_selector(resp.get("selector", selector), f"{where}.selector")
    events = source.response_events(own_selector, verdict_selection(resp, where, RESPONSE_REASONS))
    error, total = sli.error_and_total(events)
    slo = SLO(
        name=f.name(resp.get("name", KIND_RESPONSE), f"{where}.name"),
        kind=KIND_RESPONSE,
        objective=objective,
        description=f.text(resp.get("description", RESPONSE_DESCRIPTION), f"{where}.description"),
        error_query=error,
        total_query=total,
        alerting=f.flag(resp.get("alerting", True), f"{where}.alerting"),
    )
    return [slo]


def http_slo(data: Mapping[str, Any], selector: str, source: sli.CountingSource, stream: SLO) -> list[SLO]:
    """The optional ``http_availability`` section (on by default): the naive view, never alerting."""
    where = "spec.http_availability"
    http = f.mapping(data.get("http_availability") or {}, where)
    f.no_unknown(http, HTTP_FIELDS, where)
    if not f.flag(http.get("enabled", True), f"{where}.enabled"):
        return []
    events = source.http_events(f.parse_selector(http.get("selector", selector), f"{where}.selector"))
    error, total = sli.error_and_total(events)
    return [
        SLO(
            name=f.name(http.get("name", KIND_HTTP), f"{where}.name"),
            kind=KIND_HTTP,
            objective=f.objective(http.get("objective", stream.objective), f"{where}.objective"),
            description=f.text(http.get("description", HTTP_DESCRIPTION), f"{where}.description"),
            error_query=error,
            total_query=total,
            alerting=False,
        )
    ]


def latency_slo(data: Mapping[str, Any], selector: str, spans: sli.CountingSource, histogram: str) -> SLO:
    """The optional ``latency`` section: time to first token, from the histogram or span verdicts."""
    where = "spec.latency"
    f.no_unknown(data, LATENCY_FIELDS, where)
    if "objective" not in data:
        raise f.fail(f"{where}.objective", "is required (percent, e.g. 99)")
    source = data.get("source", "histogram")
    if source not in LATENCY_SOURCES:
        raise f.fail(f"{where}.source", f"unknown value {source!r}; allowed: {', '.join(LATENCY_SOURCES)}")
    own_selector = f.parse_selector(data.get("selector", selector), f"{where}.selector")
    if source == "histogram":
        if "threshold" not in data:
            raise f.fail(f"{where}.threshold", "is required with source: histogram (seconds, e.g. 2.56)")
        threshold = f.ttft_threshold(data["threshold"], f"{where}.threshold")
        error, total = sli.latency_histogram_queries(histogram, own_selector, threshold)
        description = f"Streams whose first token arrived later than {sli.format_le(threshold)} s."
    else:
        if "threshold" in data:
            raise f.fail(
                f"{where}.threshold",
                "does not apply to source: spans; the threshold is the collector processor's "
                "time_to_first_token_threshold",
            )
        events = sli.latency_span_events(spans.calls, own_selector, spans.inferred)
        error, total = sli.error_and_total(events)
        description = "Streams whose first token arrived later than the collector's TTFT threshold."
    return SLO(
        name=f.name(data.get("name", KIND_LATENCY), f"{where}.name"),
        kind=KIND_LATENCY,
        objective=f.objective(data["objective"], f"{where}.objective"),
        description=f.text(data.get("description", description), f"{where}.description"),
        error_query=error,
        total_query=total,
        alerting=f.flag(data.get("alerting", True), f"{where}.alerting"),
    )


def parse_native(data: Mapping[str, Any]) -> Spec:
    """Validate a ``streamslo/v1`` document."""
    f.no_unknown(data, TOP_FIELDS, "spec")
    service = f.name(data.get("service"), "spec.service")
    period = f.period(data.get("window", "30d"), "spec.window")
    selector = f.parse_selector(data.get("selector", f'service_name="{service}"'), "spec.selector")
    metrics = f.mapping(data.get("metrics") or {}, "spec.metrics")
    f.no_unknown(metrics, METRICS_FIELDS, "spec.metrics")
    calls = f.metric(metrics.get("calls", CALLS_METRIC), "spec.metrics.calls")
    source = sli.CountingSource(
        kind=f.one_of(data.get("source", SOURCE_SPAN_METRICS), SOURCES, "spec.source"),
        calls=calls,
        streams=f.metric(metrics.get("streams", STREAMS_METRIC), "spec.metrics.streams"),
        responses=f.metric(metrics.get("responses", RESPONSES_METRIC), "spec.metrics.responses"),
        inferred=f.one_of(data.get("inferred", INFERRED_EXCLUDE), INFERRED_MODES, "spec.inferred"),
    )
    histogram = f.metric(metrics.get("ttft_histogram", TTFT_HISTOGRAM), "spec.metrics.ttft_histogram")
    stream = stream_slo(data, selector, source)
    slos = [stream, *response_slo(data, selector, source, stream), *http_slo(data, selector, source, stream)]
    if data.get("latency") is not None:
        slos.append(latency_slo(f.mapping(data["latency"], "spec.latency"), selector, source, histogram))
    span_latency = data.get("latency") is not None and data["latency"].get("source") == "spans"
    if "inferred" in data and source.sdk and not span_latency:
        raise f.fail("spec.inferred", "applies to span metrics only; the SDK's counters count our streams")
    names = [slo.name for slo in slos]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise f.fail("spec", f"SLO name(s) {', '.join(duplicates)} used more than once")
    return Spec(
        version=NATIVE_VERSION,
        service=service,
        period=period,
        slos=tuple(slos),
        alerting=alerting(data.get("alerting"), "spec.alerting"),
        labels=f.labels(data.get("labels"), "spec.labels"),
        deployment=rule_deployment(data),
    )
