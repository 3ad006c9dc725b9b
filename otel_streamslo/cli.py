"""The ``otel-streamslo`` command: ``demo``, ``chaos-provider`` and ``rules`` subcommands."""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Any, Optional

# subcommand -> (module with add_arguments(parser) and run(args) -> int, help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "demo": ("otel_streamslo.demo", "run streamed calls against the embedded chaos provider and report SLIs"),
    "chaos-provider": (
        "otel_streamslo.chaos.cli",
        "serve OpenAI/Anthropic-compatible SSE with scripted faults",
    ),
    "rules": ("otel_streamslo.rules.cli", "render Prometheus SLO recording and alert rules from a spec"),
}
# What to say when a subcommand's module cannot be imported (default: install the demo extra).
INSTALL_HINTS: dict[str, str] = {
    # The rules generator needs only PyYAML, a core dependency: a broken install, not a missing extra.
    "rules": "rules needs only PyYAML, a core dependency: {exc}; reinstall with "
    "pip install --force-reinstall otel-streamslo (or pip install pyyaml)",
}


# Subcommand -> (its extra, the modules that extra installs and the subcommand imports when it runs).
EXTRAS: dict[str, tuple[str, tuple[str, ...]]] = {
    "demo": ("demo", ("openai", "anthropic", "starlette", "uvicorn")),
    "chaos-provider": ("chaos", ("starlette", "uvicorn")),
}


def missing_extra(command: str) -> Optional[str]:
    """What to install for ``command`` when a module of its extra cannot be imported, else None."""
    extra, modules = EXTRAS.get(command, ("", ()))
    for module in modules:
        try:
            importlib.import_module(module)
        except ImportError as exc:
            return f"{command} needs the '{extra}' extra ({exc}): pip install 'otel-streamslo[{extra}]'"
    return None


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Any]]:
    """The top-level parser and the module behind each subcommand."""
    parser = argparse.ArgumentParser(prog="otel-streamslo", description=__doc__)
    from otel_streamslo.version import __version__

    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    modules: dict[str, Any] = {}
    for name, (module_name, help_text) in SUBCOMMANDS.items():
        sp = sub.add_parser(name, help=help_text, description=help_text)
        try:
            module = importlib.import_module(module_name)
        except ImportError as exc:
            extra = EXTRAS.get(name, ("demo", ()))[0]
            default = f"{name} needs an optional dependency: {{exc}} (pip install 'otel-streamslo[{extra}]')"
            sp.set_defaults(_missing=INSTALL_HINTS.get(name, default).format(exc=exc))
            continue
        module.add_arguments(sp)
        modules[name] = module
    return parser, modules


def main(argv: Optional[list[str]] = None) -> int:
    """Entry point of the console script."""
    parser, modules = build_parser()
    args, unknown = parser.parse_known_args(argv)  # a subcommand that failed to import has no options
    missing = getattr(args, "_missing", None) or missing_extra(args.command)
    if missing:
        print(f"otel-streamslo: {missing}", file=sys.stderr)
        return 2
    if unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    return int(modules[args.command].run(args))


if __name__ == "__main__":
    sys.exit(main())
