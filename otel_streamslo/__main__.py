"""``python -m otel_streamslo``."""

import sys

from otel_streamslo.cli import main

sys.exit(main())
