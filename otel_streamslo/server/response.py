"""One HTTP response as the middleware sees it: its lifecycle, its upstream link, its verdict.

A :class:`ServedResponse` exists for every request; it reports (span attributes, the
``streamslo.responses`` counter) only once the response is known to be streamed. The verdict is
written into the SERVER span that was current at the request's start (contrib ASGI / FastAPI /
FastAPI native telemetry), or into a ``{method} {route}`` SERVER span of ours started at the
request's start when there is none. Every method swallows its own errors (debug log).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any, Optional

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind, Status, StatusCode

from otel_streamslo.core import links
from otel_streamslo.core import semconv as sc
from otel_streamslo.core.telemetry import Telemetry
from otel_streamslo.server import sse
from otel_streamslo.server.hotpath import Counters
from otel_streamslo.server.lifecycle import (
    DownstreamPolicy,
    DownstreamReason,
    ResponseEvent,
    ResponseLifecycle,
    ResponseState,
)

logger = logging.getLogger(__name__)

_NS = 1e-9
UPSTREAM_STREAMS = "streamslo.upstream.streams"
UPSTREAM_BAD = "streamslo.upstream.bad"
UPSTREAM_OPEN_AT_DISCONNECT = "streamslo.upstream.open_at_disconnect"
HTTP_ROUTE = "http.route"
POLICY = DownstreamPolicy()
_DONE = ResponseState.DONE


def current_server_span() -> Optional[Span]:
    """The current span if it is a recording SERVER span (ours to enrich), else None."""
    span = trace.get_current_span()
    if span.is_recording() and getattr(span, "kind", None) is SpanKind.SERVER:
        return span
    return None


def _task() -> Any:
    try:
        return asyncio.current_task()
    except RuntimeError:
        return None


class ServedResponse(Counters):
    """Observations of one response; writes its verdict exactly once.

    ``chunks``, ``hot`` and ``sse`` live in :class:`~otel_streamslo.server.hotpath.Counters`, where
    the middleware's hot path reads and writes them.
    """

    __slots__ = (
        "_attached",
        "_lock",
        "first_data_ns",
        "lc",
        "link",
        "owns_span",
        "reported",
        "scope",
        "span",
        "start_wall_ns",
        "status",
        "streamed",
        "tel",
    )

    def __init__(self, tel: Telemetry, scope: dict[str, Any]) -> None:
        self.tel = tel
        self.scope = scope
        self.lc = ResponseLifecycle(started_ns=time.monotonic_ns())
        self.start_wall_ns = time.time_ns()
        self._lock = threading.Lock()
        self.link = links.ResponseLink(on_bad=self._upstream_bad)
        self.span: Optional[Span] = current_server_span()
        self.owns_span = False
        self.status: Optional[int] = None
        self.streamed = False
        self.sse = False
        self.chunks = 0
        self.first_data_ns: Optional[int] = None
        self.hot = False  # streaming, first data seen, not ended: the middleware's fast path may count
        self.reported = False
        self._attached: Optional[tuple[Any, Any]] = None

    # --- events -------------------------------------------------------------------------------

    def feed(self, event: ResponseEvent) -> Optional[DownstreamReason]:
        """Apply one lifecycle event (thread-safe); illegal events are logged and ignored."""
        try:
            with self._lock:
                reason = self.lc.feed(event, time.monotonic_ns())
            if reason is not None:
                self.hot = False
            return reason
        except Exception:
            logger.debug("otel_streamslo: ignored response event %s", event, exc_info=True)
            return None

    def _upstream_bad(self) -> None:
        self.feed(ResponseEvent.UPSTREAM_BAD)

    def observe(self, message: Any) -> None:
        """A message the middleware's fast path did not take, about to be forwarded."""
        try:
            kind = message["type"]
            if kind == "http.response.body":
                self.body(message.get("body", b""), message.get("more_body", False))
            elif kind == "http.response.start":
                self.start(message)
        except Exception:
            logger.debug("otel_streamslo: send bookkeeping failed", exc_info=True)

    def start(self, message: Any) -> None:
        """``http.response.start``: status, and whether the content type makes it streamed."""
        try:
            status = int(message.get("status", 200))
            self.status = status
            ctype = sse.content_type(message.get("headers") or ())
            self.sse = ctype == sse.SSE_TYPE
            self.feed(ResponseEvent.START if status < 400 else ResponseEvent.START_ERROR_STATUS)
            if ctype in sse.STREAMED_TYPES:
                self._activate()
        except Exception:
            logger.debug("otel_streamslo: response start failed", exc_info=True)

    def body(self, body: bytes, more: bool) -> None:
        """A body message is about to be forwarded; the final one gets the verdict first.

        The full path (the middleware counts most data messages itself): the first data message,
        SSE comments and ``event:`` fields, the final message, bodies that are not ``bytes``.
        """
        if not self.streamed:
            if not more:
                return  # a one-message body of a non-streamed type: not ours
            self._activate()
        if self.lc.state is _DONE:
            return
        if body:
            if not isinstance(body, bytes):
                body = bytes(body)  # Starlette also sends memoryview chunks
            sse_body = self.sse
            if not (sse_body and body[:1] == b":" and not sse.has_data(body)):
                self.chunks += 1
                if self.first_data_ns is None:
                    self.first_data_ns = time.monotonic_ns()
                    self.hot = not self.lc.done
                if sse_body and b"event:" in body and sse.has_error_event(body):
                    self.feed(ResponseEvent.ERROR_EVENT)
        if not more:
            self.feed(ResponseEvent.FINAL_BODY)
            self.report()

    def client_left(self) -> list[links.Linked]:
        """A disconnect before the final body: returns the upstream streams open at that moment."""
        if self.lc.done:
            return []  # uvicorn answers http.disconnect after every completed response
        self.feed(ResponseEvent.DISCONNECT)
        return self.link.disconnect(time.monotonic_ns())

    def exit(self, exc: Optional[BaseException]) -> None:
        """The app returned (or raised ``exc``): end the response if nothing else did."""
        self.feed(ResponseEvent.APP_ERROR)  # ignored when already terminal (sticky)
        if self.streamed:
            self.report()
        attached = self._attached
        if attached is not None and attached[0] is _task():
            self._attached = None
            otel_context.detach(attached[1])

    # --- reporting ----------------------------------------------------------------------------

    def _activate(self) -> None:
        """The response is streamed: from now on it reports (our own span if none is current)."""
        self.streamed = True
        if self.span is None:
            try:
                self.span = self._own_span()
                self.owns_span = True
                # Current for the rest of the sending task (the body generator runs there), so the
                # upstream streams it starts are children. Undone in exit() when that is the same task.
                self._attached = (_task(), otel_context.attach(trace.set_span_in_context(self.span)))
            except Exception:
                logger.debug("otel_streamslo: cannot start server span", exc_info=True)

    def route(self) -> Optional[str]:
        """The route template once routing ran (``scope["route"]``), else None."""
        path = getattr(self.scope.get("route"), "path", None)
        return path if isinstance(path, str) else None

    def _own_span(self) -> Span:
        scope = self.scope
        method = str(scope.get("method", "HTTP"))
        route = self.route()
        ctx = None
        if not trace.get_current_span().get_span_context().is_valid:
            headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope.get("headers") or ()}
            ctx = propagate.extract(headers)
        attrs: dict[str, Any] = {"http.request.method": method, "url.path": str(scope.get("path", ""))}
        if route:
            attrs[HTTP_ROUTE] = route
        return self.tel.tracer.start_span(
            f"{method} {route or scope.get('path', '')}",
            context=ctx,
            kind=SpanKind.SERVER,
            attributes=attrs,
            start_time=self.start_wall_ns,
        )

    def report(self) -> None:
        """Write the verdict into the span and count the response (once)."""
        reason = self.lc.reason
        if self.reported or reason is None:
            return
        self.reported = True
        try:
            self._write(reason)
        except Exception:
            logger.debug("otel_streamslo: writing the response verdict failed", exc_info=True)
        finally:
            if self.owns_span and self.span is not None:
                try:
                    self.span.end()
                except Exception:
                    logger.debug("otel_streamslo: server span end failed", exc_info=True)

    def _write(self, reason: DownstreamReason) -> None:
        outcome = POLICY.outcome(reason, self.status)
        lc, link = self.lc, self.link
        end_ns = lc.ended_ns or time.monotonic_ns()
        attrs: dict[str, Any] = {
            sc.TERMINATION_REASON: reason.value,
            sc.SLI_OUTCOME: outcome,
            sc.TIME_TO_COMPLETION: (end_ns - lc.started_ns) * _NS,
            sc.CHUNKS_DELIVERED: self.chunks,
            UPSTREAM_STREAMS: link.started,
            UPSTREAM_BAD: link.bad,
            UPSTREAM_OPEN_AT_DISCONNECT: link.open_at_disconnect,
        }
        if self.first_data_ns is not None:
            attrs[sc.TIME_TO_FIRST_TOKEN] = (self.first_data_ns - lc.started_ns) * _NS
        if self.status is not None:
            attrs[sc.HTTP_RESPONSE_STATUS_CODE] = self.status
        route = self.route()
        span = self.span
        if self.owns_span and route and span is not None:
            attrs[HTTP_ROUTE] = route
            span.update_name(f"{self.scope.get('method', 'HTTP')} {route}")
        if outcome == "bad":
            attrs[sc.ERROR_TYPE] = reason.value
        if span is not None:
            span.set_attributes(attrs)
            if outcome == "bad":
                span.set_status(Status(StatusCode.ERROR, reason.value))
        metric: dict[str, Any] = {sc.TERMINATION_REASON: reason.value, sc.SLI_OUTCOME: outcome}
        if route:
            metric[HTTP_ROUTE] = route
        self.tel.instruments.responses.add(1, metric)
