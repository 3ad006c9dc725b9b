"""promtool check rules / test rules over the generated rules and dashboards/tests/*.yaml."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from otel_streamslo.rules.render import render, to_yaml
from otel_streamslo.rules.spec import load_spec, parse_spec

from .conftest import PROMTOOL_TESTS, RULES_DIR, SLO_DIR

pytestmark = pytest.mark.promtool

TEST_FILES = sorted(PROMTOOL_TESTS.glob("*.yaml"))
STAGES = ("sloth-slo-sli-recordings-", "sloth-slo-meta-recordings-", "sloth-slo-alerts-")


def run(promtool: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool, *args], capture_output=True, text=True, timeout=120, check=False, cwd=cwd
    )


def check(promtool: str, path: Path) -> None:
    result = run(promtool, "check", "rules", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout + result.stderr


def test_generated_rules_pass_promtool_check(promtool: str) -> None:
    files = sorted(RULES_DIR.glob("*.yaml"))
    assert files
    for path in files:
        check(promtool, path)


@pytest.mark.parametrize(
    "variant",
    [
        {
            "availability": {
                "objective": 99.9,
                "bad_reasons": ["client_abandoned"],
                "excluded_reasons": ["idle_timeout"],
            }
        },
        {"availability": {"objective": 99, "bad_outcomes": ["bad", "excluded"], "good_outcomes": ["good"]}},
        {
            "availability": {"objective": 99.5},
            "latency": {"objective": 95, "source": "spans"},
            "window": "28d",
        },
        {
            "availability": {
                "objective": 99.5,
                "selector": 'service_name=~"a|b", span_kind="SPAN_KIND_CLIENT"',
            },
            "http_availability": {"enabled": False},
            "metrics": {"calls": "calls_total", "ttft_histogram": "ttft_seconds"},
            "latency": {"objective": 99, "threshold": 0.64},
            "alerting": {"page_for": "2m", "ticket_for": "15m", "labels": {"team": "x"}},
        },
    ],
    ids=["reason-overrides", "strict-outcomes", "spans-latency-28d", "custom-metrics"],
)
def test_spec_variants_render_valid_rules(promtool: str, tmp_path: Path, variant: dict[str, Any]) -> None:
    spec = parse_spec({"version": "streamslo/v1", "service": "variant", **variant})
    path = tmp_path / "variant.yaml"
    path.write_text(to_yaml(render(spec), "variant.yaml"))
    check(promtool, path)


def test_openslo_example_renders_valid_rules(promtool: str, tmp_path: Path) -> None:
    path = tmp_path / "openslo.yaml"
    path.write_text(
        to_yaml(render(load_spec(SLO_DIR / "examples" / "openslo-stream-availability.yaml")), "x")
    )
    check(promtool, path)


def test_there_are_promtool_tests() -> None:
    names = {p.name for p in TEST_FILES}
    assert {
        "stream-availability-burst.yaml",
        "stream-availability-slow-burn.yaml",
        "outcome-policy.yaml",
        "ttft-latency.yaml",
        "response-availability.yaml",
        "sdk-metrics.yaml",
        "inferred-spans.yaml",
        "inferred-peers-only.yaml",
    } <= names


@pytest.mark.parametrize("test_file", TEST_FILES, ids=[p.stem for p in TEST_FILES])
def test_group_eval_order_lists_every_group_in_dependency_order(test_file: Path) -> None:
    """Unlisted groups run in arbitrary order in promtool; alerts must see this step's ratios."""
    data = yaml.safe_load(test_file.read_text())
    groups: list[str] = []
    for rule_file in data["rule_files"]:
        groups += [g["name"] for g in yaml.safe_load((test_file.parent / rule_file).read_text())["groups"]]
    order = data["group_eval_order"]
    assert sorted(order) == sorted(groups)
    stages = [next(i for i, prefix in enumerate(STAGES) if name.startswith(prefix)) for name in order]
    assert stages == sorted(stages)


@pytest.fixture(scope="module")
def unit_test_results(promtool: str) -> dict[str, tuple[int, str]]:
    """Run every dashboards/tests file at once (one promtool each); name -> (exit code, output)."""
    procs = {
        path.name: subprocess.Popen(
            [promtool, "test", "rules", path.name],
            cwd=path.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for path in TEST_FILES
    }
    results: dict[str, tuple[int, str]] = {}
    for name, proc in procs.items():
        output, _ = proc.communicate(timeout=180)
        results[name] = (proc.returncode, output)
    return results


@pytest.mark.parametrize("test_file", TEST_FILES, ids=[p.stem for p in TEST_FILES])
def test_promtool_unit_tests(unit_test_results: dict[str, tuple[int, str]], test_file: Path) -> None:
    code, output = unit_test_results[test_file.name]
    assert code == 0, output
    assert "SUCCESS" in output


def test_promtool_unit_tests_are_not_vacuous(promtool: str, tmp_path: Path) -> None:
    """A wrong expectation in a copy of a test file must fail."""
    source = PROMTOOL_TESTS / "outcome-policy.yaml"
    text = source.read_text().replace("../rules/", f"{RULES_DIR}/")
    assert "value: 0.0625" in text
    broken = tmp_path / "broken.yaml"
    broken.write_text(text.replace("value: 0.0625", "value: 0.0626", 1))
    result = run(promtool, "test", "rules", str(broken))
    assert result.returncode != 0
    assert "6.26E-02" in result.stdout + result.stderr
