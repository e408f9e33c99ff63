// Package group holds the step handlers that switch an environment's
// availability: the Auto Scaling groups whose instances go to Standby so that
// no user request changes data while envmig copies it.
//
// # Concept
//
// Standby takes an instance out of its load balancers without terminating
// it; with ShouldDecrementDesiredCapacity the group does not launch a
// replacement. A group left to itself still fights that state: scheduled
// actions and alarms change the capacity, health checks replace instances,
// AZ rebalancing moves them. So group.standby, before touching anything,
// records the group as it was, then suspends the processes that would
// interfere (Processes), lowers MinSize when Standby needs room below it (AWS
// refuses EnterStandby that would drop the desired capacity below MinSize),
// moves the recorded InService instances to Standby in batches of at most
// BatchSize, and waits until none of them is InService.
//
// group.resume (and group.standby's Revert, which is the same routine) puts
// everything back exactly as recorded: the instances return to InService,
// MinSize, MaxSize and DesiredCapacity take their recorded values in one
// call (so DesiredCapacity is within [MinSize, MaxSize] at every moment), and
// only the processes envmig suspended are resumed; processes the owner had
// suspended before stay suspended.
//
// # What is recorded
//
// group.standby records, with StepContext.Record and before its first
// mutating call, the keys KeyMin, KeyMax, KeyDesired, KeySuspended (sorted,
// comma-joined), KeyInstances (the InService instance IDs it moves,
// comma-joined) and last KeyStartedAt (RFC 3339 with nanoseconds: when the
// freeze began). KeyStartedAt being present means the record is complete;
// ReadRecord parses it, for group.resume and for checks of the freeze.
//
// # Idempotency
//
// Every handler observes the group first and acts only on the difference:
// a re-run never re-records (the group it would see is already modified),
// never suspends a process twice, never sends an instance to Standby that is
// already there, and a restore with nothing recorded does nothing. A call
// whose response was lost and that the SDK retried is re-observed: an
// instance already in the target state counts as done. Instances that
// vanished from the group are skipped (the restore of the desired capacity
// replaces them). An instance of the group outside the recorded list that is
// InService after the move is an error naming it: something put capacity
// back in service during the freeze.
//
// Every mutating call is followed by StepContext.Accepted (a crash point);
// waits report progress with StepContext.Report (a heartbeat and a crash
// point).
package group
