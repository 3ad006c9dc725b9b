"""Fault grammar of the chaos provider: parse, validate and pick faults (pure, no I/O).

A fault spec is ``<name>[@N]`` where ``N`` is the number of content tokens delivered
before the fault strikes.  See ``README.md`` beside this module for the catalogue.
"""

from __future__ import annotations

import math
import random
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional

__all__ = [
    "DEFAULT_MIX",
    "FAULTS",
    "HTTP_FAULTS",
    "POSITIONAL_FAULTS",
    "Fault",
    "FaultError",
    "FaultPicker",
    "parse_fault",
    "parse_mix",
    "split_model",
]

#: HTTP error faults and the status code each one answers with.
HTTP_FAULTS: Mapping[str, int] = {
    "http_400": 400,
    "http_429": 429,
    "http_500": 500,
    "http_503": 503,
    "http_529": 529,
}

#: Faults that end or cut the stream at their ``@N`` position (the picker's default mix has them all).
_ENDING: tuple[str, ...] = ("error_frame", "reset", "stall", "eof", "length", "content_filter")

#: Faults that send one odd frame at their ``@N`` position.
_ODD_FRAMES: tuple[str, ...] = ("malformed_json", "unknown_event", "missing_fields", "huge_chunk")

#: Faults whose ``@N`` position matters (N = content tokens delivered before the fault).
POSITIONAL_FAULTS: frozenset[str] = frozenset({*_ENDING, *_ODD_FRAMES})

#: Every fault name the grammar accepts.
FAULTS: tuple[str, ...] = (
    "none",
    "tool_calls",
    "tool_calls_reset",
    *_ENDING,
    *HTTP_FAULTS,
    "slow_ttft",
    *_ODD_FRAMES,
)

#: Default weighted mix of the rate-based picker.
DEFAULT_MIX: Mapping[str, float] = dict.fromkeys(
    (*_ENDING, "http_429", "http_500", "http_503", "slow_ttft"), 1.0
)

_MAX_POSITION = 1_000_000


class FaultError(ValueError):
    """A fault spec, mix or model suffix that does not parse."""


@dataclass(frozen=True)
class Fault:
    """One fault: its name, an optional token position and an optional stall length."""

    name: str
    at: Optional[int] = None
    seconds: Optional[float] = None

    def __post_init__(self) -> None:
        if self.name not in FAULTS:
            raise FaultError(f"unknown fault {self.name!r}; known faults: {', '.join(FAULTS)}")
        if self.at is not None and not 0 <= self.at <= _MAX_POSITION:
            raise FaultError(f"fault position must be in [0, {_MAX_POSITION}], got {self.at}")
        if self.seconds is not None and not (math.isfinite(self.seconds) and self.seconds >= 0):
            raise FaultError(f"fault seconds must be a finite number >= 0, got {self.seconds}")

    def __str__(self) -> str:
        return self.name if self.at is None else f"{self.name}@{self.at}"

    @property
    def http_status(self) -> Optional[int]:
        """The HTTP status of an ``http_*`` fault, else None."""
        return HTTP_FAULTS.get(self.name)

    @property
    def positional(self) -> bool:
        """Whether ``@N`` matters for this fault."""
        return self.name in POSITIONAL_FAULTS

    def position(self, tokens: int) -> int:
        """Content tokens delivered before the fault, clamped to ``[0, tokens]``.

        Defaults to half the tokens; ``length`` defaults to all of them.
        """
        default = tokens if self.name == "length" else tokens // 2
        at = default if self.at is None else self.at
        return max(0, min(at, tokens))

    def resolved(self, tokens: int) -> str:
        """The spec with its effective position, as reported in ``x-chaos-fault``."""
        return f"{self.name}@{self.position(tokens)}" if self.positional else self.name


def parse_fault(spec: str) -> Fault:
    """Parse ``<name>[@N]`` into a :class:`Fault`; raise :class:`FaultError` if invalid."""
    text = spec.strip()
    name, sep, at_text = text.partition("@")
    name = name.strip().lower()
    if not name:
        raise FaultError("empty fault spec")
    if not sep:
        return Fault(name)
    at_text = at_text.strip()
    if not at_text.isdigit():
        raise FaultError(f"fault position must be a non-negative integer, got {at_text!r} in {spec!r}")
    return Fault(name, int(at_text))


def split_model(model: str) -> tuple[str, Optional[str]]:
    """Split ``<model>+<fault>`` into the base model and the fault spec (None without suffix)."""
    base, sep, suffix = model.rpartition("+")
    if not sep:
        return model, None
    if not base or not suffix:
        raise FaultError(f"model suffix must look like '<model>+<fault>', got {model!r}")
    return base, suffix


def parse_mix(text: str) -> dict[str, float]:
    """Parse ``"reset=1,error_frame=2.5,stall@3=1"`` into ``{spec: weight}``."""
    mix: dict[str, float] = {}
    for item in text.split(","):
        if not item.strip():
            continue
        spec, sep, weight_text = item.partition("=")
        fault = parse_fault(spec)
        try:
            weight = float(weight_text) if sep else 1.0
        except ValueError:
            raise FaultError(f"mix weight must be a number, got {weight_text!r}") from None
        if not (math.isfinite(weight) and weight >= 0):
            raise FaultError(f"mix weight must be a finite number >= 0, got {weight_text!r}")
        mix[str(fault)] = weight
    return mix


class FaultPicker:
    """Rate-based, seeded, weighted fault picker (thread-safe, reproducible for a seed).

    Each :meth:`pick` faults with probability ``rate`` (0 never, 1 always) and then picks a
    fault from ``mix`` by weight.  A picked ``stall`` lasts ``stall_seconds`` (short by default).
    """

    def __init__(
        self,
        rate: float = 0.0,
        mix: Optional[Mapping[str, float]] = None,
        seed: Optional[int] = None,
        stall_seconds: float = 1.0,
    ) -> None:
        if not (math.isfinite(rate) and 0.0 <= rate <= 1.0):
            raise FaultError(f"fault rate must be in [0, 1], got {rate}")
        entries = [(parse_fault(spec), float(w)) for spec, w in (mix or DEFAULT_MIX).items()]
        if any(not (math.isfinite(w) and w >= 0) for _, w in entries):
            raise FaultError("mix weights must be finite numbers >= 0")
        entries = [(fault, weight) for fault, weight in entries if weight > 0]
        if rate > 0 and not entries:
            raise FaultError("fault mix has no fault with a positive weight")
        self.rate = rate
        self.stall_seconds = stall_seconds
        self._faults = [self._with_seconds(fault) for fault, _ in entries]
        self._weights = [weight for _, weight in entries]
        self._rng = random.Random(seed)
        self._lock = threading.Lock()

    def _with_seconds(self, fault: Fault) -> Fault:
        if fault.name != "stall" or fault.seconds is not None:
            return fault
        return Fault(fault.name, fault.at, self.stall_seconds)

    def pick(self) -> Optional[Fault]:
        """Return a fault, or None when this request is not faulted."""
        with self._lock:
            if self.rate <= 0.0 or self._rng.random() >= self.rate:
                return None
            return self._rng.choices(self._faults, weights=self._weights, k=1)[0]
