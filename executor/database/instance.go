package database

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// restore runs plan.DBRestore: a new instance from a snapshot, with the
// step's settings and tags.
type restore struct{ d *deps }

var _ executor.Handler = (*restore)(nil)

// Apply restores the instance, or adopts the one an earlier attempt of this
// run restored, and waits until it is available.
func (h *restore) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.DBRestoreParams](sc)
	if err != nil {
		return err
	}
	in, err := restoreInput(sc, p)
	if err != nil {
		return err
	}
	id := aws.ToString(in.DBInstanceIdentifier)
	inst, err := h.d.instance(ctx, id)
	if err != nil {
		return err
	}
	if inst == nil {
		if err := sc.Record(KeyCreateSent, "true"); err != nil {
			return err
		}
		_, err := h.d.c.RestoreDBInstanceFromDBSnapshot(ctx, in)
		if errorCode(err) == codeInstanceAlreadyExists {
			// A retried call whose first response was lost.
			if inst, err = h.d.instance(ctx, id); err == nil && inst == nil {
				err = fmt.Errorf("DB instance %s: RDS says it exists but does not show it; run `envmig resume` to look again", id)
			}
		} else if err != nil {
			if executor.Refused(err) { // not applied: nothing to look for on undo
				_ = sc.Record(KeyCreateSent, "")
			}
			err = fmt.Errorf("restore DB instance %s from snapshot %s: %w", id, aws.ToString(in.DBSnapshotIdentifier), err)
		}
		if err != nil {
			return err
		}
		sc.Accepted()
	}
	if inst != nil {
		if err := ours(sc, "DB instance", id, tagMap(inst.TagList), inst.InstanceCreateTime); err != nil {
			return err
		}
	}
	_, err = h.d.waitInstance(ctx, sc, id, nil)
	return err
}

// restoreInput builds the restore call from the step's parameters.
func restoreInput(sc *executor.StepContext, p plan.DBRestoreParams) (*rds.RestoreDBInstanceFromDBSnapshotInput, error) {
	if err := required(sc, "snapshot", p.Snapshot, "identifier", p.Identifier); err != nil {
		return nil, err
	}
	// The step's tags: the user's, and envmig's own the plan adds
	// (envmig:clone-of); then the run's.
	tags := maps.Clone(p.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	maps.Copy(tags, runTags(sc))
	s := p.Settings
	in := &rds.RestoreDBInstanceFromDBSnapshotInput{
		DBSnapshotIdentifier: aws.String(p.Snapshot),
		DBInstanceIdentifier: aws.String(p.Identifier),
		DBInstanceClass:      optional(s.InstanceClass),
		DBSubnetGroupName:    optional(s.DBSubnetGroup),
		DBParameterGroupName: optional(s.ParameterGroup),
		OptionGroupName:      optional(s.OptionGroup),
		StorageType:          optional(s.StorageType),
		Engine:               optional(s.Engine),
		VpcSecurityGroupIds:  s.VPCSecurityGroupIDs,
		MultiAZ:              s.MultiAZ,
		PubliclyAccessible:   s.PubliclyAccessible,
		DeletionProtection:   aws.Bool(p.DeletionProtection),
		Tags:                 tagList(tags),
	}
	if s.Port > 0 {
		in.Port = aws.Int32(s.Port)
	}
	if p.ManagedPassword {
		in.ManageMasterUserPassword = aws.Bool(true)
	}
	return in, nil
}

// Revert deletes the instance, without a final snapshot (it is a copy),
// when it exists and is this run's. An instance that is not this run's is
// never touched.
func (h *restore) Revert(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.DBRestoreParams](sc)
	if err != nil {
		return err
	}
	if err := required(sc, "identifier", p.Identifier); err != nil {
		return err
	}
	id := p.Identifier
	inst, err := h.d.instance(ctx, id)
	if err == nil && inst == nil && sc.Value(KeyCreateSent) != "" {
		inst, err = h.d.expectInstance(ctx, sc, id) // NotFound right after the create
	}
	if err != nil || inst == nil {
		return err
	}
	if ours(sc, "DB instance", id, tagMap(inst.TagList), inst.InstanceCreateTime) != nil {
		sc.Report(executor.Progress{Message: fmt.Sprintf("left DB instance %s alone: it is not this run's", id), Percent: -1})
		return nil
	}
	if aws.ToString(inst.DBInstanceStatus) != "deleting" {
		if err := h.deleteOwn(ctx, sc, inst); err != nil {
			return err
		}
	}
	return h.d.waitInstanceGone(ctx, sc, id)
}

// busy are the states in which RDS refuses to delete an instance until it
// settles.
var busy = []string{
	"creating", "modifying", "backing-up", "renaming", "rebooting", "upgrading",
	"starting", "stopping", "resetting-master-credentials", "configuring-enhanced-monitoring",
	"configuring-iam-database-auth", "configuring-log-exports", "moving-to-vpc",
}

