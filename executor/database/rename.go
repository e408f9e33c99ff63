package database

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// Keys the rename and delete steps record before their mutating call.
const (
	// KeyResourceID is the instance's DbiResourceId, which survives a
	// rename: it tells the instance this run renamed or deleted from any
	// other that took its name.
	KeyResourceID = "resource_id"
	// KeyRenamed records the intent "from -> to" of a rename.
	KeyRenamed = "renamed"
	// KeyDeleted records the identifier a delete was asked for.
	KeyDeleted = "deleted"
	// KeySnapshotTime records a snapshot's creation time (RFC 3339).
	KeySnapshotTime = "snapshot_time"
	// RetiredByTagKey tags an original renamed aside with the lineage of
	// the run that retired it.
	RetiredByTagKey = "envmig:retired-by"
	// CloneOfTagKey marks what `envmig clone` created with the original
	// it copies (planner.CloneTagKey).
	CloneOfTagKey = "envmig:clone-of"
)

// rename runs plan.DBRename.
type rename struct{ d *deps }

var _ executor.Handler = (*rename)(nil)

// Apply renames from to to and waits until to is available. When to exists
// and from does not, an earlier attempt renamed it (the recorded resource
// ID must match). It refuses when both exist: RDS itself refuses, and an
// emulator would silently delete the target.
func (h *rename) Apply(ctx context.Context, sc *executor.StepContext) error {
	from, to, err := renameParams(sc)
	if err != nil {
		return err
	}
	src, dst, err := h.both(ctx, from, to)
	if err != nil {
		return err
	}
	switch {
	case src != nil && dst != nil:
		return fmt.Errorf("rename DB instance %s to %s: the name %s %w by another DB instance; envmig never renames onto an instance: rename or delete %s, then plan again", from, to, to, ErrNameTaken, to)
	case src == nil && dst != nil:
		if err := renamedByUs(sc, dst, from, to); err != nil {
			return err
		}
	case src == nil && sc.Value(KeyRenamed) == "":
		// The source must exist; RDS may not show a fresh one yet.
		if src, err = h.d.expectInstance(ctx, sc, from); err != nil {
			return err
		}
		if src == nil {
			return fmt.Errorf("rename DB instance %s to %s: neither exists", from, to)
		}
		if err := h.d.renameOnce(ctx, sc, src, to); err != nil {
			return err
		}
	case src == nil:
		// The rename is under way: neither name shows for a moment.
	default:
		if err := h.d.renameOnce(ctx, sc, src, to); err != nil {
			return err
		}
	}
	inst, err := h.d.waitInstance(ctx, sc, to, nil)
	if err != nil {
		return err
	}
	return h.markRetired(ctx, sc, inst)
}

// markRetired tags an original renamed aside with the run that retired it
// (param retired_by), so that `envmig cleanup` may later delete it without a
// final snapshot, and nothing else.
func (h *rename) markRetired(ctx context.Context, sc *executor.StepContext, inst *types.DBInstance) error {
	p, err := executor.Params[plan.DBRenameParams](sc)
	if err != nil {
		return err
	}
	by := p.RetiredBy
	if by == "" || tagMap(inst.TagList)[RetiredByTagKey] == by {
		return nil
	}
	_, err = h.d.c.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{
		ResourceName: inst.DBInstanceArn, Tags: tagList(map[string]string{RetiredByTagKey: by}),
	})
	if err != nil {
		return fmt.Errorf("tag the retired DB instance %s: %w", aws.ToString(inst.DBInstanceIdentifier), err)
	}
	sc.Accepted()
	return nil
}

// Revert renames to back to from when this run renamed it. Nothing
// recorded: Apply never acted.
func (h *rename) Revert(ctx context.Context, sc *executor.StepContext) error {
	from, to, err := renameParams(sc)
	if err != nil || sc.Value(KeyRenamed) == "" {
		return err
	}
	src, dst, err := h.both(ctx, from, to)
	if err != nil {
		return err
	}
	if src != nil && dst == nil && aws.ToString(src.DBInstanceStatus) == "renaming" {
		// The forward rename is still going: let it finish, then undo it.
		if dst, err = h.d.waitInstance(ctx, sc, to, nil); err != nil {
			return err
		}
		src = nil
	}
	switch {
	case src != nil && dst != nil:
		return fmt.Errorf("rename DB instance %s back to %s: both names exist; resolve it by hand", to, from)
	case src != nil:
		// Already back (or never renamed).
	case dst == nil:
		return fmt.Errorf("rename DB instance %s back to %s: neither name shows yet, a rename is under way; run `envmig rollback` again in a few minutes", to, from)
	default:
		if err := renamedByUs(sc, dst, from, to); err != nil {
			return err
		}
		if err := h.d.renameOnce(ctx, sc, dst, from); err != nil {
			return err
		}
	}
	_, err = h.d.waitInstance(ctx, sc, from, nil)
	return err
}

