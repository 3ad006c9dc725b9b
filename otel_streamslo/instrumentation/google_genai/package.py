"""The google-genai versions this instrumentation is tested on (see README, "Supported versions")."""

from __future__ import annotations

from collections.abc import Collection

# 3.6.1: every test; 2.0.0: tests/instrumentation/google_genai but the SDK's own AFC differences.
# 1.x reads in-stream errors and failures before the first chunk differently (not supported).
_instruments: Collection[str] = ("google-genai >= 2.0",)
