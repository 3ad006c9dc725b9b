"""Zero-code tests: run a small app in a subprocess (under ``opentelemetry-instrument``), read its spans."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["BIN", "INSTRUMENT", "our_spans", "reasons", "run_app", "spans_in"]

BIN = Path(sys.executable).parent
#: The ``opentelemetry-instrument`` launcher of this interpreter's environment.
INSTRUMENT = str(BIN / "opentelemetry-instrument")


def run_app(
    code: str, tmp_path: Path, env: Mapping[str, str], *prefix: str, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """Run ``code`` as ``tmp_path/app.py`` behind ``prefix``, spans to the console exporter, ``env`` added."""
    script = tmp_path / "app.py"
    script.write_text(code)
    full_env = {
        **os.environ,
        "OTEL_TRACES_EXPORTER": "console",
        "OTEL_METRICS_EXPORTER": "none",
        "OTEL_LOGS_EXPORTER": "none",
        **env,
    }
    return subprocess.run(
        [*prefix, sys.executable, str(script)],
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def spans_in(stdout: str) -> list[dict[str, Any]]:
    """Parse the console exporter's pretty-printed JSON objects out of stdout."""
    decoder = json.JSONDecoder()
    spans, i = [], 0
    while True:
        start = stdout.find("{", i)
        if start < 0:
            return spans
        try:
            obj, end = decoder.raw_decode(stdout, start)
        except json.JSONDecodeError:
            i = start + 1
            continue
        if isinstance(obj, dict) and "attributes" in obj and "context" in obj:
            spans.append(obj)
        i = end


def our_spans(proc: subprocess.CompletedProcess[str], done: str = "APP-DONE") -> list[dict[str, Any]]:
    """Our stream spans of an app run that exited 0 after printing ``done``."""
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert done in proc.stdout, proc.stdout[-4000:]
    return [s for s in spans_in(proc.stdout) if "streamslo.termination.reason" in s["attributes"]]


def reasons(spans: list[dict[str, Any]]) -> list[str]:
    """The spans' termination reasons, sorted."""
    return sorted(s["attributes"]["streamslo.termination.reason"] for s in spans)