// deleteOwn deletes an instance of this run, turning its deletion
// protection off first when it has it (RDS may carry it over from the
// snapshot; only ever done to the run's own temporary instance).
func (h *restore) deleteOwn(ctx context.Context, sc *executor.StepContext, inst *types.DBInstance) error {
	id := aws.ToString(inst.DBInstanceIdentifier)
	if slices.Contains(busy, aws.ToString(inst.DBInstanceStatus)) {
		var err error
		if inst, err = h.d.waitInstance(ctx, sc, id, nil); err != nil {
			return err
		}
	}
	if aws.ToBool(inst.DeletionProtection) {
		if _, err := h.d.c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{
			DBInstanceIdentifier: aws.String(id), DeletionProtection: aws.Bool(false), ApplyImmediately: aws.Bool(true),
		}); err != nil {
			return fmt.Errorf("turn deletion protection off on this run's temporary DB instance %s to delete it: %w", id, err)
		}
		sc.Accepted()
		sc.Report(executor.Progress{Message: fmt.Sprintf("turned deletion protection off on this run's temporary DB instance %s to delete it", id), Percent: -1})
	}
	_, err := h.d.c.DeleteDBInstance(ctx, &rds.DeleteDBInstanceInput{
		DBInstanceIdentifier: aws.String(id), SkipFinalSnapshot: aws.Bool(true), DeleteAutomatedBackups: aws.Bool(true),
	})
	switch code := errorCode(err); {
	case code == codeInstanceNotFound:
		return nil
	case code == codeInvalidInstanceState && h.d.already(ctx, id, true, "deleting"):
	case err != nil:
		return fmt.Errorf("delete this run's DB instance %s: %w", id, err)
	}
	sc.Accepted()
	return nil
}

// modify runs plan.DBModify (ownOnly: the run's own instance) and
// plan.DBUpdate (a live original, in place; also replaces its user tags).
type modify struct {
	d       *deps
	ownOnly bool
}

// params returns the instance, its change, and the tags to replace (nil:
// leave them) of a modify or update step.
func (h *modify) params(sc *executor.StepContext) (string, plan.DBChange, *map[string]string, error) {
	if h.ownOnly {
		p, err := executor.Params[plan.DBModifyParams](sc)
		return p.Identifier, p.Change, nil, err
	}
	p, err := executor.Params[plan.DBUpdateParams](sc)
	return p.Identifier, p.Change, p.Tags, err
}

var _ executor.Handler = (*modify)(nil)

// modifiable are the settings the modify steps change, in report order.
var modifiable = []string{"engine_version", "instance_class", "allocated_storage", "multi_az", "parameter_group", "deletion_protection"}

// Apply changes what differs from the step's settings, applied at once, and
// waits until the instance is available with nothing of it pending.
func (h *modify) Apply(ctx context.Context, sc *executor.StepContext) error {
	id, change, tags, err := h.params(sc)
	if err != nil {
		return err
	}
	if err := required(sc, "identifier", id); err != nil {
		return err
	}
	want := change.Settings()
	inst, err := h.d.instance(ctx, id)
	if err != nil {
		return err
	}
	if inst == nil {
		return fmt.Errorf("DB instance %s does not exist", id)
	}
	if h.ownOnly {
		if err := ours(sc, "DB instance", id, tagMap(inst.TagList), inst.InstanceCreateTime); err != nil {
			return fmt.Errorf("%w (db.modify changes only an instance the run restored)", err)
		}
	}
	if len(want) > 0 {
		if inst, err = h.d.change(ctx, sc, inst, want); err != nil {
			return err
		}
	}
	if tags != nil {
		return h.d.replaceTags(ctx, sc, inst, *tags)
	}
	return nil
}

// Revert does nothing: a modified clone goes with the restore's undo, and
// an update runs after the point of no return.
func (h *modify) Revert(context.Context, *executor.StepContext) error { return nil }

// change modifies inst to want and waits; it returns the instance as last
// seen.
func (d *deps) change(ctx context.Context, sc *executor.StepContext, inst *types.DBInstance, want map[string]string) (*types.DBInstance, error) {
	id := aws.ToString(inst.DBInstanceIdentifier)
	keys := slices.Sorted(maps.Keys(want))
	var err error
	if s := aws.ToString(inst.DBInstanceStatus); (s != "available" && s != "storage-optimization") || len(pendingOf(inst, keys)) > 0 {
		// An earlier attempt's modification (or someone's) is under way.
		if inst, err = d.waitInstance(ctx, sc, id, keys); err != nil {
			return nil, err
		}
	}
	in, diffs, changed := modifyInput(inst, want)
	if len(diffs) == 0 {
		return inst, nil
	}
	sc.Report(executor.Progress{Message: fmt.Sprintf("modifying DB instance %s: %s", id, strings.Join(diffs, ", ")), Percent: -1})
	if _, err := d.c.ModifyDBInstance(ctx, in); err != nil && (errorCode(err) != codeInvalidInstanceState || !d.already(ctx, id, false, "modifying", "upgrading")) {
		return nil, fmt.Errorf("modify DB instance %s (%s): %w", id, strings.Join(diffs, ", "), err)
	}
	sc.Accepted()
	if inst, err = d.waitInstance(ctx, sc, id, changed); err != nil {
		return nil, err
	}
	if _, still, _ := modifyInput(inst, want); len(still) > 0 {
		return nil, fmt.Errorf("modify DB instance %s: RDS accepted the change but still reports %s", id, strings.Join(still, ", "))
	}
	return inst, nil
}

