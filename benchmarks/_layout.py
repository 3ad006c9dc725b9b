"""Draw another process memory layout: the confounder of per-chunk and per-event costs.

CPython's method cache (4,096 slots) is indexed by a type's version tag and a name's address, so
which of the hot attribute lookups collide, and miss every time, is decided once per process by
the order types were first looked up and where names were allocated. Under valgrind (deterministic)
a no-op change to one variant moved the SDK's own method-cache misses by thousands of instructions
per chunk, so a comparison of two processes is only fair averaged over several layouts.
"""

from __future__ import annotations

import sys
from typing import Any

_KEEP: list[Any] = []


def perturb_layout(seed: int) -> None:
    """Before any import: ``seed * 7`` more version tags assigned, ``seed * 4099`` bytes of names."""
    types_ = [type(f"_Layout{i}", (), {"x": i}) for i in range(seed * 7)]
    _KEEP.extend(t.x for t in types_)  # the lookup assigns each type its version tag
    _KEEP.extend(types_)
    _KEEP.append(sys.intern("_" * (seed * 4099)))
