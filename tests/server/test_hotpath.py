"""The middleware's hot-path ``send``, C (``_speedups``) and pure Python side by side: same counts,
same awaitables, same exceptions, same cancellation and close behaviour."""

from __future__ import annotations

import asyncio
import collections.abc
import platform
import sys
from typing import Any, Callable, Optional

import pytest

from otel_streamslo.core.config import pure_python_requested
from otel_streamslo.server import hotpath

try:
    import otel_streamslo.server._speedups as speedups
except ImportError:  # pragma: no cover - the build hook builds it on CPython 3.10+
    speedups = None  # type: ignore[assignment]

IMPLS = ["python", "c"]


def test_c_hot_path_is_built_and_selected() -> None:
    """The install builds the C hot path on CPython 3.10+ (a silent fallback would go untested)."""
    if platform.python_implementation() != "CPython" or sys.version_info < (3, 10):
        pytest.skip("the C hot path needs CPython 3.10+")
    assert speedups is not None, "otel_streamslo.server._speedups was not built by the install"
    pure = pure_python_requested()
    assert ("python" if pure else "c") == hotpath.IMPLEMENTATION


class Recorder:
    """The server's send: records messages; its awaitable can suspend, fail, or return a value."""

    def __init__(self, fail_after: Optional[int] = None, suspend: int = 0, value: Any = None) -> None:
        self.sent: list[Any] = []
        self.fail_after = fail_after
        self.suspend = suspend
        self.value = value
        self.events: list[str] = []

    async def send(self, message: Any) -> Any:
        try:
            for _ in range(self.suspend):
                await asyncio.sleep(0)
            if self.fail_after is not None and len(self.sent) >= self.fail_after:
                raise OSError("client gone")
            self.sent.append(message)
            return self.value
        except BaseException as exc:
            self.events.append(f"inner saw {type(exc).__name__}")
            raise
        finally:
            self.events.append("inner finally")


def make(
    impl: str, server: Callable[[Any], Any], *, checked: bool, hot: bool = True, sse: bool = True
) -> tuple[Any, Callable[[Any], Any], list[Any], list[str]]:
    if impl == "c":
        if speedups is None:
            pytest.skip("C hot path not built")
        resp: Any = speedups.Counters()
    else:
        resp = hotpath.PyCounters()
    resp.hot, resp.sse = hot, sse
    full_seen: list[Any] = []
    failed_log: list[str] = []

    def full(message: Any) -> Any:
        full_seen.append(message)
        return server(message)

    async def failed() -> None:
        failed_log.append(f"failed at chunks={resp.chunks}")
        await asyncio.sleep(0)  # the handler may suspend (closing upstream streams)
        failed_log.append("failed done")

    make_send = speedups.SendHook if impl == "c" else hotpath.py_send
    return resp, make_send(resp, server, full, failed if checked else None), full_seen, failed_log


def body(data: Any, more: bool = True) -> dict[str, Any]:
    return {"type": "http.response.body", "body": data, "more_body": more}


CASES = [
    (body(b"data: x\n\n"), True),
    (body(b'data: {"a":"v"}\n\n'), True),  # a "v", but no event: field
    (body(b"event: error\ndata: x\n\n"), False),
    (body(b"data: x\n\nevent: done\n\n"), False),
    (body(b": ping\n\n"), False),
    (body(b""), False),
    (body(b"data: x\n\n", more=False), False),
    (body(memoryview(b"data: x\n\n")), False),
    ({"type": "http.response.body", "body": b"data: x\n\n"}, False),  # no more_body
    ({"type": "http.response.start", "status": 200, "headers": []}, False),
]


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("checked", [False, True])
@pytest.mark.parametrize(("message", "hot"), CASES)
async def test_which_messages_the_hot_path_counts(impl: str, checked: bool, message: Any, hot: bool) -> None:
    rec = Recorder()
    resp, send, full_seen, _ = make(impl, rec.send, checked=checked)
    await send(message)
    assert rec.sent == [message]
    assert (resp.chunks, full_seen) == ((1, []) if hot else (0, [message]))


@pytest.mark.parametrize("impl", IMPLS)
async def test_not_hot_and_not_sse(impl: str) -> None:
    rec = Recorder()
    resp, send, full_seen, _ = make(impl, rec.send, checked=False, hot=False)
    await send(body(b"data: x\n\n"))
    assert (resp.chunks, len(full_seen)) == (0, 1)
    resp, send, full_seen, _ = make(impl, rec.send, checked=False, sse=False)
    await send(body(b": not sse, counted\n"))
    await send(body(b"event: also counted\n"))
    assert (resp.chunks, full_seen) == (2, [])


@pytest.mark.parametrize("impl", IMPLS)
async def test_unchecked_send_returns_the_servers_awaitable(impl: str) -> None:
    rec = Recorder(value="v")
    _, send, _, _ = make(impl, rec.send, checked=False)
    aw = send(body(b"data: x\n\n"))
    assert asyncio.iscoroutine(aw) and aw.cr_code is Recorder.send.__code__
    assert await aw == "v"


@pytest.mark.parametrize("impl", IMPLS)
async def test_checked_send_is_a_coroutine_and_passes_suspensions_through(impl: str) -> None:
    rec = Recorder(suspend=3, value="v")
    resp, send, _, failed_log = make(impl, rec.send, checked=True)
    aw = send(body(b"data: x\n\n"))
    assert isinstance(aw, collections.abc.Coroutine) and asyncio.iscoroutine(aw)
    task = asyncio.ensure_future(aw)
    assert await task is None if impl == "python" else await task in (None, "v")
    assert (resp.chunks, len(rec.sent), failed_log) == (1, 1, [])


