"""Wrappers for SDK methods that start a streamed call; shared by the SDK instrumentors.

A wrapper starts a :class:`StreamRecord` (and its span) before the request is sent, makes the
span current only while the request is in flight, and wraps what comes back in a proxy. Calls
without ``stream=True`` pass straight through: no span from us.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Optional

from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.patching import Wrapper, attach_span, detach_span
from otel_streamslo.core.proxy import Adapter, AsyncStreamProxy, RawResponseProxy, SyncStreamProxy
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.telemetry import Telemetry

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallSpec:
    """How to observe one SDK method that can stream."""

    provider: str
    adapter: Callable[[], Adapter]
    sync_stream: type
    async_stream: type
    raw_types: tuple[type, ...]
    status_of: Callable[[BaseException], Optional[int]]
    server_of: Callable[[Any], tuple[Optional[str], Optional[int]]]
    messages_key: str = "messages"
    always_streams: bool = False


def server_from_url(url: Any) -> tuple[Optional[str], Optional[int]]:
    """``server.address`` / ``server.port`` of a client's base URL (default ports filled in)."""
    try:
        port = url.port
        if port is None:
            port = 443 if url.scheme == "https" else 80
        return str(url.host), int(port)
    except Exception:
        return None, None


def start_record(
    tel: Telemetry, spec: CallSpec, instance: Any, kwargs: dict[str, Any]
) -> Optional[StreamRecord]:
    """Create the record for one call, or None (and log) if that fails."""
    try:
        host, port = spec.server_of(instance)
        model = kwargs.get("model")
        return StreamRecord(
            tel,
            provider=spec.provider,
            request_model=model if isinstance(model, str) else "unknown",
            server_address=host,
            server_port=port,
            input_messages=kwargs.get(spec.messages_key) if tel.settings.capture_content else None,
        )
    except Exception:
        logger.debug("otel_streamslo: cannot start record", exc_info=True)
        return None


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


def wrap_result(rec: StreamRecord, spec: CallSpec, result: Any) -> Any:
    """Wrap a stream (or raw response of one) in its proxy; anything else is returned as is."""
    try:
        rec.opened(_status_of_result(result))
        adapter = spec.adapter()
        if isinstance(result, spec.sync_stream):
            return SyncStreamProxy(result, rec, adapter)
        if isinstance(result, spec.async_stream):
            return AsyncStreamProxy(result, rec, adapter)
        if isinstance(result, spec.raw_types):
            return RawResponseProxy(result, rec, adapter, (spec.sync_stream, spec.async_stream))
        logger.debug("otel_streamslo: unexpected streamed result %r", type(result))
        rec.end(Event.EOF)
    except Exception:
        logger.debug("otel_streamslo: wrapping result failed", exc_info=True)
    return result


def _wants_stream(spec: CallSpec, kwargs: dict[str, Any]) -> bool:
    return spec.always_streams or kwargs.get("stream") is True


def sync_create_wrapper(tel: Telemetry, spec: CallSpec) -> Wrapper:
    """Wrapper for a synchronous ``create(..., stream=True)``."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not _wants_stream(spec, kwargs):
            return wrapped(*args, **kwargs)
        rec = start_record(tel, spec, instance, kwargs)
        if rec is None:
            return wrapped(*args, **kwargs)
        token = attach_span(rec)
        try:
            result = wrapped(*args, **kwargs)
        except BaseException as exc:
            rec.request_failed(exc, _safe_status(spec, exc))
            raise
        finally:
            detach_span(token)
        return wrap_result(rec, spec, result)

    return wrapper


def async_create_wrapper(tel: Telemetry, spec: CallSpec) -> Wrapper:
    """Wrapper for an asynchronous ``create(..., stream=True)``."""

    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not _wants_stream(spec, kwargs):
            return await wrapped(*args, **kwargs)
        rec = start_record(tel, spec, instance, kwargs)
        if rec is None:
            return await wrapped(*args, **kwargs)
        token = attach_span(rec)
        try:
            result = await wrapped(*args, **kwargs)
        except BaseException as exc:
            rec.request_failed(exc, _safe_status(spec, exc))
            raise
        finally:
            detach_span(token)
        return wrap_result(rec, spec, result)

    return wrapper


def _safe_status(spec: CallSpec, exc: BaseException) -> Optional[int]:
    try:
        return spec.status_of(exc)
    except Exception:
        return None
