"""What every streamed OpenAI API shares: errors, stream types, server address, the call begin hook."""

from __future__ import annotations

from typing import Any, Callable, Optional

from otel_streamslo.core import semconv as sc
from otel_streamslo.core.calls import (
    Begin,
    Call,
    StreamCall,
    StreamTypes,
    new_record,
    server_from_url,
    stainless_stream_types,
)
from otel_streamslo.core.errors import classify_transport
from otel_streamslo.core.lifecycle import Event
from otel_streamslo.core.proxy import Adapter
from otel_streamslo.core.telemetry import Telemetry


def classify_openai_error(exc: BaseException) -> Event:
    """Exception raised while waiting for the next chunk -> lifecycle event.

    ``openai.APIError`` for an error frame inside the 200 stream, and anything undecodable, is an
    error event; the SDK's timeout and connection classes and raw httpx errors are transport events.
    """
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return Event.TIMEOUT
    if isinstance(exc, openai.APIConnectionError):
        return Event.TRANSPORT_ERROR
    return classify_transport(exc) or Event.ERROR_EVENT


def stream_types(adapter: Callable[[], Adapter]) -> StreamTypes:
    """The stream and raw-response classes of the installed SDK, read by ``adapter``."""
    return stainless_stream_types("openai", sc.PROVIDER_OPENAI, adapter)


def server_of(resource: Any) -> tuple[Optional[str], Optional[int]]:
    """``server.address`` / ``server.port`` from a resource's client base URL."""
    return server_from_url(getattr(getattr(resource, "_client", None), "base_url", None))


def begin_create(tel: Telemetry, adapter: Callable[[], Adapter], messages_key: str) -> Begin:
    """The begin hook of a ``create(..., stream=True)`` method (other calls pass through)."""
    types = stream_types(adapter)

    def begin(instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[Call]:
        if kwargs.get("stream") is not True:
            return None
        rec = new_record(
            tel, types.provider, kwargs.get("model"), server_of(instance), kwargs.get(messages_key)
        )
        return StreamCall(rec, types) if rec is not None else None

    return begin
