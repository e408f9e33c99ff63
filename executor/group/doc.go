// Package group holds the step handler cores that switch an environment's
// availability: the Auto Scaling groups whose instances go to Standby so that
// no user request changes data while envmig copies it.
//
// # Concept
//
// Standby takes an instance out of its load balancers without terminating
// it; with ShouldDecrementDesiredCapacity the group does not launch a
// replacement. A group left to itself still fights that state: scheduled
// actions and alarms change the capacity, health checks replace instances,
// AZ rebalancing moves them, an instance refresh replaces them. So
// Groups.Standby, before touching anything, refuses a group with an
// instance refresh under way or in another run's standby, records the group
// as it was (in the journal, then in tags on AWS), suspends the processes
// that would interfere (Processes), lowers MinSize when Standby needs room
// below it (AWS refuses EnterStandby that would drop the desired capacity
// below MinSize), moves the recorded InService instances to Standby in
// batches of at most BatchSize, and waits until none of them is InService.
//
// Groups.Restore (group.resume, and group.standby's Revert) puts everything
// back exactly as recorded, in the order its doc comment derives from the
// Auto Scaling documentation: the processes envmig suspended first
// (AddToLoadBalancer among them, or the instances that leave Standby are
// never registered with the load balancers), then the instances back to
// InService, then MinSize, MaxSize and DesiredCapacity in one call, then a
// wait until every instance is healthy in each target group and classic
// load balancer of the group, then the tags are removed. Processes the
// owner had suspended before stay suspended.
//
// # What is recorded
//
// In the journal, with StepContext.Record and before the first mutating
// call: the keys KeyMin, KeyMax, KeyDesired, KeySuspended (sorted,
// comma-joined), KeyInstances (the InService instance IDs it moves,
// comma-joined) and last KeyStartedAt (RFC 3339 with nanoseconds: when the
// freeze began); KeyFrozenAt once the freeze holds. KeyStartedAt being
// present means the record is complete; ReadRecord parses it.
//
// On AWS, right after the journal and still before the first change to the
// group (see TagStandby): the group's tags envmig:standby
// ("run=RUN;min=N;max=N;desired=N;at=TIME") and envmig:standby:suspended,
// and an envmig:standby=RUN tag on each instance it moves. Groups.FindStandby
// reports tagged groups (for status and plan on a machine without the
// journal); Groups.Recover brings a group back from the tags alone. A group
// that carries another run's tags is never recorded as "the state to
// restore": Standby refuses it, naming that run.
//
// # Idempotency
//
// Every core observes the group first and acts only on the difference:
// a re-run never re-records (the group it would see is already modified;
// without its journal record it takes the record from its own tags), never
// suspends a process twice, never sends an instance to Standby that is
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
