// Package crashs3 holds two parts of the crash suite (suite C of the
// design's RELIABILITY.md) that kill the demo's rename-swap plan: C-S3,
// with the journal and the lock in the S3 state backend, and the
// recoveries (rollback, cleanup) themselves killed midway. The runner is
// reliability/crashrun's; the suite on the local journal is the
// reliability package's TestCrashSuite.
//
// `make test` runs the CI sample; `make reliability` the full counts
// (ENVMIG_RELIABILITY=full), whose figures go to docs/RELIABILITY.md.
package crashs3
