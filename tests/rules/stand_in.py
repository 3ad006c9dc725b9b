"""The stand-in exporter: the Prometheus exposition the collector would serve for the mix, on loopback."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from otel_streamslo.core.semconv import DURATION_BUCKETS, TOKEN_BUCKETS

from .mix import (
    ABORT_BUCKETS,
    CHUNK_GAP,
    MIX,
    MODELS,
    ORPHANS,
    RESPONSE_MIX,
    ROUTE,
    SERVICE,
    TOKENS_PER_STREAM,
    TOOL_CALLS,
)

META = {
    "traces_span_metrics_calls_total": "counter",
    "traces_span_metrics_duration_seconds": "histogram",
    "gen_ai_client_operation_duration_seconds": "histogram",
    "gen_ai_client_operation_time_to_first_chunk_seconds": "histogram",
    "gen_ai_client_operation_time_per_output_chunk_seconds": "histogram",
    "gen_ai_client_token_usage": "histogram",
    "streamslo_streams_total": "counter",
    "streamslo_streams_active": "gauge",
    "streamslo_tokens_delivered_total": "counter",
    "streamslo_responses_total": "counter",
    "streamslo_abort_propagation_latency_seconds": "histogram",
    "streamslo_tokens_after_disconnect_total": "counter",
    "streamslo_tool_calls_committed_total": "counter",
}
Series = dict[str, list[str]]


def _le(bound: float) -> str:
    return repr(bound).removesuffix(".0")


def _labels(**labels: Any) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items() if v is not None) + "}"


def _histogram(
    name: str, labels: dict[str, Any], count: float, value: float, bounds: tuple[float, ...]
) -> list[str]:
    """Cumulative buckets of ``count`` observations of ``value`` (all in its bucket)."""
    lines = [f"{name}_bucket{_labels(**labels, le=_le(b))} {count if value <= b else 0.0}" for b in bounds]
    lines.append(f"{name}_bucket{_labels(**labels, le='+Inf')} {count}")
    lines.append(f"{name}_sum{_labels(**labels)} {count * value}")
    lines.append(f"{name}_count{_labels(**labels)} {count}")
    return lines


def _server_series(series: Series, target: dict[str, str], elapsed: float) -> None:
    """Another instrumentation's span (no streamslo_* label) and the app's own streamed responses."""
    health = _labels(
        **target,
        service_name=SERVICE,
        span_name="GET /health",
        span_kind="SPAN_KIND_SERVER",
        status_code="STATUS_CODE_UNSET",
        http_response_status_code=200,
    )
    series["traces_span_metrics_calls_total"].append(
        f"traces_span_metrics_calls_total{health} {5.0 * elapsed}"
    )
    for reason, outcome, rate in RESPONSE_MIX:
        response = _labels(
            **target,
            service_name=SERVICE,
            span_name=f"POST {ROUTE}",
            span_kind="SPAN_KIND_SERVER",
            status_code="STATUS_CODE_ERROR" if outcome == "bad" else "STATUS_CODE_UNSET",
            streamslo_sli_outcome=outcome,
            streamslo_sli_latency="good",
            streamslo_termination_reason=reason,
            http_response_status_code=200,
            error_type=reason if outcome == "bad" else None,
        )
        series["traces_span_metrics_calls_total"].append(
            f"traces_span_metrics_calls_total{response} {rate * elapsed}"
        )
        counted = _labels(
            **target,
            service_name=SERVICE,
            http_route=ROUTE,
            streamslo_termination_reason=reason,
            streamslo_sli_outcome=outcome,
        )
        series["streamslo_responses_total"].append(f"streamslo_responses_total{counted} {rate * elapsed}")


def _mix_series(
    series: Series, target: dict[str, str], sdk: dict[str, Any], provider: str, model: str, elapsed: float
) -> None:
    """Span metrics and SDK histograms of every kind of stream of one model, then its verdict counts."""
    verdicts: dict[str, float] = {}
    for kind in MIX:
        count = kind.rate * elapsed
        error = kind.reason if kind.outcome == "bad" and kind.status == 200 else None
        if kind.reason == "request_failed":
            error = str(kind.status) if kind.status else "APIConnectionError"
        span = {
            **target,
            "service_name": SERVICE,
            "span_name": f"chat {model}",
            "span_kind": "SPAN_KIND_CLIENT",
            "status_code": "STATUS_CODE_ERROR" if kind.outcome == "bad" else "STATUS_CODE_UNSET",
            "streamslo_sli_outcome": kind.outcome,
            "streamslo_sli_latency": kind.latency,
            "streamslo_termination_reason": kind.reason,
            "gen_ai_provider_name": provider,
            "gen_ai_request_model": model,
            "http_response_status_code": kind.status,
            "error_type": error,
        }
        series["traces_span_metrics_calls_total"].append(
            f"traces_span_metrics_calls_total{_labels(**span)} {count}"
        )
        series["traces_span_metrics_duration_seconds"] += _histogram(
            "traces_span_metrics_duration_seconds", span, count, kind.duration, DURATION_BUCKETS
        )
        series["gen_ai_client_operation_duration_seconds"] += _histogram(
            "gen_ai_client_operation_duration_seconds",
            {**sdk, "error_type": error},
            count,
            kind.duration,
            DURATION_BUCKETS,
        )
        verdict = _labels(**sdk, streamslo_termination_reason=kind.reason, streamslo_sli_outcome=kind.outcome)
        verdicts[verdict] = verdicts.get(verdict, 0.0) + count  # 429, 503, connect: one series
        if kind.ttft is not None:
            series["gen_ai_client_operation_time_to_first_chunk_seconds"] += _histogram(
                "gen_ai_client_operation_time_to_first_chunk_seconds", sdk, count, kind.ttft, DURATION_BUCKETS
            )
    series["streamslo_streams_total"] += [f"streamslo_streams_total{v} {n}" for v, n in verdicts.items()]


def _model_totals(series: Series, sdk: dict[str, Any], provider: str, elapsed: float) -> None:
    """Per-model series over all its streams: chunks, tokens, orphans, tool calls, active streams."""
    streams = sum(k.rate for k in MIX if k.ttft is not None) * elapsed
    series["gen_ai_client_operation_time_per_output_chunk_seconds"] += _histogram(
        "gen_ai_client_operation_time_per_output_chunk_seconds",
        sdk,
        streams * 100,
        CHUNK_GAP,
        DURATION_BUCKETS,
    )
    for token_type, tokens in (("input", 1200.0), ("output", TOKENS_PER_STREAM)):
        series["gen_ai_client_token_usage"] += _histogram(
            "gen_ai_client_token_usage",
            {**sdk, "gen_ai_token_type": token_type},
            streams,
            tokens,
            TOKEN_BUCKETS,
        )
    series["streamslo_tokens_delivered_total"].append(
        f"streamslo_tokens_delivered_total{_labels(**sdk)} {streams * TOKENS_PER_STREAM}"
    )
    rate, latency, orphan_tokens = ORPHANS[provider]
    series["streamslo_abort_propagation_latency_seconds"] += _histogram(
        "streamslo_abort_propagation_latency_seconds", sdk, rate * elapsed, latency, ABORT_BUCKETS
    )
    series["streamslo_tokens_after_disconnect_total"].append(
        f"streamslo_tokens_after_disconnect_total{_labels(**sdk)} {rate * elapsed * orphan_tokens}"
    )
    for reason, outcome, calls in TOOL_CALLS:
        labels = _labels(**sdk, streamslo_termination_reason=reason, streamslo_sli_outcome=outcome)
        series["streamslo_tool_calls_committed_total"].append(
            f"streamslo_tool_calls_committed_total{labels} {calls * elapsed}"
        )
    series["streamslo_streams_active"].append(
        f"streamslo_streams_active{_labels(**sdk)} {round(20 + 5 * math.sin(elapsed / 10))}"
    )


def exposition(elapsed: float) -> str:
    """What the collector's prometheus exporter would serve after ``elapsed`` seconds of the mix."""
    series: Series = {name: [] for name in META}
    target = {"job": SERVICE, "instance": "3f1c9a52-stand-in"}  # the exporter's resource labels
    _server_series(series, target, elapsed)
    for provider, model in MODELS:
        sdk = {
            **target,
            "service_name": SERVICE,
            "gen_ai_operation_name": "chat",
            "gen_ai_provider_name": provider,
            "gen_ai_request_model": model,
        }
        _mix_series(series, target, sdk, provider, model, elapsed)
        _model_totals(series, sdk, provider, elapsed)
    lines: list[str] = []
    for name, kind_of in META.items():
        lines += [f"# HELP {name} otel-streamslo test series", f"# TYPE {name} {kind_of}", *series[name]]
    return "\n".join(lines) + "\n"


class _Handler(BaseHTTPRequestHandler):
    started = time.monotonic()

    def do_GET(self) -> None:
        if self.path != "/metrics":
            self.send_error(404)
            return
        body = exposition(1.0 + time.monotonic() - self.started).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return


@contextmanager
def stand_in_exporter() -> Iterator[str]:
    """Serve :func:`exposition` on 127.0.0.1 (free port); yield the scrape target host:port."""
    handler = type("Handler", (_Handler,), {"started": time.monotonic()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
