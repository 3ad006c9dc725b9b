"""Playback of scripted steps: flush frames, sleep pauses, drop the connection on purpose."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

import anyio
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from otel_streamslo.chaos.plan import Frame, Pause, Reset, Step
from otel_streamslo.chaos.state import ChaosState, LogEntry

__all__ = ["ChaosReset", "ChaosResetFilter", "PlayResponse", "install_log_filter"]


class ChaosReset(Exception):
    """Raised after a response started to make uvicorn drop the connection mid-body."""


def _is_chaos_reset(exc: object) -> bool:
    if isinstance(exc, ChaosReset):
        return True
    inner = getattr(exc, "exceptions", None)  # an ExceptionGroup wrapping only ChaosReset
    return isinstance(exc, BaseException) and isinstance(inner, tuple) and all(map(_is_chaos_reset, inner))


class ChaosResetFilter(logging.Filter):
    """Drops uvicorn's "Exception in ASGI application" records caused by :class:`ChaosReset`."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc_info = record.exc_info
        return not (exc_info and _is_chaos_reset(exc_info[1]))


def install_log_filter() -> None:
    """Attach :class:`ChaosResetFilter` to uvicorn's error logger (idempotent)."""
    target = logging.getLogger("uvicorn.error")
    if not any(isinstance(f, ChaosResetFilter) for f in target.filters):
        target.addFilter(ChaosResetFilter())


class PlayResponse(Response):
    """Plays a list of steps: flushes frames, sleeps pauses, drops the connection on reset.

    Watches for client disconnects and server stop while playing, so a stall never
    outlives its client nor the server.
    """

    def __init__(
        self,
        steps: Iterable[Step],
        *,
        state: ChaosState,
        entry: LogEntry,
        outcome: str,
        headers: Mapping[str, str],
        media_type: str,
    ) -> None:
        self.steps = steps
        self.state = state
        self.entry = entry
        self.outcome = outcome
        self.status_code = 200
        self.media_type = media_type
        self.background = None
        self.init_headers(headers)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        self.client_gone = False
        finished, reached_reset = await self._play_watched(receive, send)
        if finished:
            if reached_reset:
                raise ChaosReset("scripted connection reset")
            return
        stopped = self.state.stopping
        self.state.settle(self.entry, "server_stopped" if stopped else "client_disconnected")
        if stopped and not self.client_gone:
            raise ChaosReset("server stopping")

    async def _play_watched(self, receive: Receive, send: Send) -> tuple[bool, bool]:
        """Play while watching for a disconnect or a stop; return (finished, reached_reset)."""
        async with anyio.create_task_group() as group:

            async def watch() -> None:
                while (await receive())["type"] != "http.disconnect":
                    pass
                self.client_gone = True
                group.cancel_scope.cancel()

            group.start_soon(watch)
            self.state.track(group.cancel_scope)
            try:
                if not self.state.stopping:
                    return True, await self._play(send)
            finally:
                self.state.untrack(group.cancel_scope)
                group.cancel_scope.cancel()
        return False, False

    async def _play(self, send: Send) -> bool:
        """Send the steps; return True when a :class:`Reset` step ends the response.

        The outcome is settled just before the last step, so the log already shows it when
        the client sees the end of the stream.
        """
        await send({"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers})
        self.state.update(self.entry, status=self.status_code)
        steps = iter(self.steps)
        step = next(steps, None)
        while step is not None:
            following = next(steps, None)
            if isinstance(step, Frame):
                self.state.add_tokens(self.entry, step.tokens)
            if following is None:
                outcome = "reset" if isinstance(step, Reset) else self.outcome
                self.state.settle(self.entry, outcome, self.status_code)
            if isinstance(step, Reset):
                return True
            if isinstance(step, Pause):
                await anyio.sleep(step.seconds)
            else:
                await send({"type": "http.response.body", "body": step.data, "more_body": True})
            step = following
        self.state.settle(self.entry, self.outcome, self.status_code)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return False