// modifyInput returns the call that takes inst to want, what it changes
// ("instance_class db.t3.medium -> db.t3.large") and the changed keys.
func modifyInput(inst *types.DBInstance, want map[string]string) (*rds.ModifyDBInstanceInput, []string, []string) {
	in := &rds.ModifyDBInstanceInput{DBInstanceIdentifier: inst.DBInstanceIdentifier, ApplyImmediately: aws.Bool(true)}
	var diffs, keys []string
	for _, k := range modifiable {
		v, ok := want[k]
		if !ok {
			continue
		}
		cur := current(inst, k)
		if cur == v {
			continue
		}
		diffs = append(diffs, fmt.Sprintf("%s %s -> %s", k, show(cur), v))
		keys = append(keys, k)
		switch k {
		case "engine_version":
			in.EngineVersion = aws.String(v)
			if major(aws.ToString(inst.Engine), cur) != major(aws.ToString(inst.Engine), v) {
				in.AllowMajorVersionUpgrade = aws.Bool(true)
			}
		case "instance_class":
			in.DBInstanceClass = aws.String(v)
		case "allocated_storage":
			n, _ := strconv.ParseInt(v, 10, 32)
			in.AllocatedStorage = aws.Int32(int32(n))
		case "multi_az":
			b, _ := strconv.ParseBool(v)
			in.MultiAZ = aws.Bool(b)
		case "parameter_group":
			in.DBParameterGroupName = aws.String(v)
		case "deletion_protection":
			b, _ := strconv.ParseBool(v)
			in.DeletionProtection = aws.Bool(b)
		}
	}
	return in, diffs, keys
}

// current returns an instance's setting in the form the plan's parameters
// use.
func current(inst *types.DBInstance, key string) string {
	switch key {
	case "engine":
		return aws.ToString(inst.Engine)
	case "engine_version":
		return aws.ToString(inst.EngineVersion)
	case "instance_class":
		return aws.ToString(inst.DBInstanceClass)
	case "allocated_storage":
		return strconv.Itoa(int(aws.ToInt32(inst.AllocatedStorage)))
	case "storage_encrypted":
		return strconv.FormatBool(aws.ToBool(inst.StorageEncrypted))
	case "kms_key_id":
		return aws.ToString(inst.KmsKeyId)
	case "multi_az":
		return strconv.FormatBool(aws.ToBool(inst.MultiAZ))
	case "db_subnet_group":
		if inst.DBSubnetGroup != nil {
			return aws.ToString(inst.DBSubnetGroup.DBSubnetGroupName)
		}
	case "parameter_group":
		if len(inst.DBParameterGroups) > 0 {
			return aws.ToString(inst.DBParameterGroups[0].DBParameterGroupName)
		}
	case "deletion_protection":
		return strconv.FormatBool(aws.ToBool(inst.DeletionProtection))
	}
	return ""
}

func show(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// major returns the part of an engine version whose change RDS calls a
// major upgrade: "16" for PostgreSQL 10 and later, "9.6" before, and the
// first two parts for the other engines ("8.0", "10.11").
func major(engine, version string) string {
	parts := strings.Split(version, ".")
	if strings.Contains(engine, "postgres") {
		if n, err := strconv.Atoi(parts[0]); err == nil && n >= 10 {
			return parts[0]
		}
	}
	if len(parts) >= 2 {
		return parts[0] + "." + parts[1]
	}
	return version
}

// replaceTags makes the instance's user tags equal want; envmig's and AWS's
// own tags are never touched.
func (d *deps) replaceTags(ctx context.Context, sc *executor.StepContext, inst *types.DBInstance, want map[string]string) error {
	id, arn := aws.ToString(inst.DBInstanceIdentifier), inst.DBInstanceArn
	have, want := userTags(tagMap(inst.TagList)), userTags(want)
	add := map[string]string{}
	for k, v := range want {
		if cur, ok := have[k]; !ok || cur != v {
			add[k] = v
		}
	}
	var remove []string
	for _, k := range slices.Sorted(maps.Keys(have)) {
		if _, ok := want[k]; !ok {
			remove = append(remove, k)
		}
	}
	if len(add) > 0 {
		if _, err := d.c.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{ResourceName: arn, Tags: tagList(add)}); err != nil {
			return fmt.Errorf("tag DB instance %s: %w", id, err)
		}
		sc.Accepted()
	}
	if len(remove) > 0 {
		if _, err := d.c.RemoveTagsFromResource(ctx, &rds.RemoveTagsFromResourceInput{ResourceName: arn, TagKeys: remove}); err != nil {
			return fmt.Errorf("remove tags %s from DB instance %s: %w", strings.Join(remove, ", "), id, err)
		}
		sc.Accepted()
	}
	return nil
}
