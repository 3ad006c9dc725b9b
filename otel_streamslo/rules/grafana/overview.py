"""The SLO overview dashboard (``uid: streamslo-overview``), built from the generated recording rules."""

from __future__ import annotations

from typing import Optional

from otel_streamslo.rules.conventions import (
    BUDGET_REMAINING_RECORD,
    BURN_FACTORS,
    ERROR_RATIO_RECORD,
    KIND_HTTP,
    KIND_LATENCY,
    KIND_RESPONSE,
    KIND_STREAM,
    OBJECTIVE_RECORD,
    SLI_WINDOWS,
)
from otel_streamslo.rules.grafana import queries as q
from otel_streamslo.rules.grafana.board import HEALTH, OVERVIEW, dashboard
from otel_streamslo.rules.grafana.panels import (
    BUDGET,
    DASHED_THRESHOLDS,
    NO_FILL,
    STACKED_BARS,
    Json,
    Row,
    layout,
    panel,
    target,
    targets,
    thresholds,
)

_BURN_COLORS = ("yellow", "orange", "red", "dark-red")
BURN = thresholds((None, "green"), *zip(BURN_FACTORS, _BURN_COLORS))
_ALERTS = 'ALERTS{alertstate="firing", sloth_service=~"$service"}'
_BY_SERVICE = "{{sloth_service}}"


def _percent_stat(
    title: str, expr: str, description: str, decimals: int, budget: Optional[Json] = None
) -> Json:
    return panel(
        "stat",
        title,
        [target(expr, _BY_SERVICE)],
        "percentunit",
        description=description,
        thresholds=budget,
        decimals=decimals,
    )


# The three availabilities, side by side everywhere: (kind, short name, what it counts).
AVAILABILITIES: tuple[tuple[str, str, str], ...] = (
    (KIND_HTTP, "Naive HTTP", "Provider streams judged by HTTP status only (5xx, 429, connect errors)."),
    (
        KIND_STREAM,
        "Stream-aware (provider streams)",
        "LLM streams (client spans) that failed after their 200 (error frame, drop, stall, cut-off) count.",
    ),
    (
        KIND_RESPONSE,
        "User-facing (responses)",
        "The app's own streamed responses (server spans): upstream failures relayed, app errors after the "
        "200, error events.",
    ),
)


def _budget_stat(title: str, kind: str, description: str) -> Json:
    expr = f"{BUDGET_REMAINING_RECORD}{{{q.slo_series(kind)}}}"
    return _percent_stat(title, expr, description, 1, budget=BUDGET)


def _headline_stats() -> list[tuple[int, Json]]:
    objective = _percent_stat(
        "Objective",
        f"{OBJECTIVE_RECORD}{{{q.slo_series(KIND_STREAM)}}}",
        "Target of the stream-aware availability SLO.",
        2,
    )
    availabilities = [
        _percent_stat(
            f"{name} availability (30d)", f"1 - {ERROR_RATIO_RECORD}30d{{{q.slo_series(kind)}}}", what, 3
        )
        for kind, name, what in AVAILABILITIES
    ]
    budgets = [
        _budget_stat("Error budget remaining (30d)", KIND_STREAM, "Stream-aware availability budget left."),
        _budget_stat(
            "Response budget remaining (30d)", KIND_RESPONSE, "User-facing availability budget left."
        ),
        _budget_stat(
            "TTFT budget remaining (30d)", KIND_LATENCY, "Budget left of the time-to-first-token SLO."
        ),
    ]
    firing = panel(
        "stat",
        "Firing SLO alerts",
        [target(f"count({_ALERTS}) or vector(0)")],
        "short",
        thresholds=thresholds((None, "green"), (1.0, "red")),
    )
    return [(3, item) for item in (objective, *availabilities, *budgets, firing)]


def _availability_series(title: str, queries: list[Json], description: str) -> Json:
    return panel(
        "timeseries",
        title,
        queries,
        "percentunit",
        description=description,
        custom=NO_FILL,
        decimals=3,
        max_value=1,
    )


