"""Grafana dashboards of otel-streamslo, built as plain JSON-able dicts (no Grafana SDK needed).

Two dashboards, written by ``otel-streamslo rules --grafana-out dashboards/grafana``:
``streamslo-overview`` (SLOs from the generated rules: objective, stream-aware vs naive HTTP
availability, budget, burn rates, alerts) and ``streamslo-stream-health`` (raw stream metrics:
termination reasons, TTFT/TTC/chunk-time percentiles, active streams, tokens). Every panel and
target uses the ``${datasource}`` variable; every panel has a unit; uids are fixed.
"""

from __future__ import annotations

import json
from typing import Any, Optional

Json = dict[str, Any]

DATASOURCE: Json = {"type": "prometheus", "uid": "${datasource}"}
CALLS = "traces_span_metrics_calls_total"
SCHEMA_VERSION = 39
TAGS = ["otel-streamslo", "slo", "genai"]

# Label matchers of the dashboard variables, for raw (non-SLO) metrics.
SERVICE = 'service_name=~"$service"'
FILTER = 'service_name=~"$service", gen_ai_provider_name=~"$provider", gen_ai_request_model=~"$model"'
RATE = "$__rate_interval"
BURN_FACTORS = (1.0, 3.0, 6.0, 14.4)
PERCENTILES = (0.5, 0.95, 0.99)
SLI_WINDOWS = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


def _slo(kind: str) -> str:
    return f'sloth_service=~"$service", streamslo_sli="{kind}"'


def target(
    expr: str, legend: str = "", ref: str = "A", *, instant: bool = False, table: bool = False
) -> Json:
    """One Prometheus query of a panel."""
    out: Json = {"datasource": DATASOURCE, "editorMode": "code", "expr": expr, "refId": ref}
    if legend:
        out["legendFormat"] = legend
    out["range"] = not instant
    out["instant"] = instant
    if table:
        out["format"] = "table"
    return out


def _targets(*items: tuple[str, str]) -> list[Json]:
    return [target(expr, legend, chr(ord("A") + i)) for i, (expr, legend) in enumerate(items)]


def _thresholds(*steps: tuple[Optional[float], str]) -> Json:
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in steps]}


_GREEN = _thresholds((None, "green"))
_BURN = _thresholds((None, "green"), (1.0, "yellow"), (3.0, "orange"), (6.0, "red"), (14.4, "dark-red"))
_BUDGET = _thresholds((None, "red"), (0.0, "orange"), (0.25, "green"))


def panel(
    kind: str,
    title: str,
    targets: list[Json],
    unit: str,
    *,
    description: str = "",
    thresholds: Optional[Json] = None,
    custom: Optional[Json] = None,
    options: Optional[Json] = None,
    decimals: Optional[int] = None,
    min_value: Optional[float] = None,
    max_value: Optional[float] = None,
    transformations: Optional[list[Json]] = None,
) -> Json:
    """A panel without position (see :func:`layout`)."""
    defaults: Json = {"unit": unit, "thresholds": thresholds or _GREEN}
    defaults["color"] = {"mode": "thresholds" if kind in ("stat", "bargauge") else "palette-classic"}
    if decimals is not None:
        defaults["decimals"] = decimals
    if min_value is not None:
        defaults["min"] = min_value
    if max_value is not None:
        defaults["max"] = max_value
    if kind == "timeseries":
        defaults["custom"] = {
            "drawStyle": "line",
            "lineWidth": 1,
            "fillOpacity": 10,
            "showPoints": "never",
            "spanNulls": False,
            **(custom or {}),
        }
    out: Json = {"type": kind, "title": title}
    if description:
        out["description"] = description
    out["datasource"] = DATASOURCE
    out["fieldConfig"] = {"defaults": defaults, "overrides": []}
    out["options"] = options or _default_options(kind)
    out["targets"] = targets
    if transformations:
        out["transformations"] = transformations
    return out


def _default_options(kind: str) -> Json:
    if kind == "timeseries":
        return {
            "legend": {
                "displayMode": "table",
                "placement": "bottom",
                "showLegend": True,
                "calcs": ["lastNotNull"],
            },
            "tooltip": {"mode": "multi", "sort": "desc"},
        }
    if kind == "stat":
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "colorMode": "value",
            "graphMode": "area",
            "justifyMode": "auto",
            "orientation": "auto",
            "textMode": "auto",
        }
    if kind == "bargauge":
        return {
            "reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
            "displayMode": "gradient",
            "orientation": "horizontal",
            "showUnfilled": True,
        }
    return {"showHeader": True, "cellHeight": "sm"}


