// Package switches holds the handler cores of the availability switches
// other than Auto Scaling groups (package group): everything else that can
// write data during a migration's window, switched off before it and
// restored exactly afterwards.
//
// # Concept
//
// A switch has an "off" side (before the standby window) and an "on" side
// (after it, and as the off side's undo on rollback). The off side
// observes the resource, records what it found, then switches it off and
// waits until it is off; the on side restores exactly what was recorded and
// waits until it is on. A resource that was already off before the run
// stays off, and a resource that another run switched off (it carries that
// run's tag) is refused, never recorded as "the state to restore".
//
// Kinds, each a type with the same methods (Off, On, Find, Recover):
//
//	Rules      EventBridge rule, "name" or "bus/name"    DisableRule / EnableRule     records state
//	Schedules  Scheduler schedule, "name" or "group/name" UpdateSchedule State        records state (no tags)
//	Services   ECS service, "cluster/service"            desired count 0 / recorded   records desired, scaling
//	Mappings   Lambda event source mapping, UUID         Enabled false / true         records state
//	Commands   a user's command pair (off, on)            /bin/sh -c, bounded         records off_started, off_done
//
// # What is recorded, and where
//
// In the journal, through StepContext.Record and before anything changes:
// the kind's keys (KeyState, or KeyDesired and KeyScaling), then
// KeyRecordedAt last: its presence means the record is complete. Where the
// service has tags, the resource then carries TagOff
// ("envmig:off" = "run=RUN;state=ENABLED", "run=RUN;desired=2;scaling=none",
// ...), written after the journal and before the call that switches it
// off, and removed by the on side once the resource is back. A resource
// found off is neither tagged nor touched.
//
// Without the journal (a dead CI runner), Find reports the resources that
// carry a run's tag, and Recover switches one back on from its tag alone.
// The on side itself, given no record, falls back to this run's tag.
// Schedules cannot be tagged: see Schedules for what that means.
//
// # Idempotency
//
// Every side observes first and acts on the difference, so each may be run
// again after a crash at any point: a record is never made twice (a re-run
// finds it in the journal, or failing that in its own tag); a resource
// already off (on) is not switched again; the tag is removed last. Every
// mutating call is followed by StepContext.Accepted (a crash point); waits
// report progress with StepContext.Report (a heartbeat and a crash point).
// A resource that disappeared is an error wrapping ErrGone on the on side
// (saying what was recorded, so it can be recreated), and on the off side.
package switches
