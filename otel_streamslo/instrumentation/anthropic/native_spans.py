"""Coexistence with the anthropic SDK's own OpenTelemetry tracing (one span per call, one verdict).

anthropic >= 2.x starts a CLIENT "call span" (``anthropic.messages.create``, scope
``com.anthropic.sdk.python``) for every API call unless the client is built with
``open_telemetry=False`` / ``{"traces": False}`` or ``ANTHROPIC_OPEN_TELEMETRY=false`` is set. For a
stream it ends that span when the body is read, closed or dropped, and it judges the stream on its
own (an error frame is an error, a stream without ``message_stop`` is ``api_error``, a stream left
early has no status).

Policies (``instrument(anthropic_native_spans=...)`` or ``OTEL_STREAMSLO_ANTHROPIC_NATIVE_SPANS``):

``enrich`` (default)
    When the SDK starts its call span for a streamed Messages call, no second span is created: the
    record writes its ``streamslo.*`` / ``gen_ai.*`` attributes and events into the SDK's span, and
    the stream-aware verdict decides its status and ``error.type``. The SDK keeps the span name,
    its scope and its own attributes (request id, cache usage, stop reason ...). When the SDK has
    no span for the call (tracing off, or no tracer provider that records), the record starts its
    own span as usual. Metrics are recorded in both cases.
``replace``
    The SDK is not allowed to start its call span for streamed Messages calls: the record's own
    span is the only one (our tracer provider, our name ``chat {model}``). The SDK still gets a
    non-recording view of that span, so its requests carry our trace context.

How ``enrich`` shares the span (:class:`SharedCallSpan`): the SDK writes through ``sdk_view``,
the record through ``record_view``. The SDK's own status and ``error.type`` are dropped; once the
record has its verdict, SDK writes to attributes the record wrote are dropped too. The span ends
when the record reaches its terminal state: if the SDK has not ended it by then, the record first
lets the SDK's stream observer finish (so the SDK writes its response attributes), then ends it.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any, Callable, Optional

import wrapt
from opentelemetry.trace import Span, Status, StatusCode

from otel_streamslo.core import semconv as sc
from otel_streamslo.core.config import ENV_ANTHROPIC_NATIVE

logger = logging.getLogger(__name__)

MODE_ENRICH = "enrich"
MODE_REPLACE = "replace"
MODES: tuple[str, ...] = (MODE_ENRICH, MODE_REPLACE)
OPTION = "anthropic_native_spans"


def native_spans_mode(kwargs: Mapping[str, Any], env: Optional[Mapping[str, str]] = None) -> str:
    """The native-span policy from ``instrument()`` kwargs, else the environment, else ``enrich``."""
    env = os.environ if env is None else env
    raw: Any = kwargs.get(OPTION)
    source = OPTION
    if raw is None:
        raw = env.get(ENV_ANTHROPIC_NATIVE)
        source = ENV_ANTHROPIC_NATIVE
    if raw is None or not str(raw).strip():
        return MODE_ENRICH
    mode = str(raw).strip().lower()
    if mode not in MODES:
        raise ValueError(f"{source}: expected one of {', '.join(MODES)}, got {raw!r}")
    return mode


class SharedCallSpan:
    """One SDK call span shared by the SDK (``sdk_view``) and a ``StreamRecord`` (``record_view``)."""

    def __init__(self, native: Span) -> None:
        self.native = native
        self._lock = threading.Lock()
        self._verdict_ns: Optional[int] = None
        self._outcome: Optional[str] = None
        self._status_set = False
        self._sdk_ended = False
        self._ended = False
        self._owned: set[str] = set()
        self._observer: Optional[Callable[[], Any]] = None
        self.record_view = _RecordView(native, self)
        self.sdk_view = _SdkView(native, self)

    @property
    def ended(self) -> bool:
        """True once the shared span has ended."""
        return self._ended

    def set_observer(self, observer: Any) -> None:
        """The SDK's stream observer of this call (held weakly: it leads back to the stream)."""
        if observer is None:
            return
        try:
            self._observer = weakref.ref(observer)
        except TypeError:
            logger.debug("otel_streamslo: stream observer %r is not weakly referenceable", type(observer))

    # --- record side --------------------------------------------------------------------------

    def record_attributes(self, attrs: Mapping[str, Any]) -> None:
        if self._ended:
            return
        self._owned.update(attrs)
        outcome = attrs.get(sc.SLI_OUTCOME)
        if isinstance(outcome, str):
            self._outcome = outcome
        self.native.set_attributes(attrs)

    def record_status(self, status: Any, description: Optional[str] = None) -> None:
        if self._ended:
            return
        self._status_set = True
        self.native.set_status(status, description)

    def record_end(self) -> None:
        """The record reached its terminal state: make sure the span ends now."""
        with self._lock:
            if self._verdict_ns is not None:
                return
            self._verdict_ns = time.time_ns()
            sdk_ended = self._sdk_ended
        if not sdk_ended:
            self._let_sdk_finish()
        self._finish()

    # --- SDK side -----------------------------------------------------------------------------

    def sdk_may_write(self, key: str) -> bool:
        if self._ended or key == sc.ERROR_TYPE:
            return False
        return self._verdict_ns is None or key not in self._owned

    def sdk_end(self) -> None:
        with self._lock:
            self._sdk_ended = True
            verdict = self._verdict_ns is not None
        if verdict:
            self._finish()

    # --- internals ----------------------------------------------------------------------------

    def _let_sdk_finish(self) -> None:
        observer = self._observer() if self._observer is not None else None
        if observer is None:
            return
        try:
            observer.end("read" if self._outcome == "good" else "closed")
        except Exception:
            logger.debug("otel_streamslo: ending the SDK stream observer failed", exc_info=True)

    def _finish(self) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True
        try:
            if not self._status_set and self._outcome == "good":
                self.native.set_status(Status(StatusCode.OK))
        finally:
            self.native.end(end_time=self._verdict_ns)


