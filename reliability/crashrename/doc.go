// Package crashrename holds the second half of suite C on the demo's
// rename-swap plan with the local journal (every other case, from the
// second); the reliability package's TestCrashSuite runs the first half.
// Two packages, so that go test runs the halves of its longest suite side
// by side. The runner is reliability/crashrun's.
//
// `make test` runs the CI sample; `make reliability` the full counts
// (ENVMIG_RELIABILITY=full), whose figures go to docs/RELIABILITY.md.
package crashrename
