"""Without their extra, ``demo`` and ``chaos-provider`` say which extra to install and exit 2 (no traceback).

The optional modules are made unimportable in a child interpreter by a ``sitecustomize.py`` that puts
a meta path finder first, raising ``ModuleNotFoundError`` for the blocked top-level packages.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SITECUSTOMIZE = """
import os, sys

BLOCKED = frozenset(filter(None, os.environ.get("STREAMSLO_TEST_BLOCK", "").split(",")))


class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


sys.meta_path.insert(0, _Blocker())
"""


@pytest.fixture(scope="module")
def site_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("blocker")
    (path / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return path


def run(site_dir: Path, blocked: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site_dir), "STREAMSLO_TEST_BLOCK": blocked}
    return subprocess.run(
        [sys.executable, *args], capture_output=True, text=True, env=env, timeout=60, check=False
    )


def test_the_blocker_blocks_only_what_it_is_told(site_dir: Path) -> None:
    code = (
        "import uvicorn, starlette\ntry:\n import openai\nexcept ImportError as e: print('blocked', e.name)"
    )
    done = run(site_dir, "openai", "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "blocked openai"


@pytest.mark.parametrize(
    ("blocked", "argv", "extra"),
    [
        ("starlette,uvicorn", ["-m", "otel_streamslo", "demo"], "demo"),
        ("openai", ["-m", "otel_streamslo", "demo", "--calls", "1"], "demo"),
        ("anthropic", ["-m", "otel_streamslo", "demo"], "demo"),
        ("starlette", ["-m", "otel_streamslo", "chaos-provider", "--port", "0"], "chaos"),
        ("uvicorn", ["-m", "otel_streamslo", "chaos-provider"], "chaos"),
        ("starlette,uvicorn", ["-m", "otel_streamslo.chaos.cli", "--port", "0"], "chaos"),
    ],
)
def test_missing_extra_is_named(site_dir: Path, blocked: str, argv: list[str], extra: str) -> None:
    done = run(site_dir, blocked, *argv)
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert f"pip install 'otel-streamslo[{extra}]'" in done.stderr, done.stderr
    assert any(f"No module named '{m}'" in done.stderr for m in blocked.split(",")), done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stdout == ""


def test_help_still_works_without_the_extra(site_dir: Path) -> None:
    done = run(
        site_dir, "starlette,uvicorn,openai,anthropic", "-m", "otel_streamslo", "chaos-provider", "--help"
    )
    assert done.returncode == 0, done.stderr
    assert "--fault-rate" in done.stdout


def test_nothing_reported_when_the_extras_are_installed(site_dir: Path) -> None:
    code = (
        "from otel_streamslo.cli import missing_extra as m; print(m('demo'), m('chaos-provider'), m('rules'))"
    )
    done = run(site_dir, "", "-c", code)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["None", "None", "None"]
