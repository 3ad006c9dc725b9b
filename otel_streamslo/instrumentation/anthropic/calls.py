"""Streamed Messages calls: which ``request`` calls to observe and how the SDK's own span is shared.

Every streamed Messages call of the SDK goes through ``SyncAPIClient.request`` /
``AsyncAPIClient.request`` with ``stream=True``: ``messages.create(stream=True)``, the
``messages.stream()`` helpers (which call ``self._post`` directly, when their manager is entered,
not ``create``), ``with_raw_response`` / ``with_streaming_response`` and the beta resources. That
one method is observed, so there is exactly one record per call, started before the request is
sent (and before the SDK's retries). Other calls pass straight through.

When the SDK has its own call span (anthropic >= 2.x tracing), the record is created only once the
SDK starts that span (``start_api_call_span``, hooked through :data:`_PENDING`), so the native-span
policy (:mod:`.native_spans`) can decide whether to write into it or suppress it.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Mapping
from typing import Any, Callable, Optional

from opentelemetry.trace import NonRecordingSpan

from otel_streamslo.core import semconv as sc
from otel_streamslo.core.calls import (
    StreamTypes,
    attach_span,
    detach_span,
    kwarg_or_arg,
    new_record,
    safe_status,
    server_from_url,
    stainless_stream_types,
    wrap_result,
)
from otel_streamslo.core.proxy import notify_failed
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.telemetry import Telemetry
from otel_streamslo.instrumentation.anthropic.messages import MessagesAdapter
from otel_streamslo.instrumentation.anthropic.native_spans import MODE_REPLACE, SharedCallSpan

logger = logging.getLogger(__name__)

MESSAGES_SPAN_NAME = "anthropic.messages.create"


def stream_types() -> StreamTypes:
    """The stream and raw-response classes of the installed SDK."""
    return stainless_stream_types("anthropic", sc.PROVIDER_ANTHROPIC, MessagesAdapter)


def streamed_messages_options(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """The request options of ``request(cast_to, options, *, stream=True, ...)`` for Messages, else None."""
    if kwargs.get("stream") is not True:
        return None
    options = kwarg_or_arg(args, kwargs, "options", 1)
    if options is None:
        return None
    span_name = getattr(options, "span_name", None)
    if isinstance(span_name, str):
        return options if span_name == MESSAGES_SPAN_NAME else None
    url = getattr(options, "url", None)  # SDKs without span names
    if isinstance(url, str) and url.partition("?")[0].rstrip("/").endswith("/v1/messages"):
        return options
    return None


# The call whose request is in flight in this context, for the start_api_call_span hook.
_PENDING: contextvars.ContextVar[Optional[MessagesCall]] = contextvars.ContextVar(
    "otel_streamslo_anthropic_call", default=None
)


class MessagesCalls:
    """What every streamed Messages call of one ``instrument()`` shares; ``begin`` is the call hook."""

    def __init__(self, tel: Telemetry, mode: str) -> None:
        self.tel = tel
        self.mode = mode
        self.types = stream_types()
        self.native_hooked = False  # whether start_api_call_span is patched

    def new_record(self, client: Any, body: Any, span: Any = None) -> Optional[StreamRecord]:
        body = body if isinstance(body, Mapping) else {}
        provider = getattr(client, "_gen_ai_provider_name", None)
        return new_record(
            self.tel,
            provider if isinstance(provider, str) and provider else self.types.provider,
            body.get("model"),
            server_from_url(getattr(client, "base_url", None)),
            body.get("messages"),
            span=span,
        )

    def begin(self, client: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[MessagesCall]:
        """Start observing one ``request`` call; None lets it pass through."""
        options = streamed_messages_options(args, kwargs)
        if options is None:
            return None
        call = MessagesCall(self, client, getattr(options, "json_data", None))
        native_possible = self.native_hooked and getattr(client, "_tracer", None) is not None
        if self.mode == MODE_REPLACE or not native_possible:
            call.rec = self.new_record(client, call.body)
            if call.rec is None:
                return None
        return call


class MessagesCall:
    """One streamed Messages call while its request is in flight (a :class:`~core.calls.Call`)."""

    __slots__ = ("body", "calls", "claimed", "client", "rec", "shared")

    def __init__(self, calls: MessagesCalls, client: Any, body: Any) -> None:
        self.calls = calls
        self.client = client
        self.body = body
        self.rec: Optional[StreamRecord] = None
        self.shared: Optional[SharedCallSpan] = None
        self.claimed = False

    def enter(self) -> Any:
        pending = _PENDING.set(self)
        return pending, attach_span(self.rec) if self.rec is not None else None

    def leave(self, token: Any) -> None:
        pending, span_token = token
        detach_span(span_token)
        _PENDING.reset(pending)

    def start_call_span(
        self, wrapped: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        """The SDK is about to start its call span for this call: apply the native-span policy."""
        self.claimed = True
        if self.rec is not None:  # replace policy: the SDK gets a non-recording view of our span
            return _propagating_view(self.rec)
        native = wrapped(*args, **kwargs)
        try:
            if native is None:  # no SDK span for this call after all: our own span
                self.rec = self.calls.new_record(self.client, self.body)
                return _propagating_view(self.rec) if self.rec is not None else None
            shared = SharedCallSpan(native)
            rec = self.calls.new_record(self.client, self.body, span=shared.record_view)
            if rec is None:
                return native
            self.rec, self.shared = rec, shared
            return shared.sdk_view
        except Exception:
            logger.debug("otel_streamslo: native span policy failed", exc_info=True)
            return native

    def _record(self) -> Optional[StreamRecord]:
        if self.rec is None:  # enrich policy but the SDK never started its span (should not happen)
            logger.debug("otel_streamslo: SDK call span hook not reached; recording late")
            self.rec = self.calls.new_record(self.client, self.body)
        return self.rec

    def failed(self, exc: BaseException) -> None:
        rec = self._record()
        if rec is not None:
            rec.request_failed(exc, safe_status(self.calls.types, exc))

    def opened(self, result: Any) -> Any:
        rec = self._record()
        if rec is None:
            return result
        if self.shared is not None:
            self.shared.set_observer(_observer_of(result))
        return wrap_result(rec, self.calls.types, result)


def _propagating_view(rec: StreamRecord) -> Optional[NonRecordingSpan]:
    try:
        ctx = rec.span.get_span_context()
        return NonRecordingSpan(ctx) if ctx.is_valid else None
    except Exception:
        return None


def _observer_of(result: Any) -> Any:
    """The SDK's stream observer on the HTTP body of a stream or raw response, if any."""
    for attr in ("response", "http_response"):
        response = getattr(result, attr, None)
        if response is not None:
            return getattr(getattr(response, "stream", None), "stream_observer", None)
    return None


def start_call_span_hook(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrapper of ``anthropic._base_client.start_api_call_span``."""
    call = _PENDING.get()
    if call is None or call.claimed:
        return wrapped(*args, **kwargs)
    return call.start_call_span(wrapped, args, kwargs)


def withhold_snapshot_hook(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The helper could not accumulate an event (it is about to re-raise): a provider-side failure.

    The helpers call ``withhold_message_snapshot`` inside their ``except`` block when they cannot
    accumulate an event the raw stream delivered (e.g. a ``content_block_delta`` without ``delta``).
    That is the provider's fault, not the consumer's: the record ends as ``server_error_event``.
    """
    try:
        exc = sys.exc_info()[1]
        stream = kwarg_or_arg(args, kwargs, "stream", 0)
        if exc is not None:
            notify_failed(stream, exc)
    except Exception:
        logger.debug("otel_streamslo: withhold hook failed", exc_info=True)
    return wrapped(*args, **kwargs)
