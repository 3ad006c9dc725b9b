"""Load and validate SLO specs: the native ``streamslo/v1`` format and OpenSLO v1 ``kind: SLO``.

Both formats are turned into a :class:`Spec`: one service with a list of :class:`SLO` values, each
carrying its SLI as two PromQL templates (error and total event rates) with a ``{{.window}}``
placeholder, the same convention Sloth uses. Every problem is reported as :class:`SpecError` with
the path of the offending field, never as a KeyError or a PromQL error at load time.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Optional

import yaml

from otel_streamslo.core.lifecycle import TerminationReason
from otel_streamslo.core.semconv import DURATION_BUCKETS

NATIVE_VERSION = "streamslo/v1"
OPENSLO_VERSION = "openslo/v1"
WINDOW_PLACEHOLDER = "{{.window}}"

OUTCOMES: tuple[str, ...] = ("good", "bad", "excluded")
TERMINATION_REASONS: tuple[str, ...] = tuple(r.value for r in TerminationReason)
# SLO periods whose burn-rate windows (5m ... 3d) and factors (14.4, 6, 3, 1) follow the SRE workbook.
PERIODS: tuple[str, ...] = ("28d", "30d")
LATENCY_SOURCES: tuple[str, ...] = ("histogram", "spans")

# Kinds of SLI; rendered as the `streamslo_sli` label so dashboards find SLOs whatever their names.
KIND_STREAM = "stream-availability"
KIND_HTTP = "http-availability"
KIND_LATENCY = "ttft-latency"
KIND_CUSTOM = "custom"

DEFAULT_CALLS_METRIC = "traces_span_metrics_calls_total"
DEFAULT_TTFT_HISTOGRAM = "gen_ai_client_operation_time_to_first_chunk_seconds"
DEFAULT_RUNBOOK_URL = "dashboards/README.md#runbooks"

_NAME_RE = re.compile(r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_METRIC_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
_MATCHER_RE = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*')
_DURATION_RE = re.compile(r"^[1-9][0-9]*(ms|s|m|h|d|w)$")
_RESERVED_LABELS = frozenset({"sloth_id", "sloth_service", "sloth_slo", "sloth_window", "streamslo_sli"})


class SpecError(ValueError):
    """A spec file is not valid; the message names the field and what is allowed."""


@dataclass(frozen=True)
class SLO:
    """One SLO: an error-ratio SLI as PromQL templates, its objective and whether it alerts."""

    name: str
    kind: str
    objective: Decimal  # percent, e.g. Decimal("99.5")
    description: str
    error_query: str  # PromQL of bad events per second, with WINDOW_PLACEHOLDER
    total_query: str  # PromQL of all counted events per second, with WINDOW_PLACEHOLDER
    alerting: bool = True
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def objective_ratio(self) -> Decimal:
        """Objective as a ratio, e.g. 0.995."""
        return self.objective / 100

    @property
    def error_budget(self) -> Decimal:
        """Allowed error ratio, e.g. 0.005."""
        return 1 - self.objective_ratio


@dataclass(frozen=True)
class Alerting:
    """Alert names and labels shared by the SLOs of one spec."""

    page_severity: str = "page"
    ticket_severity: str = "ticket"
    page_for: Optional[str] = None
    ticket_for: Optional[str] = None
    runbook_url: str = DEFAULT_RUNBOOK_URL
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Spec:
    """A validated spec: one service, its SLO period and its SLOs."""

    version: str
    service: str
    period: str
    slos: tuple[SLO, ...]
    alerting: Alerting = field(default_factory=Alerting)
    labels: Mapping[str, str] = field(default_factory=dict)

    @property
    def period_days(self) -> int:
        """Length of the SLO period in days."""
        return int(self.period[:-1])


# --- small validators ------------------------------------------------------------------------------


def _fail(where: str, message: str) -> SpecError:
    return SpecError(f"{where}: {message}")


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _fail(where, f"must be a mapping, got {type(value).__name__}")
    for key in value:
        if not isinstance(key, str):
            raise _fail(where, f"keys must be strings, got {key!r}")
    return value


def _no_unknown(data: Mapping[str, Any], allowed: Sequence[str], where: str) -> None:
    unknown = sorted(set(data) - set(allowed))
    if unknown:
        raise _fail(where, f"unknown field(s) {', '.join(unknown)}; allowed: {', '.join(allowed)}")


def _str(value: object, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _fail(where, f"must be a non-empty string, got {value!r}")
    return value


def _name(value: object, where: str) -> str:
    text = _str(value, where)
    if not _NAME_RE.match(text):
        raise _fail(where, f"{text!r} must be lowercase alphanumerics and '-', at most 63 characters")
    return text


def _metric(value: object, where: str) -> str:
    text = _str(value, where)
    if not _METRIC_RE.match(text):
        raise _fail(where, f"{text!r} is not a Prometheus metric name")
    return text


def _objective(value: object, where: str) -> Decimal:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise _fail(where, f"must be a number (percent, e.g. 99.5), got {value!r}")
    try:
        objective = Decimal(str(value))
    except InvalidOperation:
        raise _fail(where, f"must be a number (percent, e.g. 99.5), got {value!r}") from None
    if not objective.is_finite() or not Decimal(0) < objective < Decimal(100):
        raise _fail(where, f"must be a percentage strictly between 0 and 100 (e.g. 99.5), got {value!r}")
    return objective.normalize()


def _duration(value: object, where: str) -> str:
    text = _str(value, where)
    if not _DURATION_RE.match(text):
        raise _fail(where, f"{text!r} is not a Prometheus duration such as 5m or 1h")
    return text


def _labels(value: object, where: str) -> dict[str, str]:
    if value is None:
        return {}
    data = _mapping(value, where)
    labels: dict[str, str] = {}
    for key, raw in data.items():
        if not _LABEL_RE.match(key) or key.startswith("__"):
            raise _fail(f"{where}.{key}", "is not a valid Prometheus label name")
        if key in _RESERVED_LABELS:
            raise _fail(f"{where}.{key}", "is set by the generator and cannot be overridden")
        if isinstance(raw, bool) or not isinstance(raw, (str, int, float)):
            raise _fail(f"{where}.{key}", f"label values must be scalars, got {raw!r}")
        labels[key] = str(raw)
    return labels


def parse_selector(value: object, where: str) -> str:
    """Validate PromQL label matchers without braces (``a="x", b=~"y|z"``); return them normalized."""
    if value is None or value == "":
        return ""
    text = _str(value, where).strip()
    if text.startswith("{") and text.endswith("}"):
        text = text[1:-1].strip()
    matchers: list[str] = []
    pos = 0
    while pos < len(text):
        match = _MATCHER_RE.match(text, pos)
        if not match:
            raise _fail(where, f'{value!r} is not a list of label matchers such as service_name="my-app"')
        matchers.append(f'{match.group(1)}{match.group(2)}"{match.group(3)}"')
        pos = match.end()
        if pos < len(text):
            if text[pos] != ",":
                raise _fail(where, f"{value!r}: expected ',' between matchers at offset {pos}")
            pos += 1
    return ", ".join(matchers)


def _choices(
    value: object, allowed: Sequence[str], where: str, *, allow_empty: bool = True
) -> tuple[str, ...]:
    if value is None:
        value = []
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise _fail(where, f"must be a list, got {value!r}")
    items: list[str] = []
    for item in value:
        if item not in allowed:
            raise _fail(where, f"unknown value {item!r}; allowed: {', '.join(allowed)}")
        if item not in items:
            items.append(item)
    if not items and not allow_empty:
        raise _fail(where, "must not be empty")
    return tuple(items)


def _regex(values: Sequence[str]) -> str:
    return "|".join(values)


def _sel(*parts: str) -> str:
    return ", ".join(part for part in parts if part)


# --- native format ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    good_outcomes: tuple[str, ...]
    bad_outcomes: tuple[str, ...]
    bad_reasons: tuple[str, ...]
    excluded_reasons: tuple[str, ...]


def _policy(data: Mapping[str, Any], where: str) -> Policy:
    good = _choices(data.get("good_outcomes", ["good"]), OUTCOMES, f"{where}.good_outcomes")
    bad = _choices(data.get("bad_outcomes", ["bad"]), OUTCOMES, f"{where}.bad_outcomes", allow_empty=False)
    both = sorted(set(good) & set(bad))
    if both:
        raise _fail(where, f"outcome(s) {', '.join(both)} cannot be both good and bad")
    bad_reasons = _choices(data.get("bad_reasons"), TERMINATION_REASONS, f"{where}.bad_reasons")
    excluded = _choices(data.get("excluded_reasons"), TERMINATION_REASONS, f"{where}.excluded_reasons")
    clash = sorted(set(bad_reasons) & set(excluded))
    if clash:
        raise _fail(where, f"reason(s) {', '.join(clash)} cannot be both bad and excluded")
    return Policy(good, bad, bad_reasons, excluded)


def _m(label: str, op: str, value: str) -> str:
    if op in ("=~", "!~") and re.fullmatch(r"[a-z0-9_]+", value):
        op = {"=~": "=", "!~": "!="}[op]  # a single plain value: equality reads better than a regex
    return f'{label}{op}"{value}"'


def _vec(metric: str, *matchers: str) -> str:
    return f"{metric}{{{_sel(*matchers)}}}"


def _rate(*vectors: str) -> str:
    return " or ".join(f"rate({vector}[{WINDOW_PLACEHOLDER}])" for vector in vectors)


def stream_queries(calls: str, selector: str, policy: Policy) -> tuple[str, str]:
    """Error and total rate of the stream-aware SLI: verdicts from ``streamslo_sli_outcome``."""
    not_excluded = (
        _m("streamslo_termination_reason", "!~", _regex(policy.excluded_reasons))
        if policy.excluded_reasons
        else ""
    )
    extra_bad = (
        [_vec(calls, selector, _m("streamslo_termination_reason", "=~", _regex(policy.bad_reasons)))]
        if policy.bad_reasons
        else []
    )

    def vectors(outcomes: tuple[str, ...]) -> list[str]:
        return [_vec(calls, selector, _m("streamslo_sli_outcome", "=~", _regex(outcomes)), not_excluded)]

    error = f"(sum({_rate(*vectors(policy.bad_outcomes), *extra_bad)}) or vector(0))"
    total = f"sum({_rate(*vectors(policy.good_outcomes + policy.bad_outcomes), *extra_bad)})"
    return error, total


def http_queries(calls: str, selector: str) -> tuple[str, str]:
    """Error and total rate of the naive HTTP SLI of the same (classified stream) traffic.

    Errors are what an HTTP-status dashboard sees: 5xx and 429 responses, plus connect errors
    (no status at all). A 200 whose stream failed later is a success here.
    """
    traffic = _m("streamslo_sli_outcome", "!=", "")
    status = _vec(calls, selector, traffic, _m("http_response_status_code", "=~", "5..|429"))
    connect = _vec(
        calls,
        selector,
        _m("streamslo_sli_outcome", "=", "bad"),
        _m("streamslo_termination_reason", "=", "request_failed"),
        _m("http_response_status_code", "=", ""),
    )
    error = f"(sum({_rate(status, connect)}) or vector(0))"
    total = f"sum({_rate(_vec(calls, selector, traffic))})"
    return error, total


def latency_span_queries(calls: str, selector: str) -> tuple[str, str]:
    """Error and total rate of the TTFT SLI from the ``streamslo_sli_latency`` span verdict."""
    error = f"(sum({_rate(_vec(calls, selector, _m('streamslo_sli_latency', '=', 'bad')))}) or vector(0))"
    total = f"sum({_rate(_vec(calls, selector, _m('streamslo_sli_latency', '=~', 'good|bad')))})"
    return error, total


def format_le(bound: float) -> str:
    """Format a bucket bound the way Prometheus exposition does (shortest round-trip float)."""
    return repr(float(bound)).removesuffix(".0") if float(bound).is_integer() else repr(float(bound))


def latency_histogram_queries(histogram: str, selector: str, threshold: float) -> tuple[str, str]:
    """Error and total rate of the TTFT SLI from a histogram: streams above the threshold bucket."""
    count = f"sum({_rate(_vec(histogram + '_count', selector))})"
    good = f"sum({_rate(_vec(histogram + '_bucket', selector, _m('le', '=', format_le(threshold))))})"
    return f"({count} - {good})", count


_STREAM_DESCRIPTION = "Streams that failed after the response began count as errors."
_HTTP_DESCRIPTION = "Naive HTTP view of the same streams (5xx, 429, connect errors); for comparison only."
_TOP_FIELDS = (
    "version",
    "service",
    "window",
    "selector",
    "labels",
    "metrics",
    "availability",
    "http_availability",
    "latency",
    "alerting",
)
_AVAILABILITY_FIELDS = (
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
_HTTP_FIELDS = ("enabled", "name", "objective", "description", "selector")
_LATENCY_FIELDS = ("name", "objective", "description", "selector", "alerting", "source", "threshold")
_ALERTING_FIELDS = ("page_severity", "ticket_severity", "page_for", "ticket_for", "runbook_url", "labels")


def _period(value: object, where: str) -> str:
    text = str(value) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if text not in PERIODS:
        raise _fail(where, f"{value!r} is not a supported SLO window; use one of {', '.join(PERIODS)}")
    return text


def _alerting(value: object, where: str) -> Alerting:
    if value is None:
        return Alerting()
    data = _mapping(value, where)
    _no_unknown(data, _ALERTING_FIELDS, where)
    default = Alerting()
    page_for = data.get("page_for")
    ticket_for = data.get("ticket_for")
    return Alerting(
        page_severity=_str(data.get("page_severity", default.page_severity), f"{where}.page_severity"),
        ticket_severity=_str(
            data.get("ticket_severity", default.ticket_severity), f"{where}.ticket_severity"
        ),
        page_for=None if page_for is None else _duration(page_for, f"{where}.page_for"),
        ticket_for=None if ticket_for is None else _duration(ticket_for, f"{where}.ticket_for"),
        runbook_url=_str(data.get("runbook_url", default.runbook_url), f"{where}.runbook_url"),
        labels=_labels(data.get("labels"), f"{where}.labels"),
    )


def _flag(value: object, where: str) -> bool:
    if not isinstance(value, bool):
        raise _fail(where, f"must be true or false, got {value!r}")
    return value


def _threshold(value: object, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _fail(where, f"must be a number of seconds, got {value!r}")
    threshold = float(value)
    if threshold not in DURATION_BUCKETS:
        bounds = ", ".join(format_le(b) for b in DURATION_BUCKETS)
        raise _fail(
            where,
            f"{value!r} s is not a bucket bound of the TTFT histogram, so the SLI cannot be counted "
            f"exactly; use one of {bounds} (or source: spans with the collector's threshold)",
        )
    return threshold


def _native(data: Mapping[str, Any]) -> Spec:
    _no_unknown(data, _TOP_FIELDS, "spec")
    service = _name(data.get("service"), "spec.service")
    period = _period(data.get("window", "30d"), "spec.window")
    selector = parse_selector(data.get("selector", f'service_name="{service}"'), "spec.selector")
    metrics = _mapping(data.get("metrics") or {}, "spec.metrics")
    _no_unknown(metrics, ("calls", "ttft_histogram"), "spec.metrics")
    calls = _metric(metrics.get("calls", DEFAULT_CALLS_METRIC), "spec.metrics.calls")
    histogram = _metric(metrics.get("ttft_histogram", DEFAULT_TTFT_HISTOGRAM), "spec.metrics.ttft_histogram")

    if "availability" not in data:
        raise _fail("spec.availability", "is required (the stream-aware availability SLO)")
    avail = _mapping(data["availability"], "spec.availability")
    _no_unknown(avail, _AVAILABILITY_FIELDS, "spec.availability")
    if "objective" not in avail:
        raise _fail("spec.availability.objective", "is required (percent, e.g. 99.5)")
    objective = _objective(avail["objective"], "spec.availability.objective")
    avail_selector = parse_selector(avail.get("selector", selector), "spec.availability.selector")
    error, total = stream_queries(calls, avail_selector, _policy(avail, "spec.availability"))
    slos = [
        SLO(
            name=_name(avail.get("name", KIND_STREAM), "spec.availability.name"),
            kind=KIND_STREAM,
            objective=objective,
            description=_str(
                avail.get("description", _STREAM_DESCRIPTION),
                "spec.availability.description",
            ),
            error_query=error,
            total_query=total,
            alerting=_flag(avail.get("alerting", True), "spec.availability.alerting"),
        )
    ]

    http = _mapping(data.get("http_availability") or {}, "spec.http_availability")
    _no_unknown(http, _HTTP_FIELDS, "spec.http_availability")
    if _flag(http.get("enabled", True), "spec.http_availability.enabled"):
        error, total = http_queries(
            calls, parse_selector(http.get("selector", selector), "spec.http_availability.selector")
        )
        slos.append(
            SLO(
                name=_name(http.get("name", KIND_HTTP), "spec.http_availability.name"),
                kind=KIND_HTTP,
                objective=_objective(http.get("objective", objective), "spec.http_availability.objective"),
                description=_str(
                    http.get(
                        "description",
                        _HTTP_DESCRIPTION,
                    ),
                    "spec.http_availability.description",
                ),
                error_query=error,
                total_query=total,
                alerting=False,
            )
        )

    if data.get("latency") is not None:
        slos.append(_latency(_mapping(data["latency"], "spec.latency"), selector, calls, histogram))

    names = [slo.name for slo in slos]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise _fail("spec", f"SLO name(s) {', '.join(duplicates)} used more than once")
    return Spec(
        version=NATIVE_VERSION,
        service=service,
        period=period,
        slos=tuple(slos),
        alerting=_alerting(data.get("alerting"), "spec.alerting"),
        labels=_labels(data.get("labels"), "spec.labels"),
    )


def _latency(data: Mapping[str, Any], selector: str, calls: str, histogram: str) -> SLO:
    where = "spec.latency"
    _no_unknown(data, _LATENCY_FIELDS, where)
    if "objective" not in data:
        raise _fail(f"{where}.objective", "is required (percent, e.g. 99)")
    source = data.get("source", "histogram")
    if source not in LATENCY_SOURCES:
        raise _fail(f"{where}.source", f"unknown value {source!r}; allowed: {', '.join(LATENCY_SOURCES)}")
    latency_selector = parse_selector(data.get("selector", selector), f"{where}.selector")
    if source == "histogram":
        if "threshold" not in data:
            raise _fail(f"{where}.threshold", "is required with source: histogram (seconds, e.g. 2.56)")
        threshold = _threshold(data["threshold"], f"{where}.threshold")
        error, total = latency_histogram_queries(histogram, latency_selector, threshold)
        default_description = f"Streams whose first token arrived later than {format_le(threshold)} s."
    else:
        if "threshold" in data:
            raise _fail(
                f"{where}.threshold",
                "does not apply to source: spans; the threshold is the collector processor's "
                "time_to_first_token_threshold",
            )
        error, total = latency_span_queries(calls, latency_selector)
        default_description = "Streams whose first token arrived later than the collector's TTFT threshold."
    return SLO(
        name=_name(data.get("name", KIND_LATENCY), f"{where}.name"),
        kind=KIND_LATENCY,
        objective=_objective(data["objective"], f"{where}.objective"),
        description=_str(data.get("description", default_description), f"{where}.description"),
        error_query=error,
        total_query=total,
        alerting=_flag(data.get("alerting", True), f"{where}.alerting"),
    )


# --- OpenSLO v1 ---------------------------------------------------------------------------------------

_OPENSLO_DURATION_RE = re.compile(r"^([1-9][0-9]*)([dw])$")


def _openslo_query(side: object, where: str, counter: bool) -> str:
    data = _mapping(side, where)
    source = _mapping(data.get("metricSource"), f"{where}.metricSource")
    kind = source.get("type", "Prometheus")
    if not isinstance(kind, str) or kind.lower() != "prometheus":
        raise _fail(f"{where}.metricSource.type", f"only Prometheus sources are supported, got {kind!r}")
    raw = source.get("spec")
    query = raw.get("query") if isinstance(raw, Mapping) else raw
    text = " ".join(_str(query, f"{where}.metricSource.spec.query").split())
    text = re.sub(r"\{\{\s*\.window\s*\}\}", WINDOW_PLACEHOLDER, text)
    if WINDOW_PLACEHOLDER in text:
        return text
    if counter:
        return f"sum(rate({text}[{WINDOW_PLACEHOLDER}]))"
    raise _fail(
        f"{where}.metricSource.spec.query",
        "needs a {{.window}} range placeholder, or ratioMetric.counter: true with a plain counter selector",
    )


def _openslo(data: Mapping[str, Any]) -> Spec:
    if data.get("kind") != "SLO":
        raise _fail("kind", f"only OpenSLO kind: SLO is supported, got {data.get('kind')!r}")
    metadata = _mapping(data.get("metadata"), "metadata")
    spec = _mapping(data.get("spec"), "spec")
    if "indicator" not in spec:
        raise _fail("spec.indicator", "is required (inline SLI; indicatorRef is not supported)")
    indicator = _mapping(_mapping(spec["indicator"], "spec.indicator").get("spec"), "spec.indicator.spec")
    if "ratioMetric" not in indicator:
        raise _fail("spec.indicator.spec", "only ratioMetric SLIs are supported")
    ratio = _mapping(indicator["ratioMetric"], "spec.indicator.spec.ratioMetric")
    where = "spec.indicator.spec.ratioMetric"
    counter = _flag(ratio.get("counter", False), f"{where}.counter")
    if "total" not in ratio:
        raise _fail(f"{where}.total", "is required")
    total = _openslo_query(ratio["total"], f"{where}.total", counter)
    if ("good" in ratio) == ("bad" in ratio):
        raise _fail(where, "needs exactly one of good or bad next to total")
    if "good" in ratio:
        error = f"(({total}) - ({_openslo_query(ratio['good'], f'{where}.good', counter)}))"
    else:
        error = _openslo_query(ratio["bad"], f"{where}.bad", counter)

    windows = spec.get("timeWindow") or [{"duration": "30d"}]
    if not isinstance(windows, Sequence) or len(windows) != 1:
        raise _fail("spec.timeWindow", "must hold exactly one rolling window")
    window = _mapping(windows[0], "spec.timeWindow[0]")
    match = _OPENSLO_DURATION_RE.match(str(window.get("duration", "")))
    days = (int(match.group(1)) * (7 if match.group(2) == "w" else 1)) if match else 0
    if f"{days}d" not in PERIODS or window.get("isRolling", True) is not True:
        raise _fail(
            "spec.timeWindow[0]",
            f"{window.get('duration')!r} is not supported; use a rolling window of {' or '.join(PERIODS)}",
        )
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        raise _fail("spec.budgetingMethod", f"only Occurrences is supported, got {method!r}")
    objectives = spec.get("objectives")
    if not isinstance(objectives, Sequence) or isinstance(objectives, str) or len(objectives) != 1:
        raise _fail("spec.objectives", "must hold exactly one objective")
    goal = _mapping(objectives[0], "spec.objectives[0]")
    if "targetPercent" in goal:
        objective = _objective(goal["targetPercent"], "spec.objectives[0].targetPercent")
    elif "target" in goal:
        target = goal["target"]
        if isinstance(target, bool) or not isinstance(target, (int, float)):
            raise _fail("spec.objectives[0].target", f"must be a ratio such as 0.995, got {target!r}")
        objective = _objective(Decimal(str(target)) * 100, "spec.objectives[0].target (as percent)")
    else:
        raise _fail("spec.objectives[0]", "needs target (ratio) or targetPercent")
    name = _name(metadata.get("name"), "metadata.name")
    description = spec.get("description") or metadata.get("displayName") or f"OpenSLO SLO {name}."
    slo = SLO(
        name=name,
        kind=KIND_CUSTOM,
        objective=objective,
        description=_str(description, "spec.description"),
        error_query=error,
        total_query=total,
    )
    return Spec(
        version=OPENSLO_VERSION,
        service=_name(spec.get("service"), "spec.service"),
        period=f"{days}d",
        slos=(slo,),
        labels=_labels(metadata.get("labels"), "metadata.labels"),
    )


# --- entry points -------------------------------------------------------------------------------------


def parse_spec(data: object) -> Spec:
    """Validate a decoded YAML document (native ``streamslo/v1`` or OpenSLO v1 ``kind: SLO``)."""
    doc = _mapping(data, "document")
    if "apiVersion" in doc:
        if doc["apiVersion"] != OPENSLO_VERSION:
            raise _fail("apiVersion", f"{doc['apiVersion']!r} is not supported; use {OPENSLO_VERSION}")
        return _openslo(doc)
    version = doc.get("version")
    if version != NATIVE_VERSION:
        raise _fail("version", f"{version!r} is not supported; use {NATIVE_VERSION} (or OpenSLO apiVersion)")
    return _native(doc)


def load_spec(path: Path) -> Spec:
    """Read and validate one spec file; errors name the file."""
    try:
        data: object = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {exc}") from None
    try:
        return parse_spec(data)
    except SpecError as exc:
        raise SpecError(f"{path}: {exc}") from None
