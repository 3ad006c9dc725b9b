"""``StreamSLOMiddleware``: a pure ASGI middleware giving every streamed response one verdict.

It wraps ``receive`` (an ``http.disconnect`` before the final body message is a client cancel)
and ``send`` (response start, body messages, a send failing with ``OSError`` on ASGI spec 2.4),
binds the request's upstream link for the app's code, and writes the verdict into the current
SERVER span before it forwards the final body message. It never raises into the app.
"""

from __future__ import annotations

import functools
import logging
import os
from collections.abc import Awaitable, MutableMapping
from typing import Any, Callable, Optional

from opentelemetry import metrics, trace

from otel_streamslo.core import links
from otel_streamslo.core.config import Settings
from otel_streamslo.core.telemetry import Telemetry, make_telemetry
from otel_streamslo.server import hotpath
from otel_streamslo.server.hotpath import Message, Send
from otel_streamslo.server.response import ServedResponse

logger = logging.getLogger(__name__)

ENV_CLOSE_UPSTREAM = "OTEL_STREAMSLO_CLOSE_UPSTREAM_ON_DISCONNECT"
SCOPE_KEY = "otel_streamslo.response"
_MAX_WALK = 64

Receive = Callable[[], Awaitable[Message]]
ASGIApp = Callable[[MutableMapping[str, Any], Receive, Send], Awaitable[None]]


def close_upstream_from_env(value: Optional[bool] = None) -> bool:
    """The remedy switch: the keyword argument, else the environment variable, else off."""
    if value is not None:
        return bool(value)
    raw = os.environ.get(ENV_CLOSE_UPSTREAM, "").strip().lower()
    if raw in ("1", "true", "yes", "on"):
        return True
    if raw in ("", "0", "false", "no", "off"):
        return False
    raise ValueError(f"{ENV_CLOSE_UPSTREAM}: expected true/false, got {raw!r}")


class StreamSLOMiddleware:
    """Stream-aware verdicts for an ASGI app's streamed responses (DESIGN.md, server side).

    ``close_upstream_on_disconnect`` (default: env ``OTEL_STREAMSLO_CLOSE_UPSTREAM_ON_DISCONNECT``)
    closes the request's still-open upstream LLM streams when the client leaves.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        close_upstream_on_disconnect: Optional[bool] = None,
        tracer_provider: Optional[trace.TracerProvider] = None,
        meter_provider: Optional[metrics.MeterProvider] = None,
        telemetry: Optional[Telemetry] = None,
        enabled: Optional[Callable[[], bool]] = None,
        innermost: bool = False,
    ) -> None:
        self.app = app
        self.close_upstream = close_upstream_from_env(close_upstream_on_disconnect)
        self.tel = telemetry or make_telemetry(Settings(), tracer_provider, meter_provider)
        self._enabled = enabled
        self._placed = innermost  # True once we know no HTTP server instrumentation sits inside us

    async def __call__(self, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
        if scope.get("type") != "http" or SCOPE_KEY in scope or not self._active():
            await self.app(scope, receive, send)
            return
        try:
            resp = ServedResponse(self.tel, dict_of(scope))
            on_receive, on_send = self._wrap(resp, receive, send, _spec_2_4(scope))
            scope[SCOPE_KEY] = resp
        except Exception:
            logger.debug("otel_streamslo: cannot observe response", exc_info=True)
            await self.app(scope, receive, send)
            return
        token = links.bind(resp.link)
        try:  # served here, not in a helper coroutine: one frame less held per open response
            await self.app(scope, on_receive, on_send)
        except BaseException as exc:
            _exit(resp, exc)
            raise
        else:
            _exit(resp, None)
        finally:
            links.unbind(token)

    def _active(self) -> bool:
        try:
            if self._enabled is not None and not self._enabled():
                return False
            if not self._placed:
                self._placed = True
                if _inject_inside_server_instrumentation(self):
                    self._enabled = lambda: False  # the copy inside does the work
                    return False
        except Exception:
            logger.debug("otel_streamslo: middleware placement failed", exc_info=True)
        return True

    def _wrap(
        self, resp: ServedResponse, receive: Receive, send: Send, spec_2_4: bool
    ) -> tuple[Receive, Send]:
        """The ``receive`` and ``send`` the app gets for ``resp``."""
        close_upstream = self.close_upstream

        async def on_receive() -> Message:
            message = await receive()
            if message.get("type") == "http.disconnect":
                await _client_left(resp, close_upstream)
            return message

        def full(message: Message) -> Awaitable[None]:  # every message the hot path does not take
            resp.observe(message)
            return send(message)

        failed = functools.partial(_client_left, resp, close_upstream) if spec_2_4 else None
        return on_receive, hotpath.make_send(resp, send, full, failed)


def _spec_2_4(scope: MutableMapping[str, Any]) -> bool:
    """True when the server speaks ASGI HTTP spec 2.4 or later (failed sends raise OSError)."""
    try:
        version = str(scope.get("asgi", {}).get("spec_version", "2.0"))
        return tuple(int(p) for p in version.split(".")[:2]) >= (2, 4)
    except Exception:
        return True


def dict_of(scope: MutableMapping[str, Any]) -> dict[str, Any]:
    """The scope itself when it is a dict (routing writes ``scope["route"]`` into it)."""
    return scope if isinstance(scope, dict) else dict(scope)


async def _client_left(resp: ServedResponse, close_upstream: bool) -> None:
    try:
        open_streams = resp.client_left()
        if close_upstream and open_streams:
            await links.close_streams(open_streams)
    except Exception:
        logger.debug("otel_streamslo: disconnect bookkeeping failed", exc_info=True)


def _exit(resp: ServedResponse, exc: Optional[BaseException]) -> None:
    try:
        resp.exit(exc)
    except Exception:
        logger.debug("otel_streamslo: response end failed", exc_info=True)


def _is_server_instrumentation(obj: object) -> bool:
    cls = type(obj)
    return cls.__name__ == "OpenTelemetryMiddleware" and cls.__module__.startswith(
        "opentelemetry.instrumentation.asgi"
    )


def _inject_inside_server_instrumentation(mw: StreamSLOMiddleware) -> bool:
    """If contrib's ASGI middleware sits inside ``mw``, put a copy of ``mw`` inside it instead.

    Its SERVER span only exists inside it; a copy there enriches that span instead of creating a
    second one. Returns True when the copy was placed (``mw`` then passes requests through).
    """
    obj: Any = mw.app
    for _ in range(_MAX_WALK):
        if _is_server_instrumentation(obj):
            obj.app = StreamSLOMiddleware(
                obj.app,
                close_upstream_on_disconnect=mw.close_upstream,
                telemetry=mw.tel,
                enabled=mw._enabled,
                innermost=True,
            )
            return True
        if isinstance(obj, StreamSLOMiddleware):
            return False
        if hasattr(obj, "build_middleware_stack"):  # a Starlette app: its stack is built lazily
            if getattr(obj, "middleware_stack", None) is None:
                obj.middleware_stack = obj.build_middleware_stack()
            obj = obj.middleware_stack
            continue
        nxt = getattr(obj, "app", None)
        if nxt is None or nxt is obj:
            return False
        obj = nxt
    return False
