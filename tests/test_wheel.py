"""The wheel carries the C hot paths (server middleware ``send``, the proxies' token count) as a
platform wheel, or is pure Python when extensions are switched off; either way the package imports
and picks the matching paths."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    platform.python_implementation() != "CPython" or sys.version_info < (3, 10),
    reason="the C hot path is built on CPython 3.10+",
)


def build_wheel(out: Path, **env: str) -> Path:
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(out), str(ROOT)],
        check=True,
        env={**os.environ, **env},
        timeout=600,
    )
    (wheel,) = out.glob("otel_streamslo-*.whl")
    return wheel


def hot_path_of(wheel: Path, tmp: Path) -> str:
    """Which hot path the package in ``wheel`` selects (unpacked, imported in a fresh interpreter)."""
    site = tmp / "site"
    with zipfile.ZipFile(wheel) as z:
        z.extractall(site)
    code = (
        "from otel_streamslo.server import hotpath; from otel_streamslo.core import shapes;"
        "print(hotpath.IMPLEMENTATION, 'python' if shapes._fastpath is None else 'c')"
    )
    env = {k: v for k, v in os.environ.items() if k != "OTEL_STREAMSLO_PURE_PYTHON"}
    env["PYTHONPATH"] = str(site)
    got = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env, cwd=tmp
    )
    return got.stdout.strip()


@pytest.mark.slow
def test_wheel_carries_the_c_hot_path(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    assert not wheel.name.endswith("-py3-none-any.whl"), wheel.name  # a platform wheel
    names = zipfile.ZipFile(wheel).namelist()
    for module in ("otel_streamslo/server/_speedups", "otel_streamslo/core/_fastpath"):
        assert [n for n in names if n.startswith(module) and n.endswith(".so")], module
    assert hot_path_of(wheel, tmp_path) == "c c"


@pytest.mark.slow
def test_wheel_without_extensions_is_pure_python(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist", OTEL_STREAMSLO_NO_EXTENSIONS="1")
    assert wheel.name.endswith("-py3-none-any.whl"), wheel.name
    assert not [n for n in zipfile.ZipFile(wheel).namelist() if n.endswith(".so")]
    assert hot_path_of(wheel, tmp_path) == "python python"
