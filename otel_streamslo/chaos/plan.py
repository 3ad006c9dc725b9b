"""What one chaos response does: the request plan and the steps the server plays (pure, no I/O)."""

from __future__ import annotations

import abc
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, Optional, Union

from otel_streamslo.chaos.faults import Fault

__all__ = [
    "HUGE_CHUNK_SIZE",
    "TOOL_CALLS",
    "Finish",
    "Frame",
    "Pause",
    "Reset",
    "Step",
    "StreamPlan",
    "TextWire",
    "ToolCall",
    "arg_fragments",
    "content_tokens",
    "expected_outcome",
    "full_text",
    "input_tokens_for",
    "json_bytes",
    "sse",
    "text_finish",
    "text_steps",
    "token_text",
]

#: Size of the single content delta sent by ``huge_chunk`` (1 MiB).
HUGE_CHUNK_SIZE = 1024 * 1024

#: Normalised finish of a stream; each wire format maps it to its own vocabulary.
Finish = Literal["stop", "length", "content_filter", "tool_calls"]


@dataclass(frozen=True)
class Frame:
    """Bytes to send in one flush, and how many content tokens they deliver."""

    data: bytes
    tokens: int = 0


@dataclass(frozen=True)
class Pause:
    """Send nothing for ``seconds`` (chunk delay, slow TTFT or stall)."""

    seconds: float
    reason: str = "chunk_delay"


@dataclass(frozen=True)
class Reset:
    """Drop the connection without finishing the HTTP body."""


Step = Union[Frame, Pause, Reset]


@dataclass(frozen=True)
class ToolCall:
    """A scripted tool call."""

    name: str
    arguments: str


TOOL_CALLS: tuple[ToolCall, ...] = (
    ToolCall("get_weather", '{"city": "Paris"}'),
    ToolCall("get_weather", '{"city": "Tokyo"}'),
)


@dataclass(frozen=True)
class StreamPlan:
    """Everything a wire-format builder needs to script one response."""

    fault: Fault
    model: str
    tokens: int
    serial: int
    created: int
    input_tokens: int
    chunk_delay: float = 0.0
    ttft_seconds: float = 2.5
    stall_seconds: float = 30.0
    include_usage: bool = False
    #: In-stream error kind asked for by ``x-chaos-error-type`` (dialects with several kinds).
    error_type: Optional[str] = None
    #: ``x-chaos-drop-after-finish``: drop the connection right after the frame carrying the finish.
    drop_after_finish: bool = False

    @property
    def at(self) -> int:
        """Content tokens delivered before the fault."""
        return self.fault.position(self.tokens)

    @property
    def sid(self) -> str:
        """Serial as a zero-padded id fragment shared by all ids of this response."""
        return f"chaos{self.serial:06d}"


def token_text(index: int, plan: StreamPlan) -> str:
    """Text of content token ``index`` (``huge_chunk`` makes one of them 1 MiB)."""
    if plan.fault.name == "huge_chunk" and index == min(plan.at, plan.tokens - 1):
        return "x" * HUGE_CHUNK_SIZE
    return f"tok{index} "


def full_text(plan: StreamPlan, count: int) -> str:
    """Concatenated text of the first ``count`` tokens."""
    return "".join(token_text(i, plan) for i in range(count))


def arg_fragments(arguments: str, parts: int = 4) -> list[str]:
    """Split tool-call arguments into ``parts`` contiguous fragments."""
    size = max(1, -(-len(arguments) // parts))
    return [arguments[i : i + size] for i in range(0, len(arguments), size)]


def content_tokens(plan: StreamPlan) -> int:
    """Content tokens a text stream delivers in total under its fault."""
    if plan.fault.name in {"error_frame", "reset", "eof", "length", "content_filter"}:
        return plan.at
    return plan.tokens


def text_finish(plan: StreamPlan) -> Finish:
    """Finish of a text stream that reaches its end."""
    name = plan.fault.name
    if name == "length":
        return "length"
    return "content_filter" if name == "content_filter" else "stop"


def expected_outcome(fault: Fault) -> str:
    """Outcome the server logs when the response plays to its end."""
    name = fault.name
    if name in {"length", "content_filter", "eof", "reset", "error_frame"}:
        return name
    if name == "tool_calls_reset":
        return "reset"
    if fault.http_status is not None:
        return "http_error"
    return "completed"


def input_tokens_for(prompt: Any) -> int:
    """Deterministic input-token count: one per 4 characters of the canonical prompt JSON."""
    text = json.dumps(prompt, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return 1 + len(text) // 4


def json_bytes(payload: Any) -> bytes:
    """Compact JSON encoding used on the wire."""
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def sse(payload: Any, event: str | None = None) -> bytes:
    """One SSE event: optional ``event:`` line, one ``data:`` line, blank line."""
    data = payload if isinstance(payload, str) else json_bytes(payload).decode()
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {data}\n\n".encode()


class TextWire(abc.ABC):
    """Frame builders of one wire format; :func:`text_steps` weaves faults between them."""

    #: Index, among :meth:`finish`'s frames, of the frame that carries the finish reason.
    decided_at: int = 0

    @abc.abstractmethod
    def prelude(self) -> list[Frame]:
        """Frames before the first content token (role chunk, message_start, ...)."""

    @abc.abstractmethod
    def token(self, index: int, text: str) -> Frame:
        """Frame delivering one content token."""

    @abc.abstractmethod
    def finish(self, finish: Finish, sent: int) -> list[Frame]:
        """Frames that end the stream normally after ``sent`` tokens."""

    @abc.abstractmethod
    def error(self) -> Frame:
        """Provider error frame inside the 200 stream."""

    @abc.abstractmethod
    def malformed(self) -> Frame:
        """A frame whose data is not JSON."""

    @abc.abstractmethod
    def unknown(self) -> Frame:
        """A frame the SDK does not know (unknown event type or field)."""

    @abc.abstractmethod
    def missing(self) -> Frame:
        """A frame missing a required field."""


def _injected(plan: StreamPlan, wire: TextWire) -> Iterator[Step]:
    """The fault step that strikes at the fault position without ending the stream."""
    name = plan.fault.name
    if name == "stall":
        yield Pause(plan.stall_seconds, "stall")
    elif name == "malformed_json":
        yield wire.malformed()
    elif name == "unknown_event":
        yield wire.unknown()
    elif name == "missing_fields":
        yield wire.missing()


def text_steps(plan: StreamPlan, wire: TextWire) -> Iterator[Step]:
    """Steps of a text stream under the plan's fault, in any wire format."""
    yield from wire.prelude()
    if plan.fault.name == "slow_ttft":
        yield Pause(plan.ttft_seconds, "ttft")
    total = content_tokens(plan)
    for index in range(total + 1):
        if index == plan.at:
            yield from _injected(plan, wire)
        if index == total:
            break
        if index > 0 and plan.chunk_delay > 0:
            yield Pause(plan.chunk_delay)
        yield wire.token(index, token_text(index, plan))
    name = plan.fault.name
    if name == "error_frame":
        yield wire.error()
    elif name == "reset":
        yield Reset()
    elif name != "eof":
        frames = wire.finish(text_finish(plan), total)
        if plan.drop_after_finish:
            yield from frames[: wire.decided_at + 1]
            yield Reset()
        else:
            yield from frames
