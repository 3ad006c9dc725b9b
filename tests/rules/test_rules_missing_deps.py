"""The rules generator needs no extra: only PyYAML (a core dependency) beyond the standard library.

Run in subprocesses with modules made unimportable (``sys.modules[name] = None``): without PyYAML
both entry points say what to install and exit 2, without a traceback; without every optional
package (SDKs, servers, OpenTelemetry) ``otel-streamslo rules`` still works.
"""

from __future__ import annotations

import subprocess
import sys

from .conftest import REPO, RULES_DIR, SLO_DIR

OPTIONAL = (
    "openai",
    "anthropic",
    "google",
    "boto3",
    "botocore",
    "litellm",
    "httpx",
    "httpx2",
    "pydantic",
    "starlette",
    "fastapi",
    "sse_starlette",
    "uvicorn",
    "opentelemetry",
    "wrapt",
    "cloudcoil",
)


def run_blocked(blocked: tuple[str, ...], code: str) -> subprocess.CompletedProcess[str]:
    prelude = f"import sys\nfor name in {blocked!r}:\n    sys.modules[name] = None\n"
    return subprocess.run(
        [sys.executable, "-c", prelude + code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=REPO,
    )


def test_console_script_without_pyyaml_says_what_to_install() -> None:
    result = run_blocked(
        ("yaml",), "from otel_streamslo.cli import main\nsys.exit(main(['rules', '--check']))"
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert "PyYAML" in result.stderr and "pip install --force-reinstall otel-streamslo" in result.stderr
    assert "[demo]" not in result.stderr  # not the demo's extra: the generator needs none


def test_module_entry_point_without_pyyaml_says_what_to_install() -> None:
    code = (
        "import runpy\nsys.argv = ['otel_streamslo.rules', '--check']\n"
        "runpy.run_module('otel_streamslo.rules', run_name='__main__')"
    )
    result = run_blocked(("yaml",), code)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("otel-streamslo rules: ") and "pip install pyyaml" in result.stderr


def test_rules_work_without_any_optional_package() -> None:
    code = (
        "from otel_streamslo.cli import main\n"
        f"sys.exit(main(['rules', '--spec', {str(SLO_DIR)!r}, '--out', {str(RULES_DIR)!r}, '--check']))"
    )
    result = run_blocked(OPTIONAL, code)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    # the blocking is real: the same prelude makes an SDK import fail
    assert run_blocked(OPTIONAL, "import openai").returncode == 1
