"""The upstream link on its own: registration through the context, orphans, the remedy's ordering."""

from __future__ import annotations

import asyncio
import contextvars
import threading
from typing import Any, Callable, Optional

from otel_streamslo.core import links


class FakeRecord:
    """Just what a link needs from a record (links.Linked)."""

    def __init__(self, log: list[str], close: Optional[Callable[[], Any]] = None) -> None:
        self.tokens = 0
        self.log = log
        self._close = close
        self._done = False

    @property
    def done(self) -> bool:
        return self._done

    def closer(self) -> Optional[Callable[[], Any]]:
        return self._close

    def cancel(self) -> None:
        self.log.append("cancel")
        self._done = True


def test_register_follows_the_context_into_tasks_and_threads() -> None:
    link = links.ResponseLink()
    token = links.bind(link)
    try:
        ctx = contextvars.copy_context()
        t = threading.Thread(target=lambda: ctx.run(lambda: links.register(FakeRecord([]))))
        t.start()
        t.join()

        async def in_task() -> None:
            links.register(FakeRecord([]))

        asyncio.run(in_task())  # asyncio.run copies the current context
    finally:
        links.unbind(token)
    assert link.started == 2
    assert links.register(FakeRecord([])) is None  # outside the request: no link


def test_orphans_get_latency_and_tokens_after_the_disconnect() -> None:
    bad_calls: list[int] = []
    link = links.ResponseLink(on_bad=lambda: bad_calls.append(1))
    early, late, closed = FakeRecord([]), FakeRecord([]), FakeRecord([])
    for r in (early, late, closed):
        link.add(r)
    assert link.ended(early, bad=True) is None  # ended before the disconnect: not an orphan
    closed._done = True  # done but not yet reported: not open any more
    late.tokens = 5
    open_now = link.disconnect(0)
    assert open_now == [late]
    assert link.disconnect(1) == []  # once
    late.tokens = 12
    orphan = link.ended(late, bad=False)
    assert orphan is not None and orphan[0] > 0 and orphan[1] == 7
    assert (link.started, link.bad, link.open_at_disconnect, bad_calls) == (3, 1, 1, [1])


def test_close_streams_cancels_first_and_never_raises() -> None:
    log: list[str] = []

    async def aclose() -> None:
        log.append("aclose")
        raise RuntimeError("SDK close failed")

    def sync_close() -> None:
        log.append("close")

    recs = [FakeRecord(log, aclose), FakeRecord(log, None), FakeRecord(log, sync_close)]
    asyncio.run(links.close_streams(recs))  # type: ignore[arg-type]
    for _ in range(100):
        if "close" in log:
            break
        threading.Event().wait(0.01)
    assert log[:2] == ["cancel", "aclose"]
    assert log.count("cancel") == 3 and "close" in log