def layout(rows: list[tuple[int, list[tuple[int, Json]]]]) -> list[Json]:
    """Place panels: each row is (height, [(width, panel), ...]) on Grafana's 24-column grid."""
    placed: list[Json] = []
    y = 0
    for height, items in rows:
        x = 0
        for width, item in items:
            placed.append(
                {"id": len(placed) + 1, "gridPos": {"h": height, "w": width, "x": x, "y": y}, **item}
            )
            x += width
        if x > 24:
            raise ValueError(f"row at y={y} is {x} columns wide")
        y += height
    return placed


def _query_variable(name: str, label: str, query: str) -> Json:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "definition": query,
        "query": {"qryType": 1, "query": query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
        "refresh": 2,
        "regex": "",
        "sort": 1,
        "multi": True,
        "includeAll": True,
        "allValue": ".*",
        "current": {},
        "options": [],
        "hide": 0,
    }


def variables() -> list[Json]:
    """``datasource``, ``service``, ``provider`` and ``model``."""
    return [
        {
            "name": "datasource",
            "label": "Data source",
            "type": "datasource",
            "query": "prometheus",
            "regex": "",
            "refresh": 1,
            "current": {},
            "options": [],
            "hide": 0,
        },
        _query_variable(
            "service", "Service", f'label_values({CALLS}{{streamslo_sli_outcome!=""}}, service_name)'
        ),
        _query_variable("provider", "Provider", f"label_values({CALLS}{{{SERVICE}}}, gen_ai_provider_name)"),
        _query_variable(
            "model",
            "Model",
            f'label_values({CALLS}{{{SERVICE}, gen_ai_provider_name=~"$provider"}}, gen_ai_request_model)',
        ),
    ]


def dashboard(uid: str, title: str, description: str, panels: list[Json], link_to: Json) -> Json:
    """The dashboard envelope."""
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": TAGS,
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "timezone": "browser",
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "annotations": {"list": []},
        "links": [
            {
                "title": link_to["title"],
                "type": "link",
                "url": f"/d/{link_to['uid']}",
                "keepTime": True,
                "includeVars": True,
                "icon": "dashboard",
                "targetBlank": False,
            }
        ],
        "templating": {"list": variables()},
        "panels": panels,
    }


# --- PromQL helpers -----------------------------------------------------------------------------------


def _by(labels: str, expr: str) -> str:
    return f"sum by ({labels}) ({expr})" if labels else f"sum({expr})"


def stream_availability(rng: str, by: str = "", fn: str = "rate") -> str:
    """1 - bad/(good+bad) of the raw span metrics over ``rng``, optionally per label."""
    bad = _by(by, f'{fn}({CALLS}{{{FILTER}, streamslo_sli_outcome="bad"}}[{rng}])')
    total = _by(by, f'{fn}({CALLS}{{{FILTER}, streamslo_sli_outcome=~"good|bad"}}[{rng}])')
    return f"1 - (({bad}) or (0 * {total})) / {total}"


def http_availability(rng: str, by: str = "", fn: str = "rate") -> str:
    """1 - (5xx + 429 + connect errors)/all of the same streams: what an HTTP dashboard shows."""
    errors = _by(
        by,
        f'{fn}({CALLS}{{{FILTER}, streamslo_sli_outcome!="", http_response_status_code=~"5..|429"}}[{rng}])'
        f' or {fn}({CALLS}{{{FILTER}, streamslo_sli_outcome="bad", '
        f'streamslo_termination_reason="request_failed", http_response_status_code=""}}[{rng}])',
    )
    total = _by(by, f'{fn}({CALLS}{{{FILTER}, streamslo_sli_outcome!=""}}[{rng}])')
    return f"1 - (({errors}) or (0 * {total})) / {total}"


def burn(kind: str, window: str) -> str:
    """Burn rate of one SLO window: error ratio / error budget."""
    sel = _slo(kind)
    return (
        f"slo:sli_error:ratio_rate{window}{{{sel}}} / ignoring (sloth_window) slo:error_budget:ratio{{{sel}}}"
    )


