#!/usr/bin/env bash
# Collector checks: generated names up to date, gofmt, go vet, unit/golden/config tests (-race), a bounded
# fuzz run, the OCB build (cached) and `validate` of both configs.
#
#   bash collector/test.sh
#
# Environment:
#   STREAMSLO_GO_RACE=0        run go test without -race (faster cold run)
#   STREAMSLO_FUZZTIME=15s     duration of the FuzzProcessAttributes run (0 skips it)
#   STREAMSLO_SKIP_BUILD=1     skip build.sh + validate (unit tests only)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
proc="$here/streamsloprocessor"
fuzztime="${STREAMSLO_FUZZTIME:-15s}"
passed=0
failed=0

step() { echo; echo "=== [collector/test.sh] $*"; }
ok() { passed=$((passed + 1)); echo "--- ok: $*"; }
fail() { failed=$((failed + 1)); echo "--- FAILED: $*"; }

command -v go >/dev/null || { echo "go not found on PATH"; exit 1; }
t_all=$SECONDS

step "names_gen.go is up to date (scripts/gen_collector_names.py)"
repo="$(cd "$here/.." && pwd)"
py="$repo/.venv/bin/python"
[[ -x "$py" ]] || py="$(command -v python3)"
gen_tmp="$(mktemp "${TMPDIR:-/tmp}/names_gen.XXXXXX.go")"
if "$py" "$repo/scripts/gen_collector_names.py" --output "$gen_tmp" && cmp -s "$gen_tmp" "$proc/names_gen.go"; then
  ok "names_gen.go up to date"
else
  diff -u "$proc/names_gen.go" "$gen_tmp" || true
  fail "names_gen.go is stale: run \`.venv/bin/python scripts/gen_collector_names.py\` and commit collector/streamsloprocessor/names_gen.go"
fi
rm -f "$gen_tmp"

step "gofmt"
cd "$proc"
unformatted="$(gofmt -l .)"
if [[ -z "$unformatted" ]]; then ok "gofmt"; else echo "$unformatted"; fail "gofmt (files above need gofmt -w)"; fi

step "go vet"
if go vet ./...; then ok "go vet"; else fail "go vet"; fi

step "go test"
race=(-race)
[[ "${STREAMSLO_GO_RACE:-1}" == "0" ]] && race=()
if go test "${race[@]}" -count=1 ./...; then ok "go test ${race[*]}"; else fail "go test ${race[*]}"; fi

if [[ "$fuzztime" != "0" ]]; then
  step "fuzz FuzzProcessAttributes for $fuzztime"
  if go test -run '^$' -fuzz='^FuzzProcessAttributes$' -fuzztime="$fuzztime" .; then
    ok "fuzz"
  else
    fail "fuzz (a failing input was written under streamsloprocessor/testdata/fuzz/)"
  fi
fi

if [[ "${STREAMSLO_SKIP_BUILD:-0}" != "1" ]]; then
  step "build (collector/build.sh)"
  if bash "$here/build.sh"; then
    ok "build"
    step "pinned versions in the generated distribution"
    gomod="$here/_build/go.mod"
    pins_ok=1
    for pin in "go.opentelemetry.io/collector/otelcol v0.155.0" "go.opentelemetry.io/collector/pdata v1.61.0" \
               "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/prometheusexporter v0.155.0"; do
      if grep -q "$pin" "$gomod"; then echo "pinned: $pin"; else echo "NOT pinned: $pin"; pins_ok=0; fi
    done
    if [[ $pins_ok -eq 1 ]]; then ok "pinned versions"; else fail "pinned versions (a dependency raised the version set)"; fi

    for cfg in otelcol-streamslo.yaml otelcol-contrib.yaml; do
      step "validate config/$cfg"
      if "$here/_build/otelcol-streamslo" validate --config "$here/config/$cfg"; then
        ok "validate $cfg"
      else
        fail "validate $cfg"
      fi
    done
  else
    fail "build"
  fi
fi

echo
echo "collector/test.sh: $((SECONDS - t_all))s"
echo "collector: ${passed} passed, ${failed} failed"
[[ $failed -eq 0 ]]
