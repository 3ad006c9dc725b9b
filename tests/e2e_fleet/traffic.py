"""Deterministic OTLP traffic with known termination reasons: every span's verdict is known
before it is sent (the processor's default policy, ``OutcomePolicy``), so the truth is exact."""

from __future__ import annotations

import http.client
import random
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from otel_streamslo.core.lifecycle import OutcomePolicy, TerminationReason
from tests.otlp_spans import client_span, export_body

DEMO = "streamslo-demo"  # the service of the generated rules (dashboards/slo/streamslo.yaml)
SERVICES = [DEMO, "chat-api", "search-api", "agent-runner", "summarizer", "batch-jobs"]
# (reason, weight, http status): ~15 % of the good+bad streams are bad
MIX: list[tuple[TerminationReason, int, int]] = [
    (TerminationReason.COMPLETED, 66, 200),
    (TerminationReason.LENGTH, 5, 200),
    (TerminationReason.CONTENT_FILTER, 2, 200),
    (TerminationReason.SERVER_ERROR_EVENT, 5, 200),
    (TerminationReason.CONNECTION_DROPPED, 4, 200),
    (TerminationReason.IDLE_TIMEOUT, 2, 200),
    (TerminationReason.TRUNCATED, 3, 200),
    (TerminationReason.REQUEST_FAILED, 3, 503),
    (TerminationReason.REQUEST_FAILED, 2, 400),
    (TerminationReason.CLIENT_CANCELLED, 5, 200),
    (TerminationReason.CLIENT_ABANDONED, 2, 200),
    (TerminationReason.CONSUMER_ERROR, 1, 200),
]
POLICY = OutcomePolicy()


@dataclass
class Batch:
    body: bytes
    truth: Counter[tuple[str, str, str]]  # (service, reason, outcome) -> spans
    spans: int


def make_batch(rng: random.Random, service: str, picks: list[tuple[TerminationReason, int]]) -> Batch:
    """One ExportTraceServiceRequest: one CLIENT span per trace, one per pick."""
    now = time.time_ns()
    spans, truth = [], Counter[tuple[str, str, str]]()
    for reason, status in picks:
        attrs = {
            "gen_ai.operation.name": "chat",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.request.stream": True,
            "http.response.status_code": status,
            "streamslo.termination.reason": reason.value,
            "streamslo.time_to_first_token": 0.4,
            "streamslo.time_to_completion": 2.5,
        }
        spans.append(
            client_span("chat gpt-4o", rng.randbytes(16), rng.randbytes(8), now - 2_500_000_000, now, attrs)
        )
        truth[(service, reason.value, POLICY.outcome(reason, status).value)] += 1
    return Batch(export_body(service, spans), truth, len(spans))


def warmup_batches(rng: random.Random, per_combo: int) -> list[Batch]:
    """``per_combo`` spans of every (service, reason, status): every series exists before the run."""
    return [make_batch(rng, svc, [(r, st) for r, _, st in MIX] * per_combo) for svc in SERVICES]


def load_batches(rng: random.Random, spans: int, batch: int) -> list[Batch]:
    """``spans`` spans in batches of ``batch``; services and reasons drawn by weight (seeded)."""
    weights = [w for _, w, _ in MIX]
    out = []
    for _ in range(spans // batch):
        service = rng.choices(SERVICES, weights=[4, 2, 1, 1, 1, 1])[0]
        picks = [(r, st) for r, _, st in rng.choices(MIX, weights=weights, k=batch)]
        out.append(make_batch(rng, service, picks))
    return out


@dataclass
class Sender:
    """Posts OTLP/HTTP protobuf bodies on keep-alive connections; counts what was accepted."""

    ports: list[int]
    accepted: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    accepted_spans: int = 0
    rejected_spans: int = 0

    def __post_init__(self) -> None:
        self.conns = {p: http.client.HTTPConnection("127.0.0.1", p, timeout=30) for p in self.ports}

    def _post(self, port: int, body: bytes) -> bool:
        conn = self.conns[port]
        try:
            conn.request("POST", "/v1/traces", body=body, headers={"Content-Type": "application/x-protobuf"})
            resp = conn.getresponse()
            resp.read()
            return resp.status == 200
        except (OSError, http.client.HTTPException):
            conn.close()
            self.conns[port] = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            return False

    def send(self, batch: Batch) -> None:
        """Send one batch to every port; it counts as accepted when the first port (the one under
        test) accepted it, and every other port must accept it too."""
        ok = [self._post(p, batch.body) for p in self.ports]
        assert all(ok[1:]), "the reference collector refused a batch"
        if ok[0]:
            self.accepted.update(batch.truth)
            self.accepted_spans += batch.spans
        else:
            self.rejected_spans += batch.spans

    def paced(self, batches: list[Batch], rate: float, on_half: Any = None) -> float:
        """Send ``batches`` at ``rate`` spans/s; ``on_half()`` runs (in a thread) at the midpoint."""
        import threading

        t0 = time.perf_counter()
        next_t, thread = t0, None
        for i, b in enumerate(batches):
            if on_half is not None and i == len(batches) // 2:
                thread = threading.Thread(target=on_half)
                thread.start()
            delay = next_t - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            self.send(b)
            next_t += b.spans / rate
        if thread is not None:
            thread.join(timeout=60)
        return time.perf_counter() - t0
