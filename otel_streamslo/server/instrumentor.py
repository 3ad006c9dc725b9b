"""Instrumentors that add :class:`StreamSLOMiddleware` to every Starlette / FastAPI app.

They wrap the framework's ``build_middleware_stack`` (run when an app serves its first request)
and put the middleware innermost, right around the router: inside every user middleware and
inside contrib's ``OpenTelemetryMiddleware`` and FastAPI's native telemetry, whose SERVER span is
then current and gets the verdict. ``uninstrument()`` restores the method; apps already serving
keep the middleware object, which then passes every request through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from typing import Any, Callable, Optional

import wrapt
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]

from otel_streamslo.core.config import Settings
from otel_streamslo.core.telemetry import make_telemetry
from otel_streamslo.server.middleware import StreamSLOMiddleware, close_upstream_from_env

logger = logging.getLogger(__name__)
_MAX_WALK = 64


def insert_innermost(stack: Any, router: Any, make: Callable[[Any], Any]) -> Any:
    """Wrap ``router`` inside ``stack`` with ``make(router)``; returns the (possibly new) stack."""
    if stack is router:
        return make(router)
    obj = stack
    for _ in range(_MAX_WALK):
        nxt = getattr(obj, "app", None)
        if nxt is None or nxt is obj:
            break
        if isinstance(nxt, StreamSLOMiddleware):
            return stack  # already there
        if nxt is router:
            obj.app = make(router)
            return stack
        obj = nxt
    logger.debug("otel_streamslo: router not found in the middleware stack; wrapping the stack")
    return make(stack)


class _StackInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Shared by the Starlette and FastAPI instrumentors: one patched ``build_middleware_stack``."""

    _module = ""
    _class = ""
    _requirement = ""
    _on = False  # BaseInstrumentor is a singleton whose __init__ runs again on every construction

    def instrumentation_dependencies(self) -> Collection[str]:
        return (self._requirement,)

    def _instrument(self, **kwargs: Any) -> None:
        close = close_upstream_from_env(kwargs.get("close_upstream_on_disconnect"))
        tel = make_telemetry(Settings(), kwargs.get("tracer_provider"), kwargs.get("meter_provider"))
        self._on = True
        enabled: Callable[[], bool] = lambda: self._on  # noqa: E731

        def make(app: Any) -> StreamSLOMiddleware:
            return StreamSLOMiddleware(
                app, close_upstream_on_disconnect=close, telemetry=tel, enabled=enabled, innermost=True
            )

        def wrapper(wrapped: Callable[..., Any], instance: Any, args: Any, kw: Any) -> Any:
            stack = wrapped(*args, **kw)
            if not self._on:
                return stack
            try:
                return insert_innermost(stack, getattr(instance, "router", None), make)
            except Exception:
                logger.debug("otel_streamslo: cannot add the middleware", exc_info=True)
                return stack

        wrapt.wrap_function_wrapper(self._module, f"{self._class}.build_middleware_stack", wrapper)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._on = False
        cls = _import_class(self._module, self._class)
        method = cls.__dict__.get("build_middleware_stack") if cls is not None else None
        if cls is not None and isinstance(method, wrapt.FunctionWrapper):
            setattr(cls, "build_middleware_stack", method.__wrapped__)  # noqa: B010


def _import_class(module: str, name: str) -> Optional[type]:
    try:
        mod = __import__(module, fromlist=[name])
        cls = getattr(mod, name)
        return cls if isinstance(cls, type) else None
    except Exception:
        return None


class StarletteStreamInstrumentor(_StackInstrumentor):
    """Adds :class:`StreamSLOMiddleware` to every Starlette app (sse-starlette apps included)."""

    _module = "starlette.applications"
    _class = "Starlette"
    _requirement = "starlette >= 0.37"


class FastAPIStreamInstrumentor(_StackInstrumentor):
    """Adds :class:`StreamSLOMiddleware` to every FastAPI app."""

    _module = "fastapi.applications"
    _class = "FastAPI"
    _requirement = "fastapi >= 0.100"
