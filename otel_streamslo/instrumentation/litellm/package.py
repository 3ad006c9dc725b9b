"""The litellm versions this instrumentation is tested on (see README, "Supported versions")."""

from __future__ import annotations

from collections.abc import Collection

_instruments: Collection[str] = ("litellm >= 1.108",)
