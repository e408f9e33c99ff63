package planner

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/planner/stack"
)

// Stack-swap diagnostics (see the code list in analyze.go).
const (
	codeSwapTemplate  = "EM181" // the new template cannot be read or swapped
	codeSwapStack     = "EM182" // the stack is missing or not in a stable state
	codeSwapTemporary = "EM183" // the temporary stack name is taken
	codeSwapCoverage  = "EM184" // the spec or the template leaves data out
	codeBehindStack   = "EM185" // a change behind the stack's back
	codeRetired       = "EM186" // a logical ID resolves to a retired original
)

// swap is what a stack-swap plan knows of the stack and its new version.
type swap struct {
	name, temp string
	file, body string
	live       *live.StackInfo
	// params are the parameters both new stacks are created with, but for
	// the environment and snapshot parameters.
	params              map[string]string
	envParam, snapParam string
	capabilities        []string
	db                  *swapResource
	buckets             []swapResource
	groups              []swapResource
	changed             bool
	reasons             []string
	// inPlace: the update replaces no database or bucket (envmig's
	// table), so it is made as a reviewed change set instead of a swap;
	// usePrevious are the NoEcho parameters it keeps.
	inPlace     bool
	usePrevious []string
	// nextParams are the in-place update's parameters.
	nextParams map[string]string
}

// swapResource is one database, bucket or group of the stack: its
// physical name in the original stack, the temporary one and the stack
// created again.
type swapResource struct {
	logicalID                  string
	original, temporary, final string
	// props are the resource's properties in the new template, evaluated
	// for the temporary stack, and finalProps for the stack's own name.
	props, finalProps map[string]any
}

// stackInfoAddress and stackTemporaryAddress are the addresses of the
// observations of the stack read in full and of the temporary stack's
// name.
const (
	stackInfoAddress      = "stack:info"
	stackTemporaryAddress = "stack:temporary"
)

// SwapTemporaryStack is the name of a stack-swap's temporary stack.
func SwapTemporaryStack(env *config.Environment) string {
	return config.TemporaryName(env.Stack, env.Migration)
}

