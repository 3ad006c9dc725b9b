"""Fixtures of the rules/dashboards tests: repository paths and the Debian prometheus tools.

Tests that need ``promtool`` or ``prometheus`` carry the ``promtool`` marker. They fail (never
skip) when the tools are missing: install Debian's ``prometheus`` package, or deselect them on
purpose with ``-m 'not promtool'``.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from otel_streamslo.rules.render import render, to_yaml
from otel_streamslo.rules.spec import load_spec

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "dashboards"
SLO_DIR = DASHBOARDS / "slo"
RULES_DIR = DASHBOARDS / "rules"
PROMTOOL_TESTS = DASHBOARDS / "tests"
GRAFANA_DIR = DASHBOARDS / "grafana"

MISSING = (
    "{tool} not found on PATH. It comes from Debian's prometheus package: `apt-get install -y prometheus` "
    "(scripts/test.sh does this). To run without it, deselect explicitly: pytest -m 'not promtool'"
)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "promtool: needs promtool/prometheus (Debian package prometheus); deselect with -m 'not promtool'",
    )


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(MISSING.format(tool=name), pytrace=False)
    return path


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of promtool; fails the test with install instructions when it is missing."""
    return _tool("promtool")


@pytest.fixture(scope="session")
def prometheus_bin() -> str:
    """Path of the prometheus server binary; fails with install instructions when missing."""
    return _tool("prometheus")


def regenerated_stems(spec_dir: Path, rules_dir: Path) -> list[str]:
    """Check each spec of ``spec_dir`` renders byte for byte to its rules file; return their stems."""
    specs = sorted(spec_dir.glob("*.yaml"))
    stems = [p.stem for p in specs]
    assert stems == [p.stem for p in sorted(rules_dir.glob("*.yaml"))], (
        "rules without spec, or spec without rules"
    )
    for path in specs:
        assert to_yaml(render(load_spec(path)), path.name).encode() == (rules_dir / path.name).read_bytes(), (
            f"{path} changed: run otel-streamslo rules --spec {spec_dir} --out {rules_dir}"
        )
    return stems


def check_rules_with_promtool(promtool: str, rules_dir: Path) -> None:
    """``promtool check rules`` accepts every rules file of ``rules_dir`` with all its rules."""
    for path in sorted(rules_dir.glob("*.yaml")):
        result = subprocess.run(
            [promtool, "check", "rules", str(path)], capture_output=True, text=True, timeout=60, check=False
        )
        assert result.returncode == 0, result.stdout + result.stderr
        groups = yaml.safe_load(path.read_text())["groups"]
        assert f"SUCCESS: {sum(len(g['rules']) for g in groups)} rules found" in result.stdout
