#!/usr/bin/env bash
# The whole test suite: formatting, vet, unit tests and the integration
# tests against moto (each test package starts its own emulator on a free
# loopback port and stops it by PID), plus the crash suite's build.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/moto-env.sh

echo "==> gofmt"
unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.venv/*'))"
if [ -n "$unformatted" ]; then
  echo "these files need gofmt:" >&2; echo "$unformatted" >&2; exit 1
fi
echo "==> go vet"
go vet ./...
go vet -tags crashtest ./...
echo "==> go test (moto: $ENVMIG_PYTHON)"
# The reliability packages run the suites at their CI sample size (the crash
# sample kills the snapshot, the renames and the group resume at every point,
# and four points again, six runs, with the journal in the S3 state backend).
# The long packages (reliability, reliability/crashrename, reliability/crashs3,
# reliability/crashplans, reliability/faults, cmd/envmig and cmd/envmig/e2e)
# each drive the binary against their own emulator and wait on it much of the
# time, so four run at once even on a 2-core runner. The crash suites are
# split over four of them for that reason (rename-swap's crash sample, the
# longest, in halves over reliability and reliability/crashrename).
go test -count=1 -p 4 -timeout 40m ./...