// planSwap reads the stack and the new template and decides whether and
// how stack-swap migrates env. It returns nil with diagnostics when it
// cannot.
func planSwap(env *config.Environment, t targets, obs *live.Observed, a *analyzer) *swap {
	tp := env.Template
	if tp == nil {
		return nil // config refuses this
	}
	sw := &swap{name: env.Stack, temp: SwapTemporaryStack(env), file: tp.File, body: tp.Body,
		envParam: tp.EnvironmentParameter, snapParam: tp.SnapshotParameter, live: obs.Stacks[env.Stack]}
	if sw.live == nil || !sw.live.Exists {
		a.errorf(codeSwapStack, stackAddress, fmt.Sprintf("CloudFormation stack %q does not exist", env.Stack),
			"stack-swap builds an existing stack again from its new template.",
			"Check the stack name, AWS_PROFILE and the region; create the environment with your pipeline first.")
		return nil
	}
	if !strings.HasSuffix(sw.live.Status, "_COMPLETE") || strings.Contains(sw.live.Status, "ROLLBACK") || strings.HasPrefix(sw.live.Status, "DELETE") {
		a.errorf(codeSwapStack, stackAddress, fmt.Sprintf("stack %s is %s", env.Stack, sw.live.Status),
			"stack-swap starts only from a stack whose last operation succeeded (CREATE_COMPLETE or UPDATE_COMPLETE).",
			"Look at the stack's events, bring it to a complete state, then plan again.")
		return nil
	}
	if tmp := obs.Stacks[sw.temp]; tmp != nil && tmp.Exists {
		who := "a stack envmig does not own"
		if r := tmp.RunTag(); r != "" {
			who = "what envmig run " + r + " left (roll it back, or delete the stack)"
		}
		a.errorf(codeSwapTemporary, stackAddress, fmt.Sprintf("the temporary stack name %s is taken by %s", sw.temp, who),
			"stack-swap creates its temporary stack under that name.",
			"Delete that stack, or set migration { temporary_suffix = \"...\" } to another suffix.")
		return nil
	}
	tpl, err := stack.Parse([]byte(tp.Body))
	if err != nil {
		a.errorf(codeSwapTemplate, stackAddress, fmt.Sprintf("template %s cannot be read", tp.File), err.Error(),
			"Fix the template: it must be a CloudFormation template in JSON or YAML.")
		return nil
	}
	if tpl.Transform {
		a.errorf(codeSwapTemplate, stackAddress, fmt.Sprintf("template %s declares a Transform", tp.File),
			"CloudFormation expands a macro before it creates anything, so envmig cannot know the resources and names the template makes.",
			"Expand the template (aws cloudformation package / sam build) and name the result in template { file }.")
		return nil
	}
	// The parameters: the spec's, over the live stack's values of those the
	// new template still declares (a parameter the pipeline set is kept).
	sw.params = map[string]string{}
	var noEcho []string
	for _, k := range slices.Sorted(maps.Keys(sw.live.Parameters)) {
		v := sw.live.Parameters[k]
		p, declared := tpl.Parameters[k]
		if !declared || k == sw.envParam || k == sw.snapParam {
			continue
		}
		if v == stack.MaskedValue || p.NoEcho {
			if _, given := tp.Parameters[k]; !given {
				noEcho = append(noEcho, k)
			}
			continue
		}
		sw.params[k] = v
	}
	maps.Copy(sw.params, tp.Parameters)
	delete(sw.params, sw.envParam) // envmig sets these two
	delete(sw.params, sw.snapParam)
	an, err := stack.Analyze(tpl, stack.Options{EnvironmentParameter: sw.envParam, SnapshotParameter: sw.snapParam,
		Parameters: sw.params, StackName: sw.temp})
	if err != nil {
		a.errorf(codeSwapTemplate, stackAddress, fmt.Sprintf("template %s cannot be evaluated", tp.File), err.Error(),
			"Give every parameter without a default a value in template { parameters = { ... } }.")
		return nil
	}
	if err := an.CheckSwap(stack.Options{EnvironmentParameter: sw.envParam}); err != nil {
		a.errorf(codeSwapTemplate, stackAddress, fmt.Sprintf("template %s cannot be migrated by stack-swap", tp.File), err.Error(),
			"Change the template as the detail says; see examples/cloudformation.")
		return nil
	}
	for _, r := range tpl.Resources {
		if strings.HasPrefix(r.Type, "AWS::IAM::") && !slices.Contains(sw.capabilities, "CAPABILITY_NAMED_IAM") {
			sw.capabilities = append(sw.capabilities, "CAPABILITY_NAMED_IAM")
		}
	}
	if len(an.Databases) > 1 {
		a.errorf(codeSwapCoverage, stackAddress, fmt.Sprintf("template %s has %d databases", tp.File, len(an.Databases)),
			"The snapshot parameter restores one database; envmig's stack-swap migrates stacks with at most one AWS::RDS::DBInstance.",
			"Split the stack, or migrate it with rename-swap per database.")
		return nil
	}
	tempIn := evalInputs(sw, obs, sw.temp, "")
	finalIn := evalInputs(sw, obs, sw.name, "")
	tempEv, err1 := stack.Evaluate(tpl, tempIn)
	finalEv, err2 := stack.Evaluate(tpl, finalIn)
	if err1 != nil || err2 != nil {
		a.errorf(codeSwapTemplate, stackAddress, fmt.Sprintf("template %s cannot be evaluated", tp.File), fmt.Sprint(err1, err2), "")
		return nil
	}
	ok := true
	resolveOne := func(p stack.Persistent) (swapResource, bool) {
		r := swapResource{logicalID: p.LogicalID, props: tempEv.Resources[p.LogicalID].Props, finalProps: finalEv.Resources[p.LogicalID].Props}
		if lr, found := sw.live.Resources[p.LogicalID]; found && lr.Type == p.Type {
			r.original = lr.PhysicalID
		}
		tn, tok := tempEv.Resources[p.LogicalID].Props[p.NameProperty].(string)
		fn, fok := finalEv.Resources[p.LogicalID].Props[p.NameProperty].(string)
		if !tok || !fok || tn == "" || fn == "" {
			a.errorf(codeSwapTemplate, stackAddress, fmt.Sprintf("template %s leaves the name of %s to CloudFormation", tp.File, p.LogicalID),
				fmt.Sprintf("envmig copies data between the stacks by physical name, so it must know the name of %s before the stacks exist.", p.LogicalID),
				fmt.Sprintf("Set %s: !Sub \"${%s}-%s\" in the template.", p.NameProperty, sw.envParam, strings.ToLower(p.LogicalID)))
			ok = false
		}
		r.temporary, r.final = tn, fn
		return r, ok
	}
	for _, p := range an.Databases {
		r, _ := resolveOne(p)
		sw.db = &r
	}
	for _, p := range an.Buckets {
		r, _ := resolveOne(p)
		sw.buckets = append(sw.buckets, r)
	}
	for _, p := range an.Groups {
		r, _ := resolveOne(p)
		sw.groups = append(sw.groups, r)
	}
	if !ok {
		return nil
	}
	// Nothing of the stack's data may be left out: every database and
	// bucket of the live stack is in the new template and in the spec.
	named := map[string]bool{}
	for _, d := range t.dbs {
		named[d.cfg.LogicalID] = d.cfg.LogicalID != ""
	}
	for _, b := range t.buckets {
		named[b.cfg.LogicalID] = b.cfg.LogicalID != ""
	}
	for _, id := range slices.Sorted(maps.Keys(sw.live.Resources)) {
		r := sw.live.Resources[id]
		if r.Type != cfnDBInstance && r.Type != cfnBucket {
			continue
		}
		if nr, in := tpl.Resources[id]; !in || nr.Type != r.Type {
			a.errorf(codeSwapCoverage, stackAddress, fmt.Sprintf("template %s drops %s %s of stack %s", tp.File, r.Type, id, sw.name),
				fmt.Sprintf("Deleting the original stack deletes %s (%s); stack-swap carries data only into a resource of the same logical ID and type.", id, r.PhysicalID),
				"Keep the resource in the new template, or move its data out first.")
			ok = false
			continue
		}
		if !named[id] {
			block := "bucket"
			if r.Type == cfnDBInstance {
				block = "database"
			}
			a.errorf(codeSwapCoverage, stackAddress, fmt.Sprintf("%s %s of stack %s is not in the spec", r.Type, id, sw.name),
				"envmig observes, copies and verifies only what the spec names; the stack's other data would be deleted with the original stack.",
				fmt.Sprintf("Add %s %q { logical_id = %q }.", block, strings.ToLower(id), id))
			ok = false
		}
	}
	if !ok {
		return nil
	}
	// Is there anything to do?
	newDigest := live.TemplateDigest(tp.Body)
	if newDigest != sw.live.TemplateDigest {
		sw.reasons = append(sw.reasons, fmt.Sprintf("the stack runs another template than %s", tp.File))
	}
	want := maps.Clone(sw.params)
	want[sw.envParam] = sw.name
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if have, ok := sw.live.Parameters[k]; (!ok && want[k] != tpl.Parameters[k].Default) || (ok && have != want[k] && have != stack.MaskedValue) {
			sw.reasons = append(sw.reasons, fmt.Sprintf("parameter %s: %s -> %s", k, show(sw.live.Parameters[k]), show(want[k])))
		}
	}
	sw.changed = len(sw.reasons) > 0
	if sw.changed {
		reviewInPlace(sw, tpl, want, noEcho, obs)
	}
	if sw.changed && !sw.inPlace {
		sw.reasons = append(sw.reasons, replacedByUpdate(sw, finalEv)...)
		for _, k := range noEcho {
			a.warnf(codeSwapTemplate, stackAddress, fmt.Sprintf("NoEcho parameter %s takes the template's default in the new stacks", k),
				"CloudFormation never shows a NoEcho value, so envmig cannot carry it over into a new stack.",
				fmt.Sprintf("Give it in template { parameters = { %s = ... } } (from a variable), or accept its default.", k))
		}
	}
	if sw.changed && sw.db != nil && sw.db.original == "" {
		a.errorf(codeSwapCoverage, stackAddress, fmt.Sprintf("stack %s has no database %s to snapshot", sw.name, sw.db.logicalID),
			"The new template restores its database from a snapshot of the original's.", "Check the stack and the template's logical IDs.")
		return nil
	}
	return sw
}

