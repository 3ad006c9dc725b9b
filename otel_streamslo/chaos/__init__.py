"""Chaos provider: a loopback HTTP server speaking LLM streaming dialects with scripted faults.

``ChaosServer``, ``ChaosSettings`` and ``build_app`` need the ``chaos`` extra (starlette +
uvicorn); the fault grammar does not.  See ``README.md`` beside this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_streamslo.chaos.faults import FAULTS, Fault, FaultError, FaultPicker, parse_fault

if TYPE_CHECKING:
    from otel_streamslo.chaos.app import build_app
    from otel_streamslo.chaos.server import ChaosServer
    from otel_streamslo.chaos.state import ChaosSettings

__all__ = [
    "FAULTS",
    "ChaosServer",
    "ChaosSettings",
    "Fault",
    "FaultError",
    "FaultPicker",
    "build_app",
    "parse_fault",
]


def __getattr__(name: str) -> Any:
    """Import the server side (and with it starlette and uvicorn) on first use."""
    if name == "ChaosServer":
        from otel_streamslo.chaos.server import ChaosServer

        return ChaosServer
    if name == "ChaosSettings":
        from otel_streamslo.chaos.state import ChaosSettings

        return ChaosSettings
    if name == "build_app":
        from otel_streamslo.chaos.app import build_app

        return build_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