def quantiles(metric: str, extra: str = "") -> list[tuple[str, str]]:
    """p50/p95/p99 of a classic histogram over the dashboard filters."""
    matchers = f"{FILTER}, {extra}" if extra else FILTER
    return [
        (
            f"histogram_quantile({q}, sum by (le) (rate({metric}_bucket{{{matchers}}}[{RATE}])))",
            f"p{round(q * 100)}",
        )
        for q in PERCENTILES
    ]


# --- dashboards ---------------------------------------------------------------------------------------

OVERVIEW = {"uid": "streamslo-overview", "title": "otel-streamslo / SLO overview"}
HEALTH = {"uid": "streamslo-stream-health", "title": "otel-streamslo / Stream health"}

_TS_PERCENT: Json = {"fillOpacity": 0}
_STACKED: Json = {"fillOpacity": 60, "stacking": {"mode": "normal", "group": "A"}, "lineWidth": 0}
_BURN_LINES: Json = {"fillOpacity": 0, "thresholdsStyle": {"mode": "dashed"}}


def _burn_panel(kind: str, title: str) -> Json:
    return panel(
        "timeseries",
        title,
        _targets(*((burn(kind, w), w) for w in SLI_WINDOWS)),
        "suffix:x",
        description=(
            "Error ratio of each window divided by the error budget. Dashed lines: 1x (budget lasts the "
            "period), 3x and 1x tickets (2h+1d, 6h+3d), 6x and 14.4x pages (30m+6h, 5m+1h)."
        ),
        thresholds=_BURN,
        custom=_BURN_LINES,
        decimals=2,
        min_value=0,
    )


