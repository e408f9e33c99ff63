// Package planner decides what a migration does.
//
// Plan is a pure function of (configuration, live observations, options): it
// does no I/O. It resolves the spec's resources to physical names, diffs each
// against what live AWS holds, decides per resource whether it is unchanged,
// updated in place or migrated (and why), turns the strategy into ordered
// steps around the point of no return, runs the safety analyzers, and models
// the run's cost. The result is a plan.Plan, the only thing the executor
// reads.
//
// Names the run uses are deterministic: a temporary database is
// <identifier><temporary_suffix>, a retired original
// <identifier><temporary_suffix>-old, a temporary bucket
// <name><temporary_suffix>, snapshots envmig-<lineage>-<resource>[-enc|-final|-clone].
// Together with the envmig:run tag they make every step safe to repeat.
//
// For an environment kept as a CloudFormation stack, strategy stack-swap
// (stackswap.go) reads the stack and the spec's new template: it rebuilds
// the stack through a temporary copy (the origin's double clone) when the
// update would replace a database or bucket by envmig's own table, and
// updates it in place through a reviewed change set otherwise. Under the
// other strategies a change to a stack-owned database that its template
// contradicts is refused (behind.go). The stack's template digest,
// parameters, database properties and template are recorded in the plan,
// so that Replay gives back what the plan was computed from.
//
// Request tells the live reader what to observe; Observations flattens what
// it saw into the plan's fingerprinted form, and Stale compares two such
// lists, for apply's staleness check.
package planner