// evalInputs are the inputs a new stack named name is created with.
func evalInputs(sw *swap, obs *live.Observed, name, snapshot string) stack.Inputs {
	p := maps.Clone(sw.params)
	p[sw.envParam] = name
	p[sw.snapParam] = snapshot
	return stack.Inputs{StackName: name, Parameters: p, Region: obs.Region, AccountID: obs.Identity.Account, Partition: "aws"}
}

// stackParams are the parameters the stack name is created with.
func (sw *swap) stackParams(name, snapshot string) map[string]string {
	p := maps.Clone(sw.params)
	p[sw.envParam] = name
	p[sw.snapParam] = snapshot
	return p
}

// markSwap marks every database and bucket the stack holds as migrated.
func markSwap(sw *swap, dbs []dbPlan, buckets []bucketPlan) {
	why := "strategy stack-swap builds stack " + sw.name + " again from " + sw.file + " (see the stack's reasons); the data moves by snapshot and copy"
	for i := range dbs {
		dbs[i].res.Action = plan.ActionMigrate
		dbs[i].res.Reasons = []string{why}
		dbs[i].res.Changes = nil
	}
	for i := range buckets {
		buckets[i].res.Action = plan.ActionMigrate
		buckets[i].res.Reasons = []string{why}
		buckets[i].res.Changes = nil
	}
}

