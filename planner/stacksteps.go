package planner

import (
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/planner/stack"
)

// swapSteps are the steps of a stack-swap: the origin's double clone,
// done by CloudFormation.
func (b *builder) swapSteps(sw *swap, dbs []dbPlan, buckets []bucketPlan, services []serviceTarget, switches []switchTarget) []plan.Step {
	level := b.env.Migration.Verify.Objects
	b.preflight()
	standbyIDs, groups := b.standbyAll(services, switches)
	var db *dbPlan
	for i := range dbs {
		if sw.db != nil && dbs[i].t.cfg.LogicalID == sw.db.logicalID {
			db = &dbs[i]
		}
	}
	snap, clone := "", ""
	if db != nil {
		name := db.t.cfg.Name
		snap = snapshotID(b.lineage, name, "")
		b.add(plan.PhasePrepare, plan.Step{
			ID: "db.snapshot." + name, Action: plan.DBSnapshot, Resource: db.t.address,
			Description: fmt.Sprintf("Snapshot %s as %s: the temporary stack's database is restored from it", db.t.id, snap),
			Undo:        "Delete the snapshot",
			Params:      plan.DBSnapshotParams{Identifier: db.t.id, Snapshot: snap},
			Creates:     []string{snap},
		})
		b.keep(plan.LeftoverDBSnapshot, snap, "", "the state of "+db.t.id+" before the migration")
	}
	createTemp := "stack.create.temporary"
	b.add(plan.PhasePrepare, plan.Step{
		ID: createTemp, Action: plan.StackCreate, Resource: stackAddress,
		Description: fmt.Sprintf("Create the temporary stack %s from %s with %s = %s%s, and wait until CloudFormation has created it",
			sw.temp, sw.file, sw.envParam, sw.temp, snapText(sw.snapParam, snap)),
		Undo:    fmt.Sprintf("Empty the temporary stack's buckets (they hold only copies) and delete %s", sw.temp),
		Params:  plan.StackCreateParams{Stack: sw.temp, TemplateFile: sw.file, Template: sw.body, Parameters: sw.stackParams(sw.temp, snap), Capabilities: sw.capabilities, Temporary: true},
		Creates: []string{sw.temp},
	})
	type copyOf struct {
		bp   bucketPlan
		r    swapResource
		g    plan.BucketGuard
		name string
	}
	var copies []copyOf
	for _, bp := range buckets {
		for _, r := range sw.buckets {
			if bp.t.cfg.LogicalID == r.logicalID {
				region := b.region
				if bp.live != nil && bp.live.Region != "" {
					region = bp.live.Region
				}
				g := plan.BucketGuard{Bucket: bp.t.name, Region: region, Manifest: plan.ManifestName(bp.t.name), Copy: r.temporary, CopyRegion: b.region, Objects: level}
				copies = append(copies, copyOf{bp: bp, r: r, g: g, name: bp.t.cfg.Name})
			}
		}
	}
	for _, c := range copies {
		b.add(plan.PhasePrepare, plan.Step{
			ID: "bucket.copy." + c.name + ".delta", Action: plan.BucketCopy, Resource: c.bp.t.address,
			Description: fmt.Sprintf("Copy %s into the temporary stack's bucket %s (%s), and record the manifest of %[1]s: the state the freeze checks compare it with", c.bp.t.name, c.r.temporary, c.r.logicalID),
			Params:      plan.BucketCopyParams{Source: c.bp.t.name, Destination: c.r.temporary, Mode: plan.CopyDelta, Manifest: true},
		})
	}
	for _, c := range copies {
		g := c.g
		b.add(plan.PhasePrepare, plan.Step{
			ID: "verify.bucket." + c.name + ".clone", Action: plan.VerifyBucket, Resource: c.bp.t.address,
			Description: fmt.Sprintf("Verify %s against %s by manifest (%s)", c.r.temporary, c.bp.t.name, level),
			Params:      plan.VerifyBucketParams{Source: c.bp.t.name, Destination: c.r.temporary, Objects: level, Guard: &g},
		})
	}
	if db != nil {
		b.verifySwapDatabase(plan.PhasePrepare, *db, sw.db.temporary, "clone", sw.db.props)
	}
	var ids []string
	var guards []plan.BucketGuard
	if db != nil {
		ids = append(ids, db.t.id)
	}
	for _, c := range copies {
		guards = append(guards, c.g)
	}
	b.add(plan.PhasePrepare, plan.Step{
		ID: "verify.frozen", Action: plan.VerifyFrozen,
		Description: "Verify nothing changed the originals during the standby: no instance back in service, no database setting changed, every copied bucket still as its manifest (objects, versions, deletes)",
		Params:      plan.VerifyFrozenParams{Groups: groups, Databases: ids, Buckets: guards, StandbySteps: standbyIDs},
	})
	env := map[string]string{"ENVMIG_STACK": sw.temp}
	if db != nil {
		env["ENVMIG_DATABASE_"+envName(db.t.cfg.Name)] = sw.db.temporary
	}
	for _, c := range copies {
		env["ENVMIG_BUCKET_"+envName(c.name)] = c.r.temporary
	}
	for _, h := range b.env.Migration.Verify.HTTP {
		b.add(plan.PhasePrepare, plan.Step{
			ID: "verify.http." + h.Name, Action: plan.VerifyHTTP,
			Description: fmt.Sprintf("Probe %s, expect HTTP %d", h.URL, h.Status),
			Params:      httpParams(h, createTemp),
		})
	}
	for _, c := range b.env.Migration.Verify.Commands {
		b.add(plan.PhasePrepare, plan.Step{
			ID: "verify.command." + c.Name, Action: plan.VerifyCommand,
			Description: fmt.Sprintf("Run check %q against the temporary stack %s (its outputs in ENVMIG_STACK_OUTPUT_<Name>)", c.Name, sw.temp),
			Params:      plan.VerifyCommandParams{Run: c.Run, Env: maps.Clone(env), StackOutputs: createTemp},
		})
	}
	gate := plan.Step{
		ID: "gate", Phase: plan.PhaseGate, Action: plan.Gate, InStandby: b.standby,
		Description: "Point of no return: confirm, then check once more that nothing changed the originals; from here the original stack is deleted and the run can only roll forward",
		Params:      plan.GateParams{Environment: b.env.Name, Recheck: "verify.frozen"},
	}
	// Commit: snapshot the verified temporary database, empty the
	// original's buckets by their verified manifests, delete the original
	// stack, create it again from the new template and the snapshot, copy
	// the buckets back.
	if db != nil {
		name := db.t.cfg.Name
		clone = snapshotID(b.lineage, name, "clone")
		b.add(plan.PhaseCommit, plan.Step{
			ID: "db.snapshot." + name + ".clone", Action: plan.DBSnapshot, Resource: db.t.address,
			Description: fmt.Sprintf("Snapshot the verified temporary database %s as %s: the stack is created again from it, and keeps it as its %s", sw.db.temporary, clone, sw.snapParam),
			Params:      plan.DBSnapshotParams{Identifier: sw.db.temporary, Snapshot: clone},
			Creates:     []string{clone},
		})
	}
	for _, c := range copies {
		g := c.g
		b.add(plan.PhaseCommit, plan.Step{
			ID: "bucket.delete." + c.name + ".original", Action: plan.BucketDelete, Resource: c.bp.t.address,
			Description: fmt.Sprintf("Empty %s so that CloudFormation can delete it with its stack: first check it still matches its manifest, then delete exactly what the manifest lists (verified in %s); anything written since is kept and the step stops", c.bp.t.name, c.r.temporary),
			Params:      plan.BucketDeleteParams{Bucket: c.bp.t.name, Region: c.g.Region, Guard: &g, KeepBucket: true},
		})
	}
	b.add(plan.PhaseCommit, plan.Step{
		ID: "stack.delete.original", Action: plan.StackDelete, Resource: stackAddress,
		Description: fmt.Sprintf("Delete the original stack %s (%s) and wait until it is gone; report retained resources and the final snapshots its DeletionPolicy keeps", sw.name, sw.live.ID),
		Params:      plan.StackDeleteParams{Stack: sw.name, ExpectedID: sw.live.ID},
		Removes:     []string{sw.name},
	})
	createFinal := "stack.create.original"
	b.add(plan.PhaseCommit, plan.Step{
		ID: createFinal, Action: plan.StackCreate, Resource: stackAddress,
		Description: fmt.Sprintf("Create the stack %s again from %s with %s = %s%s, and wait until CloudFormation has created it",
			sw.name, sw.file, sw.envParam, sw.name, snapText(sw.snapParam, clone)),
		Params:  plan.StackCreateParams{Stack: sw.name, TemplateFile: sw.file, Template: sw.body, Parameters: sw.stackParams(sw.name, clone), Capabilities: sw.capabilities},
		Creates: []string{sw.name},
	})
	// The new stack's groups go to standby at once, and come back once
	// its data is in place.
	var resume []func()
	for _, s := range services {
		group := s.group
		for _, r := range sw.groups {
			if r.original == s.group || (s.cfg.LogicalID != "" && s.cfg.LogicalID == r.logicalID) {
				group = r.final
			}
		}
		id := "group.standby." + s.cfg.Name + ".new"
		b.add(plan.PhaseCommit, plan.Step{
			ID: id, Action: plan.GroupStandby, Resource: s.address,
			Description: fmt.Sprintf("Take the new stack's group %s out of service until its data is in place", group),
			Params:      plan.GroupStandbyParams{Group: group},
		})
		resume = append(resume, func() {
			b.add(plan.PhaseCommit, plan.Step{
				ID: "group.resume." + s.cfg.Name, Action: plan.GroupResume, Resource: s.address,
				Description: fmt.Sprintf("Put the new stack's group %s in service: scaling processes resumed first, instances to InService, sizes as the template made them, then wait until every instance is healthy in its load balancers", group),
				Params:      plan.GroupResumeParams{Group: group, StandbyStep: id},
			})
		})
	}
	for _, c := range copies {
		b.add(plan.PhaseCommit, plan.Step{
			ID: "bucket.copy." + c.name + ".final", Action: plan.BucketCopy, Resource: c.bp.t.address,
			Description: fmt.Sprintf("Copy %s back into the new stack's bucket %s (%s)", c.r.temporary, c.r.final, c.r.logicalID),
			Params:      plan.BucketCopyParams{Source: c.r.temporary, Destination: c.r.final, Mode: plan.CopyFinal},
		})
		b.add(plan.PhaseCommit, plan.Step{
			ID: "verify.bucket." + c.name + ".final", Action: plan.VerifyBucket, Resource: c.bp.t.address,
			Description: fmt.Sprintf("Verify %s against %s by manifest (%s)", c.r.final, c.r.temporary, level),
			Params:      plan.VerifyBucketParams{Source: c.r.temporary, Destination: c.r.final, Objects: level},
		})
	}
	if db != nil {
		b.verifySwapDatabase(plan.PhaseCommit, *db, sw.db.final, "final", sw.db.props)
	}
	for _, f := range resume {
		f()
	}
	for _, s := range switches {
		b.switchOn(s)
	}
	b.standby = false
	// The snapshot the stack named before, when an earlier run made it, is
	// no longer needed once the stack names the new one: cleanup deletes it.
	if prev := sw.live.Parameters[sw.snapParam]; prev != clone && prev != stack.MaskedValue {
		if m := envmigSnapshot.FindStringSubmatch(prev); m != nil {
			b.keep(plan.LeftoverDBSnapshot, prev, "", fmt.Sprintf("the snapshot %s was restored from before this run; it now names %s", sw.name, clone), func(l *plan.Leftover) {
				l.Run = m[1]
			})
		}
	}
	b.add(plan.PhaseCommit, plan.Step{
		ID: "stack.delete.temporary", Action: plan.StackDelete, Resource: stackAddress,
		Description: fmt.Sprintf("Empty the temporary stack's buckets (their objects are back in %s) and delete %s", sw.name, sw.temp),
		Params:      plan.StackDeleteParams{Stack: sw.temp, Temporary: true},
		Removes:     []string{sw.temp},
	})
	out := append(b.prepare, gate)
	return append(out, b.commit...)
}

