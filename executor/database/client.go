package database

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// Client is the part of the RDS API the handlers use; *rds.Client satisfies
// it.
type Client interface {
	rds.DescribeDBInstancesAPIClient
	rds.DescribeDBSnapshotsAPIClient
	CreateDBSnapshot(ctx context.Context, in *rds.CreateDBSnapshotInput, optFns ...func(*rds.Options)) (*rds.CreateDBSnapshotOutput, error)
	CopyDBSnapshot(ctx context.Context, in *rds.CopyDBSnapshotInput, optFns ...func(*rds.Options)) (*rds.CopyDBSnapshotOutput, error)
	DeleteDBSnapshot(ctx context.Context, in *rds.DeleteDBSnapshotInput, optFns ...func(*rds.Options)) (*rds.DeleteDBSnapshotOutput, error)
	RestoreDBInstanceFromDBSnapshot(ctx context.Context, in *rds.RestoreDBInstanceFromDBSnapshotInput, optFns ...func(*rds.Options)) (*rds.RestoreDBInstanceFromDBSnapshotOutput, error)
	ModifyDBInstance(ctx context.Context, in *rds.ModifyDBInstanceInput, optFns ...func(*rds.Options)) (*rds.ModifyDBInstanceOutput, error)
	DeleteDBInstance(ctx context.Context, in *rds.DeleteDBInstanceInput, optFns ...func(*rds.Options)) (*rds.DeleteDBInstanceOutput, error)
	AddTagsToResource(ctx context.Context, in *rds.AddTagsToResourceInput, optFns ...func(*rds.Options)) (*rds.AddTagsToResourceOutput, error)
	RemoveTagsFromResource(ctx context.Context, in *rds.RemoveTagsFromResourceInput, optFns ...func(*rds.Options)) (*rds.RemoveTagsFromResourceOutput, error)
}

var _ Client = (*rds.Client)(nil)

// KeyDescriber resolves a KMS key ID, ARN or alias; *kms.Client satisfies
// it.
type KeyDescriber interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, optFns ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

var _ KeyDescriber = (*kms.Client)(nil)

// Options tune the waits. Zero fields take the defaults.
type Options struct {
	// MinDelay and MaxDelay bound the waiters' backoff between two
	// observations (defaults 10 s and 60 s).
	MinDelay, MaxDelay time.Duration
	// MaxWait bounds one wait (default 12 hours: a restore of a large
	// database takes hours). When it runs out the step fails resumably;
	// AWS carries on, and resume waits again.
	MaxWait time.Duration
	// VisibleWithin is how long a resource that must exist (one this run
	// created, or renamed) may stay invisible: RDS reads are eventually
	// consistent, so NotFound right after a create is re-checked, 1 s, 2 s,
	// 4 s ... apart, until then (default 1 minute).
	VisibleWithin time.Duration
}

func (o Options) withDefaults() Options {
	if o.MinDelay <= 0 {
		o.MinDelay = 10 * time.Second
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = time.Minute
	}
	if o.MaxDelay < o.MinDelay {
		o.MaxDelay = o.MinDelay
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 12 * time.Hour
	}
	if o.VisibleWithin <= 0 {
		o.VisibleWithin = time.Minute
	}
	return o
}

// ResourceTagKey tags what a run creates with the address of the resource
// it belongs to ("database.main").
const ResourceTagKey = "envmig:resource"

// DefaultKMSKey is the account's default RDS key, used by db.copy-snapshot
// when the step names none.
const DefaultKMSKey = "alias/aws/rds"

var (
	// ErrNotThisRun is wrapped when a resource with a run's deterministic
	// name exists but does not carry the run's envmig:run tag.
	ErrNotThisRun = errors.New("exists and is not this run's")
	// ErrNameTaken is wrapped when a rename's target name is in use.
	ErrNameTaken = errors.New("is already taken")
	// ErrDeletionProtection is wrapped when db.delete finds deletion
	// protection on.
	ErrDeletionProtection = errors.New("deletion protection is on")
)

// Handlers returns the database handlers keyed by the action they run. keys
// may be nil: verify.database then compares KMS keys by key ID only.
func Handlers(c Client, keys KeyDescriber, o Options) map[plan.StepAction]executor.Handler {
	d := &deps{c: c, keys: keys, o: o.withDefaults()}
	return map[plan.StepAction]executor.Handler{
		plan.DBSnapshot:       &snapshot{d: d},
		plan.DBCopySnapshot:   &snapshot{d: d, copy: true},
		plan.DBRestore:        &restore{d},
		plan.DBModify:         &modify{d: d, ownOnly: true},
		plan.DBUpdate:         &modify{d: d},
		plan.DBRename:         &rename{d},
		plan.DBDelete:         &deleter{d},
		plan.DBDeleteSnapshot: &deleteSnapshotStep{d},
		plan.VerifyDatabase:   &verify{d},
	}
}

// deps is what every database handler shares.
type deps struct {
	c    Client
	keys KeyDescriber
	o    Options
}

// Error codes the handlers branch on.
const (
	codeInstanceNotFound      = "DBInstanceNotFound"
	codeInstanceAlreadyExists = "DBInstanceAlreadyExists"
	codeInvalidInstanceState  = "InvalidDBInstanceState"
	codeSnapshotNotFound      = "DBSnapshotNotFound"
	codeSnapshotAlreadyExists = "DBSnapshotAlreadyExists"
)

