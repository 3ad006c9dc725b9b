"""``otel-streamslo rules``: generate (or ``--check``) rule files from SLO specs, and the dashboards.

Mounted by the top-level CLI through :func:`add_arguments` and :func:`run`; also runnable as
``python -m otel_streamslo.rules``.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Optional

from otel_streamslo.rules import grafana
from otel_streamslo.rules.formats import FORMATS, rule_document
from otel_streamslo.rules.render import to_yaml
from otel_streamslo.rules.spec import SpecError, load_spec

SPEC_SUFFIXES = (".yaml", ".yml")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``rules`` options to a (sub)parser."""
    parser.add_argument(
        "--spec",
        action="append",
        type=Path,
        metavar="PATH",
        help="SLO spec file or directory of *.yaml specs (repeatable; default dashboards/slo)",
    )
    parser.add_argument(
        "--out", type=Path, default=Path("dashboards/rules"), help="directory of generated rule files"
    )
    parser.add_argument(
        "--format",
        choices=FORMATS,
        default="prometheus",
        help="prometheus: plain rule files (default); prometheus-operator: PrometheusRule manifests; "
        "mimir: Mimir/Cortex ruler namespace files (mimirtool rules load)",
    )
    parser.add_argument(
        "--grafana-out",
        type=Path,
        metavar="DIR",
        help="also write the Grafana dashboards JSON into DIR (e.g. dashboards/grafana)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if a generated file is missing or differs from what is committed",
    )


def spec_files(paths: Sequence[Path]) -> list[Path]:
    """Expand directories into their spec files, sorted; keep files as given."""
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(sorted(p for p in path.iterdir() if p.suffix in SPEC_SUFFIXES and p.is_file()))
        else:
            files.append(path)
    return files


def outputs(
    specs: Sequence[Path], out: Path, grafana_out: Optional[Path], output_format: str = "prometheus"
) -> Iterator[tuple[Path, str]]:
    """Every generated file with its content; raises SpecError on an invalid spec."""
    for path in spec_files(specs):
        yield out / f"{path.stem}.yaml", to_yaml(rule_document(load_spec(path), output_format), path.name)
    if grafana_out is not None:
        for name, text in grafana.render_all().items():
            yield grafana_out / name, text


def run(args: argparse.Namespace) -> int:
    """Generate or check; 0 when done or up to date, 1 when stale, 2 on a bad spec."""
    specs: list[Path] = args.spec or [Path("dashboards/slo")]
    try:
        generated = list(outputs(specs, args.out, args.grafana_out, getattr(args, "format", "prometheus")))
    except (SpecError, OSError) as exc:
        print(f"otel-streamslo rules: {exc}", file=sys.stderr)
        return 2
    if not generated:
        print("otel-streamslo rules: no spec files found", file=sys.stderr)
        return 2
    stale = 0
    for target, text in generated:
        current = target.read_text(encoding="utf-8") if target.is_file() else None
        if current == text:
            continue
        if args.check:
            stale += 1
            diff = difflib.unified_diff(
                (current or "").splitlines(keepends=True),
                text.splitlines(keepends=True),
                fromfile=f"{target} (committed)",
                tofile=f"{target} (generated)",
                n=1,
            )
            sys.stderr.writelines(list(diff)[:40])
            print(f"otel-streamslo rules: {target} is out of date", file=sys.stderr)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")
            print(f"wrote {target}")
    if stale:
        print("regenerate with: otel-streamslo rules (same arguments, without --check)", file=sys.stderr)
        return 1
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Stand-alone entry point."""
    parser = argparse.ArgumentParser(prog="otel-streamslo rules", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))
