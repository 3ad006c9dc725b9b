"""Turns the lifecycle of one stream into a span, bounded span events and metric points.

A :class:`StreamRecord` is created before the request is sent and ends its span exactly once,
when the lifecycle reaches a terminal state. Every public method swallows its own errors
(logged at debug level): instrumentation must never break the application. Records never
hold a reference to the stream object they observe, so garbage collection of that object
can end the record (``client_abandoned``) through ``weakref.finalize``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from typing import Any, Callable, Optional

from opentelemetry import trace
from opentelemetry.trace import SpanKind

from otel_streamslo.core import links
from otel_streamslo.core import semconv as sc
from otel_streamslo.core.lifecycle import (
    Event,
    LifecycleError,
    State,
    StreamLifecycle,
    TerminationReason,
)
from otel_streamslo.core.report import report
from otel_streamslo.core.telemetry import Telemetry

logger = logging.getLogger(__name__)

_NS = 1e-9
_CANCEL_TYPES: tuple[type[BaseException], ...] = (KeyboardInterrupt, SystemExit, GeneratorExit)
_MAX_FINISH_REASONS = 8
# Early ends that, once the answer is whole (StreamRecord.answer_whole), end with its finish reason.
_AFTER_WHOLE = frozenset(
    {Event.CANCEL, Event.ABANDON, Event.TRANSPORT_ERROR, Event.TIMEOUT, Event.ERROR_EVENT, Event.EOF}
)

# Records whose stream is still open, so interpreter exit can end them (client_abandoned).
_OPEN: dict[int, StreamRecord] = {}
_OPEN_LOCK = threading.Lock()


def open_records() -> list[StreamRecord]:
    """Records not yet ended (a snapshot)."""
    with _OPEN_LOCK:
        return list(_OPEN.values())


def abandon_open_records() -> int:
    """End every open record as ``client_abandoned``; used at interpreter exit. Returns the count."""
    recs = open_records()
    for rec in recs:
        rec.end(Event.ABANDON)
    return len(recs)


def is_cancellation(exc: BaseException) -> bool:
    """True for exceptions that mean "the consumer went away" rather than a failure."""
    if isinstance(exc, _CANCEL_TYPES):
        return True
    return type(exc).__name__ == "CancelledError"


class StreamRecord:
    """Observations of one streamed call; owns its span until the stream is terminal."""

    __slots__ = (
        "__weakref__",
        "_active_counted",
        "_closer",
        "_content",
        "_content_len",
        "_finish_reasons",
        "_link",
        "_lock",
        "_metric_attrs",
        "_next_progress",
        "_progress_left",
        "_token_mark",
        "_watchers",
        "_whole",
        "capture",
        "chunks",
        "error",
        "first_chunk_ns",
        "http_status",
        "input_tokens",
        "lc",
        "output_tokens",
        "provider",
        "request_model",
        "response_id",
        "response_model",
        "span",
        "tel",
        "tokens",
        "tool_calls",
    )

    def __init__(
        self,
        tel: Telemetry,
        *,
        provider: str,
        request_model: str,
        operation: str = sc.OPERATION_CHAT,
        server_address: Optional[str] = None,
        server_port: Optional[int] = None,
        input_messages: Any = None,
        span: Optional[trace.Span] = None,
    ) -> None:
        """Start the record (and its span, unless ``span`` is given).

        ``span`` is an already started span to record into instead of starting one, e.g. the
        SDK's own call span (see ``instrumentation.anthropic.native_spans``); it gets the same start
        attributes and is ended by :meth:`end` like one the record started.
        """
        self.tel = tel
        self.provider = provider
        self.request_model = request_model
        self.lc = StreamLifecycle(started_ns=time.monotonic_ns())
        self.chunks = 0
        self.tokens = 0
        self.tool_calls = 0
        self.input_tokens: Optional[int] = None
        self.output_tokens: Optional[int] = None
        self.response_id: Optional[str] = None
        self.response_model: Optional[str] = None
        self.http_status: Optional[int] = None
        self.error: Optional[BaseException] = None
        self._finish_reasons: list[str] = []
        self.first_chunk_ns: Optional[int] = None
        self._lock = threading.Lock()
        self._watchers = 0
        self._whole = False
        settings = tel.settings
        self._next_progress = settings.progress_every_tokens
        self._token_mark = 0  # token() does its bookkeeping once tokens reach this (see token())
        self._progress_left = settings.max_progress_events
        self.capture = settings.capture_content
        self._content: Optional[list[str]] = [] if self.capture else None
        self._content_len = 0
        attrs: dict[str, Any] = {
            sc.GEN_AI_OPERATION_NAME: operation,
            sc.GEN_AI_PROVIDER_NAME: provider,
            sc.GEN_AI_REQUEST_MODEL: request_model,
        }
        if server_address:
            attrs[sc.SERVER_ADDRESS] = server_address
        if server_port:
            attrs[sc.SERVER_PORT] = server_port
        self._metric_attrs = attrs
        self.span = self._start_span(operation, span, input_messages)
        self._active_counted = self._count_active()
        self._closer: Optional[links.Closer] = None
        self._link = _register(self)
        # Registered last: a record whose construction failed must not stay "open" forever.
        with _OPEN_LOCK:
            _OPEN[id(self)] = self

    def _start_span(self, operation: str, span: Optional[trace.Span], input_messages: Any) -> trace.Span:
        """The CLIENT span with the start attributes (or ``span``, given them)."""
        span_attrs = dict(self._metric_attrs)
        span_attrs[sc.GEN_AI_REQUEST_STREAM] = True
        if self.capture and input_messages is not None:
            limit = self.tel.settings.max_content_chars
            span_attrs[sc.GEN_AI_INPUT_MESSAGES] = _bounded_json(input_messages, limit)
        if span is None:
            name = f"{operation} {self.request_model}"
            return self.tel.tracer.start_span(name, kind=SpanKind.CLIENT, attributes=span_attrs)
        span.set_attributes(span_attrs)
        return span

    def _count_active(self) -> bool:
        """Count this stream in ``streamslo.streams.active``; whether that worked."""
        try:
            key = {sc.GEN_AI_PROVIDER_NAME: self.provider, sc.GEN_AI_REQUEST_MODEL: self.request_model}
            self.tel.instruments.active.add(1, key)
            return True
        except Exception:
            logger.debug("otel_streamslo: active-streams counter failed", exc_info=True)
            return False

    # --- observation API used by SDK adapters -------------------------------------------------

    @property
    def done(self) -> bool:
        """True once the stream reached a terminal state."""
        return self.lc.state is State.DONE

    def watch(self, obj: object) -> None:
        """End as ``client_abandoned`` once ``obj`` (and every other watched object) is collected."""
        try:
            self._watchers += 1
            weakref.finalize(obj, self._unwatched)
            self._closer = links.weak_closer(obj)  # the remedy closes the newest proxy
        except Exception:
            logger.debug("otel_streamslo: cannot watch %r", type(obj), exc_info=True)

    def _unwatched(self) -> None:
        self._watchers -= 1
        if self._watchers <= 0:
            self.end(Event.ABANDON)

    def closer(self) -> Optional[Callable[[], Any]]:
        """The ``close`` of the newest stream object handed to the app, while it is alive."""
        return self._closer() if self._closer is not None else None

    def cancel(self) -> None:
        """End as ``client_cancelled`` (the remedy for a client that left)."""
        self.end(Event.CANCEL)

    def opened(self, http_status: Optional[int] = 200) -> None:
        """The response arrived and the stream began."""
        self.http_status = http_status
        self._feed(Event.RESPONSE_OPENED)

    def token(self, n: int = 1) -> None:
        """``n`` output tokens (content or tool-call deltas) were handed to the consumer."""
        self.tokens += n
        if self.tokens >= self._token_mark:  # one comparison per chunk; the rest is rarely due
            self._token_bookkeeping()

    def _token_bookkeeping(self) -> None:
        """First token and progress events, when one of them may be due."""
        if self.lc.first_token_ns is None:
            self._first_token()
        if self.tokens >= self._next_progress:
            self._progress()
        # until the first token is recorded every token comes back here; then at the next progress mark
        self._token_mark = 0 if self.lc.first_token_ns is None else self._next_progress

    def content(self, text: str) -> None:
        """Completion text, kept only when content capture is opted in (bounded)."""
        buf = self._content
        if buf is not None and text and self._content_len < self.tel.settings.max_content_chars:
            buf.append(text)
            self._content_len += len(text)

    def finish(self, event: Event, raw_reason: Optional[str]) -> None:
        """A finish reason arrived (``event`` is one of the FINISH_* events)."""
        reasons = self._finish_reasons
        if raw_reason and len(reasons) < _MAX_FINISH_REASONS and raw_reason not in reasons:
            reasons.append(raw_reason)
        self._feed(event)

    def response_info(self, response_id: Optional[str] = None, response_model: Optional[str] = None) -> None:
        """Response id and model, when the provider sends them."""
        if response_id and not self.response_id:
            self.response_id = response_id
        if response_model and not self.response_model:
            self.response_model = response_model

    def usage(self, input_tokens: Optional[int] = None, output_tokens: Optional[int] = None) -> None:
        """Provider-reported usage (latest value wins)."""
        if isinstance(input_tokens, int):
            self.input_tokens = input_tokens
        if isinstance(output_tokens, int):
            self.output_tokens = output_tokens

    def tool_call(self, name: Optional[str], index: int) -> None:
        """A tool call finished streaming before termination (a committed side effect)."""
        self.tool_calls += 1
        try:
            attrs: dict[str, Any] = {sc.TOOL_CALL_INDEX: index}
            if name:
                attrs[sc.GEN_AI_TOOL_NAME] = name
            self.span.add_event(sc.EVENT_TOOL_CALL, attrs)
        except Exception:
            logger.debug("otel_streamslo: tool_call event failed", exc_info=True)

    def request_failed(self, exc: BaseException, http_status: Optional[int]) -> None:
        """The request failed before the stream began (or the caller was cancelled)."""
        self.http_status = http_status
        self.error = exc
        if is_cancellation(exc):
            self.end(Event.CANCEL)
        else:
            self.end(Event.REQUEST_FAILED)

    def fail(self, event: Event, exc: BaseException) -> None:
        """The stream raised ``exc`` while the consumer waited for the next chunk."""
        if self.error is None:
            self.error = exc
        self.end(Event.CANCEL if is_cancellation(exc) else event)

    def exit_block(self, exc: Optional[BaseException]) -> None:
        """The consumer left its ``with`` block (with ``exc`` if it raised)."""
        if self.done:
            return
        if exc is None or is_cancellation(exc):
            self.end(Event.CANCEL)
        elif exc is self.error:
            return
        else:
            self.error = exc
            self.end(Event.CONSUMER_ERROR)

    def answer_whole(self) -> None:
        """The answer is whole (finish reason seen); only trailing metadata such as usage may follow.

        For protocols whose end of answer comes before a trailer (Bedrock's ``messageStop`` before
        ``metadata``): from now on a close, collection, drop, stall, error or clean end before the
        trailer ends the stream with its finish reason instead (call after :meth:`finish`).
        """
        self._whole = True

    def end(self, event: Event) -> None:
        """Feed a (possibly) terminal event; ends the span exactly once."""
        if self._whole and event in _AFTER_WHOLE:
            event = Event.END_MARKER
        self._feed(event)

    # --- internals ----------------------------------------------------------------------------

    def _feed(self, event: Event) -> None:
        try:
            with self._lock:
                reason = self.lc.feed(event, time.monotonic_ns())
            if reason is not None:
                self._finalize(reason)
        except LifecycleError:
            logger.debug("otel_streamslo: ignored out-of-order event %s", event, exc_info=True)
        except Exception:
            logger.debug("otel_streamslo: recording failed", exc_info=True)

    def _finalize(self, reason: TerminationReason) -> None:
        with _OPEN_LOCK:
            _OPEN.pop(id(self), None)
        try:
            report(self, reason)
        finally:
            try:
                self.span.end()
            except Exception:
                logger.debug("otel_streamslo: span end failed", exc_info=True)

    def _first_token(self) -> None:
        try:
            with self._lock:
                self.lc.token(time.monotonic_ns())
            ttft = self.lc.time_to_first_token_ns
            if ttft is not None:
                self.span.add_event(sc.EVENT_FIRST_TOKEN, {sc.TIME_TO_FIRST_TOKEN: ttft * _NS})
        except Exception:
            logger.debug("otel_streamslo: first token failed", exc_info=True)

    def _progress(self) -> None:
        every = self.tel.settings.progress_every_tokens
        while self._next_progress <= self.tokens:
            self._next_progress += every
        if self._progress_left <= 0:
            self._next_progress = 1 << 62
            return
        self._progress_left -= 1
        try:
            self.span.add_event(
                sc.EVENT_PROGRESS, {sc.TOKENS_DELIVERED: self.tokens, sc.CHUNKS_DELIVERED: self.chunks}
            )
        except Exception:
            logger.debug("otel_streamslo: progress event failed", exc_info=True)


def _register(rec: StreamRecord) -> Optional[links.ResponseLink]:
    try:
        return links.register(rec)
    except Exception:
        logger.debug("otel_streamslo: upstream link failed", exc_info=True)
        return None


def _bounded_json(value: Any, limit: int) -> str:
    try:
        text = json.dumps(value, default=str)
    except Exception:
        text = str(value)
    return text[:limit]
