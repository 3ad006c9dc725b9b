"""The demo's server-side report: what HTTP says, what the provider leg says, what users got."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Optional

from opentelemetry.trace import SpanKind

from otel_streamslo.core import semconv as sc
from otel_streamslo.demo.report import percentile

ROUTES = frozenset({"/chat", "/agent"})


@dataclass
class ServerReport:
    """One pass of browser sessions, from its server spans and the upstream spans they relayed."""

    remedy: bool
    responses: int = 0
    http_errors: int = 0
    user_outcomes: Counter[str] = field(default_factory=Counter)
    user_reasons: Counter[str] = field(default_factory=Counter)
    upstream_outcomes: Counter[str] = field(default_factory=Counter)
    upstream_tokens: int = 0
    tokens_after_disconnect: int = 0
    orphans: int = 0
    propagation: list[float] = field(default_factory=list)

    @property
    def http_availability(self) -> Optional[float]:
        return None if not self.responses else 1 - self.http_errors / self.responses

    @property
    def stream_availability(self) -> Optional[float]:
        return _ratio(self.upstream_outcomes)

    @property
    def user_availability(self) -> Optional[float]:
        return _ratio(self.user_outcomes)

    @property
    def billed_share(self) -> Optional[float]:
        return None if not self.upstream_tokens else self.tokens_after_disconnect / self.upstream_tokens

    def as_json(self) -> dict[str, Any]:
        return {
            "close_upstream_on_disconnect": self.remedy,
            "responses": self.responses,
            "http_availability": self.http_availability,
            "stream_availability": self.stream_availability,
            "user_availability": self.user_availability,
            "user_reasons": dict(self.user_reasons),
            "upstream_tokens": self.upstream_tokens,
            "tokens_after_disconnect": self.tokens_after_disconnect,
            "billed_after_disconnect_share": self.billed_share,
            "orphaned_streams": self.orphans,
            "abort_propagation_p50": percentile(self.propagation, 50),
            "abort_propagation_p95": percentile(self.propagation, 95),
        }


def _ratio(outcomes: Counter[str]) -> Optional[float]:
    valid = outcomes["good"] + outcomes["bad"]
    return None if not valid else outcomes["good"] / valid


def summarise_server(spans: Iterable[Any], remedy: bool) -> ServerReport:
    """Build a report from finished spans (server spans of the demo app, upstream client spans)."""
    rep = ServerReport(remedy)
    for span in spans:
        a = dict(span.attributes or {})
        reason = a.get(sc.TERMINATION_REASON)
        if reason is None:
            continue
        if span.kind is SpanKind.SERVER and a.get("http.route") in ROUTES:
            rep.responses += 1
            status = int(a.get(sc.HTTP_RESPONSE_STATUS_CODE, 0) or 0)
            rep.http_errors += status >= 500 or status == 429
            rep.user_outcomes[str(a.get(sc.SLI_OUTCOME))] += 1
            rep.user_reasons[str(reason)] += 1
        elif span.kind is SpanKind.CLIENT:
            rep.upstream_outcomes[str(a.get(sc.SLI_OUTCOME))] += 1
            rep.upstream_tokens += int(a.get(sc.TOKENS_DELIVERED, 0) or 0)
            if a.get("streamslo.orphaned"):
                rep.orphans += 1
                rep.tokens_after_disconnect += int(a.get("streamslo.tokens.after_disconnect", 0) or 0)
                rep.propagation.append(float(a.get("streamslo.abort.propagation_latency", 0.0)))
    return rep


def _pct(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v * 100:.2f}%"


def _ms(v: Optional[float]) -> str:
    return "n/a" if v is None else f"{v * 1000:.1f} ms"


def render_server(off: ServerReport, on: ServerReport, sessions: int) -> str:
    """Both passes side by side."""
    title = f"server side: a chat app relaying the provider to {sessions} browser sessions"
    rows = [
        ("HTTP availability (naive)", _pct(off.http_availability), _pct(on.http_availability)),
        ("provider-leg stream availability", _pct(off.stream_availability), _pct(on.stream_availability)),
        ("user-facing availability", _pct(off.user_availability), _pct(on.user_availability)),
        (
            "tokens billed after users left",
            f"{off.tokens_after_disconnect} ({_pct(off.billed_share)})",
            f"{on.tokens_after_disconnect} ({_pct(on.billed_share)})",
        ),
        (
            "abort propagation p50 / p95",
            f"{_ms(percentile(off.propagation, 50))} / {_ms(percentile(off.propagation, 95))}",
            f"{_ms(percentile(on.propagation, 50))} / {_ms(percentile(on.propagation, 95))}",
        ),
        ("upstream streams orphaned by a stop", str(off.orphans), str(on.orphans)),
    ]
    lines = [title, "=" * len(title), f"{'':36}  {'as usual':>22}  {'close_upstream_on_disconnect':>28}"]
    lines += [f"{name:36}  {a:>22}  {b:>28}" for name, a, b in rows]
    reasons = sorted(set(off.user_reasons) | set(on.user_reasons))
    lines.append("user-facing reasons:")
    lines += [f"  {r:34}  {off.user_reasons[r]:>22}  {on.user_reasons[r]:>28}" for r in reasons]
    return "\n".join(lines)
