"""Summarise finished stream spans: naive HTTP availability vs stream-aware availability."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from otel_streamslo.core import semconv as sc


def percentile(values: Sequence[float], q: float) -> Optional[float]:
    """Nearest-rank percentile (q in 0..100) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def _http_failed(attrs: Mapping[str, Any]) -> bool:
    """What an HTTP-status SLI counts as an error: 5xx, 429, or no response at all."""
    status = attrs.get(sc.HTTP_RESPONSE_STATUS_CODE)
    if status is None:
        return attrs.get(sc.TERMINATION_REASON) == "request_failed"
    return int(status) >= 500 or int(status) == 429


@dataclass
class Report:
    """Counts and latency distributions of a set of stream spans."""

    streams: int = 0
    http_errors: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    reasons: Counter[str] = field(default_factory=Counter)
    ttft: list[float] = field(default_factory=list)
    ttc: list[float] = field(default_factory=list)
    tokens_delivered: int = 0
    tool_calls_committed: int = 0

    @property
    def http_availability(self) -> Optional[float]:
        """Share of calls an HTTP-status dashboard calls successful."""
        return None if not self.streams else 1 - self.http_errors / self.streams

    @property
    def stream_availability(self) -> Optional[float]:
        """good / (good + bad): the stream-aware SLI."""
        valid = self.outcomes["good"] + self.outcomes["bad"]
        return None if not valid else self.outcomes["good"] / valid


def summarise(span_attributes: Iterable[Mapping[str, Any]]) -> Report:
    """Build a :class:`Report` from the attributes of finished stream spans."""
    rep = Report()
    for attrs in span_attributes:
        reason = attrs.get(sc.TERMINATION_REASON)
        if reason is None:
            continue
        rep.streams += 1
        rep.reasons[str(reason)] += 1
        rep.outcomes[str(attrs.get(sc.SLI_OUTCOME, "unknown"))] += 1
        rep.http_errors += _http_failed(attrs)
        ttft = attrs.get(sc.TIME_TO_FIRST_TOKEN)
        if isinstance(ttft, float):
            rep.ttft.append(ttft)
        ttc = attrs.get(sc.TIME_TO_COMPLETION)
        if isinstance(ttc, float) and reason != "request_failed":
            rep.ttc.append(ttc)
        rep.tokens_delivered += int(attrs.get(sc.TOKENS_DELIVERED, 0) or 0)
        rep.tool_calls_committed += int(attrs.get(sc.TOOL_CALLS_COMMITTED, 0) or 0)
    return rep


def _pct(value: Optional[float]) -> str:
    return "n/a" if value is None else f"{value * 100:.2f}%"


def _secs(values: Sequence[float]) -> str:
    parts = []
    for q in (50, 95, 99):
        v = percentile(values, q)
        parts.append(f"p{q} {'n/a' if v is None else f'{v * 1000:8.1f} ms'}")
    return "   ".join(parts)


def format_report(rep: Report, title: str = "otel-streamslo demo") -> str:
    """Human-readable report."""
    lines = [
        title,
        "=" * len(title),
        f"streamed calls:                 {rep.streams}",
        f"HTTP availability (naive):      {_pct(rep.http_availability)}"
        f"   ({rep.http_errors} calls with 5xx/429/no response)",
        f"stream-aware availability:      {_pct(rep.stream_availability)}"
        f"   (good {rep.outcomes['good']}, bad {rep.outcomes['bad']}, excluded {rep.outcomes['excluded']})",
        "",
        f"time to first token  (n={len(rep.ttft):4d})  {_secs(rep.ttft)}",
        f"time to completion   (n={len(rep.ttc):4d})  {_secs(rep.ttc)}",
        "",
        "termination reasons:",
    ]
    width = max((len(r) for r in rep.reasons), default=10)
    for reason, count in sorted(rep.reasons.items(), key=lambda kv: (-kv[1], kv[0])):
        lines.append(f"  {reason:<{width}}  {count:5d}")
    lines += [
        "",
        f"tokens delivered to consumers:  {rep.tokens_delivered}",
        f"tool calls committed:           {rep.tool_calls_committed}",
    ]
    hidden = rep.outcomes["bad"] - rep.http_errors
    if hidden > 0:
        lines += [
            "",
            f"{hidden} streams returned HTTP 200 and then failed mid-stream: invisible to the HTTP SLI,",
            "counted as errors by the stream-aware SLI.",
        ]
    return "\n".join(lines)
