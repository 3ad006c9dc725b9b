"""Bedrock ConverseStream: ``POST /model/{modelId}/converse-stream``, event-stream framed.

Events: ``messageStart``, ``contentBlockStart`` (tool use only), ``contentBlockDelta`` x N,
``contentBlockStop``, ``messageStop`` (``stopReason``), ``metadata`` (usage, after messageStop).
Error frames are exception messages (``modelStreamErrorException`` unless ``x-chaos-error-type``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from otel_streamslo.chaos import bedrock_common as common
from otel_streamslo.chaos.eventstream import event_message
from otel_streamslo.chaos.fields import BadRequest, field_limits, message_list
from otel_streamslo.chaos.plan import Finish, Frame, Step, StreamPlan, ToolCall
from otel_streamslo.chaos.respond import post_route
from otel_streamslo.chaos.toolcalls import ToolWire, wire_stream

__all__ = ["CONVERSE_STREAM", "ROUTES", "ConverseWire", "converse_stream"]

_STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "content_filter": "content_filtered",
    "tool_calls": "tool_use",
}


class ConverseWire(common.BedrockFrames, ToolWire):
    """ConverseStream events, one event-stream message per frame."""

    decided_at = 1  # messageStop, before metadata

    def __init__(self, plan: StreamPlan) -> None:
        self.plan = plan
        self.block = 0

    @staticmethod
    def event(event_type: str, tokens: int = 0, **payload: Any) -> Frame:
        """One ``event`` message."""
        return Frame(event_message(event_type, payload), tokens)

    def delta(self, delta: dict[str, Any]) -> Frame:
        """``contentBlockDelta`` on the current block (one output token)."""
        return self.event("contentBlockDelta", tokens=1, contentBlockIndex=self.block, delta=delta)

    def stop_block(self) -> Frame:
        """``contentBlockStop``; the next block gets the next index."""
        frame = self.event("contentBlockStop", contentBlockIndex=self.block)
        self.block += 1
        return frame

    def closing(self, finish: Finish, sent: int) -> list[Frame]:
        """``messageStop`` then ``metadata`` (usage and metrics)."""
        plan = self.plan
        usage = {
            "inputTokens": plan.input_tokens,
            "outputTokens": sent,
            "totalTokens": plan.input_tokens + sent,
        }
        return [
            self.event("messageStop", stopReason=_STOP_REASONS[finish]),
            self.event("metadata", usage=usage, metrics={"latencyMs": 1}),
        ]

    def prelude(self) -> list[Frame]:
        return [self.event("messageStart", role="assistant")]

    def token(self, index: int, text: str) -> Frame:
        return self.delta({"text": text})

    def finish(self, finish: Finish, sent: int) -> list[Frame]:
        return [self.stop_block(), *self.closing(finish, sent)]

    def malformed(self) -> Frame:
        return common.malformed_frame("contentBlockDelta")

    def missing(self) -> Frame:
        return self.event("contentBlockDelta", contentBlockIndex=self.block)

    def call_start(self, index: int, call: ToolCall) -> list[Frame]:
        start = {"toolUse": {"toolUseId": f"tooluse_{self.plan.sid}_{index}", "name": call.name}}
        return [self.event("contentBlockStart", contentBlockIndex=self.block, start=start)]

    def call_delta(self, index: int, fragment: str) -> Frame:
        return self.delta({"toolUse": {"input": fragment}})

    def call_end(self, index: int, call: ToolCall) -> list[Frame]:
        return [self.stop_block()]

    def tools_closing(self, sent: int) -> list[Frame]:
        return self.closing("tool_calls", sent)


def converse_stream(plan: StreamPlan) -> Iterator[Step]:
    """Steps of a ConverseStream call under the plan's fault."""
    return wire_stream(plan, ConverseWire(plan))


def _prompt(body: Mapping[str, Any]) -> Any:
    """``messages`` and optional ``system`` (an array of content blocks)."""
    messages = message_list(body)
    system = body.get("system")
    if system is not None and not isinstance(system, list):
        raise BadRequest("'system' must be an array of system content blocks.", "system")
    return [system, messages]


CONVERSE_STREAM = common.dialect(
    endpoint="bedrock.converse_stream",
    prompt=_prompt,
    limits=field_limits("inferenceConfig.maxTokens"),
    stream=converse_stream,
)
ROUTES = [post_route("/model/{model_id}/converse-stream", CONVERSE_STREAM)]
