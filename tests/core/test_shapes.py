"""The C token fast path (``core/_fastpath.c`` via ``core.shapes``) against the adapters' ``on_chunk``.

Every sequence of real SDK chunk objects is read twice, by ``chunk_reader(adapter)`` and by
``adapter.on_chunk`` alone, into two records: the spans (attributes and events) and the counts must
be equal, and the C reader must have counted the token chunks itself (``on_chunk`` saw only the
others). Then the cases where it must step aside: content capture, a token mark due, a record
subclass, a field shadowed by a data descriptor, a custom ``__getattribute__``, malformed shapes.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Iterator
from typing import Any, Callable

import pytest
from anthropic.types import (
    RawContentBlockDeltaEvent,
    RawContentBlockStartEvent,
    RawContentBlockStopEvent,
    RawMessageDeltaEvent,
    RawMessageStartEvent,
    RawMessageStopEvent,
)
from openai.types.chat import ChatCompletionChunk
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from otel_streamslo.core import shapes
from otel_streamslo.core.config import ENV_PURE_PYTHON, Settings, pure_python_requested
from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.telemetry import make_telemetry
from otel_streamslo.instrumentation.anthropic.messages import MessagesAdapter
from otel_streamslo.instrumentation.openai.chat import ChatAdapter
from otel_streamslo.instrumentation.openai.responses import ResponsesAdapter

PURE = pure_python_requested()
DEFAULTS = Settings()
needs_c = pytest.mark.skipif(shapes._fastpath is None, reason="C fast path not built or disabled")


def test_extension_is_built_where_it_can_be() -> None:
    if PURE or platform.python_implementation() != "CPython" or sys.version_info < (3, 10):
        pytest.skip("pure Python here by design")
    assert shapes._fastpath is not None, "otel_streamslo.core._fastpath was not built by the install"
    assert shapes.compiled(ChatAdapter) is not None
    assert shapes.compiled(MessagesAdapter) is not None
    assert shapes.compiled(ResponsesAdapter) is not None


# --- real chunk objects ---------------------------------------------------------------------------


def chat(content: Any = "hi", finish: Any = None, usage: Any = None, **delta: Any) -> ChatCompletionChunk:
    d = {"content": content, **delta}
    doc = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "gpt-test",
        "choices": [{"index": 0, "delta": d, "finish_reason": finish}],
        "usage": usage,
    }
    return ChatCompletionChunk.model_validate(doc)


def chat_stream(n: int) -> list[Any]:
    tool = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": ""}}
    two = chat()
    two.choices.append(two.choices[0].model_copy())  # two choices: not the one-token shape
    return [
        chat(content="", role="assistant"),
        *[chat(f"t{i}") for i in range(n)],
        chat(content=None, tool_calls=[tool]),
        chat(content=None, refusal="no"),
        two,
        chat(content=""),
        chat("last", finish="length"),
        chat(content=None, finish="stop"),
        ChatCompletionChunk.model_validate(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "gpt-test",
                "choices": [],
                "usage": {"prompt_tokens": 3, "completion_tokens": n + 2, "total_tokens": n + 5},
            }
        ),
    ]


def anthropic_stream(n: int) -> list[Any]:
    usage = {"input_tokens": 5, "output_tokens": 1}
    msg = {"id": "msg_1", "type": "message", "role": "assistant", "model": "claude-test", "content": []}
    msg.update({"stop_reason": None, "stop_sequence": None, "usage": usage})

    def text(i: int, s: str) -> Any:
        return RawContentBlockDeltaEvent.model_validate(
            {"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": s}}
        )

    return [
        RawMessageStartEvent.model_validate({"type": "message_start", "message": msg}),
        RawContentBlockStartEvent.model_validate(
            {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}
        ),
        *[text(0, f"t{i}") for i in range(n)],
        RawContentBlockStopEvent.model_validate({"type": "content_block_stop", "index": 0}),
        RawContentBlockStartEvent.model_validate(
            {
                "type": "content_block_start",
                "index": 1,
                "content_block": {"type": "tool_use", "id": "tu_1", "name": "f", "input": {}},
            }
        ),
        RawContentBlockDeltaEvent.model_validate(
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "input_json_delta", "partial_json": "{"},
            }
        ),
        RawContentBlockDeltaEvent.model_validate(
            {"type": "content_block_delta", "index": 1, "delta": {"type": "thinking_delta", "thinking": "hm"}}
        ),
        RawContentBlockStopEvent.model_validate({"type": "content_block_stop", "index": 1}),
        RawMessageDeltaEvent.model_validate(
            {"type": "message_delta", "delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": n + 1}}
        ),
        RawMessageStopEvent.model_validate({"type": "message_stop"}),
    ]


def responses_stream(n: int) -> list[Any]:
    from openai.types.responses import (
        ResponseCompletedEvent,
        ResponseCreatedEvent,
        ResponseFunctionCallArgumentsDeltaEvent,
        ResponseRefusalDeltaEvent,
        ResponseTextDeltaEvent,
    )

    resp = _Plain(id="resp_1", model="gpt-test", usage=_Plain(input_tokens=3, output_tokens=n))
    common = {"item_id": "i", "output_index": 0, "content_index": 0, "sequence_number": 1}
    return [
        ResponseCreatedEvent.model_construct(type="response.created", response=resp, sequence_number=0),
        *[
            ResponseTextDeltaEvent.model_construct(type="response.output_text.delta", delta=f"t{i}", **common)
            for i in range(n)
        ],
        ResponseFunctionCallArgumentsDeltaEvent.model_construct(
            type="response.function_call_arguments.delta", delta="{", **common
        ),
        ResponseRefusalDeltaEvent.model_construct(type="response.refusal.delta", delta="no", **common),
        ResponseCompletedEvent.model_construct(type="response.completed", response=resp, sequence_number=9),
    ]


# sdk -> (adapter, stream of n content deltas, how many more of its chunks are token-shaped)
STREAMS: dict[str, tuple[Callable[[], Any], Callable[[int], list[Any]], int]] = {
    "openai-chat": (ChatAdapter, chat_stream, 0),
    "anthropic-messages": (MessagesAdapter, anthropic_stream, 1),  # input_json_delta
    "openai-responses": (ResponsesAdapter, responses_stream, 2),  # arguments and refusal deltas
}


# --- reading one stream into a record ---------------------------------------------------------------


class Counting:
    """An adapter whose ``on_chunk`` counts the chunks it is handed (and keeps token_shapes)."""

    def __init__(self, adapter: Any) -> None:
        self.adapter = adapter
        self.seen = 0

    def on_chunk(self, rec: StreamRecord, chunk: Any) -> None:
        self.seen += 1
        self.adapter.on_chunk(rec, chunk)


def counting_for(adapter: Any) -> Counting:
    """A ``Counting`` around ``adapter``, of a class with the adapter's token shapes."""
    cls = type(f"Counting{type(adapter).__name__}", (Counting,), {"token_shapes": type(adapter).token_shapes})
    return cls(adapter)  # type: ignore[no-any-return]


