"""OpenSLO v1 ``kind: SLO`` documents with an inline Prometheus ``ratioMetric`` indicator."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

from otel_streamslo.rules.conventions import KIND_CUSTOM, OPENSLO_VERSION, PERIODS, WINDOW_PLACEHOLDER
from otel_streamslo.rules.spec import fields as f
from otel_streamslo.rules.spec.model import SLO, Spec

_DURATION_RE = re.compile(r"^([1-9][0-9]*)([dw])$")
_RATIO = "spec.indicator.spec.ratioMetric"


def side_query(side: object, where: str, counter: bool) -> str:
    """The PromQL template of one side (good, bad or total) of a ratio metric."""
    data = f.mapping(side, where)
    source = f.mapping(data.get("metricSource"), f"{where}.metricSource")
    kind = source.get("type", "Prometheus")
    if not isinstance(kind, str) or kind.lower() != "prometheus":
        raise f.fail(f"{where}.metricSource.type", f"only Prometheus sources are supported, got {kind!r}")
    raw = source.get("spec")
    query = raw.get("query") if isinstance(raw, Mapping) else raw
    text = " ".join(f.text(query, f"{where}.metricSource.spec.query").split())
    text = re.sub(r"\{\{\s*\.window\s*\}\}", WINDOW_PLACEHOLDER, text)
    if WINDOW_PLACEHOLDER in text:
        return text
    if counter:
        return f"sum(rate({text}[{WINDOW_PLACEHOLDER}]))"
    raise f.fail(
        f"{where}.metricSource.spec.query",
        "needs a {{.window}} range placeholder, or ratioMetric.counter: true with a plain counter selector",
    )


def ratio_queries(spec: Mapping[str, Any]) -> tuple[str, str]:
    """Error and total templates of the inline ``ratioMetric`` indicator."""
    if "indicator" not in spec:
        raise f.fail("spec.indicator", "is required (inline SLI; indicatorRef is not supported)")
    indicator = f.mapping(f.mapping(spec["indicator"], "spec.indicator").get("spec"), "spec.indicator.spec")
    if "ratioMetric" not in indicator:
        raise f.fail("spec.indicator.spec", "only ratioMetric SLIs are supported")
    ratio = f.mapping(indicator["ratioMetric"], _RATIO)
    counter = f.flag(ratio.get("counter", False), f"{_RATIO}.counter")
    if "total" not in ratio:
        raise f.fail(f"{_RATIO}.total", "is required")
    total = side_query(ratio["total"], f"{_RATIO}.total", counter)
    if ("good" in ratio) == ("bad" in ratio):
        raise f.fail(_RATIO, "needs exactly one of good or bad next to total")
    if "good" in ratio:
        return f"(({total}) - ({side_query(ratio['good'], f'{_RATIO}.good', counter)}))", total
    return side_query(ratio["bad"], f"{_RATIO}.bad", counter), total


def rolling_period(spec: Mapping[str, Any]) -> str:
    """The one rolling ``timeWindow`` as an SLO period (28d/4w or 30d)."""
    windows = spec.get("timeWindow") or [{"duration": "30d"}]
    if not isinstance(windows, Sequence) or len(windows) != 1:
        raise f.fail("spec.timeWindow", "must hold exactly one rolling window")
    window = f.mapping(windows[0], "spec.timeWindow[0]")
    match = _DURATION_RE.match(str(window.get("duration", "")))
    days = (int(match.group(1)) * (7 if match.group(2) == "w" else 1)) if match else 0
    if f"{days}d" not in PERIODS or window.get("isRolling", True) is not True:
        raise f.fail(
            "spec.timeWindow[0]",
            f"{window.get('duration')!r} is not supported; use a rolling window of {' or '.join(PERIODS)}",
        )
    return f"{days}d"


def objective_percent(spec: Mapping[str, Any]) -> Decimal:
    """The one objective, ``target`` (ratio) or ``targetPercent``, as a percentage."""
    method = spec.get("budgetingMethod", "Occurrences")
    if method != "Occurrences":
        raise f.fail("spec.budgetingMethod", f"only Occurrences is supported, got {method!r}")
    objectives = spec.get("objectives")
    if not isinstance(objectives, Sequence) or isinstance(objectives, str) or len(objectives) != 1:
        raise f.fail("spec.objectives", "must hold exactly one objective")
    goal = f.mapping(objectives[0], "spec.objectives[0]")
    if "targetPercent" in goal:
        return f.objective(goal["targetPercent"], "spec.objectives[0].targetPercent")
    if "target" in goal:
        target = goal["target"]
        if isinstance(target, bool) or not isinstance(target, (int, float)):
            raise f.fail("spec.objectives[0].target", f"must be a ratio such as 0.995, got {target!r}")
        return f.objective(Decimal(str(target)) * 100, "spec.objectives[0].target (as percent)")
    raise f.fail("spec.objectives[0]", "needs target (ratio) or targetPercent")


def parse_openslo(data: Mapping[str, Any]) -> Spec:
    """Validate an OpenSLO v1 ``kind: SLO`` document."""
    if data.get("kind") != "SLO":
        raise f.fail("kind", f"only OpenSLO kind: SLO is supported, got {data.get('kind')!r}")
    metadata = f.mapping(data.get("metadata"), "metadata")
    spec = f.mapping(data.get("spec"), "spec")
    error, total = ratio_queries(spec)
    period = rolling_period(spec)
    objective = objective_percent(spec)
    name = f.name(metadata.get("name"), "metadata.name")
    description = spec.get("description") or metadata.get("displayName") or f"OpenSLO SLO {name}."
    slo = SLO(
        name=name,
        kind=KIND_CUSTOM,
        objective=objective,
        description=f.text(description, "spec.description"),
        error_query=error,
        total_query=total,
    )
    return Spec(
        version=OPENSLO_VERSION,
        service=f.name(spec.get("service"), "spec.service"),
        period=period,
        slos=(slo,),
        labels=f.labels(metadata.get("labels"), "metadata.labels"),
    )
