#!/usr/bin/env bash
# make reliability: every reliability suite at full size, then
# docs/RELIABILITY.md from the figures they report. The suites are the test
# packages under reliability/ (the crash suites are split over reliability,
# reliability/crashrename, reliability/crashs3 and reliability/crashplans,
# beside reliability/faults),
# run side by side as go test schedules them, each appending its figures to
# one report; each test package starts and stops its own emulator.
#
# The page is written only when every suite passed; otherwise the failing
# figures are printed, the page is left as it was and the exit status is 1.
#
# ENVMIG_RELIABILITY_RUN=REGEXP runs only the reliability tests it matches
# (go test -run; the journal power-loss suite is skipped) and never writes
# the page: its figures are not the whole run's.
# ENVMIG_BREAK=bucket.copy breaks the bucket copy on purpose (every envmig
# the suites run is then a crashtest build, see executor.BreakEnv): the
# suites must fail, and the page must stay as it was.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto-env.sh
report="$(mktemp "${TMPDIR:-/tmp}/envmig-reliability.XXXXXX")"
log="${TMPDIR:-/tmp}/envmig-reliability.log"
trap 'rm -f "$report"' EXIT
export ENVMIG_RELIABILITY=full ENVMIG_RELIABILITY_REPORT="$report"
only="${ENVMIG_RELIABILITY_RUN:-}"
status=0
if [ -z "$only" ]; then
  go test -count=1 -timeout 30m -run 'PowerLoss' ./statefile/ || status=1
fi
go test -count=1 -timeout 150m -v -run "${only:-.}" ./reliability/... >"$log" 2>&1 || status=1
grep -E '^\s*--- FAIL|^(--- PASS|PASS|FAIL|ok)|figures:' "$log" || true
if [ "$status" != 0 ]; then
  echo "the suites failed: the whole log is in $log"
  go run ./scripts/reliability-report -in "$report" -check || true
  echo "docs/RELIABILITY.md is left as it was"
  exit "$status"
fi
if [ -n "$only" ]; then
  go run ./scripts/reliability-report -in "$report" -check
  echo "ENVMIG_RELIABILITY_RUN=$only: a partial run; docs/RELIABILITY.md is left as it was"
  exit 0
fi
go run ./scripts/reliability-report -in "$report" -out docs/RELIABILITY.md
echo "wrote docs/RELIABILITY.md"
