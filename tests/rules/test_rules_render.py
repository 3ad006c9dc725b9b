"""Render invariants, regeneration (committed files are what the generator writes) and the CLI."""

from __future__ import annotations

import argparse
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_streamslo.rules import cli, grafana
from otel_streamslo.rules.conventions import PAGE, SLI_WINDOWS, TICKET
from otel_streamslo.rules.render import HEADER, render, sli_expr, to_yaml
from otel_streamslo.rules.spec import SLO, Spec, load_spec, parse_spec

from .conftest import GRAFANA_DIR, RULES_DIR, SLO_DIR

COMMITTED_SPEC = SLO_DIR / "streamslo.yaml"
OPENSLO_EXAMPLE = SLO_DIR / "examples" / "openslo-stream-availability.yaml"
IDENTITY = ("sloth_id", "sloth_service", "sloth_slo")


@pytest.fixture(scope="module")
def spec() -> Spec:
    return load_spec(COMMITTED_SPEC)


@pytest.fixture(scope="module")
def groups(spec: Spec) -> list[dict[str, Any]]:
    rendered: list[dict[str, Any]] = render(spec)["groups"]
    return rendered


def records(groups: list[dict[str, Any]], slo: SLO) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for group in groups:
        for rule in group["rules"]:
            if "record" in rule and rule["labels"]["sloth_slo"] == slo.name:
                assert rule["record"] not in out, f"duplicate {rule['record']} for {slo.name}"
                out[rule["record"]] = rule
    return out


def test_every_window_and_meta_series_is_recorded(spec: Spec, groups: list[dict[str, Any]]) -> None:
    wanted = {f"slo:sli_error:ratio_rate{w}" for w in (*SLI_WINDOWS, spec.period)} | {
        "slo:objective:ratio",
        "slo:error_budget:ratio",
        "slo:time_period:days",
        "slo:current_burn_rate:ratio",
        "slo:period_burn_rate:ratio",
        "slo:period_error_budget_remaining:ratio",
        "sloth_slo_info",
    }
    assert {w for w in SLI_WINDOWS} == {"5m", "30m", "1h", "2h", "6h", "1d", "3d"}
    for slo in spec.slos:
        recs = records(groups, slo)
        assert set(recs) == wanted, slo.name
        for name, rule in recs.items():
            labels = rule["labels"]
            assert labels["sloth_service"] == spec.service
            assert labels["sloth_slo"] == slo.name
            assert labels["sloth_id"] == f"{spec.service}-{slo.name}"
            assert labels["streamslo_sli"] == slo.kind
            if name.startswith("slo:sli_error:ratio_rate"):
                assert labels["sloth_window"] == name.removeprefix("slo:sli_error:ratio_rate")


def test_window_exprs_use_their_window(spec: Spec, groups: list[dict[str, Any]]) -> None:
    for slo in spec.slos:
        recs = records(groups, slo)
        for window in SLI_WINDOWS:
            expr = recs[f"slo:sli_error:ratio_rate{window}"]["expr"]
            assert set(re.findall(r"\[(\w+)\]", expr)) == {window}
            assert "{{.window}}" not in expr
        period = recs[f"slo:sli_error:ratio_rate{spec.period}"]["expr"]
        assert "sum_over_time(slo:sli_error:ratio_rate5m{" in period
        assert f"[{spec.period}]" in period


def test_objective_and_budget_are_exact_decimals() -> None:
    spec = parse_spec({"version": "streamslo/v1", "service": "s", "availability": {"objective": 99.9}})
    recs = records(render(spec)["groups"], spec.slos[0])
    assert recs["slo:objective:ratio"]["expr"] == "vector(0.999)"
    assert recs["slo:error_budget:ratio"]["expr"] == "vector(0.001)"
    assert recs["slo:time_period:days"]["expr"] == "vector(30)"


BURN = re.compile(
    r"\(slo:sli_error:ratio_rate(?P<window>\w+)\{(?P<sel>[^}]*)\} "
    r"> \((?P<factor>[\d.]+) \* (?P<budget>[\d.]+)\)\)"
)


@pytest.mark.parametrize("objective", ["99.5", "99.9", "99", "95", "99.95"])
def test_burn_thresholds_are_factor_times_budget(objective: str) -> None:
    spec = parse_spec(
        {
            "version": "streamslo/v1",
            "service": "s",
            "availability": {"objective": objective},
            "latency": {"objective": objective, "threshold": 2.56},
        }
    )
    groups = render(spec)["groups"]
    alerts = [r for g in groups for r in g["rules"] if "alert" in r]
    assert len(alerts) == 4  # page + ticket for stream availability and latency; none for naive HTTP
    budget = 1 - Decimal(objective) / 100
    expected = {"page": PAGE, "ticket": TICKET}
    for alert in alerts:
        severity = alert["labels"]["sloth_severity"]
        assert alert["labels"]["severity"] == severity
        found = [m.groupdict() for m in BURN.finditer(alert["expr"])]
        pairs = [(found[i]["window"], found[i + 1]["window"], Decimal(found[i]["factor"])) for i in (0, 2)]
        assert pairs == [(c.short, c.long, c.factor) for c in expected[severity]]
        assert {Decimal(f["budget"]) for f in found} == {budget}
        assert all(f["factor"] == found[i - i % 2]["factor"] for i, f in enumerate(found))
        assert alert["expr"].count("and ignoring (sloth_window)") == 2
        assert alert["expr"].count("or ignoring (sloth_window)") == 1
        assert set(alert["annotations"]) == {"summary", "description", "runbook_url"}
    assert {Decimal(c.factor) for c in PAGE + TICKET} == {
        Decimal("14.4"),
        Decimal("6"),
        Decimal("3"),
        Decimal("1"),
    }


