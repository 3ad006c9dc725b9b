"""Which ``generate_content_stream`` calls to observe, and the record each one starts lazily.

The public methods ``Models.generate_content_stream`` and ``AsyncModels.generate_content_stream``
are patched, so there is one record per call even when automatic function calling or automatic
continuation makes several HTTP requests inside it: their chunks, tokens and finish reasons add to
the one span, a failure of an inner request ends it with that failure's reason, and no span of ours
is made per inner request. ``BaseApiClient._request`` / ``_async_request`` are hooked only to learn
that the first request's response arrived (see :mod:`.lazy`).
"""

from __future__ import annotations

import logging
from typing import Any, Callable, Optional
from urllib.parse import urlsplit

from otel_streamslo.core.calls import Wrapper, instrumentation_suppressed
from otel_streamslo.core.record import StreamRecord
from otel_streamslo.core.telemetry import Telemetry
from otel_streamslo.instrumentation.google_genai.lazy import (
    PENDING,
    LazyAsyncStream,
    LazySyncStream,
    mark_opened,
)

logger = logging.getLogger(__name__)

PROVIDER_GEMINI = "gcp.gemini"
PROVIDER_VERTEX_AI = "gcp.vertex_ai"
OPERATION_GENERATE_CONTENT = "generate_content"


def provider_of(api_client: Any) -> str:
    """``gcp.vertex_ai`` for a Vertex AI (Agent Platform) client, else ``gcp.gemini``."""
    return PROVIDER_VERTEX_AI if getattr(api_client, "vertexai", False) is True else PROVIDER_GEMINI


def server_of(api_client: Any) -> tuple[Optional[str], Optional[int]]:
    """``server.address`` / ``server.port`` of the client's base URL (default ports filled in)."""
    try:
        url = urlsplit(str(api_client._http_options.base_url))
        if not url.hostname:
            return None, None
        return url.hostname, url.port or (443 if url.scheme == "https" else 80)
    except Exception:
        return None, None


class GenerateCalls:
    """What every observed call of one ``instrument()`` shares."""

    def __init__(self, tel: Telemetry) -> None:
        self.tel = tel

    def starter(self, instance: Any, kwargs: dict[str, Any]) -> Callable[[], Optional[StreamRecord]]:
        """The record factory of one call, run at its first ``next()`` (when the request is sent)."""
        api_client = getattr(instance, "_api_client", None)
        model = kwargs.get("model")
        contents = kwargs.get("contents")
        tel = self.tel

        def start() -> Optional[StreamRecord]:
            if instrumentation_suppressed():
                return None
            server = server_of(api_client)
            return StreamRecord(
                tel,
                provider=provider_of(api_client),
                request_model=model if isinstance(model, str) and model else "unknown",
                operation=OPERATION_GENERATE_CONTENT,
                server_address=server[0],
                server_port=server[1],
                input_messages=contents if tel.settings.capture_content else None,
            )

        return start


def sync_stream_wrapper(calls: GenerateCalls) -> Wrapper:
    """Wrapper of ``Models.generate_content_stream``: the generator, proxied."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = wrapped(*args, **kwargs)
        if instrumentation_suppressed():
            return result
        try:
            return LazySyncStream(result, calls.starter(instance, kwargs))
        except Exception:
            logger.debug("otel_streamslo: cannot wrap generate_content_stream", exc_info=True)
            return result

    return wrapper


def async_stream_wrapper(calls: GenerateCalls) -> Wrapper:
    """Wrapper of ``AsyncModels.generate_content_stream``: the awaited async generator, proxied."""

    async def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        result = await wrapped(*args, **kwargs)
        if instrumentation_suppressed():
            return result
        try:
            return LazyAsyncStream(result, calls.starter(instance, kwargs))
        except Exception:
            logger.debug("otel_streamslo: cannot wrap generate_content_stream", exc_info=True)
            return result

    return wrapper


def _opened_now() -> None:
    try:
        rec = PENDING.get()
        if rec is not None:
            mark_opened(rec)
    except Exception:
        logger.debug("otel_streamslo: response hook failed", exc_info=True)


def request_hook(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrapper of ``BaseApiClient._request``: it returned, so the (first) response is a 2xx."""
    result = wrapped(*args, **kwargs)
    _opened_now()
    return result


async def async_request_hook(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrapper of ``BaseApiClient._async_request``."""
    result = await wrapped(*args, **kwargs)
    _opened_now()
    return result