// swapSteps are the steps of a stack-swap: the origin's double clone,
// done by CloudFormation.
func (b *builder) swapSteps(sw *swap, dbs []dbPlan, buckets []bucketPlan, services []serviceTarget, switches []switchTarget) []plan.Step {
	level := b.env.Migration.Verify.Objects
	b.add(plan.PhasePrepare, plan.Step{
		ID: "preflight", Action: plan.Preflight, Params: plan.PreflightParams{},
		Description: fmt.Sprintf("Check the caller is in an allowed account and region %s, and that nothing changed since the plan", b.region),
	})
	var standbyIDs, groups []string
	for _, s := range services {
		id := "group.standby." + s.cfg.Name
		standbyIDs = append(standbyIDs, id)
		groups = append(groups, s.group)
		b.add(plan.PhasePrepare, plan.Step{
			ID: id, Action: plan.GroupStandby, Resource: s.address,
			Description: fmt.Sprintf("Take %s out of service: suspend its scaling processes (instance refresh included), move every InService instance to Standby", s.group),
			Undo:        "Move the instances back to InService and restore the group's sizes and processes",
			Params:      plan.GroupStandbyParams{Group: s.group},
		})
		b.standby = true
	}
	for _, s := range switches {
		b.switchOff(s)
		b.standby = true
	}
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

// swapRequest adds what a stack-swap plan reads: the stack in full and the
// temporary stack's name.
func swapRequest(env *config.Environment, req *live.Request) {
	if env.Stack == "" {
		return
	}
	req.StackInfo = append(req.StackInfo, env.Stack)
	if env.Migration.Strategy == config.StrategyStackSwap {
		req.StackInfo = append(req.StackInfo, SwapTemporaryStack(env))
	}
}

// stackInfoObservation records what the planner reads of a stack read in
// full: its ID, status, template digest, parameters and persistent
// resources (outputs in Info, not compared). The temporary stack's name is
// recorded as a presence.
func stackInfoObservation(address, name string, info *live.StackInfo) plan.Observation {
	o := plan.Observation{Address: address, Kind: plan.KindStack, ID: name}
	if info == nil || !info.Exists {
		return o
	}
	o.Exists = true
	o.Attrs = map[string]string{"envmig_run": info.RunTag()}
	if address == stackTemporaryAddress {
		return o
	}
	o.Attrs["stack_id"] = info.ID
	o.Attrs["status"] = info.Status
	o.Attrs["template_digest"] = info.TemplateDigest
	for k, v := range info.Parameters {
		o.Attrs["param."+k] = v
	}
	for k, r := range info.Resources {
		if r.Type == cfnDBInstance || r.Type == cfnBucket || r.Type == cfnGroup {
			o.Attrs["resource."+k] = r.Type + " " + r.PhysicalID
		}
	}
	for id, props := range info.DBProperties {
		for k, v := range props {
			o.Attrs["db."+id+"."+k] = v
		}
	}
	o.Info = map[string]string{}
	for k, v := range info.Outputs {
		o.Info["output."+k] = v
	}
	if info.Template != "" {
		o.Info["template"] = info.Template
	}
	return o
}

// replayStackInfo is stackInfoObservation's inverse.
func replayStackInfo(o plan.Observation) *live.StackInfo {
	info := &live.StackInfo{Name: o.ID, Exists: o.Exists}
	if !o.Exists {
		return info
	}
	info.Tags = map[string]string{}
	if r := o.Attrs["envmig_run"]; r != "" {
		info.Tags["envmig:run"] = r
	}
	info.ID, info.Status, info.TemplateDigest = o.Attrs["stack_id"], o.Attrs["status"], o.Attrs["template_digest"]
	info.Parameters = map[string]string{}
	info.Resources = map[string]live.StackResourceInfo{}
	info.Outputs = map[string]string{}
	for k, v := range o.Attrs {
		if p, ok := strings.CutPrefix(k, "param."); ok {
			info.Parameters[p] = v
		}
		if rest, ok := strings.CutPrefix(k, "db."); ok {
			id, prop, _ := strings.Cut(rest, ".")
			if info.DBProperties == nil {
				info.DBProperties = map[string]map[string]string{}
			}
			if info.DBProperties[id] == nil {
				info.DBProperties[id] = map[string]string{}
			}
			info.DBProperties[id][prop] = v
		}
		if id, ok := strings.CutPrefix(k, "resource."); ok {
			typ, phys, _ := strings.Cut(v, " ")
			info.Resources[id] = live.StackResourceInfo{StackResource: live.StackResource{LogicalID: id, Type: typ, PhysicalID: phys}}
		}
	}
	for k, v := range o.Info {
		if out, ok := strings.CutPrefix(k, "output."); ok {
			info.Outputs[out] = v
		}
	}
	info.Template = o.Info["template"]
	return info
}

// stackInfoObservations are the observations of the stacks read in full.
func stackInfoObservations(env *config.Environment, obs *live.Observed) []plan.Observation {
	if env.Stack == "" || obs.Stacks == nil {
		return nil
	}
	var out []plan.Observation
	if info, ok := obs.Stacks[env.Stack]; ok {
		out = append(out, stackInfoObservation(stackInfoAddress, env.Stack, info))
	}
	if env.Migration.Strategy == config.StrategyStackSwap {
		temp := SwapTemporaryStack(env)
		if info, ok := obs.Stacks[temp]; ok {
			out = append(out, stackInfoObservation(stackTemporaryAddress, temp, info))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
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

// replacedByUpdate says which of the stack's database properties the new
// template changes in a way that an update would replace the database (by
// envmig's table): why the plan rebuilds the stack rather than update it.
// It compares what the stack's template says (live.StackInfo.DBProperties)
// with the new template evaluated for the stack's own name.
func replacedByUpdate(sw *swap, next *stack.Evaluated) []string {
	if sw.db == nil {
		return nil
	}
	have, ok := sw.live.DBProperties[sw.db.logicalID]
	if !ok {
		return nil
	}
	var out []string
	props := next.Resources[sw.db.logicalID].Props
	for _, k := range live.DBProperties {
		n, set := props[k]
		now := ""
		if set {
			now = stack.Render(n)
		}
		was, wasSet := have[k]
		if now == was || (!set && !wasSet) {
			continue
		}
		var old any
		if wasSet {
			old = was
		}
		if r, why := stack.Replaces(stack.TypeDBInstance, k, old, n, nil, props); r {
			out = append(out, fmt.Sprintf("%s %s: %s -> %s would replace the database in a stack update (%s)", sw.db.logicalID, k, show(was), show(now), why))
		}
	}
	return out
}

// reviewInPlace decides whether the stack may be updated in place: when
// envmig's own review of the update (stack.ReviewUpdate, by its table of
// the properties that force replacement, whatever a change set's preview
// says) replaces or removes no database or bucket and keeps the snapshot
// the database was restored from. The update keeps the snapshot
// parameter's value and the NoEcho parameters' (UsePrevious).
func reviewInPlace(sw *swap, next *stack.Template, want map[string]string, noEcho []string, obs *live.Observed) {
	if sw.live.Template == "" {
		return
	}
	liveTpl, err := stack.Parse([]byte(sw.live.Template))
	if err != nil {
		return
	}
	params := maps.Clone(want)
	params[sw.snapParam] = sw.live.Parameters[sw.snapParam]
	for _, k := range noEcho {
		params[k] = stack.MaskedValue
	}
	in := func(p map[string]string) stack.Inputs {
		return stack.Inputs{StackName: sw.name, Parameters: p, Region: obs.Region, AccountID: obs.Identity.Account, Partition: "aws"}
	}
	r, err := stack.ReviewUpdate(stack.Side{Template: liveTpl, Inputs: in(sw.live.Parameters)}, stack.Side{Template: next, Inputs: in(params)})
	if err != nil || r.Err() != nil {
		return
	}
	sw.inPlace, sw.usePrevious = true, noEcho
	for _, k := range noEcho {
		delete(params, k)
	}
	sw.nextParams = params
	for _, c := range r.Resources {
		for _, pc := range c.InPlace {
			sw.reasons = append(sw.reasons, fmt.Sprintf("%s %s: %s -> %s, updated in place (%s)", c.LogicalID, pc.Property, pc.Old, pc.New, pc.Rule))
		}
	}
	sw.reasons = append(sw.reasons, "no database or bucket is replaced (envmig's table): the stack is updated in place through a reviewed change set")
}

// stackUpdateSteps are the steps of an in-place update of the stack: the
// change set is created and shown before the point of no return, and
// executed after it, in standby.
func (b *builder) stackUpdateSteps(sw *swap, dbs []dbPlan, services []serviceTarget, switches []switchTarget) []plan.Step {
	b.add(plan.PhasePrepare, plan.Step{
		ID: "preflight", Action: plan.Preflight, Params: plan.PreflightParams{},
		Description: fmt.Sprintf("Check the caller is in an allowed account and region %s, and that nothing changed since the plan", b.region),
	})
	var standbyIDs, groups []string
	for _, s := range services {
		id := "group.standby." + s.cfg.Name
		standbyIDs = append(standbyIDs, id)
		groups = append(groups, s.group)
		b.add(plan.PhasePrepare, plan.Step{
			ID: id, Action: plan.GroupStandby, Resource: s.address,
			Description: fmt.Sprintf("Take %s out of service: suspend its scaling processes (instance refresh included), move every InService instance to Standby", s.group),
			Undo:        "Move the instances back to InService and restore the group's sizes and processes",
			Params:      plan.GroupStandbyParams{Group: s.group},
		})
		b.standby = true
	}
	for _, s := range switches {
		b.switchOff(s)
		b.standby = true
	}
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
