#!/usr/bin/env bash
# make reliability: every reliability suite at full size, then
# docs/RELIABILITY.md from the figures they report. Each test package starts
# and stops its own emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto-env.sh
report="$(mktemp "${TMPDIR:-/tmp}/envmig-reliability.XXXXXX")"
log="${TMPDIR:-/tmp}/envmig-reliability.log"
trap 'rm -f "$report"' EXIT
export ENVMIG_RELIABILITY=full ENVMIG_RELIABILITY_REPORT="$report"
status=0
go test -count=1 -timeout 30m -run 'PowerLoss' ./statefile/ || status=1
go test -count=1 -timeout 150m -v ./reliability/ >"$log" 2>&1 || status=1
grep -E '^\s*--- FAIL|^(--- PASS|PASS|FAIL|ok)|figures:' "$log" || true
[ "$status" = 0 ] || echo "the suites failed: the whole log is in $log"
go run ./scripts/reliability-report -in "$report" -out docs/RELIABILITY.md
echo "wrote docs/RELIABILITY.md"
exit $status
