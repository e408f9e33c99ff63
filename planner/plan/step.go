package plan

// Phase groups steps by what a failure means.
type Phase string

const (
	// PhasePrepare steps leave the originals untouched; a failure undoes the
	// completed ones in reverse order.
	PhasePrepare Phase = "prepare"
	// PhaseGate is the single point-of-no-return step.
	PhaseGate Phase = "gate"
	// PhaseCommit steps change the originals; a failure can only be resumed.
	PhaseCommit Phase = "commit"
)

// StepAction names the handler that runs a step. Each action's parameters
// are one Go type (see Params and params.go); what each action does and
// undoes is documented there and in docs/plans.md.
type StepAction string

const (
	// Preflight re-checks the caller's account and region.
	Preflight StepAction = "preflight"

	// GroupStandby records the group (min, max, desired, suspended processes,
	// InService instances), suspends the processes that fight Standby, lowers
	// MinSize when needed and moves every InService instance to Standby.
	// Undo: GroupResume's work, from the recorded values.
	GroupStandby StepAction = "group.standby"
	// GroupResume puts the group back exactly as the GroupStandby step
	// recorded it.
	GroupResume StepAction = "group.resume"

	// SwitchOff switches off another writer (a scheduled rule or
	// schedule, an ECS service, a Lambda event source, a command pair).
	// Undo: SwitchOn's work, from what was recorded.
	SwitchOff StepAction = "switch.off"
	// SwitchOn restores exactly what SwitchOff found.
	SwitchOn StepAction = "switch.on"

	// DBSnapshot creates a manual snapshot and waits until it is available.
	// Undo: delete the snapshot.
	DBSnapshot StepAction = "db.snapshot"
	// DBCopySnapshot copies a snapshot, encrypting it. Undo: delete the copy.
	DBCopySnapshot StepAction = "db.copy-snapshot"
	// DBRestore restores a new instance from a snapshot with the desired
	// settings and waits until it is available. Undo: delete the instance
	// without a final snapshot (only when it is the run's).
	DBRestore StepAction = "db.restore"
	// DBModify changes an instance the run created, applied at once.
	DBModify StepAction = "db.modify"
	// DBUpdate changes a live instance in place (commit phase).
	DBUpdate StepAction = "db.update"
	// DBRename renames an instance and waits until it is available under
	// the new identifier.
	DBRename StepAction = "db.rename"
	// DBDelete deletes an instance, with a final snapshot when one is named.
	// Refused under deletion protection.
	DBDelete StepAction = "db.delete"
	// DBDeleteSnapshot deletes a manual snapshot a run made.
	DBDeleteSnapshot StepAction = "db.delete-snapshot"

	// BucketCreate creates a bucket. Undo: empty and delete it, only when it
	// carries this run's tag.
	BucketCreate StepAction = "bucket.create"
	// BucketCopy syncs a bucket into another (see CopyMode).
	BucketCopy StepAction = "bucket.copy"
	// BucketUpdate changes versioning and tags in place.
	BucketUpdate StepAction = "bucket.update"
	// BucketDelete empties and deletes a bucket.
	BucketDelete StepAction = "bucket.delete"
	// BucketConfigure applies the settings a new bucket carries once its
	// copy is verified.
	BucketConfigure StepAction = "bucket.configure"
	// BucketCapture records a bucket's settings before it is deleted.
	BucketCapture StepAction = "bucket.capture"

	// VerifyDatabase checks that an instance is available with the desired
	// settings.
	VerifyDatabase StepAction = "verify.database"
	// VerifyBucket compares two buckets by manifest.
	VerifyBucket StepAction = "verify.bucket"
	// VerifyFrozen checks that nothing changed the originals while in
	// standby.
	VerifyFrozen StepAction = "verify.frozen"
	// VerifyHTTP probes a URL.
	VerifyHTTP StepAction = "verify.http"
	// VerifyCommand runs one of the spec's check commands; exit 0 passes.
	VerifyCommand StepAction = "verify.command"

	// StackCreate creates a CloudFormation stack from a template and waits
	// until it is created, recording its outputs. Undo: delete it, only when
	// it carries this run's tag, emptying its buckets first when it is the
	// run's temporary stack.
	StackCreate StepAction = "stack.create"
	// StackDelete deletes a CloudFormation stack and waits until it is
	// gone, reporting retained resources and final snapshots.
	StackDelete StepAction = "stack.delete"
	// StackChangeSet creates the run's change set for an in-place update
	// of a stack and shows its changes (with Replacement per resource).
	// Undo: delete the change set.
	StackChangeSet StepAction = "stack.change-set"
	// StackUpdate executes that change set and waits until the stack is
	// updated.
	StackUpdate StepAction = "stack.update"

	// Gate is the point of no return.
	Gate StepAction = "gate"
)

// Step is one unit the executor journals, runs and, in PhasePrepare, undoes.
type Step struct {
	// ID is unique within the plan and stable across re-plans of the same
	// change ("db.snapshot.main").
	ID       string     `json:"id"`
	Phase    Phase      `json:"phase"`
	Action   StepAction `json:"action"`
	Resource string     `json:"resource,omitempty"` // resource address
	// Description says what the step does, in reviewer's words.
	Description string `json:"description"`
	// Undo says what rollback does for this step; empty when nothing.
	Undo string `json:"undo,omitempty"`
	// Params are the action's parameters, of the action's own type.
	Params Params `json:"-"`
	// Creates lists the AWS names the step creates.
	Creates []string `json:"creates,omitempty"`
	// Removes lists the AWS names the step deletes or renames away.
	Removes []string `json:"removes,omitempty"`
	// InStandby is true for steps run while the environment is unavailable.
	InStandby bool `json:"in_standby,omitempty"`
	// EstimateSeconds is the model's duration for the step.
	EstimateSeconds int64 `json:"estimate_seconds,omitempty"`
}
