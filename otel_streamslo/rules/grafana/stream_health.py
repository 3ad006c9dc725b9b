"""The stream health dashboard (``uid: streamslo-stream-health``): raw span and SDK metrics."""

from __future__ import annotations

from otel_streamslo.rules.conventions import (
    CALLS_METRIC,
    CHUNK_TIME_HISTOGRAM,
    DURATION_HISTOGRAM,
    OUTCOME_LABEL,
    PROVIDER_LABEL,
    REASON_LABEL,
    SPAN_DURATION_METRIC,
    STATUS_LABEL,
    STREAMS_ACTIVE_METRIC,
    TOKEN_USAGE_HISTOGRAM,
    TOKENS_DELIVERED_METRIC,
    TTFT_HISTOGRAM,
)
from otel_streamslo.rules.grafana import queries as q
from otel_streamslo.rules.grafana.board import HEALTH, OVERVIEW, dashboard
from otel_streamslo.rules.grafana.panels import STACKED, Json, Row, layout, panel, target, targets


def _stacked_rate(title: str, by: str, matchers: str, description: str = "") -> Json:
    """Stacked streams per second by one label."""
    expr = f"sum by ({by}) (rate({CALLS_METRIC}{{{q.FILTER}, {matchers}}}[{q.RATE}]))"
    return panel(
        "timeseries", title, [target(expr, f"{{{{{by}}}}}")], "reqps", description=description, custom=STACKED
    )


def _reasons() -> list[tuple[int, Json]]:
    terminations = _stacked_rate(
        "Stream terminations by reason",
        REASON_LABEL,
        f'{REASON_LABEL}!=""',
        "How every stream ended (collector span metrics). Tool calls committed before an abort "
        "are recorded on spans (streamslo.tool_calls.committed), not as a metric: find them in "
        "traces.",
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
        f'{CALLS_METRIC}{{{q.FILTER}, {REASON_LABEL}="request_failed"}}[{q.RATE}]), '
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


def _latency() -> list[tuple[int, Json]]:
    span_p99 = (
        "histogram_quantile(0.99, sum by (le) (rate("
        f'{SPAN_DURATION_METRIC}_bucket{{{q.FILTER}, {OUTCOME_LABEL}!=""}}[{q.RATE}])))'
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
    rows: list[Row] = [(9, _reasons()), (9, _verdicts()), (9, _latency()), (8, _volume())]
    return dashboard(
        HEALTH,
        "How LLM streams end and how fast they start, flow and finish.",
        layout(rows),
        OVERVIEW,
    )
