"""Fixtures of the rules/dashboards tests: repository paths and the Debian prometheus tools.

Tests that need ``promtool`` or ``prometheus`` carry the ``promtool`` marker. They fail (never
skip) when the tools are missing: install Debian's ``prometheus`` package, or deselect them on
purpose with ``-m 'not promtool'``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

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
