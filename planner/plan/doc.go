// Package plan is the contract between the planner and the executor.
//
// A Plan is a reviewed, self-contained description of one migration run: the
// environment it targets, the account and region it was computed for, the live
// observations it depended on (their fingerprint), the per-resource diff shown
// to reviewers, and the ordered Steps the executor will run. Steps are grouped
// in three phases: PhasePrepare (undone automatically on failure), the single
// PhaseGate step (the point of no return) and PhaseCommit (roll forward only).
//
// The executor never re-plans: it runs Steps exactly as written, looking up
// each Step's Action in its handler table and reading the Step's Params,
// which are of one Go type per action (params.go). Decode refuses a plan with
// an action or a parameter this build does not know, before anything runs.
//
// A Plan's Digest is a SHA-256 over its canonical JSON encoding with the Digest
// field empty. Encode sets it; Decode refuses a plan whose digest does not
// match (a hand-edited or truncated file) or whose format_version has an
// unknown major number.
//
// This package depends on the standard library only, so that any tool can
// read and write plan files.
package plan
