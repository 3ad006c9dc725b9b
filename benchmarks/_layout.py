"""Instruction counts under valgrind, in drawn process layouts (the confounder of per-chunk costs).

CPython's method cache (4,096 slots) is indexed by a type's version tag and a name's address, so
which of the hot attribute lookups collide, and miss every time, is decided once per process by
the order types were first looked up and where names were allocated. Under valgrind (deterministic)
a no-op change to one variant moved the SDK's own method-cache misses by thousands of instructions
per chunk, so a comparison of two processes is only fair averaged over several layouts.
"""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

_KEEP: list[Any] = []


def perturb_layout(seed: int) -> None:
    """Before any import: ``seed * 7`` more version tags assigned, ``seed * 4099`` bytes of names."""
    types_ = [type(f"_Layout{i}", (), {"x": i}) for i in range(seed * 7)]
    _KEEP.extend(t.x for t in types_)  # the lookup assigns each type its version tag
    _KEEP.extend(types_)
    _KEEP.append(sys.intern("_" * (seed * 4099)))


def instructions(module_args: list[str], timeout: float = 1800) -> int:
    """User-space instructions of ``python -m <module_args>`` under ``valgrind --tool=cachegrind``."""
    cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
    cmd += [sys.executable, "-m", *module_args]
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    got = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=True, env=env)
    line = next(x for x in got.stderr.splitlines() if "I   refs:" in x or "I refs:" in x)
    return int(line.split(":")[1].replace(",", ""))
