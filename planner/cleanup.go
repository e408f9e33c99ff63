package planner

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// CleanupRequest lists what a cleanup must observe: everything kept, and
// for each bucket the objects written since the run that kept it finished.
func CleanupRequest(kept []plan.Leftover, region string) live.Request {
	req := live.Request{Region: region, CountObjects: true}
	for _, k := range kept {
		switch k.Kind {
		case plan.LeftoverDBInstance:
			req.Databases = append(req.Databases, k.ID)
		case plan.LeftoverBucket:
			req.Buckets = append(req.Buckets, k.ID)
			if !k.RetiredAt.IsZero() {
				if req.ModifiedSince == nil {
					req.ModifiedSince = map[string]time.Time{}
				}
				req.ModifiedSince[k.ID] = k.RetiredAt
			}
		}
	}
	req.Databases, req.Buckets = uniq(req.Databases), uniq(req.Buckets)
	return req
}

// Cleanup plans the removal of what applied runs kept: retired originals,
// snapshots and verified bucket copies. What is already gone is skipped.
// It never destroys what the run did not retire: a bucket written after
// the run finished, or a retired database whose settings changed since,
// is kept and reported (EM170, EM171; cleanup then exits non-zero). A
// retired original with deletion protection gets an explicit step turning
// it off, shown like every other step before the confirmation. Everything
// happens after the gate: deletions cannot be undone.
func Cleanup(environment string, kept []plan.Leftover, obs *live.Observed, opts Options) *plan.Plan {
	p := &plan.Plan{
		Lineage: opts.Lineage, CreatedAt: opts.Now.UTC(), Tool: opts.Tool,
		Environment: environment, Account: obs.Identity.Account, Region: obs.Region, Strategy: "cleanup",
	}
	a := &analyzer{}
	var commit []plan.Step
	for i, k := range kept {
		id := fmt.Sprintf("%d", i+1)
		switch k.Kind {
		case plan.LeftoverDBInstance:
			d := obs.Databases[k.ID]
			o := dbObservation("kept."+id, k.ID, d)
			p.Observations = append(p.Observations, o)
			if d == nil || !d.Exists {
				continue
			}
			if changed := changedSettings(k.Attrs, o.Attrs); len(changed) > 0 {
				a.warnf("EM171", "", fmt.Sprintf("%s is kept: its settings changed since run %s retired it (%s)", k.ID, k.Run, strings.Join(changed, "; ")),
					"Someone may be using it: cleanup deletes only what a run retired, as the run retired it.",
					fmt.Sprintf("If %s is no longer needed, delete it yourself (with a final snapshot).", k.ID))
				continue
			}
			if d.DeletionProtection {
				commit = append(commit, plan.Step{ID: "db.update." + id + ".unprotect", Action: plan.DBUpdate,
					Description: fmt.Sprintf("Turn deletion protection off for %s, which is being removed", k.ID),
					Params:      plan.DBUpdateParams{Identifier: k.ID, Change: plan.DBChange{DeletionProtection: plan.Ptr(false)}}})
			}
			commit = append(commit, plan.Step{ID: "db.delete." + id, Action: plan.DBDelete,
				Description: fmt.Sprintf("Delete DB instance %s (%s; %s, %d GiB)", k.ID, k.Why, d.InstanceClass, d.AllocatedStorage),
				Params:      plan.DBDeleteParams{Identifier: k.ID, RetiredBy: k.Run}, Removes: []string{k.ID}})
		case plan.LeftoverDBSnapshot:
			commit = append(commit, plan.Step{ID: "db.delete-snapshot." + id, Action: plan.DBDeleteSnapshot,
				Description: fmt.Sprintf("Delete DB snapshot %s (%s)", k.ID, k.Why), Params: plan.DBDeleteSnapshotParams{Snapshot: k.ID, Run: k.Run}, Removes: []string{k.ID}})
		case plan.LeftoverBucket:
			b := obs.Buckets[k.ID]
			o := bucketObservation("kept."+id, k.ID, b)
			if b != nil && b.Exists {
				o.Info["modified_after_retirement"] = strconv.FormatInt(b.ModifiedAfter, 10)
			}
			p.Observations = append(p.Observations, o)
			if b == nil || !b.Exists {
				continue
			}
			if b.ModifiedAfter > 0 {
				a.warnf("EM170", "", fmt.Sprintf("bucket %s is kept: %d object(s) were written to it after run %s retired it (e.g. %s)", k.ID, b.ModifiedAfter, k.Run, strings.Join(quoted(b.ModifiedKeys), ", ")),
					fmt.Sprintf("Something still writes to %s (a straggler of the old configuration). Those objects are not in the run's copy, and cleanup never deletes what the run did not retire.", k.ID),
					fmt.Sprintf("Find the writer, move its objects to where they belong, then run envmig cleanup again; or delete %s yourself.", k.ID))
				continue
			}
			params := plan.BucketDeleteParams{Bucket: k.ID, Region: b.Region, KeepModifiedAfter: k.RetiredAt}
			desc := fmt.Sprintf("Empty and delete bucket %s (%s; %s objects, %s)", k.ID, k.Why, humanize.Comma(b.Objects), humanize.IBytes(uint64(b.Bytes)))
			if k.Manifest != "" {
				params.Guard = &plan.BucketGuard{Bucket: k.ID, Region: b.Region, Manifest: k.Manifest, Run: k.Run}
				desc += ": exactly what run " + k.Run + " copied out of it"
			}
			commit = append(commit, plan.Step{ID: "bucket.delete." + id, Action: plan.BucketDelete,
				Description: desc, Params: params, Removes: []string{k.ID}})
		}
	}
	sort.Slice(p.Observations, func(i, j int) bool { return p.Observations[i].Address < p.Observations[j].Address })
	p.Diagnostics = sortDiagnostics(a.diags)
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

// KeptForChanges returns the cleanup's diagnostics that kept a resource
// because it changed after its retirement.
func KeptForChanges(p *plan.Plan) []plan.Diagnostic {
	var out []plan.Diagnostic
	for _, d := range p.Diagnostics {
		if d.Code == "EM170" || d.Code == "EM171" {
			out = append(out, d)
		}
	}
	return out
}

// changedSettings compares a retired database's settings at retirement
// with now.
func changedSettings(then, now map[string]string) []string {
	var out []string
	for _, k := range RetiredKeys {
		if v, ok := then[k]; ok && v != now[k] {
			out = append(out, fmt.Sprintf("%s was %s, now %s", k, show(v), show(now[k])))
		}
	}
	return out
}

func quoted(keys []string) []string {
	out := make([]string, len(keys))
	for i, k := range keys {
		out[i] = strconv.Quote(k)
	}
	return out
}
