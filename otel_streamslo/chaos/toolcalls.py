"""Scripted tool calls: which calls a plan makes and the steps that stream their arguments."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import TYPE_CHECKING

from otel_streamslo.chaos.plan import TOOL_CALLS, Pause, Reset, TextWire, arg_fragments, text_steps

if TYPE_CHECKING:
    from otel_streamslo.chaos.plan import Frame, Step, StreamPlan, ToolCall

__all__ = ["ToolWire", "argument_tokens", "scripted_calls", "tool_steps", "uses_tools", "wire_stream"]


def uses_tools(plan: StreamPlan) -> bool:
    """Whether the plan's fault answers with tool calls (``tool_calls`` or ``tool_calls_reset``)."""
    return plan.fault.name in {"tool_calls", "tool_calls_reset"}


def scripted_calls(plan: StreamPlan) -> tuple[ToolCall, ...]:
    """The calls of a tool-call answer: two for ``tool_calls_reset`` (it drops in the second), else one."""
    return TOOL_CALLS if plan.fault.name == "tool_calls_reset" else TOOL_CALLS[:1]


def argument_tokens(calls: tuple[ToolCall, ...]) -> int:
    """Output tokens of whole ``calls``: one per argument fragment."""
    return sum(len(arg_fragments(call.arguments)) for call in calls)


class ToolWire(TextWire):
    """A wire that also streams tool calls, each call's arguments in fragments."""

    @abc.abstractmethod
    def call_start(self, index: int, call: ToolCall) -> list[Frame]:
        """Frames that open tool call ``index`` (before its first argument fragment)."""

    @abc.abstractmethod
    def call_delta(self, index: int, fragment: str) -> Frame:
        """Frame delivering one argument fragment (one output token)."""

    def call_end(self, index: int, call: ToolCall) -> list[Frame]:
        """Frames that close tool call ``index`` once all its fragments are sent."""
        return []

    def tools_opening(self) -> list[Frame]:
        """Frames before the first tool call."""
        return self.prelude()

    def tools_closing(self, sent: int) -> list[Frame]:
        """Frames that end the answer after every call (``sent`` argument fragments)."""
        return self.finish("tool_calls", sent)


def tool_steps(plan: StreamPlan, wire: ToolWire) -> Iterator[Step]:
    """Steps of a tool-call answer; ``tool_calls_reset`` drops halfway through the last call's arguments."""
    yield from wire.tools_opening()
    resets = plan.fault.name == "tool_calls_reset"
    calls = scripted_calls(plan)
    sent = 0
    for index, call in enumerate(calls):
        yield from wire.call_start(index, call)
        fragments = arg_fragments(call.arguments)
        cut = len(fragments) // 2 if resets and index == len(calls) - 1 else len(fragments)
        for fragment in fragments[:cut]:
            if plan.chunk_delay > 0:
                yield Pause(plan.chunk_delay)
            yield wire.call_delta(index, fragment)
            sent += 1
        if cut < len(fragments):
            yield Reset()
            return
        yield from wire.call_end(index, call)
    yield from wire.tools_closing(sent)


def wire_stream(plan: StreamPlan, wire: ToolWire) -> Iterator[Step]:
    """Steps of a streamed answer in ``wire``'s framing: tool calls or text, under the plan's fault."""
    return tool_steps(plan, wire) if uses_tools(plan) else text_steps(plan, wire)
