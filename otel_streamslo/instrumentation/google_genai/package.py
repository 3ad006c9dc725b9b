"""The google-genai versions this instrumentation is tested on (see README, "Supported versions")."""

from __future__ import annotations

from collections.abc import Collection

_instruments: Collection[str] = ("google-genai >= 1.0",)
