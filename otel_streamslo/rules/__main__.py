"""``python -m otel_streamslo.rules``: same as ``otel-streamslo rules``."""

from __future__ import annotations

import sys

from otel_streamslo.rules.cli import main

if __name__ == "__main__":
    sys.exit(main())
