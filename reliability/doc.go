// Package reliability holds envmig's reliability and security suites
// (RELIABILITY.md of the design). This package runs the crash suite (C) on
// the demo's rename-swap plan, bad input (B), concurrency (K) and security
// (S). The rest live in packages of their own, so that `go test ./...`
// runs the long suites side by side, each package with its own emulator:
// reliability/crashs3 (C-S3, the journal in the S3 state backend, and the
// recoveries themselves killed), reliability/crashplans (C on clone-swap
// and a region move) and reliability/faults (API faults F, out-of-band
// changes O). The crash suites share reliability/crashrun's runner. The
// journal power-loss suite (J) lives with the journal, in statefile.
//
// Every suite drives the built binary against the AWS emulator and checks
// invariants against it. `make test` runs a sample sized for CI;
// `make reliability` runs the full counts (ENVMIG_RELIABILITY=full) and
// writes each suite's figures to docs/RELIABILITY.md.
package reliability