@pytest.mark.parametrize("impl", IMPLS)
async def test_checked_send_returns_what_the_server_returns(impl: str) -> None:
    rec = Recorder(value=("a", 1))
    _, send, _, _ = make(impl, rec.send, checked=True)
    got = await send(body(b"data: x\n\n"))
    # on_send_checked (Python) returns None; the C wrapper is transparent. ASGI's send returns None.
    assert got == (None if impl == "python" else ("a", 1))


@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("suspend", [0, 2])
@pytest.mark.parametrize("message", [body(b"data: x\n\n"), body(b"event: error\n\n"), body(b"", more=False)])
async def test_failed_send_restores_the_count_runs_failed_and_reraises(
    impl: str, suspend: int, message: Any
) -> None:
    rec = Recorder(fail_after=2, suspend=suspend)
    resp, send, _, failed_log = make(impl, rec.send, checked=True)
    await send(body(b"data: 1\n\n"))
    await send(body(b"data: 2\n\n"))
    with pytest.raises(OSError, match="client gone") as info:
        await send(message)
    assert resp.chunks == 2
    assert failed_log == ["failed at chunks=2", "failed done"]
    assert any(f.co_name == "send" for f in _frames(info.value.__traceback__))
    assert rec.events[-2:] == ["inner saw OSError", "inner finally"]


def _frames(tb: Any) -> list[Any]:
    out = []
    while tb is not None:
        out.append(tb.tb_frame.f_code)
        tb = tb.tb_next
    return out


@pytest.mark.parametrize("impl", IMPLS)
async def test_a_send_raising_at_call_time_is_seen_at_await(impl: str) -> None:
    def server(message: Any) -> Any:
        raise OSError("gone at call")

    resp, send, _, failed_log = make(impl, server, checked=True)
    aw = send(body(b"data: x\n\n"))  # does not raise here (as `await on_send_checked(...)`)
    with pytest.raises(OSError, match="gone at call"):
        await aw
    assert (resp.chunks, failed_log) == (0, ["failed at chunks=0", "failed done"])


@pytest.mark.parametrize("impl", IMPLS)
async def test_failed_handler_error_carries_the_oserror_as_context(impl: str) -> None:
    rec = Recorder(fail_after=0)
    resp, send, _, _ = make(impl, rec.send, checked=True)

    async def broken() -> None:
        raise KeyboardInterrupt

    if impl == "c":
        send = speedups.SendHook(resp, rec.send, rec.send, broken)
    else:
        send = hotpath.py_send(resp, rec.send, rec.send, broken)
    with pytest.raises(KeyboardInterrupt) as info:
        await send(body(b"data: x\n\n"))
    assert isinstance(info.value.__context__, OSError)


@pytest.mark.parametrize("impl", IMPLS)
async def test_cancellation_reaches_the_servers_send(impl: str) -> None:
    rec = Recorder(suspend=100)
    resp, send, _, failed_log = make(impl, rec.send, checked=True)
    task = asyncio.ensure_future(send(body(b"data: x\n\n")))
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert rec.events == ["inner saw CancelledError", "inner finally"]
    assert (resp.chunks, failed_log) == (1, [])  # not a failed send: the count stays


@pytest.mark.parametrize("impl", IMPLS)
async def test_close_closes_the_servers_send(impl: str) -> None:
    rec = Recorder(suspend=5)
    _, send, _, _ = make(impl, rec.send, checked=True)
    aw = send(body(b"data: x\n\n"))
    aw.send(None)  # suspended inside the server's send
    aw.close()
    assert rec.events == ["inner saw GeneratorExit", "inner finally"]
    aw.close()  # idempotent
    with pytest.raises(RuntimeError):
        aw.send(None)


@pytest.mark.parametrize("impl", IMPLS)
async def test_throw_into_the_awaited_send(impl: str) -> None:
    rec = Recorder(suspend=5)
    resp, send, _, failed_log = make(impl, rec.send, checked=True)
    aw = send(body(b"data: x\n\n"))
    aw.send(None)
    with pytest.raises(ValueError, match="boom"):
        aw.throw(ValueError("boom"))
    assert rec.events == ["inner saw ValueError", "inner finally"]
    assert failed_log == []
    aw2 = send(body(b"data: y\n\n"))
    aw2.send(None)
    with pytest.raises(OSError, match="reset"):  # an OSError thrown in is a failed send too
        aw2.throw(OSError("reset"))  # suspends in failed() (it yields once)
        aw2.send(None)
    assert (resp.chunks, failed_log) == (1, ["failed at chunks=1", "failed done"])


@pytest.mark.parametrize("impl", IMPLS)
async def test_wrong_arguments_fail_like_the_python_function(impl: str) -> None:
    rec = Recorder()
    _, send, _, _ = make(impl, rec.send, checked=False)
    with pytest.raises(TypeError):
        send()
    with pytest.raises(TypeError):
        send(body(b"x"), body(b"y"))
    await send(message=body(b"data: x\n\n"))  # a keyword works and takes the full path
    assert len(rec.sent) == 1


def test_the_c_types_are_collected() -> None:
    """No leak: hooks and checked sends held only in a cycle are collected."""
    if speedups is None:
        pytest.skip("C hot path not built")
    import gc
    import weakref

    class Box:
        pass

    box = Box()
    resp = speedups.Counters()

    async def send(message: Any) -> None:
        return None

    hook = speedups.SendHook(resp, send, send, None)
    box.hook = hook  # type: ignore[attr-defined]
    ref = weakref.ref(box)

    def full(message: Any, _box: Any = box) -> Any:
        return send(message)

    box.cycle = speedups.SendHook(resp, send, full, None)  # type: ignore[attr-defined]
    del box, hook, full
    gc.collect()
    assert ref() is None
