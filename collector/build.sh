#!/usr/bin/env bash
# Build the otelcol-streamslo distribution with the OpenTelemetry Collector
# Builder (OCB).
#
#   bash collector/build.sh           # build if any input changed, else skip
#   bash collector/build.sh --force   # always rebuild
#
# Installs the pinned builder into collector/_bin (go install, from the Go
# module proxy), generates the distribution into collector/_build and compiles
# collector/_build/otelcol-streamslo. A cold build (empty module and build
# caches) takes several minutes on 2 cores; see collector/README.md.
set -euo pipefail

BUILDER_VERSION="v0.155.0"   # keep in step with builder-config.yaml

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here"

# Serialize builds: concurrent runs share collector/_build and the Go caches.
# Callers may already hold the lock (`flock /tmp/otelcol-build.lock bash
# collector/build.sh`): then this process inherited the locked descriptor and
# re-locking that same descriptor returns at once (no self-deadlock).
lock_file="${STREAMSLO_BUILD_LOCK:-/tmp/otelcol-build.lock}"
if command -v flock >/dev/null; then
  lock_fd=""
  for fd_path in /proc/$$/fd/*; do
    if [[ "$(readlink "$fd_path" 2>/dev/null)" == "$lock_file" ]]; then lock_fd="${fd_path##*/}"; break; fi
  done
  if [[ -z "$lock_fd" ]]; then exec {lock_fd}>>"$lock_file"; fi
  echo "[build.sh] waiting for the build lock $lock_file" >&2
  flock "$lock_fd"
fi

force=0
if [[ "${1:-}" == "--force" ]]; then force=1; fi

bin_dir="$here/_bin"
builder="$bin_dir/builder"
binary="$here/_build/otelcol-streamslo"

log() { echo "[build.sh] $*"; }

command -v go >/dev/null || { log "error: go not found on PATH"; exit 1; }

# 1. the builder, pinned
if [[ -x "$builder" ]] && "$builder" version 2>&1 | grep -q "$BUILDER_VERSION"; then
  log "builder $BUILDER_VERSION present: $builder"
else
  log "installing go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION into $bin_dir"
  mkdir -p "$bin_dir"
  t0=$SECONDS
  GOBIN="$bin_dir" go install "go.opentelemetry.io/collector/cmd/builder@$BUILDER_VERSION"
  log "builder installed in $((SECONDS - t0))s"
fi

# 2. cache check: skip when the binary is newer than every input
inputs=(builder-config.yaml build.sh)
while IFS= read -r -d '' f; do inputs+=("$f"); done < <(
  find streamsloprocessor \( -name '*.go' -o -name 'go.mod' -o -name 'go.sum' \) \
    -not -name '*_test.go' -print0)

if [[ $force -eq 0 && -x "$binary" ]]; then
  newer=""
  for f in "${inputs[@]}"; do
    if [[ "$f" -nt "$binary" ]]; then newer="$f"; break; fi
  done
  if [[ -z "$newer" ]]; then
    log "up to date: $binary is newer than all ${#inputs[@]} inputs (builder-config.yaml, build.sh, processor sources); skipping the build (use --force to rebuild)"
    exit 0
  fi
  log "rebuilding: $newer changed since the last build"
elif [[ $force -eq 1 ]]; then
  log "rebuilding: --force"
else
  log "building: $binary does not exist yet (a cold build can take several minutes on 2 cores)"
fi

# 3. generate + compile
t0=$SECONDS
"$builder" --config builder-config.yaml
touch "$binary"
log "built $binary in $((SECONDS - t0))s"
"$binary" --version || true
