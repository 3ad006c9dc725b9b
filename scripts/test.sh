#!/usr/bin/env bash
# Sets up everything on a fresh machine and runs all tests:
# Debian packages (prometheus/promtool), the virtualenv, lint + types, the collector build and
# its Go tests, then pytest (SDKs over loopback, built collector, real Prometheus), then the
# compatibility matrix (noxfile.py: Python 3.9/3.13 x oldest/newest supported SDKs).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PY=${PYTHON:-python3}
step() { printf '\n=== %s\n' "$*"; }

step "system packages"
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null
fi
promtool --version 2>&1 | head -1

step "virtualenv (.venv)"
if [ ! -x .venv/bin/python ]; then "$PY" -m venv .venv; fi
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -c constraints.txt -e '.[test]'

step "lint and types"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy

step "collector: build, go vet, go test, fuzz, validate configs"
bash collector/test.sh

step "pytest"
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"

step "pytest: server middleware on its pure-Python hot path (the fallback when the C one is not built)"
OTEL_STREAMSLO_PURE_PYTHON=1 .venv/bin/python -m pytest -q -p no:cacheprovider tests/server

step "compatibility matrix (nox): Python 3.9 and 3.13 x oldest/newest openai + anthropic + botocore, contract suite"
# noxfile.py finds python3.9 / python3.13 on PATH or under ~/.pyenv/versions and fails (never skips) when
# one is missing. The venvs under .nox/ are reused between runs (installs skipped when the pins are unchanged).
.venv/bin/nox --non-interactive -s compat