def test_only_stream_and_latency_slos_alert(spec: Spec, groups: list[dict[str, Any]]) -> None:
    alerting = {
        m.group(1)
        for g in groups
        for r in g["rules"]
        if "alert" in r
        for m in [re.search(r'sloth_slo="([^"]+)"', r["expr"])]
        if m
    }
    assert alerting == {"stream-availability", "response-availability", "ttft-latency"}
    names = [g["name"] for g in groups]
    assert "sloth-slo-alerts-streamslo-demo-http-availability" not in names
    assert len(names) == len(set(names))


def test_naive_sli_only_sees_http_status(spec: Spec) -> None:
    stream, _, http, _ = spec.slos
    assert "http_response_status_code" not in stream.error_query
    assert 'http_response_status_code=~"5..|429"' in http.error_query
    assert 'http_response_status_code=""' in http.error_query  # connect errors
    assert 'streamslo_sli_outcome="bad"' not in http.error_query.split(" or ")[0]
    assert 'streamslo_sli_outcome!=""' in http.total_query


def test_yaml_round_trip_and_header(spec: Spec) -> None:
    text = to_yaml(render(spec), "streamslo.yaml")
    assert text.splitlines()[0] == HEADER == "# Code generated by otel-streamslo rules; DO NOT EDIT."
    assert yaml.safe_load(text) == render(spec)
    assert "&id" not in text and "*id" not in text  # no YAML anchors
    assert to_yaml(render(load_spec(COMMITTED_SPEC)), "streamslo.yaml") == text  # deterministic


def test_openslo_example_matches_the_native_sli(spec: Spec) -> None:
    example = load_spec(OPENSLO_EXAMPLE)
    (openslo_slo,) = example.slos
    native = spec.slos[0]
    assert (example.service, openslo_slo.name, openslo_slo.objective) == (
        spec.service,
        native.name,
        native.objective,
    )
    for window in (*SLI_WINDOWS, "30d"):
        assert sli_expr(openslo_slo, window) == sli_expr(native, window)


# --- regeneration and CLI -----------------------------------------------------------------------------


def test_committed_rules_are_regenerated_byte_for_byte() -> None:
    specs = sorted(SLO_DIR.glob("*.yaml"))
    assert specs, "no spec in dashboards/slo"
    committed = sorted(RULES_DIR.glob("*.yaml"))
    assert [p.stem for p in committed] == [p.stem for p in specs], "rules without spec, or spec without rules"
    for path in specs:
        expected = (RULES_DIR / f"{path.stem}.yaml").read_bytes()
        assert to_yaml(render(load_spec(path)), path.name).encode() == expected, (
            f"{path} changed: run otel-streamslo rules --spec {path} --out dashboards/rules/"
        )


def test_committed_dashboards_are_regenerated_byte_for_byte() -> None:
    generated = grafana.render_all()
    assert sorted(generated) == sorted(p.name for p in GRAFANA_DIR.glob("*.json"))
    for name, text in generated.items():
        assert (GRAFANA_DIR / name).read_bytes() == text.encode(), (
            f"{name} changed: run otel-streamslo rules --grafana-out dashboards/grafana"
        )


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    cli.add_arguments(sub.add_parser("rules"))
    return parser.parse_args(["rules", *argv])


def test_cli_writes_then_check_passes_then_detects_drift(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, boards = tmp_path / "rules", tmp_path / "grafana"
    args = ["--spec", str(COMMITTED_SPEC), "--out", str(out), "--grafana-out", str(boards)]
    assert cli.run(parse(*args, "--check")) == 1  # nothing written yet
    assert cli.run(parse(*args)) == 0
    assert (out / "streamslo.yaml").read_bytes() == (RULES_DIR / "streamslo.yaml").read_bytes()
    assert sorted(p.name for p in boards.iterdir()) == sorted(grafana.render_all())
    assert cli.run(parse(*args, "--check")) == 0
    before = (out / "streamslo.yaml").read_text()
    (out / "streamslo.yaml").write_text(before.replace("vector(0.995)", "vector(0.99)"))
    capsys.readouterr()
    assert cli.run(parse(*args, "--check")) == 1
    err = capsys.readouterr().err
    assert "out of date" in err and "-    expr: vector(0.99)" in err and "+    expr: vector(0.995)" in err
    assert cli.run(parse(*args)) == 0
    assert (out / "streamslo.yaml").read_text() == before


def test_cli_spec_directory_and_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "rules"
    assert cli.run(parse("--spec", str(SLO_DIR), "--out", str(out))) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in RULES_DIR.glob("*.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: streamslo/v1\nservice: s\nwindow: 7d\navailability: {objective: 99}\n")
    capsys.readouterr()
    assert cli.run(parse("--spec", str(bad), "--out", str(out))) == 2
    assert "bad.yaml: spec.window" in capsys.readouterr().err
    assert cli.run(parse("--spec", str(tmp_path / "missing.yaml"), "--out", str(out))) == 2
    assert cli.main(["--spec", str(COMMITTED_SPEC), "--out", str(RULES_DIR), "--check"]) == 0