func renameParams(sc *executor.StepContext) (from, to string, err error) {
	p, err := executor.Params[plan.DBRenameParams](sc)
	if err != nil {
		return "", "", err
	}
	if err := required(sc, "from", p.From, "to", p.To); err != nil {
		return "", "", err
	}
	if p.From == p.To {
		return "", "", fmt.Errorf("step %s renames %s to itself", sc.Step.ID, p.From)
	}
	return p.From, p.To, nil
}

func (h *rename) both(ctx context.Context, from, to string) (src, dst *types.DBInstance, err error) {
	if src, err = h.d.instance(ctx, from); err != nil {
		return nil, nil, err
	}
	if dst, err = h.d.instance(ctx, to); err != nil {
		return nil, nil, err
	}
	return src, dst, nil
}

// renamedByUs checks that dst is the instance this step renamed.
func renamedByUs(sc *executor.StepContext, dst *types.DBInstance, from, to string) error {
	if sc.Value(KeyRenamed) == "" {
		return fmt.Errorf("rename DB instance %s to %s: %s does not exist and %s does, but this run never renamed it; the account changed since the plan: plan again", from, to, from, to)
	}
	if rid, got := sc.Value(KeyResourceID), aws.ToString(dst.DbiResourceId); rid != "" && got != "" && rid != got {
		return fmt.Errorf("rename DB instance %s to %s: %s is resource %s, not %s which this run renamed; resolve it by hand", from, to, to, got, rid)
	}
	return nil
}

// renameOnce records the intent and renames inst to to, unless a rename is
// already under way.
func (d *deps) renameOnce(ctx context.Context, sc *executor.StepContext, inst *types.DBInstance, to string) error {
	from := aws.ToString(inst.DBInstanceIdentifier)
	if rid := aws.ToString(inst.DbiResourceId); sc.Value(KeyResourceID) == "" && rid != "" {
		if err := sc.Record(KeyResourceID, rid); err != nil {
			return fmt.Errorf("record the resource ID of %s: %w", from, err)
		}
	}
	if sc.Value(KeyRenamed) == "" {
		from, to, _ := renameParams(sc)
		if err := sc.Record(KeyRenamed, from+" -> "+to); err != nil {
			return fmt.Errorf("record the rename of %s: %w", from, err)
		}
	}
	if aws.ToString(inst.DBInstanceStatus) == "renaming" {
		return nil
	}
	_, err := d.c.ModifyDBInstance(ctx, &rds.ModifyDBInstanceInput{
		DBInstanceIdentifier: aws.String(from), NewDBInstanceIdentifier: aws.String(to), ApplyImmediately: aws.Bool(true),
	})
	// NotFound, or InvalidDBInstanceState while renaming: a retried call
	// whose first response was lost already renamed it.
	switch code := errorCode(err); {
	case err == nil, code == codeInstanceNotFound:
	case code == codeInvalidInstanceState && d.already(ctx, from, true, "renaming"):
	default:
		return fmt.Errorf("rename DB instance %s to %s: %w", from, to, err)
	}
	sc.Accepted()
	return nil
}

// deleter runs plan.DBDelete.
type deleter struct{ d *deps }

var _ executor.Handler = (*deleter)(nil)

// Apply deletes the instance (with the final snapshot the step names, then
// tagged with the run) and waits until it is gone and the snapshot
// available. It refuses when deletion protection is on, and deletes
// without a final snapshot only an instance this run created.
func (h *deleter) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.DBDeleteParams](sc)
	if err != nil {
		return err
	}
	if err := required(sc, "identifier", p.Identifier); err != nil {
		return err
	}
	id, final := p.Identifier, p.FinalSnapshot
	inst, err := h.d.instance(ctx, id)
	if err != nil {
		return err
	}
	if inst != nil {
		if err := h.deleteInstance(ctx, sc, inst, final, p.RetiredBy, p.CloneOf); err != nil {
			return err
		}
		if err := h.d.waitInstanceGone(ctx, sc, id); err != nil {
			return err
		}
	}
	if final == "" {
		return nil
	}
	return h.keepFinal(ctx, sc, id, final)
}

