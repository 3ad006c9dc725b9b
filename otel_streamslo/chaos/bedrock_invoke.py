"""Bedrock InvokeModelWithResponseStream: ``POST /model/{modelId}/invoke-with-response-stream``.

Each event-stream ``chunk`` event carries ``{"bytes": base64(JSON)}`` in the model family's own
shape: Anthropic Messages events for ``anthropic.*`` model ids, Meta Llama generations for
``meta.*``. The last chunk carries ``amazon-bedrock-invocationMetrics``.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator, Mapping
from dataclasses import replace
from typing import Any, Optional

from otel_streamslo.chaos import bedrock_common as common
from otel_streamslo.chaos.anthropic_messages import MessagesWire, messages_prompt
from otel_streamslo.chaos.eventstream import event_message
from otel_streamslo.chaos.faults import Fault
from otel_streamslo.chaos.fields import BadRequest, field_limits
from otel_streamslo.chaos.plan import Finish, Frame, Step, StreamPlan, TextWire, json_bytes, text_steps
from otel_streamslo.chaos.respond import post_route
from otel_streamslo.chaos.toolcalls import wire_stream

__all__ = ["INVOKE_STREAM", "ROUTES", "BedrockMessagesWire", "LlamaWire", "invoke_stream", "model_family"]


def chunk_frame(payload: Any, tokens: int = 0) -> Frame:
    """One ``chunk`` event: the family's JSON payload, base64-encoded in ``bytes``."""
    data = base64.b64encode(json_bytes(payload)).decode()
    return Frame(event_message("chunk", {"bytes": data}), tokens)


def broken_chunk(data: bytes) -> Frame:
    """A well-formed ``chunk`` event whose decoded ``bytes`` are not JSON (the model output is cut)."""
    return Frame(event_message("chunk", {"bytes": base64.b64encode(data).decode()}))


def model_family(model: str) -> Optional[str]:
    """``anthropic`` or ``meta`` from a model id (also inference-profile ids like ``us.meta.*``)."""
    for family in ("anthropic", "meta"):
        if model.startswith(f"{family}.") or f".{family}." in model:
            return family
    return None


class BedrockMessagesWire(common.BedrockFrames, MessagesWire):
    """Anthropic Messages events inside ``chunk`` events; errors are event-stream exceptions."""

    def event(self, type_: str, tokens: int = 0, **fields: Any) -> Frame:  # type: ignore[override]
        """One Messages event wrapped in a ``chunk``."""
        return chunk_frame({"type": type_, **fields}, tokens)

    def closing(self, finish: Finish, sent: int) -> list[Frame]:
        """``message_delta`` then ``message_stop`` with the invocation metrics."""
        *head, _ = super().closing(finish, sent)
        metrics = common.invocation_metrics(self.plan, sent)
        return [*head, chunk_frame({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics})]

    def malformed(self) -> Frame:
        return broken_chunk(b'{"type":"content_block_delta","index":0,"delta')


_LLAMA_STOPS: dict[str, str] = {
    "stop": "stop",
    "length": "length",
    "content_filter": "stop",
    "tool_calls": "stop",
}


class LlamaWire(common.BedrockFrames, TextWire):
    """Meta Llama generation chunks (``generation``, token counts, ``stop_reason``)."""

    def __init__(self, plan: StreamPlan) -> None:
        self.plan = plan

    def prelude(self) -> list[Frame]:
        return []

    def token(self, index: int, text: str) -> Frame:
        prompt = self.plan.input_tokens if index == 0 else None
        payload = {
            "generation": text,
            "prompt_token_count": prompt,
            "generation_token_count": index + 1,
            "stop_reason": None,
        }
        return chunk_frame(payload, 1)

    def finish(self, finish: Finish, sent: int) -> list[Frame]:
        payload: dict[str, Any] = {
            "generation": "",
            "prompt_token_count": None if sent else self.plan.input_tokens,
            "generation_token_count": sent,
            "stop_reason": _LLAMA_STOPS[finish],
            "amazon-bedrock-invocationMetrics": common.invocation_metrics(self.plan, sent),
        }
        if finish == "content_filter":
            payload["amazon-bedrock-guardrailAction"] = "INTERVENED"
        return [chunk_frame(payload)]

    def malformed(self) -> Frame:
        return broken_chunk(b'{"generation":"tok')

    def missing(self) -> Frame:
        return chunk_frame({"prompt_token_count": None, "generation_token_count": 0, "stop_reason": None})


def invoke_stream(plan: StreamPlan) -> Iterator[Step]:
    """Steps of an InvokeModelWithResponseStream call, in the model family's shape."""
    if model_family(plan.model) == "anthropic":
        return wire_stream(plan, BedrockMessagesWire(plan))
    if plan.fault.name == "tool_calls_reset":  # Llama streams no tool calls: a plain drop at half
        plan = replace(plan, fault=Fault("reset"))
    return text_steps(plan, LlamaWire(plan))


def _prompt(body: Mapping[str, Any]) -> Any:
    """Anthropic ``messages`` (+ ``system``) or a Llama ``prompt`` string."""
    if "messages" in body:
        return messages_prompt(body)
    prompt = body.get("prompt")
    if isinstance(prompt, str) and prompt:
        return prompt
    raise BadRequest("Expected 'messages' (Anthropic) or a non-empty 'prompt' string (Meta Llama).", "prompt")


def _model_error(model: str) -> Optional[str]:
    if model_family(model) is None:
        return f"The chaos provider serves anthropic.* and meta.* models here, not {model!r}."
    return None


INVOKE_STREAM = common.dialect(
    endpoint="bedrock.invoke_model_with_response_stream",
    prompt=_prompt,
    limits=field_limits("max_tokens", "max_gen_len"),
    stream=invoke_stream,
    model_error=_model_error,
)
ROUTES = [post_route("/model/{model_id}/invoke-with-response-stream", INVOKE_STREAM)]
