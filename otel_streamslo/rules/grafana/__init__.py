"""Grafana dashboards of otel-streamslo, built as plain JSON-able dicts (no Grafana SDK needed).

Two dashboards, written by ``otel-streamslo rules --grafana-out dashboards/grafana``:
``streamslo-overview`` (SLOs from the generated rules: objective, stream-aware vs naive HTTP
availability, budget, burn rates, alerts) and ``streamslo-stream-health`` (raw stream metrics:
termination reasons, TTFT/TTC/chunk-time percentiles, active streams, tokens). Every panel and
target uses the ``${datasource}`` variable; every panel has a unit; uids are fixed.
"""

from __future__ import annotations

import json

from otel_streamslo.rules.grafana.overview import overview
from otel_streamslo.rules.grafana.stream_health import stream_health

__all__ = ["overview", "render_all", "stream_health"]


def render_all() -> dict[str, str]:
    """File name -> JSON text of every dashboard (stable key order, trailing newline)."""
    boards = {"streamslo-overview.json": overview(), "streamslo-stream-health.json": stream_health()}
    return {name: json.dumps(board, indent=2, ensure_ascii=False) + "\n" for name, board in boards.items()}
