"""The supported SDK range is written once: package.py ``_instruments`` = pyproject extras = matrix floor."""

from __future__ import annotations

import importlib
import runpy
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement

tomllib = pytest.importorskip("tomllib")

ROOT = Path(__file__).resolve().parent.parent
SDKS = ("openai", "anthropic")


def extras() -> dict[str, list[str]]:
    with open(ROOT / "pyproject.toml", "rb") as f:
        data: dict[str, Any] = tomllib.load(f)
    table: dict[str, list[str]] = data["project"]["optional-dependencies"]
    return table


def instruments(sdk: str) -> Requirement:
    module = importlib.import_module(f"otel_streamslo.instrumentation.{sdk}.package")
    (only,) = module._instruments
    return Requirement(only)


def requirement_in(extra: list[str], sdk: str) -> Requirement:
    found = [Requirement(r) for r in extra if Requirement(r).name == sdk]
    assert len(found) == 1, (sdk, extra)
    return found[0]


@pytest.mark.parametrize("sdk", SDKS)
def test_extras_state_the_instrumented_range(sdk: str) -> None:
    declared = instruments(sdk)
    assert declared.name == sdk
    assert declared.specifier, f"{sdk}: _instruments has no version floor"
    for extra in (sdk, "instruments-any"):
        assert requirement_in(extras()[extra], sdk).specifier == declared.specifier, extra


@pytest.mark.parametrize("sdk", SDKS)
def test_instrumentor_reports_the_same_range(sdk: str) -> None:
    module = importlib.import_module(f"otel_streamslo.instrumentation.{sdk}")
    cls = next(
        v for k, v in vars(module).items() if k.endswith("StreamInstrumentor") and k != "StreamInstrumentor"
    )
    deps = list(cls().instrumentation_dependencies())
    assert [Requirement(d) for d in deps] == [instruments(sdk)]


@pytest.fixture(scope="module")
def noxfile() -> dict[str, Any]:
    pytest.importorskip("nox")
    return runpy.run_path(str(ROOT / "noxfile.py"))  # registers its sessions once


@pytest.mark.parametrize("sdk", SDKS)
def test_matrix_floor_is_the_declared_floor(sdk: str, noxfile: dict[str, Any]) -> None:
    """The oldest cell of the compatibility matrix (noxfile.py) installs exactly the floor."""
    (spec,) = instruments(sdk).specifier
    assert spec.operator == ">="
    for python in noxfile["PYTHONS"]:
        assert f"{sdk}=={spec.version}" in noxfile["pins"](python, "oldest")
        newest = [p for p in noxfile["pins"](python, "newest") if p.startswith(f"{sdk}==")]
        assert len(newest) == 1 and newest[0].split("==")[1] not in ("", spec.version)
