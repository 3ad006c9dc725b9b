"""``python -m otel_streamslo.rules``: same as ``otel-streamslo rules``."""

from __future__ import annotations

import sys

MISSING_DEPENDENCY = (
    "otel-streamslo rules: {error}. The rules generator needs only PyYAML, a core dependency of "
    "otel-streamslo: pip install --force-reinstall otel-streamslo (or pip install pyyaml)"
)


def main() -> int:
    """Run the generator; a missing dependency is one line on stderr and exit code 2."""
    try:
        from otel_streamslo.rules.cli import main as rules_main
    except ImportError as exc:
        print(MISSING_DEPENDENCY.format(error=exc), file=sys.stderr)
        return 2
    return rules_main()


if __name__ == "__main__":
    sys.exit(main())
