"""Bedrock ConverseStream: ``POST /model/{modelId}/converse-stream``, event-stream framed.

Events: ``messageStart``, ``contentBlockStart`` (tool use only), ``contentBlockDelta`` x N,
``contentBlockStop``, ``messageStop`` (``stopReason``), ``metadata`` (usage, after messageStop).
Error frames are exception messages (``modelStreamErrorException`` unless ``x-chaos-error-type``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from otel_streamslo.chaos import bedrock_common as common
from otel_streamslo.chaos.dialect import Dialect
from otel_streamslo.chaos.eventstream import event_message
from otel_streamslo.chaos.fields import BadRequest, field_limits, message_list
from otel_streamslo.chaos.plan import (
    TOOL_CALLS,
    Finish,
    Frame,
    Pause,
    Reset,
    Step,
    StreamPlan,
    TextWire,
    arg_fragments,
    text_steps,
)
from otel_streamslo.chaos.respond import handle

__all__ = ["CONVERSE_STREAM", "ROUTES", "ConverseWire", "converse_stream"]

_STOP_REASONS: dict[str, str] = {
    "stop": "end_turn",
    "length": "max_tokens",
    "content_filter": "content_filtered",
    "tool_calls": "tool_use",
}


class ConverseWire(TextWire):
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

    def error(self) -> Frame:
        return common.exception_frame(self.plan)

    def malformed(self) -> Frame:
        return common.malformed_frame("contentBlockDelta")

    def unknown(self) -> Frame:
        return common.unknown_frame()

    def missing(self) -> Frame:
        return self.event("contentBlockDelta", contentBlockIndex=self.block)


def converse_stream(plan: StreamPlan) -> Iterator[Step]:
    """Steps of a ConverseStream call under the plan's fault."""
    if plan.fault.name in {"tool_calls", "tool_calls_reset"}:
        return _tool_steps(plan)
    return text_steps(plan, ConverseWire(plan))


def _tool_steps(plan: StreamPlan) -> Iterator[Step]:
    wire = ConverseWire(plan)
    yield from wire.prelude()
    resets = plan.fault.name == "tool_calls_reset"
    calls = TOOL_CALLS if resets else TOOL_CALLS[:1]
    sent = 0
    for index, call in enumerate(calls):
        start = {"toolUse": {"toolUseId": f"tooluse_{plan.sid}_{index}", "name": call.name}}
        yield wire.event("contentBlockStart", contentBlockIndex=wire.block, start=start)
        fragments = arg_fragments(call.arguments)
        cut = len(fragments) // 2 if resets and index == len(calls) - 1 else len(fragments)
        for fragment in fragments[:cut]:
            if plan.chunk_delay > 0:
                yield Pause(plan.chunk_delay)
            yield wire.delta({"toolUse": {"input": fragment}})
            sent += 1
        if cut < len(fragments):
            yield Reset()
            return
        yield wire.stop_block()
    yield from wire.closing("tool_calls", sent)


def _prompt(body: Mapping[str, Any]) -> Any:
    """``messages`` and optional ``system`` (an array of content blocks)."""
    messages = message_list(body)
    system = body.get("system")
    if system is not None and not isinstance(system, list):
        raise BadRequest("'system' must be an array of system content blocks.", "system")
    return [system, messages]


CONVERSE_STREAM = Dialect(
    endpoint="bedrock.converse_stream",
    prompt=_prompt,
    limits=field_limits("inferenceConfig.maxTokens"),
    stream=converse_stream,
    body=None,
    error=common.error_body,
    error_headers=common.error_headers,
    request_id_headers=("x-amzn-requestid",),
    media_type=common.MEDIA_TYPE,
    model_param="model_id",
    streamed=True,
    error_types=common.STREAM_EXCEPTIONS,
)


async def converse_stream_route(request: Request) -> Response:
    """``POST /model/{modelId}/converse-stream``."""
    return await handle(request, CONVERSE_STREAM)


ROUTES = [Route("/model/{model_id}/converse-stream", converse_stream_route, methods=["POST"])]
