"""Anthropic instrumentor: which SDK methods to patch for streamed Messages calls, sync and async.

Every streamed Messages call of the SDK goes through ``SyncAPIClient.request`` /
``AsyncAPIClient.request`` with ``stream=True``: ``messages.create(stream=True)``, the
``messages.stream()`` helpers (which call ``self._post`` directly, when their manager is entered,
not ``create``), ``with_raw_response`` / ``with_streaming_response`` and the beta resources. That
one method is patched, so there is exactly one record per call, started before the request is
sent (and before the SDK's retries). Other calls pass straight through.

Also patched:

* ``anthropic._base_client.start_api_call_span``: the SDK's own call span; see
  :mod:`otel_streamslo.instrumentation.anthropic.native_spans` for the ``enrich`` / ``replace`` policies.
* the ``__exit__`` / ``__aexit__`` of the stream helpers and their managers: they close the raw
  stream without passing the consumer's exception on, which would turn ``consumer_error`` into
  ``client_cancelled``.
* ``withhold_message_snapshot`` as the helper modules import it: the helpers call it, inside their
  ``except`` block, when they cannot accumulate an event the raw stream delivered (a malformed
  event, e.g. a ``content_block_delta`` without ``delta``). That is the provider's fault, not the
  consumer's: the record ends as ``server_error_event`` with the helper's exception.
"""

from __future__ import annotations

import contextvars
import logging
import sys
from collections.abc import Collection, Mapping
from typing import Any, Callable, Optional

from opentelemetry.trace import NonRecordingSpan

from otel_streamslo.core import semconv as sc
from otel_streamslo.core.calls import CallSpec, server_from_url, wrap_result
from otel_streamslo.core.helpers import async_exit, sync_exit
from otel_streamslo.core.patching import StreamInstrumentor, Wrapper, attach_span, detach_span
from otel_streamslo.core.proxy import notify_failed
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.telemetry import Telemetry
from otel_streamslo.instrumentation.anthropic.adapters import MessagesAdapter, anthropic_status_of
from otel_streamslo.instrumentation.anthropic.native_spans import (
    MODE_ENRICH,
    MODE_REPLACE,
    SharedCallSpan,
    native_spans_mode,
)

logger = logging.getLogger(__name__)

_BASE = "anthropic._base_client"
_HELPERS = "anthropic.lib.streaming._messages"
_BETA_HELPERS = "anthropic.lib.streaming._beta_messages"
MESSAGES_SPAN_NAME = "anthropic.messages.create"


def server_of(client: Any) -> tuple[Optional[str], Optional[int]]:
    """``server.address`` / ``server.port`` from the client's base URL."""
    return server_from_url(getattr(client, "base_url", None))


def make_spec() -> CallSpec:
    """The shared-wrapper description of a streamed Messages call."""
    import anthropic
    from anthropic import _response

    raw = tuple(
        t
        for t in (getattr(_response, "APIResponse", None), getattr(_response, "AsyncAPIResponse", None))
        if isinstance(t, type)
    )
    return CallSpec(
        provider=sc.PROVIDER_ANTHROPIC,
        adapter=MessagesAdapter,
        sync_stream=anthropic.Stream,
        async_stream=anthropic.AsyncStream,
        raw_types=raw,
        status_of=anthropic_status_of,
        server_of=server_of,
    )


