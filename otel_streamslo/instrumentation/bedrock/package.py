"""The botocore versions this instrumentation is tested on (see README, "Supported versions")."""

from __future__ import annotations

from collections.abc import Collection

_instruments: Collection[str] = ("botocore >= 1.34.116",)
