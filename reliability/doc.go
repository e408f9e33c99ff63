// Package reliability holds envmig's reliability and security suites
// (RELIABILITY.md of the design): the crash suite (C), API faults (F),
// out-of-band changes (O), bad input (B), concurrency (K) and security (S).
// The journal power-loss suite (J) lives with the journal, in statefile.
//
// Every suite drives the built binary against the AWS emulator and checks
// invariants against it. `make test` runs a sample sized for CI;
// `make reliability` runs the full counts (ENVMIG_RELIABILITY=full) and
// writes each suite's figures to docs/RELIABILITY.md.
package reliability
