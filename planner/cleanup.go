package planner

import (
	"fmt"

	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// CleanupRequest lists what a cleanup must observe: everything kept.
func CleanupRequest(kept []plan.Leftover, region string) live.Request {
	req := live.Request{Region: region}
	for _, k := range kept {
		switch k.Kind {
		case plan.LeftoverDBInstance:
			req.Databases = append(req.Databases, k.ID)
		case plan.LeftoverBucket:
			req.Buckets = append(req.Buckets, k.ID)
		}
	}
	req.Databases, req.Buckets = uniq(req.Databases), uniq(req.Buckets)
	return req
}

// Cleanup plans the removal of what applied runs kept: retired originals,
// snapshots and verified bucket copies. What is already gone is skipped. A
// retired original with deletion protection gets an explicit step turning
// it off, shown like every other step before the confirmation. Everything
// happens after the gate: deletions cannot be undone.
func Cleanup(environment string, kept []plan.Leftover, obs *live.Observed, opts Options) *plan.Plan {
	p := &plan.Plan{
		Lineage: opts.Lineage, CreatedAt: opts.Now.UTC(), Tool: opts.Tool,
		Environment: environment, Account: obs.Identity.Account, Region: obs.Region, Strategy: "cleanup",
	}
	var commit []plan.Step
	for i, k := range kept {
		id := fmt.Sprintf("%d", i+1)
		switch k.Kind {
		case plan.LeftoverDBInstance:
			d := obs.Databases[k.ID]
			p.Observations = append(p.Observations, dbObservation("kept."+id, k.ID, d))
			if d == nil || !d.Exists {
				continue
			}
			if d.DeletionProtection {
				commit = append(commit, plan.Step{ID: "db.update." + id + ".unprotect", Action: plan.DBUpdate,
					Description: fmt.Sprintf("Turn deletion protection off for %s, which is being removed", k.ID),
					Params:      plan.DBUpdateParams{Identifier: k.ID, Change: plan.DBChange{DeletionProtection: plan.Ptr(false)}}})
			}
			commit = append(commit, plan.Step{ID: "db.delete." + id, Action: plan.DBDelete,
				Description: fmt.Sprintf("Delete %s (%s)", k.ID, k.Why), Params: plan.DBDeleteParams{Identifier: k.ID, RetiredBy: k.Run}, Removes: []string{k.ID}})
		case plan.LeftoverDBSnapshot:
			commit = append(commit, plan.Step{ID: "db.delete-snapshot." + id, Action: plan.DBDeleteSnapshot,
				Description: fmt.Sprintf("Delete snapshot %s (%s)", k.ID, k.Why), Params: plan.DBDeleteSnapshotParams{Snapshot: k.ID, Run: k.Run}, Removes: []string{k.ID}})
		case plan.LeftoverBucket:
			b := obs.Buckets[k.ID]
			p.Observations = append(p.Observations, bucketObservation("kept."+id, k.ID, b))
			if b == nil || !b.Exists {
				continue
			}
			commit = append(commit, plan.Step{ID: "bucket.delete." + id, Action: plan.BucketDelete,
				Description: fmt.Sprintf("Empty and delete bucket %s (%s)", k.ID, k.Why), Params: plan.BucketDeleteParams{Bucket: k.ID, Region: b.Region}, Removes: []string{k.ID}})
		}
	}
	if len(commit) > 0 {
		p.Steps = []plan.Step{
			{ID: "preflight", Phase: plan.PhasePrepare, Action: plan.Preflight, Description: "Check the caller's account and region", Params: plan.PreflightParams{}},
			{ID: "gate", Phase: plan.PhaseGate, Action: plan.Gate, Description: "Confirm: what follows deletes the ways back for good", Params: plan.GateParams{Environment: environment}},
		}
		for _, s := range commit {
			s.Phase = plan.PhaseCommit
			p.Steps = append(p.Steps, s)
		}
	}
	newEstimator(p.Observations).run(p)
	plan.Seal(p)
	return p
}
