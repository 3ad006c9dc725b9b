"""Shared state of the chaos provider: settings, the request log and the live streams."""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Optional

import anyio

from otel_streamslo.chaos.faults import FaultPicker

__all__ = ["MAX_SECONDS", "MAX_TOKENS", "ChaosSettings", "ChaosState", "LogEntry"]

logger = logging.getLogger("otel_streamslo.chaos")

#: Upper bound of token counts (settings and ``x-chaos-tokens``).
MAX_TOKENS = 1_000_000
#: Upper bound of every duration setting and ``x-chaos-*-seconds`` header.
MAX_SECONDS = 3600.0


@dataclass(frozen=True)
class ChaosSettings:
    """Server-wide defaults; per-request ``x-chaos-*`` headers override them."""

    tokens: int = 16
    chunk_delay: float = 0.0
    ttft_seconds: float = 2.5
    stall_seconds: float = 30.0
    fault_rate: float = 0.0
    mix: Optional[Mapping[str, float]] = None
    seed: Optional[int] = None
    picker_stall_seconds: float = 1.0

    def __post_init__(self) -> None:
        if not 0 <= self.tokens <= MAX_TOKENS:
            raise ValueError(f"tokens must be in [0, {MAX_TOKENS}], got {self.tokens}")
        for name in ("chunk_delay", "ttft_seconds", "stall_seconds", "picker_stall_seconds"):
            value = getattr(self, name)
            if not (math.isfinite(value) and 0 <= value <= MAX_SECONDS):
                raise ValueError(f"{name} must be in [0, {MAX_SECONDS:g}] seconds, got {value}")


@dataclass
class LogEntry:
    """One served request as the server knows it."""

    id: str
    endpoint: str
    model: Optional[str] = None
    stream: Optional[bool] = None
    fault: Optional[str] = None
    fault_source: Optional[str] = None
    tokens_sent: int = 0
    status: Optional[int] = None
    outcome: str = "in_progress"
    error: Optional[str] = None
    started: float = field(default_factory=time.time)
    duration: Optional[float] = None


class ChaosState:
    """Shared, thread-safe state: settings, fault picker, request log and live streams."""

    def __init__(self, settings: Optional[ChaosSettings] = None) -> None:
        self.settings = settings or ChaosSettings()
        s = self.settings
        self.picker = FaultPicker(s.fault_rate, s.mix, s.seed, stall_seconds=s.picker_stall_seconds)
        self.stopping = False
        self._lock = threading.Lock()
        self._entries: list[LogEntry] = []
        self._serial = 0
        self._scopes: set[anyio.CancelScope] = set()

    def open_entry(self, endpoint: str) -> tuple[int, LogEntry]:
        """Allocate the next serial and log a new in-progress entry for it."""
        with self._lock:
            self._serial += 1
            entry = LogEntry(id=f"req_chaos{self._serial:06d}", endpoint=endpoint)
            self._entries.append(entry)
            return self._serial, entry

    def update(self, entry: LogEntry, **fields: Any) -> None:
        """Set fields of an entry under the lock."""
        with self._lock:
            for name, value in fields.items():
                setattr(entry, name, value)

    def add_tokens(self, entry: LogEntry, tokens: int) -> None:
        """Count delivered content tokens."""
        if tokens:
            with self._lock:
                entry.tokens_sent += tokens

    def settle(self, entry: LogEntry, outcome: str, status: Optional[int] = None) -> None:
        """Record the final outcome of a request (first terminal outcome wins)."""
        with self._lock:
            if entry.outcome != "in_progress":
                return
            entry.outcome = outcome
            if status is not None:
                entry.status = status
            entry.duration = time.time() - entry.started
        logger.info(
            "%s %s model=%s fault=%s status=%s outcome=%s tokens=%d",
            entry.id,
            entry.endpoint,
            entry.model,
            entry.fault,
            entry.status,
            entry.outcome,
            entry.tokens_sent,
        )

    def snapshot(self) -> list[dict[str, Any]]:
        """Copy of the request log as plain dicts."""
        with self._lock:
            return [asdict(entry) for entry in self._entries]

    def reset_log(self) -> None:
        """Forget logged requests (serials keep increasing)."""
        with self._lock:
            self._entries.clear()

    def busy(self) -> bool:
        """Whether some logged request is still in progress."""
        with self._lock:
            return any(entry.outcome == "in_progress" for entry in self._entries)

    def track(self, scope: anyio.CancelScope) -> None:
        """Register a live stream so that :meth:`cancel_all` can end it (event-loop thread)."""
        self._scopes.add(scope)

    def untrack(self, scope: anyio.CancelScope) -> None:
        """Forget a live stream (event-loop thread)."""
        self._scopes.discard(scope)

    def cancel_all(self) -> None:
        """Stop accepting work and end every live stream now (call in the event-loop thread)."""
        self.stopping = True
        for scope in list(self._scopes):
            scope.cancel()
