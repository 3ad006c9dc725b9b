"""The one call wrapper of every SDK: start a record before the request, wrap what comes back.

An SDK supplies ``begin(instance, args, kwargs) -> Optional[Call]``: None lets the call pass
straight through (not streamed, or suppressed), a :class:`Call` is observed. The wrapper makes the
record's span current only while the request is in flight (so HTTP client spans nest under it, and
it is never current across the consumer's iteration), tells the call about a failed request, and
hands the result to :meth:`Call.opened`, which wraps the stream in its proxy.

While OpenTelemetry's ``suppress_instrumentation`` or the GenAI key
``suppress_language_model_instrumentation`` is set in the context, no record is started: no span,
no metrics (wrappers of wrappers such as litellm or LangChain callbacks set them).
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Callable, Optional, Protocol

from opentelemetry import context, trace

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.proxy import Adapter, AsyncStreamProxy, RawResponseProxy, SyncStreamProxy
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.telemetry import Telemetry

logger = logging.getLogger(__name__)

#: Context key other GenAI instrumentations (OpenLLMetry, ...) set around calls they already trace.
SUPPRESS_LANGUAGE_MODEL_INSTRUMENTATION_KEY = "suppress_language_model_instrumentation"

Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


def instrumentation_suppressed() -> bool:
    """True while instrumentation (or language-model instrumentation) is suppressed in the context."""
    try:
        from opentelemetry.instrumentation.utils import is_instrumentation_enabled

        if not is_instrumentation_enabled():
            return True
        return bool(context.get_value(SUPPRESS_LANGUAGE_MODEL_INSTRUMENTATION_KEY))
    except Exception:
        logger.debug("otel_streamslo: suppression check failed", exc_info=True)
        return False


@dataclass(frozen=True)
class StreamTypes:
    """How to recognise and read what one streamed SDK method returns."""

    provider: str
    adapter: Callable[[], Adapter]
    sync_stream: type
    async_stream: type
    raw_types: tuple[type, ...]
    status_of: Callable[[BaseException], Optional[int]]


class Call(Protocol):
    """One observed call while its request is in flight."""

    def enter(self) -> Any:
        """Before the request is sent; returns what :meth:`leave` needs."""

    def leave(self, token: Any) -> None:
        """After the request returned or raised."""

    def failed(self, exc: BaseException) -> None:
        """The request raised ``exc`` (failed, or the caller was cancelled)."""

    def opened(self, result: Any) -> Any:
        """The request returned ``result``; returns what the application gets."""


Begin = Callable[[Any, tuple[Any, ...], dict[str, Any]], Optional[Call]]


def classes_found(*where: tuple[str, str]) -> tuple[type, ...]:
    """The classes ``(module, name)`` that exist in the installed SDK version, in the given order."""
    found: list[type] = []
    for module, name in where:
        try:
            cls = getattr(importlib.import_module(module), name, None)
        except ImportError:
            cls = None
        if isinstance(cls, type):
            found.append(cls)
    return tuple(found)


def server_from_url(url: Any) -> tuple[Optional[str], Optional[int]]:
    """``server.address`` / ``server.port`` of a client's base URL (default ports filled in)."""
    try:
        port = url.port
        if port is None:
            port = 443 if url.scheme == "https" else 80
        return str(url.host), int(port)
    except Exception:
        return None, None


def new_record(
    tel: Telemetry,
    provider: str,
    model: Any,
    server: tuple[Optional[str], Optional[int]],
    input_messages: Any = None,
    span: Optional[trace.Span] = None,
) -> Optional[StreamRecord]:
    """Start the record of one call, or None (and log) if that fails."""
    try:
        return StreamRecord(
            tel,
            provider=provider,
            request_model=model if isinstance(model, str) and model else "unknown",
            server_address=server[0],
            server_port=server[1],
            input_messages=input_messages if tel.settings.capture_content else None,
            span=span,
        )
    except Exception:
        logger.debug("otel_streamslo: cannot start record", exc_info=True)
        return None


