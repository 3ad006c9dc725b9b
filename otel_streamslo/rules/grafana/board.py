"""The dashboard envelope and its variables (``datasource``, ``service``, ``provider``, ``model``)."""

from __future__ import annotations

from otel_streamslo.rules.conventions import CALLS_METRIC, MODEL_LABEL, OUTCOME_LABEL, PROVIDER_LABEL
from otel_streamslo.rules.grafana.panels import DATASOURCE, Json
from otel_streamslo.rules.grafana.queries import SERVICE

SCHEMA_VERSION = 39
TAGS = ["otel-streamslo", "slo", "genai"]
OVERVIEW = {"uid": "streamslo-overview", "title": "otel-streamslo / SLO overview"}
HEALTH = {"uid": "streamslo-stream-health", "title": "otel-streamslo / Stream health"}


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
            "service", "Service", f'label_values({CALLS_METRIC}{{{OUTCOME_LABEL}!=""}}, service_name)'
        ),
        _query_variable(
            "provider", "Provider", f"label_values({CALLS_METRIC}{{{SERVICE}}}, {PROVIDER_LABEL})"
        ),
        _query_variable(
            "model",
            "Model",
            f'label_values({CALLS_METRIC}{{{SERVICE}, {PROVIDER_LABEL}=~"$provider"}}, {MODEL_LABEL})',
        ),
    ]


def dashboard(board: dict[str, str], description: str, panels: list[Json], link_to: dict[str, str]) -> Json:
    """The dashboard envelope, linking to the other dashboard."""
    return {
        "uid": board["uid"],
        "title": board["title"],
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
