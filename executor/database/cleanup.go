package database

import (
	"context"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// deleteSnapshot runs plan.DBDeleteSnapshot: it removes a snapshot a run
// kept (`envmig cleanup`) or no longer needs (a clone's source snapshot).
// Only a snapshot tagged with the run named by the "run" parameter (this
// run when absent) is deleted; any other is refused. A snapshot already gone
// is done.
type deleteSnapshotStep struct{ d *deps }

var _ executor.Handler = (*deleteSnapshotStep)(nil)

func (h *deleteSnapshotStep) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.DBDeleteSnapshotParams](sc)
	if err != nil {
		return err
	}
	if err := required(sc, "snapshot", p.Snapshot); err != nil {
		return err
	}
	owner := p.Run
	if owner == "" {
		owner = sc.Lineage()
	}
	// Journaled before the delete: the revert of the step that made the
	// snapshot then knows not to wait for it to appear.
	if err := sc.Record(KeyDeleteSent, "true"); err != nil {
		return err
	}
	return h.d.deleteSnapshot(ctx, sc, p.Snapshot, owner, true)
}

// KeyDeleteSent is recorded by a snapshot's delete step before it deletes.
const KeyDeleteSent = "delete_sent"

// deletedByTheRun reports whether a step of sc's run set out to delete
// snapshot id (a clone deletes its source snapshot once restored).
func deletedByTheRun(sc *executor.StepContext, id string) bool {
	for _, st := range sc.Plan.Steps {
		if p, ok := st.Params.(plan.DBDeleteSnapshotParams); ok && p.Snapshot == id && sc.StepValue(st.ID, KeyDeleteSent) != "" {
			return true
		}
	}
	return false
}

// Revert does nothing: a deleted snapshot cannot come back.
func (h *deleteSnapshotStep) Revert(context.Context, *executor.StepContext) error { return nil }