def overview() -> Json:
    """SLO overview from the generated recording rules."""
    stream, http, ttft = "stream-availability", "http-availability", "ttft-latency"
    stat = "stat"
    stats = [
        (
            4,
            panel(
                stat,
                "Objective",
                [target(f"slo:objective:ratio{{{_slo(stream)}}}", "{{sloth_service}}")],
                "percentunit",
                description="Target of the stream-aware availability SLO.",
                decimals=2,
            ),
        ),
        (
            4,
            panel(
                stat,
                "Stream-aware availability (30d)",
                [target(f"1 - slo:sli_error:ratio_rate30d{{{_slo(stream)}}}", "{{sloth_service}}")],
                "percentunit",
                description="Streams that failed after their 200 (error frame, drop, stall, cut-off) count.",
                decimals=3,
            ),
        ),
        (
            4,
            panel(
                stat,
                "Naive HTTP availability (30d)",
                [target(f"1 - slo:sli_error:ratio_rate30d{{{_slo(http)}}}", "{{sloth_service}}")],
                "percentunit",
                description="Same traffic judged by HTTP status only (5xx, 429, connect errors).",
                decimals=3,
            ),
        ),
        (
            4,
            panel(
                stat,
                "Error budget remaining (30d)",
                [target(f"slo:period_error_budget_remaining:ratio{{{_slo(stream)}}}", "{{sloth_service}}")],
                "percentunit",
                description="Share of the stream-aware availability budget left in the SLO period.",
                thresholds=_BUDGET,
                decimals=1,
            ),
        ),
        (
            4,
            panel(
                stat,
                "TTFT budget remaining (30d)",
                [target(f"slo:period_error_budget_remaining:ratio{{{_slo(ttft)}}}", "{{sloth_service}}")],
                "percentunit",
                description="Budget left of the time-to-first-token SLO.",
                thresholds=_BUDGET,
                decimals=1,
            ),
        ),
        (
            4,
            panel(
                stat,
                "Firing SLO alerts",
                [target('count(ALERTS{alertstate="firing", sloth_service=~"$service"}) or vector(0)')],
                "short",
                thresholds=_thresholds((None, "green"), (1.0, "red")),
            ),
        ),
    ]
    comparison = [
        (
            12,
            panel(
                "timeseries",
                "Availability of the same traffic: stream-aware vs naive HTTP (5m)",
                _targets(
                    (f"1 - slo:sli_error:ratio_rate5m{{{_slo(stream)}}}", "stream-aware"),
                    (f"1 - slo:sli_error:ratio_rate5m{{{_slo(http)}}}", "naive HTTP"),
                    (f"slo:objective:ratio{{{_slo(stream)}}}", "objective"),
                ),
                "percentunit",
                description="The gap between the lines is failures an HTTP-status dashboard never sees.",
                custom=_TS_PERCENT,
                decimals=3,
                max_value=1,
            ),
        ),
        (
            12,
            panel(
                "timeseries",
                "Availability by provider and model (stream-aware vs naive HTTP)",
                _targets(
                    (
                        stream_availability(RATE, "gen_ai_provider_name, gen_ai_request_model"),
                        "stream-aware {{gen_ai_provider_name}} {{gen_ai_request_model}}",
                    ),
                    (
                        http_availability(RATE, "gen_ai_provider_name, gen_ai_request_model"),
                        "naive HTTP {{gen_ai_provider_name}} {{gen_ai_request_model}}",
                    ),
                ),
                "percentunit",
                description="Raw span metrics filtered by the provider and model variables.",
                custom=_TS_PERCENT,
                decimals=3,
                max_value=1,
            ),
        ),
    ]
    over_range = [
        (
            6,
            panel(
                stat,
                "Stream-aware availability (time range)",
                [target(stream_availability("$__range", fn="increase"), instant=True)],
                "percentunit",
                description="Over the selected time range, provider and model.",
                decimals=3,
            ),
        ),
        (
            6,
            panel(
                stat,
                "Naive HTTP availability (time range)",
                [target(http_availability("$__range", fn="increase"), instant=True)],
                "percentunit",
                description="Over the selected time range, provider and model.",
                decimals=3,
            ),
        ),
        (
            12,
            panel(
                "bargauge",
                "Current burn rate per window (stream-aware availability)",
                [
                    target(burn(stream, w), w, chr(ord("A") + i), instant=True)
                    for i, w in enumerate(SLI_WINDOWS)
                ],
                "suffix:x",
                thresholds=_BURN,
                decimals=2,
                min_value=0,
            ),
        ),
    ]
    burns = [
        (12, _burn_panel(stream, "Burn rate per window: stream-aware availability")),
        (12, _burn_panel(ttft, "Burn rate per window: time to first token")),
    ]
    budget_alerts = [
        (
            12,
            panel(
                "timeseries",
                "Error budget remaining over time",
                [
                    target(
                        'slo:period_error_budget_remaining:ratio{sloth_service=~"$service"}',
                        "{{sloth_slo}}",
                    )
                ],
                "percentunit",
                thresholds=_BUDGET,
                custom=_TS_PERCENT,
                decimals=1,
            ),
        ),
        (
            12,
            panel(
                "timeseries",
                "Firing SLO alerts over time",
                [
                    target(
                        'sum by (alertname, sloth_slo, sloth_severity) (ALERTS{alertstate="firing", '
                        'sloth_service=~"$service"})',
                        "{{sloth_slo}} {{sloth_severity}}",
                    )
                ],
                "short",
                custom={"drawStyle": "bars", "fillOpacity": 80, "stacking": {"mode": "normal", "group": "A"}},
                decimals=0,
            ),
        ),
    ]
    alert_table = [
        (
            24,
            panel(
                "table",
                "Firing SLO alerts",
                [target('ALERTS{alertstate="firing", sloth_service=~"$service"}', instant=True, table=True)],
                "short",
                transformations=[
                    {
                        "id": "organize",
                        "options": {"excludeByName": {"Time": True, "Value": True, "__name__": True}},
                    }
                ],
            ),
        )
    ]
    panels = layout(
        [(5, stats), (9, comparison), (6, over_range), (9, burns), (8, budget_alerts), (7, alert_table)]
    )
    return dashboard(
        OVERVIEW["uid"],
        OVERVIEW["title"],
        "Stream-aware SLOs of LLM streaming next to the naive HTTP view of the same traffic.",
        panels,
        HEALTH,
    )


