#!/usr/bin/env bash
# make reliability: every reliability suite at full size, then
# docs/RELIABILITY.md from the figures they report. Each test package starts
# and stops its own emulator.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto-env.sh
report="$(mktemp "${TMPDIR:-/tmp}/envmig-reliability.XXXXXX")"
trap 'rm -f "$report"' EXIT
export ENVMIG_RELIABILITY=full ENVMIG_RELIABILITY_REPORT="$report"
status=0
go test -count=1 -timeout 30m -run 'PowerLoss' ./statefile/ || status=1
go test -count=1 -timeout 150m -v ./reliability/ 2>&1 | grep -E '^(=== RUN|--- (PASS|FAIL)|PASS|FAIL|ok)|figures:' | grep -v '=== RUN' || status=1
go run ./scripts/reliability-report -in "$report" -out docs/RELIABILITY.md
echo "wrote docs/RELIABILITY.md"
exit $status
