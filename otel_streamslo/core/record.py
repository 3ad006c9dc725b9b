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
from opentelemetry.trace import SpanKind, Status, StatusCode

from otel_streamslo.core import links
from otel_streamslo.core import semconv as sc
from otel_streamslo.core.lifecycle import (
    Event,
    LifecycleError,
    Outcome,
    State,
    StreamLifecycle,
    TerminationReason,
)
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
        span_attrs = dict(attrs)
        span_attrs[sc.GEN_AI_REQUEST_STREAM] = True
        if self.capture and input_messages is not None:
            span_attrs[sc.GEN_AI_INPUT_MESSAGES] = _bounded_json(input_messages, settings.max_content_chars)
        if span is None:
            self.span = tel.tracer.start_span(
                f"{operation} {request_model}", kind=SpanKind.CLIENT, attributes=span_attrs
            )
        else:
            self.span = span
            span.set_attributes(span_attrs)
        self._active_counted = False
        try:
            tel.instruments.active.add(
                1, {sc.GEN_AI_PROVIDER_NAME: provider, sc.GEN_AI_REQUEST_MODEL: request_model}
            )
            self._active_counted = True
        except Exception:
            logger.debug("otel_streamslo: active-streams counter failed", exc_info=True)
        self._closer: Optional[links.Closer] = None
        self._link = _register(self)
        # Registered last: a record whose construction failed must not stay "open" forever.
        with _OPEN_LOCK:
            _OPEN[id(self)] = self

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

    def _delivered_tokens(self, reason: TerminationReason) -> int:
        completed = reason in (
            TerminationReason.COMPLETED,
            TerminationReason.LENGTH,
            TerminationReason.CONTENT_FILTER,
        )
        if completed and self.output_tokens is not None:
            return self.output_tokens
        return self.tokens

    def _finalize(self, reason: TerminationReason) -> None:
        with _OPEN_LOCK:
            _OPEN.pop(id(self), None)
        try:
            self._finalize_span_and_metrics(reason)
        finally:
            try:
                self.span.end()
            except Exception:
                logger.debug("otel_streamslo: span end failed", exc_info=True)

    def _finalize_span_and_metrics(self, reason: TerminationReason) -> None:
        settings = self.tel.settings
        outcome = settings.policy.outcome(reason, self.http_status)
        lc = self.lc
        ttc = (lc.time_to_completion_ns or 0) * _NS
        ttft_ns = lc.time_to_first_token_ns
        delivered = self._delivered_tokens(reason)
        error_type = self._error_type(reason, outcome)
        attrs: dict[str, Any] = {
            sc.TERMINATION_REASON: reason.value,
            sc.SLI_OUTCOME: outcome.value,
            sc.TIME_TO_COMPLETION: ttc,
            sc.CHUNKS_DELIVERED: self.chunks,
            sc.TOKENS_DELIVERED: delivered,
            sc.TOOL_CALLS_COMMITTED: self.tool_calls,
        }
        if ttft_ns is not None:
            attrs[sc.TIME_TO_FIRST_TOKEN] = ttft_ns * _NS
            attrs[sc.SLI_LATENCY] = "good" if ttft_ns * _NS <= settings.ttft_threshold_s else "bad"
        else:
            attrs[sc.SLI_LATENCY] = "excluded"
        if self.first_chunk_ns is not None:
            attrs[sc.GEN_AI_RESPONSE_TIME_TO_FIRST_CHUNK] = (self.first_chunk_ns - lc.started_ns) * _NS
        if self.http_status is not None:
            attrs[sc.HTTP_RESPONSE_STATUS_CODE] = self.http_status
        if self.response_id:
            attrs[sc.GEN_AI_RESPONSE_ID] = self.response_id
        if self.response_model:
            attrs[sc.GEN_AI_RESPONSE_MODEL] = self.response_model
        if self._finish_reasons:
            attrs[sc.GEN_AI_RESPONSE_FINISH_REASONS] = list(self._finish_reasons)
        if self.input_tokens is not None:
            attrs[sc.GEN_AI_USAGE_INPUT_TOKENS] = self.input_tokens
        if self.output_tokens is not None:
            attrs[sc.GEN_AI_USAGE_OUTPUT_TOKENS] = self.output_tokens
        if error_type:
            attrs[sc.ERROR_TYPE] = error_type
        if self._content is not None:
            text = "".join(self._content)[: settings.max_content_chars]
            attrs[sc.GEN_AI_OUTPUT_MESSAGES] = json.dumps(
                [{"role": "assistant", "parts": [{"type": "text", "content": text}]}]
            )
        attrs.update(self._link_report(reason, outcome))
        span = self.span
        span.set_attributes(attrs)
        if error_type:
            if self.error is not None and outcome is Outcome.BAD:
                span.record_exception(self.error)
            span.set_status(Status(StatusCode.ERROR, reason.value))
        self._record_metrics(reason, outcome, ttc, ttft_ns, delivered, error_type)

    def _link_report(self, reason: TerminationReason, outcome: Outcome) -> dict[str, Any]:
        """Committed tool calls; the end reported to the response that started this stream (orphans)."""
        try:
            inst = self.tel.instruments
            key = {sc.GEN_AI_PROVIDER_NAME: self.provider, sc.GEN_AI_REQUEST_MODEL: self.request_model}
            if self.tool_calls:
                verdict = {sc.TERMINATION_REASON: reason.value, sc.SLI_OUTCOME: outcome.value}
                inst.tool_calls.add(self.tool_calls, {**key, **verdict})
            orphan = self._link.ended(self, outcome is Outcome.BAD) if self._link is not None else None
            if orphan is None:
                return {}
            latency, after = orphan
            inst.abort_latency.record(latency, key)
            inst.tokens_after_disconnect.add(after, key)
            return {
                links.ORPHANED: True,
                links.ABORT_PROPAGATION_LATENCY: latency,
                links.TOKENS_AFTER_DISCONNECT: after,
            }
        except Exception:
            logger.debug("otel_streamslo: upstream link report failed", exc_info=True)
            return {}

    def _error_type(self, reason: TerminationReason, outcome: Outcome) -> Optional[str]:
        if reason is TerminationReason.REQUEST_FAILED:
            if self.http_status is not None:
                return str(self.http_status)
            return type(self.error).__qualname__ if self.error is not None else str(reason.value)
        if outcome is Outcome.BAD:
            return str(reason.value)
        return None

    def _record_metrics(
        self,
        reason: TerminationReason,
        outcome: Outcome,
        ttc: float,
        ttft_ns: Optional[int],
        delivered: int,
        error_type: Optional[str],
    ) -> None:
        inst = self.tel.instruments
        base = self._metric_attrs
        if self.response_model:
            base = {**base, sc.GEN_AI_RESPONSE_MODEL: self.response_model}
        key = {sc.GEN_AI_PROVIDER_NAME: self.provider, sc.GEN_AI_REQUEST_MODEL: self.request_model}
        if self._active_counted:
            self._active_counted = False
            inst.active.add(-1, key)
        inst.streams.add(1, {**key, sc.TERMINATION_REASON: reason.value, sc.SLI_OUTCOME: outcome.value})
        if delivered:
            inst.tokens.add(delivered, key)
        inst.duration.record(ttc, {**base, sc.ERROR_TYPE: error_type} if error_type else base)
        if ttft_ns is not None:
            inst.ttft.record(ttft_ns * _NS, base)
            after_first = self.tokens - 1
            end_ns = self.lc.ended_ns
            first_ns = self.lc.first_token_ns
            if after_first > 0 and end_ns is not None and first_ns is not None:
                inst.per_chunk.record((end_ns - first_ns) * _NS / after_first, base)
        if self.input_tokens is not None:
            inst.token_usage.record(self.input_tokens, {**base, sc.GEN_AI_TOKEN_TYPE: "input"})
        if self.output_tokens is not None:
            inst.token_usage.record(self.output_tokens, {**base, sc.GEN_AI_TOKEN_TYPE: "output"})


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
