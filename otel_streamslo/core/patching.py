"""Shared plumbing of the SDK instrumentors: settings, telemetry, patch bookkeeping, exit hook."""

from __future__ import annotations

import atexit
import importlib
import logging
import threading
from collections.abc import Callable, Collection
from typing import Any, Optional

from opentelemetry import context, trace
from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import wrap_function_wrapper

from otel_streamslo.core.config import load_settings
from otel_streamslo.core.record import StreamRecord, abandon_open_records
from otel_streamslo.core.telemetry import Telemetry, make_telemetry

logger = logging.getLogger(__name__)

_EXIT_HOOK_LOCK = threading.Lock()
_exit_hook_registered = False


def register_exit_hook() -> None:
    """End still-open streams as ``client_abandoned`` at interpreter exit.

    Registered at ``instrument()`` time, i.e. after the SDK providers were set up, so it runs
    before their own exit hooks flush and shut down (atexit runs last-in, first-out).
    """
    global _exit_hook_registered
    with _EXIT_HOOK_LOCK:
        if not _exit_hook_registered:
            atexit.register(abandon_open_records)
            _exit_hook_registered = True


def attach_span(rec: StreamRecord) -> Optional[object]:
    """Make ``rec``'s span current for the request phase (so HTTP client spans nest under it)."""
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


Wrapper = Callable[[Callable[..., Any], Any, tuple[Any, ...], dict[str, Any]], Any]


class PatchSet:
    """Patches applied by one instrumentor, so ``uninstrument()`` restores the SDK exactly."""

    def __init__(self) -> None:
        self._applied: list[tuple[Any, str]] = []

    def wrap(self, module: str, qualname: str, wrapper: Wrapper) -> bool:
        """Wrap ``module.qualname``; a missing attribute (older/newer SDK) is skipped with a debug log."""
        try:
            mod = importlib.import_module(module)
            owner_path, _, attr = qualname.rpartition(".")
            owner: Any = mod
            for part in owner_path.split(".") if owner_path else []:
                owner = getattr(owner, part)
            if not hasattr(owner, attr):
                logger.debug("otel_streamslo: %s.%s not found, not patched", module, qualname)
                return False
            wrap_function_wrapper(module, qualname, wrapper)
            self._applied.append((owner, attr))
            return True
        except Exception:
            logger.debug("otel_streamslo: patching %s.%s failed", module, qualname, exc_info=True)
            return False

    def unwrap_all(self) -> None:
        """Restore every patched attribute."""
        while self._applied:
            owner, attr = self._applied.pop()
            try:
                unwrap(owner, attr)
            except Exception:
                logger.debug("otel_streamslo: unwrap %s.%s failed", owner, attr, exc_info=True)


class StreamInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Base of the SDK instrumentors: builds settings and telemetry, then calls ``_patch``."""

    _instruments: Collection[str] = ()

    def __init__(self) -> None:
        # BaseInstrumentor is a per-class singleton: __init__ runs on every construction.
        if not hasattr(self, "_patches"):
            self._patches = PatchSet()
            self.telemetry: Optional[Telemetry] = None

    def instrumentation_dependencies(self) -> Collection[str]:
        return self._instruments

    def _instrument(self, **kwargs: Any) -> None:
        settings = load_settings(kwargs)
        self.telemetry = make_telemetry(settings, kwargs.get("tracer_provider"), kwargs.get("meter_provider"))
        register_exit_hook()
        self._patch(self.telemetry)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._patches.unwrap_all()

    def _patch(self, tel: Telemetry) -> None:
        raise NotImplementedError
