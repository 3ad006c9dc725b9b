"""What a terminal :class:`~otel_streamslo.core.record.StreamRecord` reports.

The span's verdict attributes and status, the upstream-link report (orphans of a disconnected
response) and the metric points of one ended stream. Called once per record, by the record, under
its own error guard.
"""

from __future__ import annotations

import json
import logging
from typing import TYPE_CHECKING, Any, Optional

from opentelemetry.trace import Status, StatusCode

from otel_streamslo.core import links
from otel_streamslo.core import semconv as sc
from otel_streamslo.core.lifecycle import Outcome, TerminationReason

if TYPE_CHECKING:
    from otel_streamslo.core.record import StreamRecord

logger = logging.getLogger(__name__)

_NS = 1e-9


def _delivered_tokens(rec: StreamRecord, reason: TerminationReason) -> int:
    completed = reason in (
        TerminationReason.COMPLETED,
        TerminationReason.LENGTH,
        TerminationReason.CONTENT_FILTER,
    )
    if completed and rec.output_tokens is not None:
        return rec.output_tokens
    return rec.tokens


def report(rec: StreamRecord, reason: TerminationReason) -> None:
    """Write the verdict of the terminal ``rec`` into its span (attributes, status) and its metrics."""
    settings = rec.tel.settings
    outcome = settings.policy.outcome(reason, rec.http_status)
    lc = rec.lc
    ttc = (lc.time_to_completion_ns or 0) * _NS
    ttft_ns = lc.time_to_first_token_ns
    delivered = _delivered_tokens(rec, reason)
    error_type = _error_type(rec, reason, outcome)
    attrs: dict[str, Any] = {
        sc.TERMINATION_REASON: reason.value,
        sc.SLI_OUTCOME: outcome.value,
        sc.TIME_TO_COMPLETION: ttc,
        sc.CHUNKS_DELIVERED: rec.chunks,
        sc.TOKENS_DELIVERED: delivered,
        sc.TOOL_CALLS_COMMITTED: rec.tool_calls,
    }
    if ttft_ns is not None:
        attrs[sc.TIME_TO_FIRST_TOKEN] = ttft_ns * _NS
        attrs[sc.SLI_LATENCY] = "good" if ttft_ns * _NS <= settings.ttft_threshold_s else "bad"
    else:
        attrs[sc.SLI_LATENCY] = "excluded"
    if rec.first_chunk_ns is not None:
        attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (rec.first_chunk_ns - lc.started_ns) * _NS
    if rec.http_status is not None:
        attrs[sc.HTTP_RESPONSE_STATUS_CODE] = rec.http_status
    if rec.response_id:
        attrs[sc.GEN_AI_RESPONSE_ID] = rec.response_id
    if rec.response_model:
        attrs[sc.GEN_AI_RESPONSE_MODEL] = rec.response_model
    if rec._finish_reasons:
        attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = list(rec._finish_reasons)
    if rec.input_tokens is not None:
        attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = rec.input_tokens
    if rec.output_tokens is not None:
        attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = rec.output_tokens
    if error_type:
        attrs[sc.ERROR_TYPE] = error_type
    if rec._content is not None:
        text = "".join(rec._content)[: settings.max_content_chars]
        attrs[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps(
            [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
        )
    attrs.update(_link_report(rec, reason, outcome))
    span = rec.span
    span.set_attributes(attrs)
    if error_type:
        if rec.error is not None and outcome is Outcome.BAD:
            span.record_exception(rec.error)
        span.set_status(Status(StatusCode.ERROR, reason.value))
    _record_metrics(rec, reason, outcome, ttc, ttft_ns, delivered, error_type)


def _link_report(rec: StreamRecord, reason: TerminationReason, outcome: Outcome) -> dict[str, Any]:
    """Committed tool calls; the end reported to the response that started this stream (orphans)."""
    try:
        inst = rec.tel.instruments
        key = {sc.GEN_AI_PROVIDER_NAME: rec.provider, sc.GEN_AI_REQUEST_MODEL: rec.request_model}
        if rec.tool_calls:
            verdict = {sc.TERMINATION_REASON: reason.value, sc.SLI_OUTCOME: outcome.value}
            inst.tool_calls.add(rec.tool_calls, {**key, **verdict})
        orphan = rec._link.ended(rec, outcome is Outcome.BAD) if rec._link is not None else None
        if orphan is None:
            return {}
        latency, after = orphan
        inst.abort_latency.record(latency, key)
        inst.tokens_after_disconnect.add(after, key)
        return {
            links.ORPHANED: True,
            links.ABORT_PROPAGATION_LATENCY: latency,
            links.TOKENS_AFTER_DISCONNECT: after,
        }
    except Exception:
        logger.debug("otel_streamslo: upstream link report failed", exc_info=True)
        return {}


def _error_type(rec: StreamRecord, reason: TerminationReason, outcome: Outcome) -> Optional[str]:
    if reason is TerminationReason.REQUEST_FAILED:
        if rec.http_status is not None:
            return str(rec.http_status)
        return type(rec.error).__qualname__ if rec.error is not None else str(reason.value)
    if outcome is Outcome.BAD:
        return str(reason.value)
    return None


def _record_metrics(
    rec: StreamRecord,
    reason: TerminationReason,
    outcome: Outcome,
    ttc: float,
    ttft_ns: Optional[int],
    delivered: int,
    error_type: Optional[str],
) -> None:
    inst = rec.tel.instruments
    base = rec._metric_attrs
    if rec.response_model:
        base = {**base, sc.GEN_AI_RESPONSE_MODEL: rec.response_model}
    key = {sc.GEN_AI_PROVIDER_NAME: rec.provider, sc.GEN_AI_REQUEST_MODEL: rec.request_model}
    if rec._active_counted:
        rec._active_counted = False
        inst.active.add(-1, key)
    inst.streams.add(1, {**key, sc.TERMINATION_REASON: reason.value, sc.SLI_OUTCOME: outcome.value})
    if delivered:
        inst.tokens.add(delivered, key)
    inst.duration.record(ttc, {**base, sc.ERROR_TYPE: error_type} if error_type else base)
    if ttft_ns is not None:
        inst.ttft.record(ttft_ns * _NS, base)
        after_first = rec.tokens - 1
        end_ns = rec.lc.ended_ns
        first_ns = rec.lc.first_token_ns
        if after_first > 0 and end_ns is not None and first_ns is not None:
            inst.per_chunk.record((end_ns - first_ns) * _NS / after_first, base)
    if rec.input_tokens is not None:
        inst.token_usage.record(rec.input_tokens, {**base, sc.GEN_AI_TOKEN_TYPE: "input"})
    if rec.output_tokens is not None:
        inst.token_usage.record(rec.output_tokens, {**base, sc.GEN_AI_TOKEN_TYPE: "output"})
