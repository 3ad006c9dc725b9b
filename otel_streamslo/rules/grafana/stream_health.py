"""The stream health dashboard (``uid: streamslo-stream-health``): raw span and SDK metrics."""

from __future__ import annotations

from otel_streamslo.rules.conventions import (
    ABORT_LATENCY_HISTOGRAM,
    CALLS_METRIC,
    CHUNK_TIME_HISTOGRAM,
    CLIENT_SPANS,
    DURATION_HISTOGRAM,
    OUTCOME_LABEL,
    PROVIDER_LABEL,
    REASON_LABEL,
    RESPONSES_METRIC,
    ROUTE_LABEL,
    SERVER_SPANS,
    SPAN_DURATION_METRIC,
    STATUS_LABEL,
    STREAMS_ACTIVE_METRIC,
    TOKEN_USAGE_HISTOGRAM,
    TOKENS_DELIVERED_METRIC,
    TOOL_CALLS_COMMITTED_METRIC,
    TTFT_HISTOGRAM,
)
from otel_streamslo.rules.grafana import queries as q
from otel_streamslo.rules.grafana.board import HEALTH, OVERVIEW, dashboard
from otel_streamslo.rules.grafana.panels import STACKED, Json, Row, layout, panel, target, targets


def _stacked_rate(
    title: str, by: str, matchers: str, description: str = "", spans: str = CLIENT_SPANS, unit: str = "reqps"
) -> Json:
    """Stacked spans per second by one label (client spans, the LLM streams, unless told)."""
    where = q.SERVICE if spans == SERVER_SPANS else q.FILTER
    expr = f"sum by ({by}) (rate({CALLS_METRIC}{{{where}, {spans}, {q.OURS}, {matchers}}}[{q.RATE}]))"
    return panel(
        "timeseries", title, [target(expr, f"{{{{{by}}}}}")], unit, description=description, custom=STACKED
    )


def _reasons() -> list[tuple[int, Json]]:
    terminations = _stacked_rate(
        "Stream terminations by reason",
        REASON_LABEL,
        f'{REASON_LABEL}!=""',
        "How every LLM stream (client span) ended, from the collector's span metrics.",
    )
    after_200 = _stacked_rate(
        "Failed after HTTP 200 (invisible to HTTP dashboards)",
        REASON_LABEL,
        f'{STATUS_LABEL}="200", {OUTCOME_LABEL}="bad"',
    )
    return [(12, terminations), (12, after_200)]


def _verdicts() -> list[tuple[int, Json]]:
    verdicts = _stacked_rate(
        "Stream verdicts (SLI outcome)",
        OUTCOME_LABEL,
        f'{OUTCOME_LABEL}!=""',
        "good and bad count in the availability SLI; excluded (cancelled, abandoned, "
        "consumer errors, 4xx other than 429) do not.",
    )
    by_status = (
        f"sum by ({STATUS_LABEL}) (label_replace(rate("
        f'{CALLS_METRIC}{{{q.FILTER}, {CLIENT_SPANS}, {q.OURS}, {REASON_LABEL}="request_failed"}}'
        f"[{q.RATE}]), "
        f'"{STATUS_LABEL}", "no response", "{STATUS_LABEL}", ""))'
    )
    request_failed = panel(
        "timeseries",
        "request_failed by HTTP status",
        [target(by_status, f"{{{{{STATUS_LABEL}}}}}")],
        "reqps",
        description="429 and 5xx burn budget, other 4xx are excluded; no response = connect error.",
        custom=STACKED,
    )
    return [(12, verdicts), (12, request_failed)]


def _responses() -> list[tuple[int, Json]]:
    by_reason = _stacked_rate(
        "Responses to users by reason",
        REASON_LABEL,
        f'{REASON_LABEL}!=""',
        "How the app's own streamed responses (server spans) ended: upstream_failed, app_error and "
        "server_error_event are cut-off answers behind an HTTP 200.",
        spans=SERVER_SPANS,
    )
    by_route = panel(
        "timeseries",
        "Responses by route and verdict (SDK counter)",
        [
            target(
                f"sum by ({ROUTE_LABEL}, {OUTCOME_LABEL}) "
                f"(rate({RESPONSES_METRIC}{{{q.SERVICE}}}[{q.RATE}]))",
                "{{http_route}} {{streamslo_sli_outcome}}",
            )
        ],
        "reqps",
        description="streamslo.responses: every streamed response, unsampled, per route.",
        custom=STACKED,
    )
    return [(12, by_reason), (12, by_route)]


