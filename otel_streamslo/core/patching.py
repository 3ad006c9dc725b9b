"""Shared plumbing of the SDK instrumentors: settings, telemetry, patch bookkeeping, exit hook."""

from __future__ import annotations

import atexit
import importlib
import importlib.util
import logging
import sys
import threading
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Optional

from opentelemetry.instrumentation.instrumentor import BaseInstrumentor  # type: ignore[attr-defined]
from opentelemetry.instrumentation.utils import unwrap
from wrapt import register_post_import_hook, wrap_function_wrapper

from otel_streamslo.core.calls import Wrapper
from otel_streamslo.core.config import load_settings
from otel_streamslo.core.record import abandon_open_records
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


def _installed(module: str) -> bool:
    """Whether ``module``'s top-level package can be found (without importing anything)."""
    try:
        return importlib.util.find_spec(module.partition(".")[0]) is not None
    except (ImportError, ValueError):
        return False


@dataclass(frozen=True)
class Target:
    """One SDK attribute to wrap: ``module``, dotted ``qualname``, and the wrapper that observes it.

    ``make_wrapper`` is called only when the target exists, so it may touch SDK types that older or
    newer SDK versions lack; if it raises, this target is skipped and the others still apply.
    ``on_import``: an optional companion (e.g. aiobotocore next to botocore) is not imported by
    ``instrument()``; it is patched when the application imports it (a post-import hook), so an
    application that never uses it does not pay its import.
    """

    module: str
    qualname: str
    make_wrapper: Callable[[], Wrapper]
    on_import: bool = False

    @property
    def name(self) -> str:
        return f"{self.module}:{self.qualname}"


class PatchSet:
    """Patches applied by one instrumentor, so ``uninstrument()`` restores the SDK exactly.

    Each target is applied on its own: one missing in the installed SDK version (module or
    attribute), of an unexpected shape (not callable), or whose wrapper cannot be built, is skipped
    with one debug log line and listed in :attr:`skipped`; the rest still apply.
    """

    def __init__(self) -> None:
        self._applied: list[tuple[Any, str, str]] = []
        self.skipped: dict[str, str] = {}
        self.waiting: dict[str, Target] = {}  # on_import targets whose module is not imported yet
        self._lock = threading.RLock()  # an import inside a patch may fire a waiting target's hook

    @property
    def applied(self) -> tuple[str, ...]:
        """``module:qualname`` of every patched target, in patch order."""
        return tuple(name for _, _, name in self._applied)

    def apply(self, target: Target) -> bool:
        """Wrap one target; False (and the reason in :attr:`skipped`) if it was skipped.

        An ``on_import`` target whose module is not imported yet is listed in :attr:`waiting` and
        applied when it is imported, unless :meth:`unwrap_all` ran first (False now).
        """
        if target.on_import and target.module not in sys.modules and _installed(target.module):
            with self._lock:
                self.waiting[target.name] = target
            register_post_import_hook(lambda _module: self._imported(target.name), target.module)
            return False
        with self._lock:
            return self._apply_now(target)

    def _imported(self, name: str) -> None:
        """Post-import hook: apply the target waiting under ``name``, if any.

        wrapt keeps hooks for good, so one registered before an ``uninstrument()`` fires too: it
        applies whichever target waits now (the current telemetry's), or nothing.
        """
        try:
            with self._lock:
                target = self.waiting.pop(name, None)
                if target is not None:
                    self._apply_now(target)
        except Exception:  # never break the application's import
            logger.debug("otel_streamslo: deferred patch of %s failed", name, exc_info=True)

    def _apply_now(self, target: Target) -> bool:
        why = self._try_apply(target)
        if why is None:
            self.skipped.pop(target.name, None)
            return True
        self.skipped[target.name] = why
        logger.debug("otel_streamslo: %s not patched: %s", target.name, why)
        return False

    def _try_apply(self, target: Target) -> Optional[str]:
        try:
            mod = importlib.import_module(target.module)
        except Exception as exc:
            return f"module not importable ({type(exc).__name__}: {exc})"
        owner_path, _, attr = target.qualname.rpartition(".")
        owner: Any = mod
        for part in owner_path.split(".") if owner_path else []:
            owner = getattr(owner, part, None)
            if owner is None:
                return f"{part} not found"
        current = getattr(owner, attr, None)
        if current is None:
            return f"{attr} not found"
        if not callable(current):
            return f"unexpected shape: {type(current).__name__} is not callable"
        try:
            wrapper = target.make_wrapper()
            wrap_function_wrapper(owner, attr, wrapper)
        except Exception as exc:
            return f"wrapping failed ({type(exc).__name__}: {exc})"
        self._applied.append((owner, attr, target.name))
        return None

    def unwrap_all(self) -> None:
        """Restore every patched attribute; targets still waiting for their import are dropped."""
        with self._lock:
            self.waiting.clear()
            while self._applied:
                owner, attr, name = self._applied.pop()
                try:
                    unwrap(owner, attr)
                except Exception:
                    logger.debug("otel_streamslo: unwrap %s failed", name, exc_info=True)
            self.skipped.clear()


class StreamInstrumentor(BaseInstrumentor):  # type: ignore[misc]
    """Base of the SDK instrumentors: builds settings and telemetry, then applies ``_targets``."""

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
        for target in self._targets(self.telemetry, kwargs):
            self._patches.apply(target)

    def _uninstrument(self, **kwargs: Any) -> None:
        self._patches.unwrap_all()

    def _targets(self, tel: Telemetry, kwargs: Mapping[str, Any]) -> Iterable[Target]:
        """The patch table of this SDK."""
        raise NotImplementedError

    def instrumented_targets(self) -> tuple[str, ...]:
        """``module:qualname`` of every SDK method patched now (empty when not instrumented)."""
        return self._patches.applied

    def skipped_targets(self) -> dict[str, str]:
        """Targets of the patch table not patched in this SDK version, with the reason."""
        return dict(self._patches.skipped)


def instrumented_targets() -> dict[str, tuple[str, ...]]:
    """Patched targets of every instrumented otel-streamslo instrumentor, by instrumentor class name."""
    out: dict[str, tuple[str, ...]] = {}
    pending: list[type] = list(StreamInstrumentor.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        inst = cls.__dict__.get("_instance")
        if isinstance(inst, StreamInstrumentor) and inst.is_instrumented_by_opentelemetry:
            out[cls.__name__] = inst.instrumented_targets()
    return out