// errorCode returns the AWS error code of err ("" when it has none).
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// instance observes a DB instance; nil when it does not exist.
func (d *deps) instance(ctx context.Context, id string) (*types.DBInstance, error) {
	out, err := d.c.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if errorCode(err) == codeInstanceNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe DB instance %s: %w", id, err)
	}
	for i := range out.DBInstances {
		if aws.ToString(out.DBInstances[i].DBInstanceIdentifier) == id {
			return &out.DBInstances[i], nil
		}
	}
	return nil, nil
}

// already re-observes an instance after RDS answered InvalidDBInstanceState
// to a call: when the call is a retry whose first attempt was applied (its
// response lost), the instance is already in a state that attempt leads to,
// or (goneOK) gone.
func (d *deps) already(ctx context.Context, id string, goneOK bool, states ...string) bool {
	inst, err := d.instance(ctx, id)
	if err != nil {
		return false
	}
	if inst == nil {
		return goneOK
	}
	return slices.Contains(states, aws.ToString(inst.DBInstanceStatus))
}

// KeyCreateSent is recorded before a call that creates a snapshot or an
// instance: from then on, the step's resource must exist, and NotFound is
// re-checked before it is believed.
const KeyCreateSent = "create_sent"

// eventually observes something that must exist (executor.Eventually).
func eventually[T any](ctx context.Context, d *deps, sc *executor.StepContext, what string, get func() (*T, error)) (*T, error) {
	var v *T
	_, err := executor.Eventually(ctx, sc, d.o.VisibleWithin, what, func() (bool, error) {
		var err error
		v, err = get()
		return v != nil, err
	})
	return v, err
}

// expectInstance observes an instance that must exist.
func (d *deps) expectInstance(ctx context.Context, sc *executor.StepContext, id string) (*types.DBInstance, error) {
	return eventually(ctx, d, sc, "DB instance "+id, func() (*types.DBInstance, error) { return d.instance(ctx, id) })
}

// expectSnapshot observes a snapshot that must exist.
func (d *deps) expectSnapshot(ctx context.Context, sc *executor.StepContext, id string) (*types.DBSnapshot, error) {
	return eventually(ctx, d, sc, "DB snapshot "+id, func() (*types.DBSnapshot, error) { return d.snapshot(ctx, id) })
}

// snapshot observes a manual DB snapshot; nil when it does not exist.
func (d *deps) snapshot(ctx context.Context, id string) (*types.DBSnapshot, error) {
	out, err := d.c.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(id)})
	if errorCode(err) == codeSnapshotNotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("describe DB snapshot %s: %w", id, err)
	}
	for i := range out.DBSnapshots {
		if aws.ToString(out.DBSnapshots[i].DBSnapshotIdentifier) == id {
			return &out.DBSnapshots[i], nil
		}
	}
	return nil, nil
}

// tagMap turns an RDS tag list into a map.
func tagMap(list []types.Tag) map[string]string {
	m := make(map[string]string, len(list))
	for _, t := range list {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}

// tagList turns a map into an RDS tag list, sorted by key.
func tagList(m map[string]string) []types.Tag {
	var out []types.Tag
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, types.Tag{Key: aws.String(k), Value: aws.String(m[k])})
	}
	return out
}

// runTags are the tags of everything a step creates: the run's, and the
// resource address when the step has one.
func runTags(sc *executor.StepContext) map[string]string {
	tags := sc.RunTags()
	if sc.Step.Resource != "" {
		tags[ResourceTagKey] = sc.Step.Resource
	}
	return tags
}

// system reports a tag key envmig never changes: its own and AWS's.
func system(key string) bool {
	return strings.HasPrefix(key, "envmig:") || strings.HasPrefix(key, "aws:")
}

// userTags drops the system tags.
func userTags(tags map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range tags {
		if !system(k) {
			out[k] = v
		}
	}
	return out
}

// ours returns nil when tags carry this run's tag and the resource was
// created after the run began, and otherwise an error wrapping
// ErrNotThisRun that says whose the resource is. created may be nil
// (unknown).
func ours(sc *executor.StepContext, kind, id string, tags map[string]string, created *time.Time) error {
	if err := ownedBy(sc.Lineage(), kind, id, tags); err != nil {
		return err
	}
	if created != nil && !sc.CreatedByRun(*created) {
		return fmt.Errorf("%s %s %w: it carries this run's tag but was created at %s, before the run began at %s; envmig never adopts a resource made before its run (someone who read the plan made it): delete it, then resume",
			kind, id, ErrNotThisRun, created.UTC().Format(time.RFC3339), sc.RunStarted().UTC().Format(time.RFC3339))
	}
	return nil
}

// ownedBy is ours for the run with the given lineage.
func ownedBy(lineage, kind, id string, tags map[string]string) error {
	owner, tagged := tags[executor.RunTagKey]
	if owner == lineage {
		return nil
	}
	why := "it has no " + executor.RunTagKey + " tag"
	if tagged {
		why = fmt.Sprintf("it is tagged %s=%s, another run's", executor.RunTagKey, owner)
	}
	return fmt.Errorf("%s %s %w: %s; envmig never adopts what it did not create: rename or delete it, then plan again", kind, id, ErrNotThisRun, why)
}

// required fails when a required parameter is empty: the plan is malformed.
func required(sc *executor.StepContext, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("step %s has no %s parameter: the plan is malformed", sc.Step.ID, pairs[i])
		}
	}
	return nil
}

// optional returns s as an SDK optional string (nil when empty).
func optional(s string) *string {
	if s == "" {
		return nil
	}
	return aws.String(s)
}
