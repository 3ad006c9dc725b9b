"""Names and numbers shared by the spec loader, the rule renderer and the dashboards.

Everything here is written once: SLO periods and burn-rate windows, the SRE-workbook burn factors
of the page and ticket alerts, the Prometheus series and label names the collector exports
(``collector/METRICS.md``), the SLI kinds (the ``streamslo_sli`` label) and the verdict values.
"""

from __future__ import annotations

from decimal import Decimal
from typing import NamedTuple

from otel_streamslo.core.lifecycle import Outcome, TerminationReason
from otel_streamslo.core.semconv import DURATION_BUCKETS

# --- spec formats -----------------------------------------------------------------------------------
NATIVE_VERSION = "streamslo/v1"
OPENSLO_VERSION = "openslo/v1"
WINDOW_PLACEHOLDER = "{{.window}}"  # Sloth's range placeholder in SLI query templates
DEFAULT_RUNBOOK_URL = "dashboards/README.md#runbooks"

# --- SLO periods, burn-rate windows and factors (SRE workbook, multi-window multi-burn-rate) -------
PERIODS: tuple[str, ...] = ("28d", "30d")
SLI_WINDOWS: tuple[str, ...] = ("5m", "30m", "1h", "2h", "6h", "1d", "3d")


class BurnCondition(NamedTuple):
    """Both windows must burn faster than ``factor`` times the error budget."""

    short: str
    long: str
    factor: Decimal


PAGE: tuple[BurnCondition, ...] = (
    BurnCondition("5m", "1h", Decimal("14.4")),
    BurnCondition("30m", "6h", Decimal("6")),
)
TICKET: tuple[BurnCondition, ...] = (
    BurnCondition("2h", "1d", Decimal("3")),
    BurnCondition("6h", "3d", Decimal("1")),
)
# Burn-rate lines drawn on the dashboards: 1x (budget lasts the period) and every alert factor.
BURN_FACTORS: tuple[float, ...] = tuple(sorted({1.0, *(float(c.factor) for c in PAGE + TICKET)}))

# --- SLI kinds: the `streamslo_sli` label, so dashboards find SLOs whatever their names ------------
KIND_STREAM = "stream-availability"  # client spans: the provider leg
KIND_RESPONSE = "response-availability"  # server spans: what the app's users got
KIND_HTTP = "http-availability"
KIND_LATENCY = "ttft-latency"
KIND_CUSTOM = "custom"

# --- verdicts --------------------------------------------------------------------------------------
OUTCOMES: tuple[str, ...] = tuple(o.value for o in Outcome)
TERMINATION_REASONS: tuple[str, ...] = tuple(r.value for r in TerminationReason)
# Reasons of the app's own streamed responses (server spans), DESIGN.md "Server side".
RESPONSE_REASONS: tuple[str, ...] = (
    "completed",
    "upstream_failed",
    "server_error_event",
    "app_error",
    "request_failed",
    "client_cancelled",
)
LATENCY_SOURCES: tuple[str, ...] = ("histogram", "spans")
# Where the availability SLIs count: the collector's span metrics (default; sampled with the traces)
# or the SDK's own counters streamslo.streams / streamslo.responses (unsampled).
SOURCE_SPAN_METRICS = "span_metrics"
SOURCE_SDK_METRICS = "sdk_metrics"
SOURCES: tuple[str, ...] = (SOURCE_SPAN_METRICS, SOURCE_SDK_METRICS)
TTFT_BUCKETS: tuple[float, ...] = DURATION_BUCKETS
# Which span-metrics series count: spans of other instrumentations (OpenLLMetry, OpenInference, contrib
# genai) carry the collector's streamslo.inferred=true. "exclude" (default) counts a call traced by
# us and by a peer once (ours is authoritative); "include" counts peer spans too (peer-only setups);
# "only" counts nothing but peer spans (to compare a peer with ours).
INFERRED_EXCLUDE = "exclude"
INFERRED_INCLUDE = "include"
INFERRED_ONLY = "only"
INFERRED_MODES: tuple[str, ...] = (INFERRED_EXCLUDE, INFERRED_INCLUDE, INFERRED_ONLY)

# --- Prometheus series (collector/METRICS.md) ------------------------------------------------------
CALLS_METRIC = "traces_span_metrics_calls_total"
SPAN_DURATION_METRIC = "traces_span_metrics_duration_seconds"
TTFT_HISTOGRAM = "gen_ai_client_operation_time_to_first_chunk_seconds"
DURATION_HISTOGRAM = "gen_ai_client_operation_duration_seconds"
CHUNK_TIME_HISTOGRAM = "gen_ai_client_operation_time_per_output_chunk_seconds"
TOKEN_USAGE_HISTOGRAM = "gen_ai_client_token_usage"
STREAMS_ACTIVE_METRIC = "streamslo_streams_active"
TOKENS_DELIVERED_METRIC = "streamslo_tokens_delivered_total"
STREAMS_METRIC = "streamslo_streams_total"  # SDK counter of client streams, unsampled
RESPONSES_METRIC = "streamslo_responses_total"  # SDK counter of streamed server responses, unsampled
ABORT_LATENCY_HISTOGRAM = "streamslo_abort_propagation_latency_seconds"
TOKENS_AFTER_DISCONNECT_METRIC = "streamslo_tokens_after_disconnect_total"
TOOL_CALLS_COMMITTED_METRIC = "streamslo_tool_calls_committed_total"

# --- labels ----------------------------------------------------------------------------------------
SERVICE_LABEL = "service_name"
PROVIDER_LABEL = "gen_ai_provider_name"
MODEL_LABEL = "gen_ai_request_model"
OUTCOME_LABEL = "streamslo_sli_outcome"
LATENCY_LABEL = "streamslo_sli_latency"
REASON_LABEL = "streamslo_termination_reason"
STATUS_LABEL = "http_response_status_code"
SLI_KIND_LABEL = "streamslo_sli"
ROUTE_LABEL = "http_route"
SPAN_KIND_LABEL = "span_kind"
INFERRED_LABEL = "streamslo_inferred"  # spanmetrics dimension streamslo.inferred (bool true -> "true")
CLIENT_SPANS = f'{SPAN_KIND_LABEL}="SPAN_KIND_CLIENT"'  # the provider leg (LLM streams)
SERVER_SPANS = f'{SPAN_KIND_LABEL}="SPAN_KIND_SERVER"'  # the user leg (the app's responses)
# Set by the generator on every series; a spec cannot override them.
RESERVED_LABELS = frozenset({"sloth_id", "sloth_service", "sloth_slo", "sloth_window", SLI_KIND_LABEL})
# The naive HTTP view: these statuses (and connect errors without a status) are errors.
HTTP_ERROR_STATUSES = "5..|429"

# --- recorded series (Sloth names), read back by the alerts and the dashboards ---------------------
ERROR_RATIO_RECORD = "slo:sli_error:ratio_rate"  # + window, e.g. slo:sli_error:ratio_rate5m
OBJECTIVE_RECORD = "slo:objective:ratio"
ERROR_BUDGET_RECORD = "slo:error_budget:ratio"
BUDGET_REMAINING_RECORD = "slo:period_error_budget_remaining:ratio"