def _disconnects() -> list[tuple[int, Json]]:
    propagation = panel(
        "timeseries",
        "Abort propagation latency",
        targets(*q.quantiles(ABORT_LATENCY_HISTOGRAM, percentiles=(0.5, 0.95))),
        "s",
        description="User disconnect to the end of each upstream stream still open then; long tails mean "
        "the app keeps streaming (and paying) after users left.",
    )
    gap = panel(
        "timeseries",
        "Billing gap: tokens after users left",
        [target(q.billing_gap(PROVIDER_LABEL), "{{gen_ai_provider_name}}")],
        "percentunit",
        description="streamslo.tokens.after_disconnect / all upstream streamslo.tokens.delivered: output "
        "tokens billed that no user ever saw.",
        decimals=2,
        min_value=0,
    )
    tool_calls = panel(
        "timeseries",
        "Tool calls committed in bad or cancelled streams",
        [
            target(
                q.sum_rate_by(REASON_LABEL, TOOL_CALLS_COMMITTED_METRIC, f'{OUTCOME_LABEL}=~"bad|excluded"'),
                "{{streamslo_termination_reason}}",
            )
        ],
        "suffix: calls/s",
        description="Side effects the app may already have fired in streams that then failed or were "
        "cancelled.",
        custom=STACKED,
    )
    return [(8, propagation), (8, gap), (8, tool_calls)]


def _latency() -> list[tuple[int, Json]]:
    span_p99 = (
        "histogram_quantile(0.99, sum by (le) (rate("
        f'{SPAN_DURATION_METRIC}_bucket{{{q.FILTER}, {CLIENT_SPANS}, {q.OURS}, {OUTCOME_LABEL}!=""}}'
        f"[{q.RATE}])))"
    )
    ttft = panel(
        "timeseries",
        "Time to first token",
        targets(*q.quantiles(TTFT_HISTOGRAM)),
        "s",
        description="SDK histogram; buckets double from 10 ms to 327.68 s, so tails beyond 5 s show.",
    )
    ttc = panel(
        "timeseries",
        "Time to completion",
        targets(*q.quantiles(DURATION_HISTOGRAM), (span_p99, "p99 (span)")),
        "s",
        description="Request start to the terminal event, also for failed or cancelled streams.",
    )
    chunk = panel(
        "timeseries",
        "Time per output chunk",
        targets(*q.quantiles(CHUNK_TIME_HISTOGRAM)),
        "s",
        description="Gap between chunks after the first one; stalls show here before they time out.",
    )
    return [(8, ttft), (8, ttc), (8, chunk)]


def _volume() -> list[tuple[int, Json]]:
    active = panel(
        "timeseries",
        "Active streams",
        [
            target(
                f"sum by ({PROVIDER_LABEL}) ({STREAMS_ACTIVE_METRIC}{{{q.FILTER}}})",
                "{{gen_ai_provider_name}}",
            )
        ],
        "short",
        description="Streams open right now; a climb without traffic growth hints at leaked streams.",
        decimals=0,
    )
    delivered = panel(
        "timeseries",
        "Delivered tokens",
        [target(q.sum_rate_by(PROVIDER_LABEL, TOKENS_DELIVERED_METRIC), "{{gen_ai_provider_name}}")],
        "suffix: tok/s",
        description="Output tokens handed to the consumer, also by streams that failed later.",
    )
    usage = panel(
        "timeseries",
        "Token usage by type",
        [target(q.sum_rate_by("gen_ai_token_type", f"{TOKEN_USAGE_HISTOGRAM}_sum"), "{{gen_ai_token_type}}")],
        "suffix: tok/s",
        description="Provider-reported usage of completed streams (input and output).",
    )
    return [(8, active), (8, delivered), (8, usage)]


def stream_health() -> Json:
    """Raw stream metrics: how streams end, how fast they start and finish."""
    rows: list[Row] = [
        (9, _reasons()),
        (9, _verdicts()),
        (9, _responses()),
        (9, _disconnects()),
        (9, _latency()),
        (8, _volume()),
    ]
    return dashboard(
        HEALTH,
        "How LLM streams and the app's streamed responses end, how fast they start, flow and finish, "
        "and what user disconnects cost.",
        layout(rows),
        OVERVIEW,
    )
