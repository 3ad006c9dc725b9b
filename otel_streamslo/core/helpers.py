"""Hooks for SDK stream helpers (``.stream()`` managers and their stream objects).

The helpers of both SDKs close the HTTP response directly and swallow the exception that ended
their ``with`` block, bypassing the proxied raw stream. These wrappers tell the proxy what
happened: a close (``client_cancelled``) or the consumer's exception (``consumer_error``).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from otel_streamslo.core.proxy import notify_closed, notify_exit


def raw_stream_of(helper: Any) -> Any:
    """The raw stream of a helper stream, or of a manager (its private ``__stream``)."""
    raw = getattr(helper, "_raw_stream", None)
    if raw is not None:
        return raw
    try:
        for name, value in vars(helper).items():
            if name.endswith("__stream") and value is not None:
                return getattr(value, "_raw_stream", None)
    except TypeError:
        pass
    return None


def _exit_exception(args: tuple[Any, ...], kwargs: dict[str, Any]) -> Optional[BaseException]:
    exc = args[1] if len(args) > 1 else kwargs.get("exc", kwargs.get("exc_val"))
    return exc if isinstance(exc, BaseException) else None


def sync_exit(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrapper of a helper's ``__exit__``."""
    exc = _exit_exception(args, kwargs)
    if exc is not None:
        notify_exit(raw_stream_of(instance), exc)
    return wrapped(*args, **kwargs)


async def async_exit(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrapper of a helper's ``__aexit__``."""
    exc = _exit_exception(args, kwargs)
    if exc is not None:
        notify_exit(raw_stream_of(instance), exc)
    return await wrapped(*args, **kwargs)


def sync_close(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrapper of a helper stream's ``close()``."""
    try:
        return wrapped(*args, **kwargs)
    finally:
        notify_closed(raw_stream_of(instance))


async def async_close(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrapper of a helper stream's async ``close()``."""
    try:
        return await wrapped(*args, **kwargs)
    finally:
        notify_closed(raw_stream_of(instance))