func (h *deleter) deleteInstance(ctx context.Context, sc *executor.StepContext, inst *types.DBInstance, final, retiredBy, cloneOf string) error {
	id := aws.ToString(inst.DBInstanceIdentifier)
	if aws.ToBool(inst.DeletionProtection) {
		return fmt.Errorf("delete DB instance %s: %w for %s; envmig never turns it off on an original: turn it off yourself or use strategy rename-swap", id, ErrDeletionProtection, id)
	}
	if final == "" {
		tags := tagMap(inst.TagList)
		// RetiredBy kept it: it retired it (an original renamed aside), or
		// created it (a temporary that recover handed to cleanup).
		retired := retiredBy != "" && (tags[RetiredByTagKey] == retiredBy || tags[executor.RunTagKey] == retiredBy)
		clone := cloneOf != "" && tags[CloneOfTagKey] == cloneOf
		if err := ours(sc, "DB instance", id, tags, inst.InstanceCreateTime); err != nil && !retired && !clone {
			return fmt.Errorf("delete DB instance %s without a final snapshot: %w", id, err)
		}
	}
	if aws.ToString(inst.DBInstanceStatus) == "deleting" {
		return nil
	}
	if final != "" {
		s, err := h.d.snapshot(ctx, final)
		if err != nil {
			return err
		}
		if s != nil {
			return fmt.Errorf("delete DB instance %s: its final snapshot's name %s %w; delete or rename that snapshot, then resume", id, final, ErrNameTaken)
		}
	}
	if rid := aws.ToString(inst.DbiResourceId); rid != "" {
		if err := sc.Record(KeyResourceID, rid); err != nil {
			return fmt.Errorf("record the resource ID of %s: %w", id, err)
		}
	}
	if err := sc.Record(KeyDeleted, id); err != nil {
		return fmt.Errorf("record the delete of %s: %w", id, err)
	}
	// Automated backups go with the instance: the ways back are the run's
	// snapshots (before the migration, and the final one), kept until
	// cleanup. Retained backups would also make RDS emulators refuse a
	// restore under the same identifier.
	in := &rds.DeleteDBInstanceInput{DBInstanceIdentifier: aws.String(id), DeleteAutomatedBackups: aws.Bool(true)}
	if final != "" {
		in.FinalDBSnapshotIdentifier = aws.String(final)
	} else {
		in.SkipFinalSnapshot = aws.Bool(true)
	}
	_, err := h.d.c.DeleteDBInstance(ctx, in)
	switch code := errorCode(err); {
	case err == nil, code == codeInstanceNotFound:
		// NotFound: a retried call whose first response was lost.
	case code == codeInvalidInstanceState && h.d.already(ctx, id, true, "deleting"):
	default:
		return fmt.Errorf("delete DB instance %s: %w", id, err)
	}
	sc.Accepted()
	return nil
}

// keepFinal waits for the final snapshot and tags it with the run. Only a
// snapshot tagged with the run, or the one of the instance this step asked
// RDS to delete, is accepted.
func (h *deleter) keepFinal(ctx context.Context, sc *executor.StepContext, id, final string) error {
	s, err := h.d.snapshot(ctx, final)
	if err != nil {
		return err
	}
	asked := sc.Value(KeyDeleted) != ""
	switch {
	case s == nil && !asked:
		return fmt.Errorf("DB instance %s and its final snapshot %s both do not exist: its data may be lost; look for other snapshots and backups of %s before anything else", id, final, id)
	case s != nil && ours(sc, "DB snapshot", final, tagMap(s.TagList), s.SnapshotCreateTime) == nil:
		_, err = h.d.waitSnapshot(ctx, sc, final)
		return err
	case s != nil && !asked:
		return ours(sc, "DB snapshot", final, tagMap(s.TagList), s.SnapshotCreateTime)
	case s != nil:
		if rid, got := sc.Value(KeyResourceID), aws.ToString(s.DbiResourceId); rid != "" && got != "" && rid != got {
			return fmt.Errorf("DB snapshot %s is of resource %s, not of %s (%s) which this run deleted; resolve it by hand", final, got, id, rid)
		}
	}
	// The snapshot RDS makes while deleting: wait for it (it may not show
	// yet), then tag it, since DeleteDBInstance cannot.
	if s, err = h.d.waitSnapshot(ctx, sc, final); err != nil {
		return err
	}
	if _, err := h.d.c.AddTagsToResource(ctx, &rds.AddTagsToResourceInput{ResourceName: s.DBSnapshotArn, Tags: tagList(runTags(sc))}); err != nil {
		return fmt.Errorf("tag the final DB snapshot %s: %w", final, err)
	}
	sc.Accepted()
	return nil
}

// Revert does nothing: deleting an original happens after the point of no
// return, and its final snapshot is what stays.
func (h *deleter) Revert(context.Context, *executor.StepContext) error { return nil }
