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

// StepAction names the handler that runs a step. The Params each action
// reads are listed beside it; every identifier in Params is a physical AWS
// name, so the executor needs nothing but the step to act.
type StepAction string

const (
	// Preflight re-checks the caller's account and region. Params: none.
	Preflight StepAction = "preflight"

	// GroupStandby records the group (min, max, desired, suspended processes,
	// InService instances), suspends the processes that fight Standby, lowers
	// MinSize when needed and moves every InService instance to Standby.
	// Params: group. Undo: GroupResume's work, from the recorded values.
	GroupStandby StepAction = "group.standby"
	// GroupResume moves the recorded instances back to InService and restores
	// MinSize, MaxSize, DesiredCapacity and the suspended processes exactly.
	// Params: group, standby_step (the ID of the GroupStandby step whose
	// recorded values it restores).
	GroupResume StepAction = "group.resume"

	// DBSnapshot creates a manual snapshot and waits until it is available.
	// Params: identifier, snapshot. Undo: delete the snapshot.
	DBSnapshot StepAction = "db.snapshot"
	// DBCopySnapshot copies a snapshot, encrypting it with kms_key_id
	// ("" = the account's default RDS key). Params: source, snapshot,
	// kms_key_id. Undo: delete the copy.
	DBCopySnapshot StepAction = "db.copy-snapshot"
	// DBRestore restores a new instance from a snapshot with the desired
	// settings and waits until it is available. Params: snapshot, identifier,
	// and the optional settings instance_class, db_subnet_group,
	// parameter_group, option_group, multi_az, deletion_protection, port,
	// publicly_accessible, storage_type, vpc_security_group_ids (comma
	// separated), engine (only when it changes). Step.Tags are applied.
	// Undo: delete the instance without a final snapshot.
	DBRestore StepAction = "db.restore"
	// DBModify changes an instance the run created (engine_version,
	// allocated_storage, instance_class, ...) with apply-immediately and waits.
	// Params: identifier and the settings to change. Undo: none (the instance
	// is deleted by the DBRestore undo).
	DBModify StepAction = "db.modify"
	// DBUpdate changes a live instance in place (tags, instance_class,
	// multi_az, deletion_protection, parameter_group, allocated_storage
	// increase). Params: identifier and the settings; with tags = "replace",
	// Step.Tags replace the instance's user tags (nil Tags remove them all).
	// Undo: none (commit phase).
	DBUpdate StepAction = "db.update"
	// DBRename renames an instance and waits until the new identifier is
	// available. Params: from, to, and retired_by (a lineage) when the
	// instance is an original renamed aside: it is then tagged
	// envmig:retired-by, which lets cleanup delete it.
	DBRename StepAction = "db.rename"
	// DBDelete deletes an instance, with a final snapshot when
	// final_snapshot is set. Params: identifier, final_snapshot, retired_by.
	// Refused under deletion protection; without a final snapshot only an
	// instance tagged with this run, or tagged envmig:retired-by=retired_by.
	DBDelete StepAction = "db.delete"
	// DBDeleteSnapshot deletes a manual snapshot (cleanup of what a run
	// kept). Params: snapshot, run (the lineage whose envmig:run tag it must
	// carry; default this run).
	DBDeleteSnapshot StepAction = "db.delete-snapshot"

	// BucketCreate creates a bucket in region with versioning and Step.Tags.
	// Params: bucket, region, versioning. Undo: empty and delete the bucket,
	// only when it carries this run's tag.
	BucketCreate StepAction = "bucket.create"
	// BucketCopy syncs source into destination: copies what is missing or
	// different, deletes what the source lacks. Params: source, destination,
	// mode ("precopy" while live, "delta" inside standby, "final" after the
	// gate). Undo: none (the destination's BucketCreate undo removes it).
	BucketCopy StepAction = "bucket.copy"
	// BucketUpdate changes versioning and tags in place. Params: bucket,
	// versioning; Step.Tags replace the bucket's tags.
	BucketUpdate StepAction = "bucket.update"
	// BucketDelete empties and deletes a bucket. Params: bucket.
	BucketDelete StepAction = "bucket.delete"

	// VerifyDatabase checks that an instance exists, is available and has the
	// desired settings. Params: identifier and the expected settings.
	VerifyDatabase StepAction = "verify.database"
	// VerifyBucket compares source and destination by manifest. Params:
	// source, destination, objects (count|etag|checksum|content).
	VerifyBucket StepAction = "verify.bucket"
	// VerifyFrozen checks that nothing changed the originals while in
	// standby: no group instance back InService, no original database
	// modified, no object written after the standby began. Params: groups,
	// databases, buckets (comma separated), standby_steps (comma separated
	// IDs of the GroupStandby steps whose recorded start time is the freeze).
	VerifyFrozen StepAction = "verify.frozen"
	// VerifyHTTP probes url and expects status. Params: url, status, timeout.
	VerifyHTTP StepAction = "verify.http"
	// VerifyCommand runs a shell command; exit 0 passes. Params: run.
	VerifyCommand StepAction = "verify.command"

	// Gate is the point of no return. Params: environment.
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
	Undo   string            `json:"undo,omitempty"`
	Params map[string]string `json:"params,omitempty"`
	Tags   map[string]string `json:"tags,omitempty"`
	// Creates lists the AWS names the step creates.
	Creates []string `json:"creates,omitempty"`
	// Removes lists the AWS names the step deletes or renames away.
	Removes []string `json:"removes,omitempty"`
	// InStandby is true for steps run while the environment is unavailable.
	InStandby bool `json:"in_standby,omitempty"`
	// EstimateSeconds is the model's duration for the step.
	EstimateSeconds int64 `json:"estimate_seconds,omitempty"`
}

// Param returns Params[key] ("" when absent).
func (s Step) Param(key string) string { return s.Params[key] }
