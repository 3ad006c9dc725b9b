"""The observed loops step an SDK's inner iterator only for the re-yield forms they recognise.

Fake SDK stream classes written as openai's and anthropic's ``Stream.__iter__`` / ``__aiter__`` are
(the plain re-yield; the re-yield that tells ``self._observer`` of each item first): the proxy must
skip that generator layer and still make every observer call, in the same order relative to the
application, with the same exceptions; any other ``__iter__`` is iterated as it is.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any, Optional

import pytest

from otel_streamslo.core.config import Settings
from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.observe import inner_iterator
from otel_streamslo.core.proxy import AsyncStreamProxy, SyncStreamProxy
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.telemetry import make_telemetry
from tests.conftest import Telemetry

LAST = 3  # the item after which the fake adapter sees its finish reason


class Observer:
    def __init__(self, log: list[Any], fail_on: Optional[int] = None) -> None:
        self.log = log
        self.fail_on = fail_on

    def item(self, item: object) -> None:
        if item == self.fail_on:
            raise ValueError("observer failed")
        self.log.append(("observer", item))


class Body:
    def __init__(self, observer: Optional[Observer]) -> None:
        self.stream_observer = observer


class _Base:
    def __init__(self, items: list[int], observer: Optional[Observer] = None) -> None:
        self.response = Body(observer)
        self._iterator = self._gen(items)

    @staticmethod
    def _gen(items: list[int]) -> Iterator[int]:
        yield from items

    @property
    def _observer(self) -> Optional[Observer]:
        return getattr(getattr(self.response, "stream", self.response), "stream_observer", None)


class PlainStream(_Base):
    def __iter__(self) -> Iterator[int]:
        for item in self._iterator:  # noqa: UP028 (the SDK's code)
            yield item


class ObservedStream(_Base):
    def __iter__(self) -> Iterator[int]:
        for item in self._iterator:
            if (observer := self._observer) is not None:
                observer.item(item)
            yield item


class OtherStream(_Base):
    def __iter__(self) -> Iterator[int]:
        for item in self._iterator:
            yield item * 10


class _AsyncBase(_Base):
    def __init__(self, items: list[int], observer: Optional[Observer] = None) -> None:
        self.response = Body(observer)
        self._iterator = self._agen(items)  # type: ignore[assignment]

    @staticmethod
    async def _agen(items: list[int]) -> AsyncIterator[int]:
        for item in items:
            yield item


class AsyncObservedStream(_AsyncBase):
    async def __aiter__(self) -> AsyncIterator[int]:
        async for item in self._iterator:  # type: ignore[attr-defined]
            if (observer := self._observer) is not None:
                observer.item(item)
            yield item


class Adapter:
    end_event = Event.END_MARKER

    def __init__(self, log: list[Any]) -> None:
        self.log = log

    def on_chunk(self, rec: StreamRecord, chunk: Any) -> None:
        self.log.append(("adapter", chunk))
        rec.token()
        if chunk == LAST:
            rec.finish(Event.FINISH_COMPLETED, "stop")

    def classify(self, exc: BaseException) -> Event:
        return Event.TRANSPORT_ERROR


def _record(telemetry: Telemetry) -> StreamRecord:
    tel = make_telemetry(Settings(), telemetry.tracer_provider, telemetry.meter_provider)
    rec = StreamRecord(tel, provider="fake", request_model="m")
    rec.opened()
    return rec


def test_forms_recognised() -> None:
    plain, observed, other = PlainStream([1]), ObservedStream([1]), OtherStream([1])
    assert inner_iterator(plain, "__iter__") == (plain._iterator, None)
    assert inner_iterator(observed, "__iter__") == (observed._iterator, observed)
    assert inner_iterator(other, "__iter__") is None
    astream = AsyncObservedStream([1])
    assert inner_iterator(astream, "__aiter__") == (astream._iterator, astream)
    assert inner_iterator(astream, "__iter__") is None


def test_observer_called_per_item_before_the_item_is_handed_out(telemetry: Telemetry) -> None:
    log: list[Any] = []
    stream = ObservedStream([1, 2, 3], Observer(log))
    rec = _record(telemetry)
    proxy = SyncStreamProxy(stream, rec, Adapter(log))
    for item in proxy:
        log.append(("app", item))
    assert log == [(who, i) for i in (1, 2, 3) for who in ("observer", "adapter", "app")]
    assert rec.lc.reason is not None and rec.lc.reason.value == "completed"
    assert rec.tokens == 3


def test_no_observer_no_call(telemetry: Telemetry) -> None:
    log: list[Any] = []
    proxy = SyncStreamProxy(ObservedStream([1, 2], None), _record(telemetry), Adapter(log))
    assert list(proxy) == [1, 2]
    assert log == [("adapter", 1), ("adapter", 2)]


def test_observer_error_reaches_the_application_as_without_us(telemetry: Telemetry) -> None:
    raw_log: list[Any] = []
    with pytest.raises(ValueError, match="observer failed") as uninstrumented:
        for item in ObservedStream([1, 2, 3], Observer(raw_log, fail_on=2)):
            raw_log.append(("app", item))

    log: list[Any] = []
    rec = _record(telemetry)
    proxy = SyncStreamProxy(ObservedStream([1, 2, 3], Observer(log, fail_on=2)), rec, Adapter(log))
    with pytest.raises(ValueError, match="observer failed") as instrumented:
        for item in proxy:
            log.append(("app", item))
    assert type(instrumented.value) is type(uninstrumented.value)
    assert [e for e in log if e[0] != "adapter"] == raw_log == [("observer", 1), ("app", 1)]
    assert rec.lc.reason is not None and rec.lc.reason.value == "connection_dropped"


def test_other_iter_is_iterated_as_it_is(telemetry: Telemetry) -> None:
    assert list(SyncStreamProxy(OtherStream([1, 2]), _record(telemetry), Adapter([]))) == [10, 20]


def test_async_observer_called_per_item(telemetry: Telemetry) -> None:
    log: list[Any] = []
    rec = _record(telemetry)
    proxy = AsyncStreamProxy(AsyncObservedStream([1, 2, 3], Observer(log)), rec, Adapter(log))

    async def consume() -> None:
        async for item in proxy:
            log.append(("app", item))

    asyncio.run(consume())
    assert log == [(who, i) for i in (1, 2, 3) for who in ("observer", "adapter", "app")]
    assert rec.lc.reason is not None and rec.lc.reason.value == "completed"


def test_the_pinned_sdks_take_the_recognised_forms() -> None:
    """The real SDK classes (constraints.txt): openai's plain re-yield, anthropic's observer form."""
    import anthropic
    import openai

    from otel_streamslo.core.observe import _FORMS, _same_code

    plain, observer_form = _FORMS["__iter__"]
    plain_async, observer_form_async = _FORMS["__aiter__"]
    assert _same_code(openai.Stream.__iter__, plain)
    assert _same_code(openai.AsyncStream.__aiter__, plain_async)
    assert _same_code(anthropic.Stream.__iter__, observer_form)
    assert _same_code(anthropic.AsyncStream.__aiter__, observer_form_async)
