package planner

import (
	"fmt"
	"maps"
	"regexp"
	"sort"
	"strconv"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// CloneTagKey marks everything `envmig clone` creates with what it is a
// clone of.
const CloneTagKey = "envmig:clone-of"

var cloneNameRE = regexp.MustCompile(`^[a-z][a-z0-9]*(-[a-z0-9]+)*$`)

// ValidCloneName reports whether name can suffix both DB identifiers and
// bucket names.
func ValidCloneName(name string) error {
	if len(name) == 0 || len(name) > 20 || !cloneNameRE.MatchString(name) {
		return fmt.Errorf("clone name %q: use 1–20 lowercase letters, digits and single hyphens, starting with a letter", name)
	}
	return nil
}

// CheckCloneName refuses a name for a new clone of env that is invalid, or
// whose copies would take the names env's migrations reserve for their own
// temporaries (`-to envmig` with the default suffix: <id>-envmig, and the
// retired <id>-envmig-old): a migration would find its names taken, and a
// recovery would take the clone for a run's temporary.
func CheckCloneName(env *config.Environment, name string) error {
	if err := ValidCloneName(name); err != nil {
		return err
	}
	suffix := config.TemporaryName("", env.Migration)
	for _, reserved := range []string{suffix, suffix + config.RetiredSuffix} {
		if "-"+name == reserved {
			return fmt.Errorf("clone name %q: its copies would be named <name>%s, as environment %q's migrations name their temporary copies (temporary_suffix %q): choose another name", name, reserved, env.Name, suffix)
		}
	}
	return nil
}

// CloneJournal is the journal of env's clone name: its making and its
// destroy run there, beside env's own ("production.clone-exp1").
func CloneJournal(env, name string) string { return env + cloneJournalInfix + name }

const cloneJournalInfix = ".clone-"

// cloneNames are the names `clone -to NAME` gives an environment's copies.
func cloneDBName(id, name string) string         { return id + "-" + name }
func cloneBucketName(bucket, name string) string { return bucket + "-" + name }

// CloneRequest lists what a clone plan must observe: the originals and the
// names their copies would take.
func CloneRequest(cfg *config.Config, env *config.Environment, stack map[string]live.StackResource, stackFound bool, name string) live.Request {
	t := resolve(env, stack, stackFound)
	req := live.Request{Stack: env.Stack, CountObjects: true, AllowedAccountIDs: cfg.AWS.AllowedAccountIDs, Region: cfg.AWS.Region}
	for _, d := range t.dbs {
		req.Databases = append(req.Databases, d.id, cloneDBName(d.id, name))
	}
	for _, b := range t.buckets {
		req.Buckets = append(req.Buckets, b.source, cloneBucketName(b.source, name))
	}
	req.Databases, req.Buckets = uniq(req.Databases), uniq(req.Buckets)
	return req
}

// Clone plans a copy of env for experiments or analysis: each database
// restored from a fresh snapshot as <identifier>-<name>, each bucket copied
// to <bucket>-<name>, everything tagged envmig:clone-of. The originals are
// only read; the environment stays in service. Every step is a prepare
// step, so a failure removes the partial clone; the gate comes last.
func Clone(cfg *config.Config, env *config.Environment, obs *live.Observed, name string, opts Options) (*plan.Plan, error) {
	t, p, err := clonePlan(cfg, env, obs, name, "clone", opts)
	if err != nil {
		return nil, err
	}
	a := &analyzer{diags: t.diags}
	b := &builder{lineage: opts.Lineage, env: env, region: obs.Region}
	b.add(plan.PhasePrepare, plan.Step{ID: "preflight", Action: plan.Preflight, Params: plan.PreflightParams{},
		Description: fmt.Sprintf("Check the caller is in an allowed account and region %s", obs.Region)})
	// asOf is the snapshot whose moment the clone is of: its versioned
	// buckets are copied as they were then.
	asOf, asOfDB := "", ""
	for _, d := range t.dbs {
		l := obs.Databases[d.id]
		p.Observations = append(p.Observations, dbObservation(d.address, d.id, l))
		target := cloneDBName(d.id, name)
		p.Observations = append(p.Observations, presence(d.address+auxClone, plan.KindDatabase, target, dbOwner(obs.Databases[target])))
		if l == nil || !l.Exists {
			a.errorf("EM101", d.address, fmt.Sprintf("database %s does not exist", d.id), "There is nothing to clone.", "Check the identifier, the account and the region.")
			continue
		}
		if len(target) > 63 {
			a.errorf("EM122", d.address, fmt.Sprintf("the clone's identifier %s is longer than 63 characters", target), "", "Choose a shorter clone name.")
		}
		if x := obs.Databases[target]; x != nil && x.Exists {
			a.errorf("EM122", d.address, fmt.Sprintf("%s already exists", target), "A clone never overwrites anything.", "Choose another clone name, or delete the old clone.")
		}
		dp := diffDatabase(dbTarget{cfg: &config.Database{Name: d.cfg.Name}, address: d.address, id: d.id}, l, nil)
		tags := maps.Clone(dp.tags)
		tags[CloneTagKey] = d.id
		snap := snapshotID(opts.Lineage, d.cfg.Name, "")
		if asOf == "" {
			asOf, asOfDB = "db.snapshot."+d.cfg.Name, d.id
		}
		b.add(plan.PhasePrepare, plan.Step{ID: "db.snapshot." + d.cfg.Name, Action: plan.DBSnapshot, Resource: d.address,
			Description: fmt.Sprintf("Snapshot %s as %s", d.id, snap), Undo: "Delete the snapshot",
			Params: plan.DBSnapshotParams{Identifier: d.id, Snapshot: snap}, Creates: []string{snap}})
		b.add(plan.PhasePrepare, plan.Step{ID: "db.restore." + d.cfg.Name, Action: plan.DBRestore, Resource: d.address,
			Description: fmt.Sprintf("Restore %s from %s, with a master password of its own (RDS-managed, in Secrets Manager), not publicly accessible", target, snap), Undo: "Delete " + target,
			Params: cloneRestoreParams(dp, snap, target, tags), Creates: []string{target}})
		b.add(plan.PhasePrepare, plan.Step{ID: "db.delete-snapshot." + d.cfg.Name, Action: plan.DBDeleteSnapshot, Resource: d.address,
			Description: fmt.Sprintf("Delete %s: the clone no longer needs it", snap), Params: plan.DBDeleteSnapshotParams{Snapshot: snap}})
		p.Resources = append(p.Resources, plan.Resource{Address: d.address, Kind: plan.KindDatabase, Name: d.cfg.Name, ID: target, Action: plan.ActionCreate,
			Changes: []plan.Change{{Attribute: "clone_of", Before: "(none)", After: d.id}}})
	}
	for _, bt := range t.buckets {
		// A bucket whose objects have not moved yet is cloned from where
		// they are.
		origin := bt.source
		l := obs.Buckets[origin]
		p.Observations = append(p.Observations, bucketObservation(bt.address, origin, l))
		target := cloneBucketName(origin, name)
		p.Observations = append(p.Observations, presence(bt.address+auxClone, plan.KindBucket, target, bucketOwner(obs.Buckets[target])))
		if l == nil || !l.Exists {
			a.errorf("EM103", bt.address, fmt.Sprintf("bucket %s does not exist", origin), "There is nothing to clone.", "Check the bucket name, the account and the region.")
			continue
		}
		if len(target) > 63 {
			a.errorf("EM122", bt.address, fmt.Sprintf("the clone's bucket name %s is longer than 63 characters", target), "", "Choose a shorter clone name.")
		}
		if x := obs.Buckets[target]; x != nil && x.Exists {
			a.errorf("EM122", bt.address, fmt.Sprintf("bucket %s already exists", target), "A clone never overwrites anything.", "Choose another clone name, or delete the old clone.")
		}
		tags := userTags(l.Tags)
		tags[CloneTagKey] = origin
		bp := bucketPlan{t: bucketTarget{cfg: bt.cfg, address: bt.address, name: target}, src: l, tags: tags, region: l.Region,
			versioning: strconv.FormatBool(l.Versioning == "Enabled")}
		settings, diags := BucketSettings(SettingsMove{Kind: MoveClone, Address: bt.address, Source: l, Target: target, Region: l.Region})
		a.add(diags...)
		c := bucketCopy{bp: bp, from: origin, to: target, toSettings: settings}
		b.createFor(c)
		level := env.Migration.Verify.Objects
		copyP := plan.BucketCopyParams{Source: origin, Destination: target, Mode: plan.CopyPrecopy}
		verifyP := plan.VerifyBucketParams{Source: origin, Destination: target, Objects: level}
		switch {
		case l.Versioning == "Enabled" && asOf != "":
			copyP.AsOfStep, verifyP.AsOfStep = asOf, asOf
		case l.Versioning != "Enabled":
			// An unversioned bucket keeps no past: the clone is of the
			// moment the copy listed each object, and is verified as that.
			copyP.Manifest, verifyP.FromManifest = true, true
			if asOf != "" {
				a.warnf("EM124", bt.address, fmt.Sprintf("bucket %s is copied as it is at the copy, not as of the snapshot of %s", origin, asOfDB),
					"An unversioned bucket keeps no past: objects written or deleted between the snapshot and the copy make the clone's bucket and database disagree.",
					"Enable versioning on the bucket for clones consistent to one moment, or accept the difference for experiments.")
			}
		}
		// A versioned bucket's clone reads the versions current at the
		// snapshot, some of them noncurrent now.
		a.archived(bt.address, origin, l, l.Versioning == "Enabled" && asOf != "")
		b.copyStep(plan.PhasePrepare, c, copyP)
		b.verifyStep(plan.PhasePrepare, c, "clone", verifyP)
		b.configureIn(plan.PhasePrepare, c, target, l.Region, settings, "")
		p.Resources = append(p.Resources, plan.Resource{Address: bt.address, Kind: plan.KindBucket, Name: bt.cfg.Name, ID: target, Action: plan.ActionCreate,
			Changes: []plan.Change{{Attribute: "clone_of", Before: "(none)", After: origin}}})
	}
	for _, d := range t.dbs {
		if l := obs.Databases[d.id]; l != nil && l.Exists {
			dp := diffDatabase(dbTarget{cfg: &config.Database{Name: d.cfg.Name}, address: d.address, id: d.id}, l, nil)
			b.verifyDatabase(plan.PhasePrepare, dp, cloneDBName(d.id, name), "clone", false)
		}
	}
	sort.Slice(p.Observations, func(i, j int) bool { return p.Observations[i].Address < p.Observations[j].Address })
	p.Diagnostics = sortDiagnostics(a.diags)
	if len(p.Resources) == 0 && len(p.Errors()) == 0 {
		a.errorf("EM103", "", fmt.Sprintf("environment %q has no database or bucket to clone", env.Name), "", "")
		p.Diagnostics = sortDiagnostics(a.diags)
	}
	if len(p.Errors()) == 0 {
		p.Steps = append(b.prepare, plan.Step{ID: "gate", Phase: plan.PhaseGate, Action: plan.Gate,
			Description: "Done: the clone is complete and verified", Params: plan.GateParams{Environment: p.Environment}})
	}
	newEstimator(p.Observations).run(p)
	plan.Seal(p)
	return p, nil
}

// StrategyCloneDestroy is the strategy of a plan that removes a clone.
const StrategyCloneDestroy = plan.StrategyCloneDestroy

// cloneObservation records whether a clone's resource exists and the tags
// that make it the clone's: the run that made it and what it is a clone of.
func cloneObservation(address string, kind plan.Kind, id string, tags map[string]string, region string, exists bool) plan.Observation {
	o := plan.Observation{Address: address + auxClone, Kind: kind, ID: id, Exists: exists}
	if exists {
		o.Attrs = map[string]string{"envmig_run": tags["envmig:run"], "envmig_clone_of": tags[CloneTagKey]}
		if region != "" {
			o.Attrs["region"] = region
		}
	}
	return o
}

// CloneDestroy plans the removal of the clone NAME of env: exactly the
// databases <identifier>-NAME and buckets <bucket>-NAME that carry
// envmig:clone-of naming their original, deleted after the gate without
// final snapshots (a bucket with every version). A resource under a
// clone's name that lacks the tag is refused (EM123), never deleted.
func CloneDestroy(cfg *config.Config, env *config.Environment, obs *live.Observed, name string, opts Options) (*plan.Plan, error) {
	t, p, err := clonePlan(cfg, env, obs, name, StrategyCloneDestroy, opts)
	if err != nil {
		return nil, err
	}
	a := &analyzer{diags: t.diags}
	b := &builder{lineage: opts.Lineage, env: env, region: obs.Region}
	refuse := func(address, what, id, origin string) {
		a.errorf("EM123", address, fmt.Sprintf("%s %s is not a clone of %s", what, id, origin),
			fmt.Sprintf("It has the clone's name but not the tag %s=%s that `envmig clone` puts on what it creates: envmig deletes only what it can prove is the clone's.", CloneTagKey, origin),
			"Delete it yourself if it is yours to delete.")
	}
	for _, d := range t.dbs {
		target := cloneDBName(d.id, name)
		l := obs.Databases[target]
		exists := l != nil && l.Exists
		var tags map[string]string
		if exists {
			tags = l.Tags
		}
		p.Observations = append(p.Observations, cloneObservation(d.address, plan.KindDatabase, target, tags, "", exists))
		if !exists {
			continue
		}
		if tags[CloneTagKey] != d.id {
			refuse(d.address, "database", target, d.id)
			continue
		}
		b.add(plan.PhaseCommit, plan.Step{ID: "db.delete." + d.cfg.Name, Action: plan.DBDelete, Resource: d.address,
			Description: fmt.Sprintf("Delete the clone's database %s (a copy of %s; no final snapshot)", target, d.id),
			Params:      plan.DBDeleteParams{Identifier: target, CloneOf: d.id}, Removes: []string{target}})
		p.Resources = append(p.Resources, plan.Resource{Address: d.address, Kind: plan.KindDatabase, Name: d.cfg.Name, ID: target, Action: plan.ActionDelete})
	}
	for _, bt := range t.buckets {
		target := cloneBucketName(bt.source, name)
		l := obs.Buckets[target]
		exists := l != nil && l.Exists
		var tags map[string]string
		region := ""
		if exists {
			tags, region = l.Tags, l.Region
		}
		p.Observations = append(p.Observations, cloneObservation(bt.address, plan.KindBucket, target, tags, region, exists))
		if !exists {
			continue
		}
		if tags[CloneTagKey] != bt.source {
			refuse(bt.address, "bucket", target, bt.source)
			continue
		}
		b.add(plan.PhaseCommit, plan.Step{ID: "bucket.delete." + bt.cfg.Name, Action: plan.BucketDelete, Resource: bt.address,
			Description: fmt.Sprintf("Empty and delete the clone's bucket %s (a copy of %s; every object and version in it)", target, bt.source),
			Params:      plan.BucketDeleteParams{Bucket: target, Region: l.Region}, Removes: []string{target}})
		p.Resources = append(p.Resources, plan.Resource{Address: bt.address, Kind: plan.KindBucket, Name: bt.cfg.Name, ID: target, Action: plan.ActionDelete})
	}
	sort.Slice(p.Observations, func(i, j int) bool { return p.Observations[i].Address < p.Observations[j].Address })
	p.Diagnostics = sortDiagnostics(a.diags)
	if len(p.Errors()) == 0 && len(b.commit) > 0 {
		p.Steps = append([]plan.Step{{ID: "preflight", Phase: plan.PhasePrepare, Action: plan.Preflight, Params: plan.PreflightParams{},
			Description: fmt.Sprintf("Check the caller is in an allowed account and region %s", obs.Region)},
			{ID: "gate", Phase: plan.PhaseGate, Action: plan.Gate, Params: plan.GateParams{Environment: p.Environment},
				Description: fmt.Sprintf("Confirm: what follows deletes the clone %q for good", name)}}, b.commit...)
	}
	newEstimator(p.Observations).run(p)
	plan.Seal(p)
	return p, nil
}

// CloneOriginals lists the databases and buckets a clone of env copies, by
// their physical names (those named by a stack's logical ID are left out:
// they need the stack read).
func CloneOriginals(env *config.Environment) (dbs, buckets []string) {
	t := resolve(env, nil, false)
	for _, d := range t.dbs {
		if d.id != "" {
			dbs = append(dbs, d.id)
		}
	}
	for _, b := range t.buckets {
		if b.source != "" {
			buckets = append(buckets, b.source)
		}
	}
	return dbs, buckets
}

// cloneRestoreParams restores a clone's database with a password of its
// own: RDS generates it and keeps it in Secrets Manager (the instance's
// MasterUserSecret), so an experiment never holds production's password.
// It is never publicly accessible, whatever the original is: a copy made
// for experiments must not expose production's data by accident.
func cloneRestoreParams(dp dbPlan, snapshot, target string, tags map[string]string) plan.DBRestoreParams {
	p := restoreParams(dp, snapshot, target, false, tags)
	p.ManagedPassword = true
	private := false
	p.Settings.PubliclyAccessible = &private
	return p
}

// clonePlan resolves env's resources and starts the plan of an operation
// on its clone NAME, recorded in the clone's own journal.
func clonePlan(cfg *config.Config, env *config.Environment, obs *live.Observed, name, strategy string, opts Options) (targets, *plan.Plan, error) {
	if err := ValidCloneName(name); err != nil {
		return targets{}, nil, err
	}
	p := &plan.Plan{
		Lineage: opts.Lineage, CreatedAt: opts.Now.UTC(), Tool: opts.Tool,
		Environment: CloneJournal(env.Name, name), Account: obs.Identity.Account, Region: obs.Region,
		Strategy: strategy, ConfigDigest: cfg.Digest,
	}
	return resolve(env, obs.StackResources, obs.StackFound), p, nil
}