// envmigSnapshot matches a snapshot a run made (snapshotID); group 1 is
// the run.
var envmigSnapshot = regexp.MustCompile(`^envmig-([0-9a-f]{8})-`)

func snapText(param, snap string) string {
	if snap == "" {
		return ""
	}
	return fmt.Sprintf(" and %s = %s", param, snap)
}

// verifySwapDatabase checks a database a stack created: available, with
// the engine, class and encryption the new template gives it (where the
// template's values are known before CloudFormation acts).
func (b *builder) verifySwapDatabase(phase plan.Phase, d dbPlan, identifier, which string, props map[string]any) {
	var e plan.DBExpect
	str := func(k string) string {
		if v, ok := props[k].(string); ok {
			return v
		}
		return ""
	}
	e.Engine = str("Engine")
	e.InstanceClass = str("DBInstanceClass")
	switch v := props["StorageEncrypted"].(type) {
	case bool:
		e.StorageEncrypted = plan.Ptr(v)
	case string:
		if x, err := strconv.ParseBool(v); err == nil {
			e.StorageEncrypted = plan.Ptr(x)
		}
	}
	b.add(phase, plan.Step{
		ID: "verify.database." + d.t.cfg.Name + "." + which, Action: plan.VerifyDatabase, Resource: d.t.address,
		Description: fmt.Sprintf("Verify %s is available with the settings of the new template", identifier),
		Params:      plan.VerifyDatabaseParams{Identifier: identifier, Expect: e},
	})
}