class _RecordView(wrapt.ObjectProxy[Any]):
    """The shared span as the record sees it: its writes win, its ``end()`` is the verdict."""

    def __init__(self, native: Span, shared: SharedCallSpan) -> None:
        super().__init__(native)
        self._self_shared = shared

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        self._self_shared.record_attributes(attributes)

    def set_attribute(self, key: str, value: Any) -> None:
        self._self_shared.record_attributes({key: value})

    def set_status(self, status: Any, description: Optional[str] = None) -> None:
        self._self_shared.record_status(status, description)

    def end(self, end_time: Optional[int] = None) -> None:
        self._self_shared.record_end()


class _SdkView(wrapt.ObjectProxy[Any]):
    """The shared span as the SDK sees it: no status or ``error.type`` of its own, ends deferred."""

    def __init__(self, native: Span, shared: SharedCallSpan) -> None:
        super().__init__(native)
        self._self_shared = shared

    def set_attribute(self, key: str, value: Any) -> None:
        if self._self_shared.sdk_may_write(key):
            self.__wrapped__.set_attribute(key, value)

    def set_attributes(self, attributes: Mapping[str, Any]) -> None:
        shared = self._self_shared
        kept = {k: v for k, v in attributes.items() if shared.sdk_may_write(k)}
        if kept:
            self.__wrapped__.set_attributes(kept)

    def set_status(self, status: Any, description: Optional[str] = None) -> None:
        return None  # the stream-aware verdict decides the status

    def add_event(self, name: str, attributes: Any = None, timestamp: Optional[int] = None) -> None:
        if not self._self_shared.ended:
            self.__wrapped__.add_event(name, attributes, timestamp)

    def record_exception(self, exception: BaseException, *args: Any, **kwargs: Any) -> None:
        if not self._self_shared.ended:
            self.__wrapped__.record_exception(exception, *args, **kwargs)

    def update_name(self, name: str) -> None:
        if not self._self_shared.ended:
            self.__wrapped__.update_name(name)

    def end(self, end_time: Optional[int] = None) -> None:
        self._self_shared.sdk_end()