def streamed_messages_options(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> Any:
    """The request options of ``request(cast_to, options, *, stream=True, ...)`` for Messages, else None."""
    if kwargs.get("stream") is not True:
        return None
    options = kwargs["options"] if "options" in kwargs else (args[1] if len(args) > 1 else None)
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
_PENDING: contextvars.ContextVar[Optional[_Call]] = contextvars.ContextVar(
    "otel_streamslo_anthropic_call", default=None
)


class _Setup:
    """What every call of one ``instrument()`` shares."""

    def __init__(self, tel: Telemetry, mode: str) -> None:
        self.tel = tel
        self.mode = mode
        self.spec = make_spec()
        self.hooked = False  # whether start_api_call_span is patched

    def new_record(self, client: Any, body: Any, span: Any = None) -> Optional[StreamRecord]:
        try:
            host, port = server_of(client)
            model = body.get("model") if isinstance(body, Mapping) else None
            provider = getattr(client, "_gen_ai_provider_name", None)
            capture = self.tel.settings.capture_content
            return StreamRecord(
                self.tel,
                provider=provider if isinstance(provider, str) and provider else sc.PROVIDER_ANTHROPIC,
                request_model=model if isinstance(model, str) else "unknown",
                server_address=host,
                server_port=port,
                input_messages=body.get("messages") if capture and isinstance(body, Mapping) else None,
                span=span,
            )
        except Exception:
            logger.debug("otel_streamslo: cannot start record", exc_info=True)
            return None

    def begin(self, client: Any, options: Any) -> Optional[_Call]:
        """Start observing one call; None (and log) if that fails."""
        try:
            body = getattr(options, "json_data", None)
            call = _Call(self, client, body)
            native_possible = self.hooked and getattr(client, "_tracer", None) is not None
            if self.mode == MODE_REPLACE or not native_possible:
                call.rec = self.new_record(client, body)
                if call.rec is None:
                    return None
            return call
        except Exception:
            logger.debug("otel_streamslo: cannot begin call", exc_info=True)
            return None


class _Call:
    """One streamed Messages call while its request is in flight."""

    __slots__ = ("body", "claimed", "client", "rec", "setup", "shared")

    def __init__(self, setup: _Setup, client: Any, body: Any) -> None:
        self.setup = setup
        self.client = client
        self.body = body
        self.rec: Optional[StreamRecord] = None
        self.shared: Optional[SharedCallSpan] = None
        self.claimed = False

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
                self.rec = self.setup.new_record(self.client, self.body)
                return _propagating_view(self.rec) if self.rec is not None else None
            shared = SharedCallSpan(native)
            rec = self.setup.new_record(self.client, self.body, span=shared.record_view)
            if rec is None:
                return native
            self.rec, self.shared = rec, shared
            return shared.sdk_view
        except Exception:
            logger.debug("otel_streamslo: native span policy failed", exc_info=True)
            return native

    def record(self) -> Optional[StreamRecord]:
        if self.rec is None:  # enrich policy but the SDK never started its span (should not happen)
            logger.debug("otel_streamslo: SDK call span hook not reached; recording late")
            self.rec = self.setup.new_record(self.client, self.body)
        return self.rec

    def failed(self, exc: BaseException) -> None:
        rec = self.record()
        if rec is not None:
            rec.request_failed(exc, anthropic_status_of(exc))

    def opened(self, result: Any) -> Any:
        rec = self.record()
        if rec is None:
            return result
        if self.shared is not None:
            self.shared.set_observer(_observer_of(result))
        return wrap_result(rec, self.setup.spec, result)


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


def _start_call_span_hook(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    call = _PENDING.get()
    if call is None or call.claimed:
        return wrapped(*args, **kwargs)
    return call.start_call_span(wrapped, args, kwargs)


def sync_request_wrapper(setup: _Setup) -> Wrapper:
    """Wrapper for ``SyncAPIClient.request``."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        options = streamed_messages_options(args, kwargs)
        call = setup.begin(instance, options) if options is not None else None
        if call is None:
            return wrapped(*args, **kwargs)
        pending = _PENDING.set(call)
        span_token = attach_span(call.rec) if call.rec is not None else None
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.failed(exc)
            raise
        finally:
            detach_span(span_token)
            _PENDING.reset(pending)
        return call.opened(result)

    return wrapper


def async_request_wrapper(setup: _Setup) -> Wrapper:
    """Wrapper for ``AsyncAPIClient.request``."""

    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        options = streamed_messages_options(args, kwargs)
        call = setup.begin(instance, options) if options is not None else None
        if call is None:
            return await wrapped(*args, **kwargs)
        pending = _PENDING.set(call)
        span_token = attach_span(call.rec) if call.rec is not None else None
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.failed(exc)
            raise
        finally:
            detach_span(span_token)
            _PENDING.reset(pending)
        return call.opened(result)

    return wrapper


def _withhold_snapshot(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """The helper could not accumulate an event (it is about to re-raise): a provider-side failure."""
    try:
        exc = sys.exc_info()[1]
        stream = args[0] if args else kwargs.get("stream")
        if exc is not None:
            notify_failed(stream, exc)
    except Exception:
        logger.debug("otel_streamslo: withhold hook failed", exc_info=True)
    return wrapped(*args, **kwargs)


class AnthropicStreamInstrumentor(StreamInstrumentor):
    """Instruments streamed Messages calls of the ``anthropic`` SDK (``instrument()`` / ``uninstrument()``).

    Extra ``instrument()`` keyword: ``anthropic_native_spans="enrich" | "replace"`` (env
    ``OTEL_STREAMSLO_ANTHROPIC_NATIVE_SPANS``), see :mod:`.native_spans`.
    """

    _instruments: Collection[str] = ("anthropic >= 0.40",)

    def _instrument(self, **kwargs: Any) -> None:
        self._native_mode = native_spans_mode(kwargs)  # invalid values raise before anything is patched
        super()._instrument(**kwargs)

    def _patch(self, tel: Telemetry) -> None:
        setup = _Setup(tel, getattr(self, "_native_mode", MODE_ENRICH))
        patches = self._patches
        patches.wrap(_BASE, "SyncAPIClient.request", sync_request_wrapper(setup))
        patches.wrap(_BASE, "AsyncAPIClient.request", async_request_wrapper(setup))
        setup.hooked = patches.wrap(_BASE, "start_api_call_span", _start_call_span_hook)
        for module, qualname, exit_wrapper in (
            (_HELPERS, "MessageStreamManager.__exit__", sync_exit),
            (_HELPERS, "MessageStream.__exit__", sync_exit),
            (_HELPERS, "AsyncMessageStreamManager.__aexit__", async_exit),
            (_HELPERS, "AsyncMessageStream.__aexit__", async_exit),
            (_BETA_HELPERS, "BetaMessageStreamManager.__exit__", sync_exit),
            (_BETA_HELPERS, "BetaMessageStream.__exit__", sync_exit),
            (_BETA_HELPERS, "BetaAsyncMessageStreamManager.__aexit__", async_exit),
            (_BETA_HELPERS, "BetaAsyncMessageStream.__aexit__", async_exit),
        ):
            patches.wrap(module, qualname, exit_wrapper)
        for module in (_HELPERS, _BETA_HELPERS):
            patches.wrap(module, "withhold_message_snapshot", _withhold_snapshot)
