#!/usr/bin/env bash
# Overhead, memory and collector-throughput benchmarks of otel-streamslo (issue #6).
#
#   bash benchmarks/run.sh                       # full run, ~10 min on 2 cores
#   bash benchmarks/run.sh --quick               # 3-4 min, fewer rounds and shorter streams
#   bash benchmarks/run.sh --baseline <git-ref>  # also measure otel_streamslo as of <git-ref>
#   bash benchmarks/run.sh --suites overhead,ttft,memory,anthropic,collector
#
# Installs benchmarks/requirements.txt into the project's venv and the peer instrumentations into
# isolated directories under benchmarks/.peers (never into the venv: they register
# `opentelemetry_instrumentor` entry points that `opentelemetry-instrument` would pick up in the
# tests). Results: benchmarks/results/*.json and benchmarks/results/SUMMARY.md. Not a test: it never
# fails on a number. The collector suite needs collector/_build/otelcol-streamslo
# (bash collector/build.sh); without it the load run is skipped and said so.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
py="${PYTHON:-$root/.venv/bin/python}"
[[ -x "$py" ]] || py="$(command -v python3)"
peers="$here/.peers"

log() { echo "[run.sh] $*" >&2; }

log "benchmark requirements -> $("$py" -c 'import sys; print(sys.prefix)')"
"$py" -m pip install -q --disable-pip-version-check -r "$here/requirements.txt"

# install_peer NAME PIP-ARGS...: pinned, --no-deps (their dependencies are the project's own
# OpenTelemetry packages, already in the venv), into benchmarks/.peers/NAME. On failure pip's output
# goes to benchmarks/.peers/NAME.failed and the driver reports that variant as not measured.
install_peer() {
  local name="$1"; shift
  local want="$*"
  mkdir -p "$peers"
  if [[ -f "$peers/$name/.ok" && "$(cat "$peers/$name/.ok")" == "$want" ]]; then
    return 0
  fi
  rm -rf "$peers/$name" "$peers/$name.failed"
  log "peer $name: pip install --no-deps --target .peers/$name $want"
  if "$py" -m pip install -q --disable-pip-version-check --no-deps --target "$peers/$name" "$@" \
      >"$peers/$name.log" 2>&1; then
    echo "$want" >"$peers/$name/.ok"
  else
    mv "$peers/$name.log" "$peers/$name.failed"
    rm -rf "$peers/$name"
    log "peer $name: install failed (see benchmarks/.peers/$name.failed)"
  fi
}

# Official contrib instrumentation. 2.4b0 imports opentelemetry.util.genai.instruments, which
# util-genai 1.2b0+ renamed (_instruments): pip would pick 1.3b0 and the import fails; 1.1b0 works.
install_peer openai_v2 --pre opentelemetry-instrumentation-openai-v2==2.4b0 opentelemetry-util-genai==1.1b0
# OpenLLMetry (traceloop).
install_peer openllmetry opentelemetry-instrumentation-openai==0.62.4 opentelemetry-semantic-conventions-ai==0.5.1
install_peer anthropic_openllmetry opentelemetry-instrumentation-anthropic==0.62.4 \
  opentelemetry-semantic-conventions-ai==0.5.1

cd "$root"
exec "$py" -m benchmarks.driver "$@"