// httpParams are a stack-swap's http check: its URL's
// ${ENVMIG_STACK_OUTPUT_<Name>} placeholders take the temporary stack's
// outputs.
func httpParams(h *config.HTTPCheck, createStep string) plan.VerifyHTTPParams {
	p := plan.VerifyHTTPParams{URL: h.URL, Status: h.Status, Timeout: h.Timeout}
	if plan.StackOutputRef.MatchString(h.URL) {
		p.StackOutputs = createStep
	}
	return p
}

// stackUpdateSteps are the steps of an in-place update of the stack: the
// change set is created and shown before the point of no return, and
// executed after it, in standby.
func (b *builder) stackUpdateSteps(sw *swap, dbs []dbPlan, services []serviceTarget, switches []switchTarget) []plan.Step {
	b.preflight()
	standbyIDs, groups := b.standbyAll(services, switches)
	var db *dbPlan
	for i := range dbs {
		if sw.db != nil && dbs[i].t.cfg.LogicalID == sw.db.logicalID {
			db = &dbs[i]
		}
	}
	var ids []string
	if db != nil {
		name := db.t.cfg.Name
		snap := snapshotID(b.lineage, name, "")
		ids = append(ids, db.t.id)
		b.add(plan.PhasePrepare, plan.Step{
			ID: "db.snapshot." + name, Action: plan.DBSnapshot, Resource: db.t.address,
			Description: fmt.Sprintf("Snapshot %s as %s: the way back should the update go wrong", db.t.id, snap),
			Undo:        "Delete the snapshot",
			Params:      plan.DBSnapshotParams{Identifier: db.t.id, Snapshot: snap},
			Creates:     []string{snap},
		})
		b.keep(plan.LeftoverDBSnapshot, snap, "", "the state of "+db.t.id+" before the stack update")
	}
	cs := "stack.change-set"
	b.add(plan.PhasePrepare, plan.Step{
		ID: cs, Action: plan.StackChangeSet, Resource: stackAddress,
		Description: fmt.Sprintf("Create the change set updating %s in place to %s (%s kept%s), and show each change with its Replacement", sw.name, sw.file, sw.snapParam, usePreviousText(sw.usePrevious)),
		Undo:        "Delete the change set",
		Params: plan.StackChangeSetParams{Stack: sw.name, ExpectedID: sw.live.ID, TemplateFile: sw.file, Template: sw.body,
			Parameters: sw.nextParams, UsePrevious: sw.usePrevious, Capabilities: sw.capabilities},
	})
	b.add(plan.PhasePrepare, plan.Step{
		ID: "verify.frozen", Action: plan.VerifyFrozen,
		Description: "Verify nothing changed the originals during the standby: no instance back in service, no database setting changed",
		Params:      plan.VerifyFrozenParams{Groups: groups, Databases: ids, StandbySteps: standbyIDs},
	})
	gate := plan.Step{
		ID: "gate", Phase: plan.PhaseGate, Action: plan.Gate, InStandby: b.standby,
		Description: "Point of no return: confirm, then check once more that nothing changed the originals; from here the stack is updated and the run can only roll forward",
		Params:      plan.GateParams{Environment: b.env.Name, Recheck: "verify.frozen"},
	}
	b.add(plan.PhaseCommit, plan.Step{
		ID: "stack.update", Action: plan.StackUpdate, Resource: stackAddress,
		Description: fmt.Sprintf("Execute the change set and wait until %s is updated", sw.name),
		Params:      plan.StackUpdateParams{Stack: sw.name, ExpectedID: sw.live.ID, ChangeSetStep: cs},
	})
	if db != nil {
		b.verifySwapDatabase(plan.PhaseCommit, *db, db.t.id, "final", sw.db.finalProps)
	}
	for i, s := range services {
		b.add(plan.PhaseCommit, plan.Step{
			ID: "group.resume." + s.cfg.Name, Action: plan.GroupResume, Resource: s.address,
			Description: fmt.Sprintf("Put %s back in service: scaling processes resumed first, instances to InService, sizes as they were, then wait until every instance is healthy in its load balancers", s.group),
			Params:      plan.GroupResumeParams{Group: s.group, StandbyStep: standbyIDs[i]},
		})
	}
	for _, s := range switches {
		b.switchOn(s)
	}
	b.standby = false
	out := append(b.prepare, gate)
	return append(out, b.commit...)
}

func usePreviousText(names []string) string {
	if len(names) == 0 {
		return ""
	}
	return ", NoEcho " + strings.Join(names, ", ") + " kept"
}
