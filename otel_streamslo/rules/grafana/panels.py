"""Grafana panel JSON as plain dicts: targets, thresholds, panels and their grid layout."""

from __future__ import annotations

import copy
from typing import Any, Optional

Json = dict[str, Any]

DATASOURCE: Json = {"type": "prometheus", "uid": "${datasource}"}


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


def targets(*items: tuple[str, str], instant: bool = False) -> list[Json]:
    """Queries A, B, C, ... from (expr, legend) pairs."""
    return [
        target(expr, legend, chr(ord("A") + i), instant=instant) for i, (expr, legend) in enumerate(items)
    ]


def thresholds(*steps: tuple[Optional[float], str]) -> Json:
    """Absolute threshold steps (value None = base color)."""
    return {"mode": "absolute", "steps": [{"color": color, "value": value} for value, color in steps]}


GREEN = thresholds((None, "green"))
BUDGET = thresholds((None, "red"), (0.0, "orange"), (0.25, "green"))
# Series styles of timeseries panels.
NO_FILL: Json = {"fillOpacity": 0}
STACKED: Json = {"fillOpacity": 60, "stacking": {"mode": "normal", "group": "A"}, "lineWidth": 0}
DASHED_THRESHOLDS: Json = {"fillOpacity": 0, "thresholdsStyle": {"mode": "dashed"}}
STACKED_BARS: Json = {"drawStyle": "bars", "fillOpacity": 80, "stacking": {"mode": "normal", "group": "A"}}


def _reduce_last() -> Json:
    return {"calcs": ["lastNotNull"], "fields": "", "values": False}


_OPTIONS: dict[str, Json] = {
    "timeseries": {
        "legend": {
            "displayMode": "table",
            "placement": "bottom",
            "showLegend": True,
            "calcs": ["lastNotNull"],
        },
        "tooltip": {"mode": "multi", "sort": "desc"},
    },
    "stat": {
        "reduceOptions": _reduce_last(),
        "colorMode": "value",
        "graphMode": "area",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": "auto",
    },
    "bargauge": {
        "reduceOptions": _reduce_last(),
        "displayMode": "gradient",
        "orientation": "horizontal",
        "showUnfilled": True,
    },
    "table": {"showHeader": True, "cellHeight": "sm"},
}


def default_options(kind: str) -> Json:
    """Panel options of a panel type (a fresh copy)."""
    return copy.deepcopy(_OPTIONS[kind])


def field_defaults(
    kind: str,
    unit: str,
    *,
    thresholds_: Optional[Json],
    custom: Optional[Json],
    decimals: Optional[int],
    min_value: Optional[float],
    max_value: Optional[float],
) -> Json:
    """``fieldConfig.defaults`` of a panel."""
    defaults: Json = {"unit": unit, "thresholds": thresholds_ or GREEN}
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
    return defaults


def panel(
    kind: str,
    title: str,
    queries: list[Json],
    unit: str,
    *,
    description: str = "",
    thresholds: Optional[Json] = None,
    custom: Optional[Json] = None,
    decimals: Optional[int] = None,
    min_value: Optional[float] = None,
    max_value: Optional[float] = None,
    transformations: Optional[list[Json]] = None,
) -> Json:
    """A panel without position (see :func:`layout`)."""
    defaults = field_defaults(
        kind,
        unit,
        thresholds_=thresholds,
        custom=custom,
        decimals=decimals,
        min_value=min_value,
        max_value=max_value,
    )
    out: Json = {"type": kind, "title": title}
    if description:
        out["description"] = description
    out["datasource"] = DATASOURCE
    out["fieldConfig"] = {"defaults": defaults, "overrides": []}
    out["options"] = default_options(kind)
    out["targets"] = queries
    if transformations:
        out["transformations"] = transformations
    return out


Row = tuple[int, list[tuple[int, Json]]]


def layout(rows: list[Row]) -> list[Json]:
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
