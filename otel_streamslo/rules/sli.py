"""PromQL of the SLIs, shared by the generated rules and the Grafana dashboards.

An SLI is a pair of vector selector lists (:class:`EventSelectors`): the series whose rates add up to
the error events and to all counted events. The rules turn them into Sloth-style templates with a
``{{.window}}`` placeholder (:func:`error_and_total`); the dashboards into an availability
expression over a Grafana range (:func:`availability`). Both read the same selectors, so a panel
and its recording rule cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from otel_streamslo.rules.conventions import (
    CALLS_METRIC,
    CLIENT_SPANS,
    HTTP_ERROR_STATUSES,
    INFERRED_EXCLUDE,
    INFERRED_INCLUDE,
    INFERRED_LABEL,
    INFERRED_ONLY,
    LATENCY_LABEL,
    OUTCOME_LABEL,
    REASON_LABEL,
    RESPONSES_METRIC,
    SERVER_SPANS,
    SOURCE_SDK_METRICS,
    SOURCE_SPAN_METRICS,
    STATUS_LABEL,
    STREAMS_METRIC,
    WINDOW_PLACEHOLDER,
)


@dataclass(frozen=True)
class VerdictSelection:
    """Which span verdicts an availability SLI counts as good and bad, with per-reason overrides."""

    good_outcomes: tuple[str, ...] = ("good",)
    bad_outcomes: tuple[str, ...] = ("bad",)
    bad_reasons: tuple[str, ...] = ()
    excluded_reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class EventSelectors:
    """Vector selectors whose summed rates are the error events and all counted events."""

    errors: tuple[str, ...]
    total: tuple[str, ...]


def matchers(*parts: str) -> str:
    """Join label matchers (empty parts dropped)."""
    return ", ".join(part for part in parts if part)


def matcher(label: str, op: str, value: str) -> str:
    """One label matcher; a regex over a single plain value reads as equality."""
    if op in ("=~", "!~") and re.fullmatch(r"[a-z0-9_]+", value):
        op = {"=~": "=", "!~": "!="}[op]
    return f'{label}{op}"{value}"'


def vector(metric: str, *parts: str) -> str:
    """``metric{matchers}``."""
    return f"{metric}{{{matchers(*parts)}}}"


def summed(vectors: Sequence[str], window: str = WINDOW_PLACEHOLDER, fn: str = "rate", by: str = "") -> str:
    """``sum [by (...)] (fn(v1[window]) or fn(v2[window]) ...)``."""
    inner = " or ".join(f"{fn}({v}[{window}])" for v in vectors)
    return f"sum by ({by}) ({inner})" if by else f"sum({inner})"


def inferred_matcher(mode: str = INFERRED_EXCLUDE) -> str:
    """Matcher of the spans counted under ``mode`` (:data:`INFERRED_MODES`); empty for include.

    ``!="true"`` also matches series without the label, so setups without peers are unaffected.
    """
    if mode == INFERRED_INCLUDE:
        return ""
    if mode == INFERRED_ONLY:
        return matcher(INFERRED_LABEL, "=", "true")
    if mode == INFERRED_EXCLUDE:
        return matcher(INFERRED_LABEL, "!=", "true")
    raise ValueError(f"unknown inferred mode {mode!r}")


def spans(selector: str, kind: str, inferred: str) -> str:
    """Matchers of the spans of one kind that an SLI counts."""
    return matchers(selector, kind, inferred_matcher(inferred))


def stream_events(
    calls: str, selector: str, selection: VerdictSelection, inferred: str = INFERRED_EXCLUDE
) -> EventSelectors:
    """Stream-aware SLI of the provider leg: the verdicts of client spans (LLM streams)."""
    return verdict_events(calls, spans(selector, CLIENT_SPANS, inferred), selection)


def response_events(
    calls: str, selector: str, selection: VerdictSelection, inferred: str = INFERRED_EXCLUDE
) -> EventSelectors:
    """User-facing SLI: the verdicts of server spans (the app's own streamed responses)."""
    return verdict_events(calls, spans(selector, SERVER_SPANS, inferred), selection)


def verdict_events(calls: str, selector: str, selection: VerdictSelection) -> EventSelectors:
    """Error and total events of the ``streamslo_sli_outcome`` verdicts of the selected spans."""
    excluded = selection.excluded_reasons
    not_excluded = matcher(REASON_LABEL, "!~", "|".join(excluded)) if excluded else ""
    bad_reasons = selection.bad_reasons
    extra_bad = (
        (vector(calls, selector, matcher(REASON_LABEL, "=~", "|".join(bad_reasons))),) if bad_reasons else ()
    )

    def by_outcome(outcomes: tuple[str, ...]) -> tuple[str, ...]:
        return (vector(calls, selector, matcher(OUTCOME_LABEL, "=~", "|".join(outcomes)), not_excluded),)

    return EventSelectors(
        errors=by_outcome(selection.bad_outcomes) + extra_bad,
        total=by_outcome(selection.good_outcomes + selection.bad_outcomes) + extra_bad,
    )


def http_events(calls: str, selector: str, inferred: str = INFERRED_EXCLUDE) -> EventSelectors:
    """Naive HTTP SLI of the provider leg's streams: what an HTTP-status dashboard sees.

    Errors are 5xx and 429 responses, plus connect errors (no status at all). A 200 whose stream
    failed later is a success here. Client spans only, the traffic of the stream-aware SLI (the
    same ``inferred`` selection, so the two stay comparable).
    """
    selector = spans(selector, CLIENT_SPANS, inferred)
    traffic = matcher(OUTCOME_LABEL, "!=", "")
    connect_error = vector(
        calls,
        selector,
        matcher(OUTCOME_LABEL, "=", "bad"),
        matcher(REASON_LABEL, "=", "request_failed"),
        matcher(STATUS_LABEL, "=", ""),
    )
    return EventSelectors(
        errors=(
            vector(calls, selector, traffic, matcher(STATUS_LABEL, "=~", HTTP_ERROR_STATUSES)),
            connect_error,
        ),
        total=(vector(calls, selector, traffic),),
    )


def sdk_http_events(streams: str, selector: str) -> EventSelectors:
    """Naive HTTP SLI from the SDK's ``streamslo.streams`` counter, which has no HTTP status label.

    ``request_failed`` streams that are bad are exactly the 429, 5xx and connect errors under the
    default outcome policy; every other stream got its 200 (or a 4xx) and is a success here.
    """
    return EventSelectors(
        errors=(
            vector(
                streams,
                selector,
                matcher(OUTCOME_LABEL, "=", "bad"),
                matcher(REASON_LABEL, "=", "request_failed"),
            ),
        ),
        total=(vector(streams, selector, matcher(OUTCOME_LABEL, "!=", "")),),
    )


@dataclass(frozen=True)
class CountingSource:
    """Which series the availability SLIs count: span metrics (default) or the SDK counters."""

    kind: str = SOURCE_SPAN_METRICS
    calls: str = CALLS_METRIC  # span metrics: client and server spans, told apart by span_kind
    streams: str = STREAMS_METRIC  # SDK counter of LLM streams (the provider leg)
    responses: str = RESPONSES_METRIC  # SDK counter of the app's streamed responses (the user leg)
    inferred: str = INFERRED_EXCLUDE  # span metrics: peer spans (streamslo_inferred); SDK counters are ours

    @property
    def sdk(self) -> bool:
        """True when counting the SDK's unsampled counters."""
        return self.kind == SOURCE_SDK_METRICS

    def stream_events(self, selector: str, selection: VerdictSelection) -> EventSelectors:
        """The provider leg's stream-aware SLI."""
        if self.sdk:
            return verdict_events(self.streams, selector, selection)
        return stream_events(self.calls, selector, selection, self.inferred)

    def response_events(self, selector: str, selection: VerdictSelection) -> EventSelectors:
        """The user-facing SLI of the app's streamed responses."""
        if self.sdk:
            return verdict_events(self.responses, selector, selection)
        return response_events(self.calls, selector, selection, self.inferred)

    def http_events(self, selector: str) -> EventSelectors:
        """The naive HTTP view of the provider leg."""
        if self.sdk:
            return sdk_http_events(self.streams, selector)
        return http_events(self.calls, selector, self.inferred)


def latency_span_events(calls: str, selector: str, inferred: str = INFERRED_EXCLUDE) -> EventSelectors:
    """TTFT SLI from the collector's ``streamslo_sli_latency`` verdict of client spans."""
    selector = spans(selector, CLIENT_SPANS, inferred)
    return EventSelectors(
        errors=(vector(calls, selector, matcher(LATENCY_LABEL, "=", "bad")),),
        total=(vector(calls, selector, matcher(LATENCY_LABEL, "=~", "good|bad")),),
    )


def error_and_total(events: EventSelectors) -> tuple[str, str]:
    """Rule templates: error and total rate; the error rate is 0, not absent, without errors."""
    return f"({summed(events.errors)} or vector(0))", summed(events.total)


def availability(events: EventSelectors, window: str, by: str = "", fn: str = "rate") -> str:
    """Dashboard expression ``1 - errors / total`` over ``window``, optionally per label."""
    errors = summed(events.errors, window, fn, by)
    total = summed(events.total, window, fn, by)
    return f"1 - (({errors}) or (0 * {total})) / {total}"


def format_le(bound: float) -> str:
    """Format a bucket bound the way Prometheus exposition does (shortest round-trip float)."""
    return repr(float(bound)).removesuffix(".0") if float(bound).is_integer() else repr(float(bound))


def latency_histogram_queries(histogram: str, selector: str, threshold: float) -> tuple[str, str]:
    """Rule templates of the TTFT SLI from a histogram: streams above the threshold bucket."""
    count = summed([vector(histogram + "_count", selector)])
    good = summed([vector(histogram + "_bucket", selector, matcher("le", "=", format_le(threshold)))])
    return f"({count} - {good})", count
