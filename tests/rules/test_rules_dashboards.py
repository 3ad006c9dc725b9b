"""Lint of the committed Grafana dashboards (what users import) and their provisioning files."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import GRAFANA_DIR

DASHBOARD_FILES = sorted(GRAFANA_DIR.glob("*.json"))
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
UIDS = {
    "streamslo-overview.json": "streamslo-overview",
    "streamslo-stream-health.json": "streamslo-stream-health",
}
VARIABLES = ("datasource", "service", "provider", "model")
BUILTINS = {"__rate_interval", "__range", "__interval"}
# Concrete values for Grafana variables, so that an expression is plain PromQL.
SUBSTITUTIONS = {
    "$__rate_interval": "1m",
    "$__range": "1h",
    "$__interval": "15s",
    "$service": "streamslo-demo",
    "$provider": "openai",
    "$model": "gpt-4o",
}


def load(path: Path) -> dict[str, Any]:
    board: dict[str, Any] = json.loads(path.read_text())
    return board


def substitute(expr: str, values: dict[str, str] = SUBSTITUTIONS) -> str:
    for name in sorted(values, key=len, reverse=True):
        expr = expr.replace(name, values[name])
    assert "$" not in expr, expr
    return expr


def expressions(board: dict[str, Any]) -> Iterator[tuple[str, str]]:
    """(where, expr) of every target of every panel."""
    for panel in board["panels"]:
        for target in panel.get("targets", []):
            yield f"{board['uid']} / {panel['title']} / {target['refId']}", target["expr"]


@pytest.fixture(scope="module", params=DASHBOARD_FILES, ids=[p.stem for p in DASHBOARD_FILES])
def board(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


def test_uids_are_fixed_and_unique() -> None:
    assert {p.name for p in DASHBOARD_FILES} == set(UIDS)
    uids = [load(p)["uid"] for p in DASHBOARD_FILES]
    assert uids == [UIDS[p.name] for p in DASHBOARD_FILES]
    assert len(set(uids)) == len(uids)
    titles = [load(p)["title"] for p in DASHBOARD_FILES]
    assert len(set(titles)) == len(titles)


def test_variables(board: dict[str, Any]) -> None:
    variables = {v["name"]: v for v in board["templating"]["list"]}
    assert tuple(variables) == VARIABLES
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for name in VARIABLES[1:]:
        var = variables[name]
        assert var["type"] == "query"
        assert var["datasource"] == DATASOURCE
        assert var["definition"].startswith("label_values(")
        assert var["query"]["query"] == var["definition"]
    assert (
        "label_values" in variables["model"]["definition"] and "$provider" in variables["model"]["definition"]
    )


def test_every_panel_and_target_uses_the_datasource_variable(board: dict[str, Any]) -> None:
    assert board["panels"]
    for panel in board["panels"]:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, (panel["title"], target["refId"])
        refs = [t["refId"] for t in panel["targets"]]
        assert len(set(refs)) == len(refs), panel["title"]


def test_every_panel_has_a_unit(board: dict[str, Any]) -> None:
    for panel in board["panels"]:
        unit = panel["fieldConfig"]["defaults"].get("unit")
        assert isinstance(unit, str) and unit.strip(), panel["title"]


def test_layout_fits_the_grid(board: dict[str, Any]) -> None:
    ids = [p["id"] for p in board["panels"]]
    assert len(set(ids)) == len(ids)
    cells: set[tuple[int, int]] = set()
    for panel in board["panels"]:
        pos = panel["gridPos"]
        assert pos["x"] >= 0 and pos["w"] > 0 and pos["x"] + pos["w"] <= 24, panel["title"]
        for x in range(pos["x"], pos["x"] + pos["w"]):
            for y in range(pos["y"], pos["y"] + pos["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps at {(x, y)}"
                cells.add((x, y))


def test_expressions_only_use_known_variables(board: dict[str, Any]) -> None:
    known = set(VARIABLES) | BUILTINS
    for where, expr in expressions(board):
        used = set(re.findall(r"\$\{?(\w+)", expr))
        assert used <= known, (where, used - known)


def test_overview_content() -> None:
    board = load(GRAFANA_DIR / "streamslo-overview.json")
    exprs = [e for _, e in expressions(board)]
    titles = [p["title"] for p in board["panels"]]
    assert any("slo:objective:ratio" in e for e in exprs)
    assert any(
        'ratio_rate30d{sloth_service=~"$service", streamslo_sli="stream-availability"}' in e for e in exprs
    )
    assert any(
        'ratio_rate30d{sloth_service=~"$service", streamslo_sli="http-availability"}' in e for e in exprs
    )
    assert any("slo:period_error_budget_remaining:ratio" in e for e in exprs)
    assert any(e.startswith("ALERTS{") for e in exprs)
    for window in ("5m", "30m", "1h", "2h", "6h", "1d", "3d"):
        assert any(f"slo:sli_error:ratio_rate{window}{{" in e and "error_budget" in e for e in exprs), window
    burn_panels = [p for p in board["panels"] if p["title"].startswith("Burn rate per window")]
    assert burn_panels
    for panel in burn_panels:
        steps = [s["value"] for s in panel["fieldConfig"]["defaults"]["thresholds"]["steps"]]
        assert {1.0, 3.0, 6.0, 14.4} <= set(steps), panel["title"]
        assert panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"] != "off"
    assert any("stream-aware" in t.lower() for t in titles) and any("naive http" in t.lower() for t in titles)


SLI_KINDS = ("http-availability", "stream-availability", "response-availability")


def test_overview_shows_the_three_availabilities_side_by_side() -> None:
    board = load(GRAFANA_DIR / "streamslo-overview.json")
    side_by_side = [
        p
        for p in board["panels"]
        if all(any(f'streamslo_sli="{k}"' in t["expr"] for t in p["targets"]) for k in SLI_KINDS)
    ]
    assert side_by_side, "no panel shows the three availabilities together"
    stats = {
        kind: [
            p
            for p in board["panels"]
            if p["type"] == "stat"
            and any(
                f'ratio_rate30d{{sloth_service=~"$service", streamslo_sli="{kind}"}}' in t["expr"]
                for t in p["targets"]
            )
        ]
        for kind in SLI_KINDS
    }
    assert all(len(found) == 1 for found in stats.values()), stats
    rows = {found[0]["gridPos"]["y"] for found in stats.values()}
    assert len(rows) == 1, "the three 30d availabilities are not on one row"
    burns = [p["title"] for p in board["panels"] if p["title"].startswith("Burn rate per window")]
    assert any("user-facing" in t for t in burns)
    # raw span queries select on span kind: server spans never mix into the provider leg
    exprs = [e for _, e in expressions(board) if "traces_span_metrics_calls_total" in e]
    assert exprs
    for expr in exprs:
        assert ('span_kind="SPAN_KIND_CLIENT"' in expr) != ('span_kind="SPAN_KIND_SERVER"' in expr), expr


def test_stream_health_content() -> None:
    board = load(GRAFANA_DIR / "streamslo-stream-health.json")
    exprs = "\n".join(e for _, e in expressions(board))
    for metric in (
        "gen_ai_client_operation_time_to_first_chunk_seconds_bucket",
        "gen_ai_client_operation_duration_seconds_bucket",
        "gen_ai_client_operation_time_per_output_chunk_seconds_bucket",
        "streamslo_streams_active",
        "streamslo_tokens_delivered_total",
        "streamslo_termination_reason",
    ):
        assert metric in exprs, metric
    for q in ("0.5", "0.95", "0.99"):
        assert f"histogram_quantile({q}, sum by (le)" in exprs
    assert 'streamslo_termination_reason="request_failed"' in exprs
    for series in (
        "streamslo_abort_propagation_latency_seconds_bucket",
        "streamslo_tokens_after_disconnect_total",
        "streamslo_tool_calls_committed_total",
        "streamslo_responses_total",
    ):
        assert series in exprs, series
    panels = {p["title"]: p for p in board["panels"]}
    abort = [t["expr"] for t in panels["Abort propagation latency"]["targets"]]
    assert [e.split(",")[0] for e in abort] == ["histogram_quantile(0.5", "histogram_quantile(0.95"]
    (gap,) = [t["expr"] for t in panels["Billing gap: tokens after users left"]["targets"]]
    after, delivered = (
        gap.index("streamslo_tokens_after_disconnect_total"),
        gap.rindex("streamslo_tokens_delivered_total"),
    )
    assert after < gap.index(") / ") < delivered  # after disconnect / all delivered upstream
    (tools,) = [t["expr"] for t in panels["Tool calls committed in bad or cancelled streams"]["targets"]]
    assert 'streamslo_sli_outcome=~"bad|excluded"' in tools
    for expr in exprs.splitlines():
        if "traces_span_metrics" in expr:
            assert "span_kind=" in expr, expr
    stacked = [p for p in board["panels"] if p["title"] == "Stream terminations by reason"]
    assert stacked and stacked[0]["fieldConfig"]["defaults"]["custom"]["stacking"]["mode"] == "normal"


def test_provisioning_files() -> None:
    datasources = yaml.safe_load(
        (GRAFANA_DIR / "provisioning" / "datasources" / "prometheus.yaml").read_text()
    )
    (source,) = datasources["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"] is True and source["url"]
    providers = yaml.safe_load((GRAFANA_DIR / "provisioning" / "dashboards" / "streamslo.yaml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file" and provider["options"]["path"]


@pytest.mark.promtool
def test_every_expression_parses_with_promtool(promtool: str, tmp_path: Path) -> None:
    rules = []
    where_of: dict[str, str] = {}
    for path in DASHBOARD_FILES:
        for index, (where, expr) in enumerate(expressions(load(path))):
            record = f"dashboard:{path.stem.replace('-', '_')}:expr{index}"
            where_of[record] = where
            rules.append({"record": record, "expr": substitute(expr)})
        for var in load(path)["templating"]["list"][1:]:
            match = re.fullmatch(r"label_values\((.+), \w+\)", var["definition"])
            assert match, var["definition"]
            record = f"dashboard:{path.stem.replace('-', '_')}:variable_{var['name']}"
            rules.append({"record": record, "expr": substitute(match.group(1))})
    path = tmp_path / "dashboard-exprs.yaml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, sort_keys=False))
    result = subprocess.run(
        [promtool, "check", "rules", str(path)], capture_output=True, text=True, check=False
    )
    output = result.stdout + result.stderr
    for record, where in where_of.items():
        output = output.replace(f'"{record}"', f'"{record}" ({where})')
    assert result.returncode == 0, output
    assert f"SUCCESS: {len(rules)} rules found" in output