def attach_span(rec: StreamRecord) -> Optional[object]:
    """Make ``rec``'s span current for the request phase."""
    try:
        return context.attach(trace.set_span_in_context(rec.span))
    except Exception:
        logger.debug("otel_streamslo: attach failed", exc_info=True)
        return None


def detach_span(token: Optional[object]) -> None:
    """Undo :func:`attach_span`."""
    if token is None:
        return
    try:
        context.detach(token)  # type: ignore[arg-type]
    except Exception:
        logger.debug("otel_streamslo: detach failed", exc_info=True)


def _status_of_result(result: Any) -> Optional[int]:
    for path in (("response", "status_code"), ("http_response", "status_code"), ("status_code",)):
        obj = result
        try:
            for part in path:
                obj = getattr(obj, part)
        except Exception:
            continue
        if isinstance(obj, int):
            return obj
    return None


def wrap_result(rec: StreamRecord, types: StreamTypes, result: Any) -> Any:
    """Wrap a stream (or raw response of one) in its proxy; anything else is returned as is."""
    try:
        rec.opened(_status_of_result(result))
        adapter = types.adapter()
        if isinstance(result, types.sync_stream):
            return SyncStreamProxy(result, rec, adapter)
        if isinstance(result, types.async_stream):
            return AsyncStreamProxy(result, rec, adapter)
        if isinstance(result, types.raw_types):
            return RawResponseProxy(result, rec, adapter, (types.sync_stream, types.async_stream))
        logger.debug("otel_streamslo: unexpected streamed result %r", type(result))
        rec.end(Event.EOF)
    except Exception:
        logger.debug("otel_streamslo: wrapping result failed", exc_info=True)
    return result


def safe_status(types: StreamTypes, exc: BaseException) -> Optional[int]:
    """The HTTP status of a failed request, None if unknown (never raises)."""
    try:
        return types.status_of(exc)
    except Exception:
        return None


class StreamCall:
    """A call whose record was started before the request (every SDK method but special cases)."""

    __slots__ = ("rec", "types")

    def __init__(self, rec: StreamRecord, types: StreamTypes) -> None:
        self.rec = rec
        self.types = types

    def enter(self) -> Any:
        return attach_span(self.rec)

    def leave(self, token: Any) -> None:
        detach_span(token)

    def failed(self, exc: BaseException) -> None:
        self.rec.request_failed(exc, safe_status(self.types, exc))

    def opened(self, result: Any) -> Any:
        return wrap_result(self.rec, self.types, result)


def _begin_safely(
    begin: Begin, instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Optional[Call]:
    if instrumentation_suppressed():
        return None
    try:
        return begin(instance, args, kwargs)
    except Exception:
        logger.debug("otel_streamslo: cannot begin call", exc_info=True)
        return None


def sync_call_wrapper(begin: Begin) -> Wrapper:
    """wrapt wrapper of a synchronous SDK method that may start a stream."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        call = _begin_safely(begin, instance, args, kwargs)
        if call is None:
            return wrapped(*args, **kwargs)
        token = call.enter()
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            call.failed(exc)
            raise
        finally:
            call.leave(token)
        return call.opened(result)

    return wrapper


def async_call_wrapper(begin: Begin) -> Wrapper:
    """wrapt wrapper of an asynchronous SDK method that may start a stream."""

    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        call = _begin_safely(begin, instance, args, kwargs)
        if call is None:
            return await wrapped(*args, **kwargs)
        token = call.enter()
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            call.failed(exc)
            raise
        finally:
            call.leave(token)
        return call.opened(result)

    return wrapper


def kwarg_or_arg(args: tuple[Any, ...], kwargs: Mapping[str, Any], name: str, index: int) -> Any:
    """A call argument given by keyword or position (None if absent)."""
    if name in kwargs:
        return kwargs[name]
    return args[index] if len(args) > index else None
