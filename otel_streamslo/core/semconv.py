"""Attribute, event and metric names of the design contract (../shared/DESIGN.md).

GenAI semantic-convention names are defined here as plain strings on purpose: the
incubating semconv module changes between releases and must not be imported.
"""

from __future__ import annotations

# --- GenAI semantic conventions (Development status) -------------------------------------------
GEN_AI_OPERATION_NAME = "gen_ai.operation.name"
GEN_AI_PROVIDER_NAME = "gen_ai.provider.name"
GEN_AI_REQUEST_MODEL = "gen_ai.request.model"
GEN_AI_RESPONSE_MODEL = "gen_ai.response.model"
GEN_AI_RESPONSE_ID = "gen_ai.response.id"
GEN_AI_REQUEST_STREAM = "gen_ai.request.stream"
GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK = "gen_ai.response.time_to_first_chunk"
GEN_AI_RESPONSE_FINISH_REASONS = "gen_ai.response.finish_reasons"
GEN_AI_USAGE_INPUT_TOKENS = "gen_ai.usage.input_tokens"
GEN_AI_USAGE_OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
GEN_AI_TOKEN_TYPE = "gen_ai.token.type"
GEN_AI_TOOL_NAME = "gen_ai.tool.name"
GEN_AI_INPUT_MESSAGES = "gen_ai.input.messages"
GEN_AI_OUTPUT_MESSAGES = "gen_ai.output.messages"
SERVER_ADDRESS = "server.address"
SERVER_PORT = "server.port"
HTTP_RESPONSE_STATUS_CODE = "http.response.status_code"
ERROR_TYPE = "error.type"

PROVIDER_OPENAI = "openai"
PROVIDER_ANTHROPIC = "anthropic"
OPERATION_CHAT = "chat"

# --- Project attributes ----------------------------------------------------------------------
TERMINATION_REASON = "streamslo.termination.reason"
SLI_OUTCOME = "streamslo.sli.outcome"
SLI_LATENCY = "streamslo.sli.latency"
TIME_TO_FIRST_TOKEN = "streamslo.time_to_first_token"
TIME_TO_COMPLETION = "streamslo.time_to_completion"
CHUNKS_DELIVERED = "streamslo.chunks.delivered"
TOKENS_DELIVERED = "streamslo.tokens.delivered"
TOOL_CALLS_COMMITTED = "streamslo.tool_calls.committed"

# --- Span events -----------------------------------------------------------------------------
EVENT_FIRST_TOKEN = "streamslo.first_token"
EVENT_PROGRESS = "streamslo.progress"
EVENT_TOOL_CALL = "streamslo.tool_call"
TOOL_CALL_INDEX = "streamslo.tool_call.index"

# --- Metrics ---------------------------------------------------------------------------------
METRIC_OPERATION_DURATION = "gen_ai.client.operation.duration"
METRIC_TIME_TO_FIRST_CHUNK = "gen_ai.client.operation.time_to_first_chunk"
METRIC_TIME_PER_OUTPUT_CHUNK = "gen_ai.client.operation.time_per_output_chunk"
METRIC_TOKEN_USAGE = "gen_ai.client.token.usage"
METRIC_STREAMS = "streamslo.streams"
METRIC_STREAMS_ACTIVE = "streamslo.streams.active"
METRIC_TOKENS_DELIVERED = "streamslo.tokens.delivered"

# Semconv doubling series 0.01 ... 81.92, extended with 163.84 and 327.68 (reaches 300 s).
DURATION_BUCKETS: tuple[float, ...] = tuple(round(0.01 * 2**i, 2) for i in range(16))
TOKEN_BUCKETS: tuple[float, ...] = tuple(float(4**i) for i in range(14))
