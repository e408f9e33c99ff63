package database

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// snapshot runs plan.DBSnapshot (a manual snapshot of an instance) and,
// with copy set, plan.DBCopySnapshot (an encrypted copy of a snapshot).
type snapshot struct {
	d    *deps
	copy bool
}

var _ executor.Handler = (*snapshot)(nil)

// Apply creates the snapshot, or adopts the one an earlier attempt of this
// run made, and waits until it is available.
func (h *snapshot) Apply(ctx context.Context, sc *executor.StepContext) error {
	id, src, err := h.params(sc)
	if err != nil {
		return err
	}
	s, err := h.d.snapshot(ctx, id)
	if err != nil {
		return err
	}
	if s == nil {
		if err := sc.Record(KeyCreateSent, "true"); err != nil {
			return err
		}
		err := h.call(ctx, sc, id, src)
		if err != nil && errorCode(err) != codeSnapshotAlreadyExists && executor.Refused(err) {
			_ = sc.Record(KeyCreateSent, "") // not applied: nothing to look for on undo
		}
		if errorCode(err) == codeSnapshotAlreadyExists {
			// A retried call whose first response was lost: observe what
			// the first one made.
			if s, err = h.d.snapshot(ctx, id); err == nil && s == nil {
				err = fmt.Errorf("DB snapshot %s: RDS says it exists but does not show it; run `envmig resume` to look again", id)
			}
		}
		if err != nil {
			return err
		}
		sc.Accepted()
	}
	if s != nil {
		if err := h.adoptable(sc, s, src); err != nil {
			return err
		}
	}
	snap, err := h.d.waitSnapshot(ctx, sc, id)
	if err != nil {
		return err
	}
	if t := snap.SnapshotCreateTime; !h.copy && t != nil && sc.Value(KeySnapshotTime) == "" {
		// The moment the snapshot is of: a clone's versioned buckets are
		// copied as of it.
		return sc.Record(KeySnapshotTime, t.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

// adoptable checks that an existing snapshot is the one this step makes.
func (h *snapshot) adoptable(sc *executor.StepContext, s *types.DBSnapshot, src string) error {
	id := aws.ToString(s.DBSnapshotIdentifier)
	if err := ours(sc, "DB snapshot", id, tagMap(s.TagList), s.SnapshotCreateTime); err != nil {
		return err
	}
	if got := aws.ToString(s.DBInstanceIdentifier); !h.copy && got != src {
		return fmt.Errorf("DB snapshot %s is this run's but of instance %s, not %s: the plan and the account disagree; plan again", id, got, src)
	}
	return nil
}

// params returns the snapshot to make and where it comes from: the
// instance, or for a copy the source snapshot.
func (h *snapshot) params(sc *executor.StepContext) (id, src string, err error) {
	if h.copy {
		p, err := executor.Params[plan.DBCopySnapshotParams](sc)
		if err == nil {
			err = required(sc, "snapshot", p.Snapshot, "source", p.Source)
		}
		return p.Snapshot, p.Source, err
	}
	p, err := executor.Params[plan.DBSnapshotParams](sc)
	if err == nil {
		err = required(sc, "snapshot", p.Snapshot, "identifier", p.Identifier)
	}
	return p.Snapshot, p.Identifier, err
}

// call makes the snapshot: CreateDBSnapshot, or CopyDBSnapshot encrypted
// with the step's key. Either carries the run's tags.
func (h *snapshot) call(ctx context.Context, sc *executor.StepContext, id, src string) error {
	tags := tagList(runTags(sc))
	if !h.copy {
		_, err := h.d.c.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{
			DBInstanceIdentifier: aws.String(src), DBSnapshotIdentifier: aws.String(id), Tags: tags,
		})
		if err != nil {
			return fmt.Errorf("snapshot DB instance %s as %s: %w", src, id, err)
		}
		return nil
	}
	p, err := executor.Params[plan.DBCopySnapshotParams](sc)
	if err != nil {
		return err
	}
	key := p.KMSKeyID
	if key == "" {
		key = DefaultKMSKey
	}
	_, err = h.d.c.CopyDBSnapshot(ctx, &rds.CopyDBSnapshotInput{
		SourceDBSnapshotIdentifier: aws.String(src), TargetDBSnapshotIdentifier: aws.String(id),
		KmsKeyId: aws.String(key), CopyTags: aws.Bool(false), Tags: tags,
	})
	if err != nil {
		return fmt.Errorf("copy DB snapshot %s to %s encrypted with %s: %w", src, id, key, err)
	}
	return nil
}

// Revert deletes the snapshot when it exists and is this run's, and waits
// until it is gone. A snapshot that is not this run's is left alone.
func (h *snapshot) Revert(ctx context.Context, sc *executor.StepContext) error {
	id, _, err := h.params(sc)
	if err != nil {
		return err
	}
	if sc.Value(KeyCreateSent) != "" && !deletedByTheRun(sc, id) {
		// The create was sent: a NotFound may be RDS not showing it yet
		// (unless a later step of the run deleted it).
		if _, err := h.d.expectSnapshot(ctx, sc, id); err != nil {
			return err
		}
	}
	return h.d.deleteSnapshot(ctx, sc, id, sc.Lineage(), false)
}

// deleteSnapshot deletes a snapshot of run owner and waits until it is
// gone. A snapshot of anyone else is left alone, or refused when strict.
func (d *deps) deleteSnapshot(ctx context.Context, sc *executor.StepContext, id, owner string, strict bool) error {
	s, err := d.snapshot(ctx, id)
	if err != nil || s == nil {
		return err
	}
	if err := ownedBy(owner, "DB snapshot", id, tagMap(s.TagList)); err != nil {
		if strict {
			return err
		}
		sc.Report(executor.Progress{Message: fmt.Sprintf("left DB snapshot %s alone: it is not this run's", id), Percent: -1})
		return nil
	}
	switch aws.ToString(s.Status) {
	case "deleting":
		return d.waitSnapshotGone(ctx, sc, id)
	case "creating":
		// RDS deletes only a finished snapshot.
		if _, err := d.waitSnapshot(ctx, sc, id); err != nil {
			return err
		}
	}
	_, err = d.c.DeleteDBSnapshot(ctx, &rds.DeleteDBSnapshotInput{DBSnapshotIdentifier: aws.String(id)})
	switch {
	case errorCode(err) == codeSnapshotNotFound:
		return nil
	case err != nil:
		return fmt.Errorf("delete DB snapshot %s: %w", id, err)
	}
	sc.Accepted()
	return d.waitSnapshotGone(ctx, sc, id)
}