def stream_health() -> Json:
    """Raw stream metrics: how streams end, how fast they start and finish."""
    ts = "timeseries"
    reasons = [
        (
            12,
            panel(
                ts,
                "Stream terminations by reason",
                [
                    target(
                        f"sum by (streamslo_termination_reason) (rate({CALLS}{{{FILTER}, "
                        f'streamslo_termination_reason!=""}}[{RATE}]))',
                        "{{streamslo_termination_reason}}",
                    )
                ],
                "reqps",
                description=(
                    "How every stream ended (collector span metrics). Tool calls committed before an abort "
                    "are recorded on spans (streamslo.tool_calls.committed), not as a metric: find them in "
                    "traces."
                ),
                custom=_STACKED,
            ),
        ),
        (
            12,
            panel(
                ts,
                "Failed after HTTP 200 (invisible to HTTP dashboards)",
                [
                    target(
                        f"sum by (streamslo_termination_reason) (rate({CALLS}{{{FILTER}, "
                        f'http_response_status_code="200", streamslo_sli_outcome="bad"}}[{RATE}]))',
                        "{{streamslo_termination_reason}}",
                    )
                ],
                "reqps",
                custom=_STACKED,
            ),
        ),
    ]
    verdicts = [
        (
            12,
            panel(
                ts,
                "Stream verdicts (SLI outcome)",
                [
                    target(
                        f"sum by (streamslo_sli_outcome) (rate({CALLS}{{{FILTER}, "
                        f'streamslo_sli_outcome!=""}}[{RATE}]))',
                        "{{streamslo_sli_outcome}}",
                    )
                ],
                "reqps",
                description="good and bad count in the availability SLI; excluded (cancelled, abandoned, "
                "consumer errors, 4xx other than 429) do not.",
                custom=_STACKED,
            ),
        ),
        (
            12,
            panel(
                ts,
                "request_failed by HTTP status",
                [
                    target(
                        "sum by (http_response_status_code) (label_replace(rate("
                        f'{CALLS}{{{FILTER}, streamslo_termination_reason="request_failed"}}[{RATE}]), '
                        '"http_response_status_code", "no response", "http_response_status_code", ""))',
                        "{{http_response_status_code}}",
                    )
                ],
                "reqps",
                description="429 and 5xx burn budget, other 4xx are excluded; no response = connect error.",
                custom=_STACKED,
            ),
        ),
    ]
    latency = [
        (
            8,
            panel(
                ts,
                "Time to first token",
                _targets(*quantiles("gen_ai_client_operation_time_to_first_chunk_seconds")),
                "s",
                description="SDK histogram; buckets double from 10 ms to 327.68 s, so tails beyond 5 s show.",
            ),
        ),
        (
            8,
            panel(
                ts,
                "Time to completion",
                _targets(
                    *quantiles("gen_ai_client_operation_duration_seconds"),
                    (
                        "histogram_quantile(0.99, sum by (le) (rate("
                        f'traces_span_metrics_duration_seconds_bucket{{{FILTER}, streamslo_sli_outcome!=""}}'
                        f"[{RATE}])))",
                        "p99 (span)",
                    ),
                ),
                "s",
                description="Request start to the terminal event, also for failed or cancelled streams.",
            ),
        ),
        (
            8,
            panel(
                ts,
                "Time per output chunk",
                _targets(*quantiles("gen_ai_client_operation_time_per_output_chunk_seconds")),
                "s",
                description="Gap between chunks after the first one; stalls show here before they time out.",
            ),
        ),
    ]
    volume = [
        (
            8,
            panel(
                ts,
                "Active streams",
                [
                    target(
                        f"sum by (gen_ai_provider_name) (streamslo_streams_active{{{FILTER}}})",
                        "{{gen_ai_provider_name}}",
                    )
                ],
                "short",
                description="Streams open right now; a climb without traffic growth hints at leaked streams.",
                decimals=0,
            ),
        ),
        (
            8,
            panel(
                ts,
                "Delivered tokens",
                [
                    target(
                        "sum by (gen_ai_provider_name) "
                        f"(rate(streamslo_tokens_delivered_total{{{FILTER}}}[{RATE}]))",
                        "{{gen_ai_provider_name}}",
                    )
                ],
                "suffix: tok/s",
                description="Output tokens handed to the consumer, also by streams that failed later.",
            ),
        ),
        (
            8,
            panel(
                ts,
                "Token usage by type",
                [
                    target(
                        "sum by (gen_ai_token_type) "
                        f"(rate(gen_ai_client_token_usage_sum{{{FILTER}}}[{RATE}]))",
                        "{{gen_ai_token_type}}",
                    )
                ],
                "suffix: tok/s",
                description="Provider-reported usage of completed streams (input and output).",
            ),
        ),
    ]
    panels = layout([(9, reasons), (9, verdicts), (9, latency), (8, volume)])
    return dashboard(
        HEALTH["uid"],
        HEALTH["title"],
        "How LLM streams end and how fast they start, flow and finish.",
        panels,
        OVERVIEW,
    )


def render_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard (stable key order, trailing newline)."""
    boards = {"streamslo-overview.json": overview(), "streamslo-stream-health.json": stream_health()}
    return {name: json.dumps(board, indent=2, ensure_ascii=False) + "\n" for name, board in boards.items()}
