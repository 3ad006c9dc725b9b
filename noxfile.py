"""Compatibility matrix: Python 3.9 and 3.13 x the oldest and newest supported openai / anthropic / botocore.

Each session installs the package (``[chaos]`` extra, for the chaos provider) with pinned SDK
versions into its own reused venv and runs the contract suite. The full suite stays on the main
version (``scripts/test.sh`` runs it in ``.venv``).

    nox -s compat                         # the whole matrix (4 sessions)
    nox -s "compat-3.9(sdks='oldest')"    # one cell
    nox -s compat -- -x tests/contract/test_termination.py   # pytest arguments instead of the suite

Interpreters are looked up as ``python3.9`` / ``python3.13`` on PATH, then under
``~/.pyenv/versions/<X.Y>.*``; a missing one fails its sessions (never skipped silently).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PYTHONS = ("3.9", "3.13")

#: The floors are the ``_instruments`` of each instrumentation package (the same strings as the
#: pyproject extras; ``tests/test_packaging.py`` checks they agree).
PACKAGES = {
    "openai": ROOT / "otel_streamslo" / "instrumentation" / "openai" / "package.py",
    "anthropic": ROOT / "otel_streamslo" / "instrumentation" / "anthropic" / "package.py",
    "botocore": ROOT / "otel_streamslo" / "instrumentation" / "bedrock" / "package.py",
}

#: The newest SDK versions served for each Python (openai 3.x and anthropic 1.x+ need Python >= 3.10,
#: botocore > 1.42.97 too). botocore is installed through boto3 of the same version (the ``[bedrock]``
#: extra); the main venv runs an older botocore, the one aiobotocore accepts, so the newest is tested here
#: (sync: aiobotocore is not installed in these venvs).
NEWEST = {
    "3.9": {"openai": "2.48.0", "anthropic": "0.125.0", "boto3": "1.42.97", "botocore": "1.42.97"},
    "3.13": {"openai": "3.57.0", "anthropic": "2.15.0", "boto3": "1.44.8", "botocore": "1.44.8"},
}

#: Extra pins of the oldest cell: openai < 1.55.3 passes ``proxies=`` to httpx, which httpx 0.28 removed
#: (the SDK itself cannot build a client), so its users run httpx 0.27.
OLDEST_EXTRA = ("httpx==0.27.2",)

#: Test tools per Python (the newest that support it).
TOOLS = {
    "3.9": ("pytest==8.4.2", "pytest-asyncio==1.2.0", "pytest-xdist==3.8.0", "pytest-timeout==2.4.0"),
    "3.13": ("pytest==9.2.0", "pytest-asyncio==1.5.0", "pytest-xdist==3.8.0", "pytest-timeout==2.4.0"),
}

#: What each cell runs: the contract suite (termination reasons, helpers, transparency, one span).
#: Only the openai, anthropic and Bedrock drivers (the other SDKs' drivers run in the main suite only).
SUITE = ("tests/contract", "-k", "openai. or anthropic.messages or bedrock.")
#: A hung cell fails with its stack after 120 s instead of stalling CI (httpcore 1.0.9 can deadlock when a
#: dropped sync stream is finalized by the GC inside its own pool lock; see the README, "Supported versions").
PYTEST_ARGS = ("-p", "no:cacheprovider", "-q", "-n", "4", "--timeout", "120", "--timeout-method", "thread")

nox.options.default_venv_backend = "venv"
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = True
nox.options.sessions = ["compat"]


def floor(sdk: str) -> str:
    """``"1.40"`` from ``_instruments = ("openai >= 1.40",)`` in the SDK's package.py."""
    text = PACKAGES[sdk].read_text()
    match = re.search(rf'"{re.escape(sdk)}\s*>=\s*([0-9][0-9.]*)"', text)
    if match is None:
        raise RuntimeError(f"no '{sdk} >= X' in {PACKAGES[sdk]}")
    return match.group(1)


def pins(python: str, sdks: str) -> list[str]:
    """The pip requirements of one cell's SDKs."""
    if sdks == "oldest":
        botocore = floor("botocore")
        return [
            f"openai=={floor('openai')}",
            f"anthropic=={floor('anthropic')}",
            f"boto3=={botocore}",  # boto3 and botocore share version numbers
            f"botocore=={botocore}",
            *OLDEST_EXTRA,
        ]
    return [f"{sdk}=={version}" for sdk, version in NEWEST[python].items()]


def _runs(command: str) -> bool:
    """Whether ``command`` on PATH starts (a pyenv shim of an inactive version exists but fails)."""
    import shutil
    import subprocess

    path = shutil.which(command)
    if path is None:
        return False
    try:
        return subprocess.run([path, "-c", "pass"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.SubprocessError):
        return False


def _find_interpreters() -> None:
    """Put ``~/.pyenv/versions/<X.Y>.*/bin`` on PATH for each wanted Python not runnable from PATH."""
    missing = []
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    for version in PYTHONS:
        if _runs(f"python{version}"):
            continue
        found = sorted(root.glob(f"{version}.*/bin/python{version}"), key=lambda p: p.parent.parent.name)
        if found:
            os.environ["PATH"] = f"{found[-1].parent}{os.pathsep}{os.environ.get('PATH', '')}"
        else:
            missing.append(version)
    if missing:
        print(
            f"nox compat: Python {', '.join(missing)} not found (not on PATH as python<X.Y>, not under "
            f"{root}); install it (e.g. `pyenv install {missing[0]}`): its sessions will FAIL.",
            file=sys.stderr,
        )


_find_interpreters()


@nox.session(python=list(PYTHONS), reuse_venv=True)
@nox.parametrize("sdks", ["oldest", "newest"])
def compat(session: nox.Session, sdks: str) -> None:
    """The contract suite on one Python with the oldest or newest supported SDKs."""
    python = str(session.python)
    requirements = ["-e", f"{ROOT}[chaos]", *TOOLS[python], *pins(python, sdks)]
    _install_once(session, requirements)
    session.run("python", "-c", _VERSIONS, silent=False)
    session.run("python", "-m", "pytest", *PYTEST_ARGS, *(session.posargs or SUITE))


_VERSIONS = (
    "import sys; from importlib.metadata import version, PackageNotFoundError\n"
    "def v(n):\n"
    "    try: return version(n)\n"
    "    except PackageNotFoundError: return '-'\n"
    "names = ('openai', 'anthropic', 'httpx', 'httpx2', 'botocore', 'aiobotocore')\n"
    "print('python', sys.version.split()[0], *(f'{n} {v(n)}' for n in names))"
)


def _install_once(session: nox.Session, requirements: list[str]) -> None:
    """pip install, skipped when the reused venv was already installed with the same requirements."""
    digest = hashlib.sha256("\n".join(requirements).encode()).hexdigest()
    marker = Path(str(session.virtualenv.location)) / ".streamslo-requirements"
    if marker.exists() and marker.read_text() == digest:
        session.log("requirements unchanged since the last install: not reinstalling")
        return
    session.install("--upgrade", "pip")
    session.install(*requirements)
    marker.write_text(digest)
