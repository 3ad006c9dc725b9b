"""InvokeModelWithResponseStream: ``chunk`` events whose ``bytes`` are the model family's JSON.

Only this module knows the families' shapes. Families, by model id (inference-profile ids such as
``us.anthropic.*`` too); other families are not instrumented (their calls pass through untouched):

* ``anthropic.*``: Anthropic Messages events. ``message_start`` (id, model, input tokens),
  ``content_block_delta`` text / tool-input deltas (tokens), a ``tool_use`` block's
  ``content_block_stop`` (tool call), ``message_delta`` (stop reason, output tokens),
  ``message_stop``: the end marker (its ``amazon-bedrock-invocationMetrics`` give the usage).
  Without ``message_stop`` the stream is ``truncated``, as with the anthropic SDK.
* ``meta.*``: Llama generations (``generation``, ``prompt_token_count``, running
  ``generation_token_count``, ``stop_reason``). The chunk with a ``stop_reason`` is the last one
  and ends the stream (output usage is read there only); ``amazon-bedrock-guardrailAction:
  INTERVENED`` makes it ``content_filter`` with finish reason ``guardrail_intervened``.

The bytes are decoded once more here (the application decodes them too); a chunk that is not JSON
is counted and otherwise ignored.
"""

from __future__ import annotations

import json
from typing import Any, Callable, Optional

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.proxy import Adapter
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.instrumentation.anthropic.finish import STOP_REASONS
from otel_streamslo.instrumentation.bedrock.converse import int_or_none
from otel_streamslo.instrumentation.bedrock.errors import classify_bedrock_error
from otel_streamslo.instrumentation.bedrock.finish import LLAMA_STOP_REASONS

METRICS = "amazon-bedrock-invocationMetrics"
#: Finish reason recorded when a guardrail intervened on a Llama stream (its ``stop_reason`` stays ``stop``).
GUARDRAIL = "guardrail_intervened"


def model_family(model: Any) -> Optional[str]:
    """``anthropic`` or ``meta`` from a model id (also ``us.meta.*`` profiles), else None."""
    if not isinstance(model, str):
        return None
    tail = model.rsplit("/", 1)[-1]
    for family in ("anthropic", "meta"):
        if tail.startswith(f"{family}.") or f".{family}." in tail:
            return family
    return None


# A text or tool-input delta is one token: recognised without decoding (JSON string values escape
# their quotes, so these quoted names only occur as the event's own type names).
_BLOCK_DELTA = b'"content_block_delta"'
_TEXT_DELTA = b'"text_delta"'
_JSON_DELTA = b'"input_json_delta"'


def _bytes(event: Any) -> Any:
    chunk = event.get("chunk") if isinstance(event, dict) else None
    return chunk.get("bytes") if isinstance(chunk, dict) else None


def _payload(event: Any, data: Any = None) -> Optional[dict[str, Any]]:
    if data is None:
        data = _bytes(event)
    if not isinstance(data, (bytes, bytearray, str)):
        return None
    try:
        payload = json.loads(data)
    except ValueError:
        return None
    return payload if isinstance(payload, dict) else None


def _metrics_usage(rec: StreamRecord, payload: dict[str, Any]) -> None:
    metrics = payload.get(METRICS)
    if isinstance(metrics, dict):
        rec.usage(int_or_none(metrics.get("inputTokenCount")), int_or_none(metrics.get("outputTokenCount")))


def _anthropic_input(usage: Any) -> Optional[int]:
    if not isinstance(usage, dict):
        return None
    base = int_or_none(usage.get("input_tokens"))
    if base is None:
        return None
    cached = (int_or_none(usage.get("cache_read_input_tokens")) or 0) + (
        int_or_none(usage.get("cache_creation_input_tokens")) or 0
    )
    return base + cached


class AnthropicInvokeAdapter:
    """Reads Anthropic Messages events inside invoke ``chunk`` events."""

    __slots__ = ("_tools",)
    end_event = Event.EOF
    classify = staticmethod(classify_bedrock_error)

    def __init__(self) -> None:
        self._tools: dict[int, Optional[str]] = {}

    def on_chunk(self, rec: StreamRecord, event: Any) -> None:
        data = _bytes(event)
        if not rec.capture and isinstance(data, bytes) and _BLOCK_DELTA in data:
            if _TEXT_DELTA in data or _JSON_DELTA in data:
                rec.token()  # the per-chunk hot path: no second JSON decode
            return
        payload = _payload(event, data)
        if payload is None:
            return
        kind = payload.get("type")
        if kind == "content_block_delta":
            delta = payload.get("delta") or {}
            dtype = delta.get("type")
            if dtype == "text_delta":
                rec.token()
                text = delta.get("text")
                if rec.capture and isinstance(text, str):
                    rec.content(text)
            elif dtype == "input_json_delta":
                rec.token()
        elif kind == "content_block_start":
            block = payload.get("content_block") or {}
            index = payload.get("index")
            if isinstance(index, int) and block.get("type") == "tool_use":
                name = block.get("name")
                self._tools[index] = name if isinstance(name, str) else None
        elif kind == "content_block_stop":
            index = payload.get("index")
            if isinstance(index, int) and index in self._tools:
                rec.tool_call(self._tools.pop(index), index)
        else:
            self._message(rec, kind, payload)

    @staticmethod
    def _message(rec: StreamRecord, kind: Any, payload: dict[str, Any]) -> None:
        if kind == "message_start":
            message = payload.get("message") or {}
            rec.response_info(message.get("id"), message.get("model"))
            rec.usage(input_tokens=_anthropic_input(message.get("usage")))
        elif kind == "message_delta":
            usage = payload.get("usage") or {}
            rec.usage(_anthropic_input(usage), int_or_none(usage.get("output_tokens")))
            reason = (payload.get("delta") or {}).get("stop_reason")
            if isinstance(reason, str) and reason:
                rec.finish(STOP_REASONS.get(reason, Event.FINISH_COMPLETED), reason)
        elif kind == "message_stop":
            _metrics_usage(rec, payload)
            rec.end(Event.END_MARKER)


class LlamaInvokeAdapter:
    """Reads Meta Llama generation chunks."""

    __slots__ = ()
    end_event = Event.EOF
    classify = staticmethod(classify_bedrock_error)

    def on_chunk(self, rec: StreamRecord, event: Any) -> None:
        payload = _payload(event)
        if payload is None:
            return
        text = payload.get("generation")
        if isinstance(text, str) and text:
            rec.token()
            if rec.capture:
                rec.content(text)
        rec.usage(input_tokens=int_or_none(payload.get("prompt_token_count")))
        reason = payload.get("stop_reason")
        if isinstance(reason, str) and reason:  # the last chunk: final counts, then the end
            rec.usage(output_tokens=int_or_none(payload.get("generation_token_count")))
            _metrics_usage(rec, payload)
            if payload.get("amazon-bedrock-guardrailAction") == "INTERVENED":
                rec.finish(Event.FINISH_CONTENT_FILTER, GUARDRAIL)
            else:
                rec.finish(LLAMA_STOP_REASONS.get(reason, Event.FINISH_COMPLETED), reason)
            rec.end(Event.END_MARKER)


INVOKE_ADAPTERS: dict[str, Callable[[], Adapter]] = {
    "anthropic": AnthropicInvokeAdapter,
    "meta": LlamaInvokeAdapter,
}