def _comparison() -> list[tuple[int, Json]]:
    recorded = targets(
        *((f"1 - {ERROR_RATIO_RECORD}5m{{{q.slo_series(kind)}}}", name) for kind, name, _ in AVAILABILITIES),
        (f"{OBJECTIVE_RECORD}{{{q.slo_series(KIND_STREAM)}}}", "objective"),
    )
    legend = "{{gen_ai_provider_name}} {{gen_ai_request_model}}"
    per_model = targets(
        (q.stream_availability(q.RATE, q.PER_MODEL), f"stream-aware {legend}"),
        (q.http_availability(q.RATE, q.PER_MODEL), f"naive HTTP {legend}"),
    )
    return [
        (
            12,
            _availability_series(
                "Availability: naive HTTP vs stream-aware vs user-facing (5m)",
                recorded,
                "Naive HTTP and stream-aware judge the same provider streams: the gap is failures an "
                "HTTP-status dashboard never sees. User-facing is what the app's users got.",
            ),
        ),
        (
            12,
            _availability_series(
                "Availability by provider and model (stream-aware vs naive HTTP)",
                per_model,
                "Raw span metrics filtered by the provider and model variables.",
            ),
        ),
    ]


def _range_stat(title: str, expr: str, description: str) -> Json:
    return panel(
        "stat",
        title,
        [target(expr, instant=True)],
        "percentunit",
        description=description,
        decimals=3,
    )


def _over_range() -> list[tuple[int, Json]]:
    window, filtered = "$__range", "Over the selected time range, provider and model."
    current_burn = panel(
        "bargauge",
        "Current burn rate per window (stream-aware availability)",
        targets(*((q.burn(KIND_STREAM, w), w) for w in SLI_WINDOWS), instant=True),
        "suffix:x",
        thresholds=BURN,
        decimals=2,
        min_value=0,
    )
    return [
        (4, _range_stat("Naive HTTP (time range)", q.http_availability(window, fn="increase"), filtered)),
        (4, _range_stat("Stream-aware (time range)", q.stream_availability(window, fn="increase"), filtered)),
        (
            4,
            _range_stat(
                "User-facing (time range)",
                q.response_availability(window, fn="increase"),
                "Over the selected time range (server spans carry no provider or model).",
            ),
        ),
        (12, current_burn),
    ]


def burn_panel(kind: str, title: str) -> Json:
    """Burn rate of every window of one SLO kind, with the alert factors as dashed lines."""
    return panel(
        "timeseries",
        title,
        targets(*((q.burn(kind, w), w) for w in SLI_WINDOWS)),
        "suffix:x",
        description=(
            "Error ratio of each window divided by the error budget. Dashed lines: 1x (budget lasts the "
            "period), 3x and 1x tickets (2h+1d, 6h+3d), 6x and 14.4x pages (30m+6h, 5m+1h)."
        ),
        thresholds=BURN,
        custom=DASHED_THRESHOLDS,
        decimals=2,
        min_value=0,
    )


def _burns() -> list[tuple[int, Json]]:
    return [
        (8, burn_panel(KIND_STREAM, "Burn rate per window: stream-aware availability")),
        (8, burn_panel(KIND_RESPONSE, "Burn rate per window: user-facing availability")),
        (8, burn_panel(KIND_LATENCY, "Burn rate per window: time to first token")),
    ]


def _budget_and_alerts() -> list[tuple[int, Json]]:
    budget = panel(
        "timeseries",
        "Error budget remaining over time",
        [target(f'{BUDGET_REMAINING_RECORD}{{sloth_service=~"$service"}}', "{{sloth_slo}}")],
        "percentunit",
        thresholds=BUDGET,
        custom=NO_FILL,
        decimals=1,
    )
    alerts = panel(
        "timeseries",
        "Firing SLO alerts over time",
        [
            target(
                f"sum by (alertname, sloth_slo, sloth_severity) ({_ALERTS})",
                "{{sloth_slo}} {{sloth_severity}}",
            )
        ],
        "short",
        custom=STACKED_BARS,
        decimals=0,
    )
    return [(12, budget), (12, alerts)]


def _alert_table() -> list[tuple[int, Json]]:
    hidden = {"id": "organize", "options": {"excludeByName": {"Time": True, "Value": True, "__name__": True}}}
    table = panel(
        "table",
        "Firing SLO alerts",
        [target(_ALERTS, instant=True, table=True)],
        "short",
        transformations=[hidden],
    )
    return [(24, table)]


def overview() -> Json:
    """SLO overview from the generated recording rules."""
    rows: list[Row] = [
        (5, _headline_stats()),
        (9, _comparison()),
        (6, _over_range()),
        (9, _burns()),
        (8, _budget_and_alerts()),
        (7, _alert_table()),
    ]
    return dashboard(
        OVERVIEW,
        "Stream-aware SLOs of LLM streaming (provider streams and the app's own responses) next to the "
        "naive HTTP view of the same traffic.",
        layout(rows),
        HEALTH,
    )
