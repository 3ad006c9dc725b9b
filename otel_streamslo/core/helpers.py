"""Hooks for SDK stream helpers (``.stream()`` managers and their stream objects).

The helpers of both SDKs close the HTTP response directly and swallow the exception that ended
their ``with`` block, bypassing the proxied raw stream. These wrappers tell the proxy what
happened: a close (``client_cancelled``) or the consumer's exception (``consumer_error``).
"""

from __future__ import annotations

from typing import Any, Callable, Optional

from otel_streamslo.core.proxy import notify_closed, notify_exit, notify_failed


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


def sync_stream_guard(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Wrapper of a helper's ``__stream__`` generator (the events it makes from the raw stream).

    An exception out of the helper's own accumulation, on an event the raw stream delivered (a
    malformed chunk), is the provider's failure, not the consumer's: without this the consumer's
    ``with`` block would see it and the stream would end ``consumer_error``. The raw stream's own
    errors already ended the record, so this is a no-op for them.
    """
    gen = wrapped(*args, **kwargs)

    def guarded() -> Any:
        try:
            yield from gen
        except Exception as exc:  # GeneratorExit (an early exit) is not an Exception: untouched
            notify_failed(getattr(instance, "_raw_stream", None), exc)
            raise

    return guarded()


def async_stream_guard(
    wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """Async twin of :func:`sync_stream_guard`."""
    agen = wrapped(*args, **kwargs)

    async def guarded() -> Any:
        try:
            async for item in agen:
                yield item
        except Exception as exc:
            notify_failed(getattr(instance, "_raw_stream", None), exc)
            raise

    return guarded()