@pytest.fixture
def spans() -> Iterator[tuple[Any, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    tp = TracerProvider()
    tp.add_span_processor(SimpleSpanProcessor(exporter))
    mp = MeterProvider(metric_readers=[InMemoryMetricReader()])
    yield (tp, mp), exporter
    tp.shutdown()
    mp.shutdown()


def read(
    providers: Any, adapter: Any, chunks: list[Any], fast: bool, settings: Settings = DEFAULTS
) -> tuple[StreamRecord, int]:
    tel = make_telemetry(settings, *providers)
    rec = StreamRecord(tel, provider="test", request_model="m")
    rec.opened(200)
    counting = counting_for(adapter)
    reader = shapes.chunk_reader(counting) if fast else counting.on_chunk
    for chunk in chunks:
        rec.chunks += 1
        reader(rec, chunk)
    rec.end(adapter.end_event)
    return rec, counting.seen


def comparable(span: ReadableSpan) -> tuple[Any, Any]:
    attrs = {k: v for k, v in (span.attributes or {}).items() if "duration" not in k and "time" not in k}
    events = [(e.name, sorted(k for k in (e.attributes or {}))) for e in span.events]
    return attrs, events


def state(rec: StreamRecord) -> tuple[Any, ...]:
    return (rec.chunks, rec.tokens, rec.tool_calls, rec.input_tokens, rec.output_tokens, rec.response_id)


@pytest.mark.parametrize("n", [0, 1, 63, 64, 200, 3000])
@pytest.mark.parametrize("sdk", sorted(STREAMS))
def test_same_record_as_on_chunk(spans: Any, sdk: str, n: int) -> None:
    providers, exporter = spans
    make, stream, extra = STREAMS[sdk]
    chunks = stream(n)
    shaped = n + extra
    rec_py, seen_py = read(providers, make(), chunks, fast=False)
    rec_c, seen_c = read(providers, make(), chunks, fast=True)
    assert state(rec_c) == state(rec_py)
    py_span, c_span = exporter.get_finished_spans()
    assert comparable(c_span) == comparable(py_span)
    assert seen_py == len(chunks)
    if shapes._fastpath is not None:
        # every token chunk was counted in C but the first token and those at a progress mark
        # (one per event, and the mark past the last event, after which no mark is due)
        marks = 1 + min(shaped // Settings().progress_every_tokens, Settings().max_progress_events + 1)
        assert seen_c <= len(chunks) - shaped + marks
        assert seen_c >= len(chunks) - shaped
    else:
        assert seen_c == len(chunks)


@needs_c
@pytest.mark.parametrize("sdk", sorted(STREAMS))
def test_capture_reads_every_chunk_in_python(spans: Any, sdk: str) -> None:
    providers, exporter = spans
    make, stream, _ = STREAMS[sdk]
    chunks = stream(20)
    opted_in = Settings(capture_content=True)
    rec_py, _ = read(providers, make(), chunks, fast=False, settings=opted_in)
    rec_c, seen = read(providers, make(), chunks, fast=True, settings=opted_in)
    assert seen == len(chunks)
    assert state(rec_c) == state(rec_py)
    assert comparable(exporter.get_finished_spans()[1]) == comparable(exporter.get_finished_spans()[0])


@needs_c
def test_record_subclass_is_left_to_on_chunk(spans: Any) -> None:
    class Mine(StreamRecord):
        __slots__ = ()

        def token(self, n: int = 1) -> None:
            super().token(2 * n)

    providers, _ = spans
    rec = Mine(make_telemetry(Settings(), *providers), provider="test", request_model="m")
    rec.opened(200)
    counting = counting_for(ChatAdapter())
    reader = shapes.chunk_reader(counting)
    for chunk in chat_stream(10)[:11]:
        reader(rec, chunk)
    assert counting.seen == 11
    assert rec.tokens == 20
    rec.end(Event.CANCEL)


class _Plain:
    """A chunk object with an instance dict, as a pydantic model has."""

    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def _plain_chunk(delta: Any) -> _Plain:
    return _Plain(id="c", model="m", usage=None, choices=[_Plain(finish_reason=None, delta=delta)])


class _Shadowed(_Plain):
    content = property(lambda self: "")  # a data descriptor wins over the instance dict


class _Custom(_Plain):
    def __getattribute__(self, name: str) -> Any:
        return "" if name == "content" else object.__getattribute__(self, name)


@needs_c
@pytest.mark.parametrize("delta_type", [_Shadowed, _Custom])
def test_attribute_semantics_win_over_the_instance_dict(spans: Any, delta_type: type) -> None:
    providers, _ = spans
    rec = StreamRecord(make_telemetry(Settings(), *providers), provider="test", request_model="m")
    rec.opened(200)
    reader = shapes.chunk_reader(ChatAdapter())
    reader(rec, _plain_chunk(_Plain(content="first", tool_calls=None, refusal=None)))
    reader(rec, _plain_chunk(_Plain(content="counted", tool_calls=None, refusal=None)))
    assert rec.tokens == 2
    # the instance dict says "x", attribute access says "": on_chunk counts no token, nor may C
    reader(rec, _plain_chunk(delta_type(content="x", tool_calls=None, refusal=None)))
    assert rec.tokens == 2
    rec.end(Event.CANCEL)


@needs_c
@pytest.mark.parametrize(
    "spec",
    [
        (),
        ((),),
        (((("a",), "maybe"),),),
        (((("a",), "eq", 3),),),
        (((("a", 1),), "none"),),
        ((((), "none"),),),
        (((("a", "b", "c", "d", "e"), "none"),),),
        ((("a", "none"),),),
    ],
)
def test_malformed_shapes_are_refused(spec: Any) -> None:
    assert shapes._fastpath is not None
    with pytest.raises((TypeError, ValueError)):
        shapes._fastpath.Shapes(spec, StreamRecord)


@needs_c
def test_adapter_with_refused_shapes_reads_in_python(spans: Any) -> None:
    class Odd(ChatAdapter):
        __slots__ = ()
        token_shapes = (((("choices",), "maybe"),),)

    assert shapes.compiled(Odd) is None
    adapter = Odd()
    assert shapes.chunk_reader(adapter) == adapter.on_chunk


@needs_c
def test_record_type_without_the_slots_is_refused() -> None:
    class NoSlots:
        pass

    with pytest.raises(TypeError, match="tokens"):
        shapes._fastpath.Shapes(ChatAdapter.token_shapes, NoSlots)  # type: ignore[union-attr]


def test_pure_python_switch() -> None:
    code = (
        "from otel_streamslo.core import shapes;"
        "from otel_streamslo.instrumentation.openai.chat import ChatAdapter;"
        "a = ChatAdapter(); print(shapes._fastpath is None, shapes.chunk_reader(a) == a.on_chunk)"
    )
    env = {**os.environ, ENV_PURE_PYTHON: "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True"]
