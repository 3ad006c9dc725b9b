"""Chaos provider: a loopback HTTP server speaking OpenAI and Anthropic SSE with scripted faults.

``ChaosServer`` needs the ``chaos`` extra (starlette + uvicorn); the fault grammar does not.
See ``README.md`` beside this module.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from otel_streamslo.chaos.faults import FAULTS, Fault, FaultError, FaultPicker, parse_fault

if TYPE_CHECKING:
    from otel_streamslo.chaos.server import ChaosServer

__all__ = ["FAULTS", "ChaosServer", "Fault", "FaultError", "FaultPicker", "parse_fault"]


def __getattr__(name: str) -> Any:
    """Import ``ChaosServer`` (and with it starlette and uvicorn) on first use."""
    if name == "ChaosServer":
        from otel_streamslo.chaos.server import ChaosServer

        return ChaosServer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
