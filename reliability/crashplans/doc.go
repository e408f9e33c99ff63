// Package crashplans holds the crash suite (suite C of the design's
// RELIABILITY.md) on two more plans than the demo's rename-swap: the demo
// under clone-swap (figures C-clone-swap) and a versioned bucket's move to
// another region (C-region). The runner is reliability/crashrun's.
//
// `make test` runs the CI sample; `make reliability` the full counts
// (ENVMIG_RELIABILITY=full), whose figures go to docs/RELIABILITY.md.
package crashplans
