package planner

import (
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// builder turns decisions into ordered steps.
type builder struct {
	lineage  string
	env      *config.Environment
	region   string
	strategy string

	prepare, commit []plan.Step
	leftovers       []plan.Leftover
	standby         bool // appending inside the standby window
	// switchedOff is set once a switch that verify.frozen can observe
	// (not a command) is turned off.
	switchedOff bool
	// switches are the observed switches, by address.
	switches map[string]*live.Switch
}

func (b *builder) add(phase plan.Phase, s plan.Step) {
	s.Phase = phase
	s.InStandby = b.standby
	if phase == plan.PhasePrepare {
		b.prepare = append(b.prepare, s)
	} else {
		b.commit = append(b.commit, s)
	}
}

func (b *builder) keep(kind, id, region, why string, with ...func(*plan.Leftover)) {
	l := plan.Leftover{Kind: kind, ID: id, Region: region, Why: why, Run: b.lineage}
	for _, f := range with {
		f(&l)
	}
	b.leftovers = append(b.leftovers, l)
}

// preflight adds a run's first step.
func (b *builder) preflight() {
	b.add(plan.PhasePrepare, plan.Step{
		ID: "preflight", Action: plan.Preflight, Params: plan.PreflightParams{},
		Description: fmt.Sprintf("Check the caller is in an allowed account and region %s, and that nothing changed since the plan", b.region),
	})
}

// standbyAll adds the standby's steps: the groups first (no user reaches
// the data), then every other writer. It returns the groups' standby step
// IDs and names.
func (b *builder) standbyAll(services []serviceTarget, switches []switchTarget) (standbyIDs, groups []string) {
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
	// A switch's stop time is inside the window (its writer may still
	// write until it has stopped), so the estimate counts it even when no
	// group opened the window.
	for _, sw := range switches {
		b.standby = true
		b.switchOff(sw)
		b.switchedOff = b.switchedOff || sw.cfg.Kind != config.SwitchCommand
	}
	return standbyIDs, groups
}

func (b *builder) steps(dbs []dbPlan, buckets []bucketPlan, services []serviceTarget, switches []switchTarget, copies []bucketCopy, migrate bool) []plan.Step {
	b.preflight()
	var migrating []dbPlan
	if !migrate {
		copies, services, switches = nil, nil, nil
	}
	for _, d := range dbs {
		if migrate && d.res.Action == plan.ActionMigrate {
			migrating = append(migrating, d)
		}
	}
	for _, c := range copies {
		b.prepareCopy(c)
	}
	// The standby: the groups first (no user reaches the data), then every
	// other writer.
	standbyIDs, _ := b.standbyAll(services, switches)
	// The deltas first: they record the originals' manifests as close to
	// the start of the standby as possible, and every later check compares
	// the originals with them.
	for _, c := range copies {
		b.standbyCopy(c)
	}
	for _, d := range migrating {
		b.cloneDatabase(d)
	}
	for _, c := range copies {
		b.verifyCopy(c)
	}
	for _, d := range migrating {
		b.verifyDatabase(plan.PhasePrepare, d, d.t.temp, "clone", false)
	}
	if migrate {
		b.verifyFrozen(dbs, copies, services, standbyIDs)
		b.userChecks(migrating, copies)
	}
	gp := plan.GateParams{Environment: b.env.Name}
	if migrate {
		gp.Recheck = "verify.frozen"
	}
	gate := plan.Step{
		ID: "gate", Phase: plan.PhaseGate, Action: plan.Gate, InStandby: b.standby,
		Description: "Point of no return: confirm, then check once more that nothing changed the originals; from here the originals change and the run can only roll forward",
		Params:      gp,
	}
	for _, d := range migrating {
		b.swapDatabase(d)
	}
	var tail []func()
	for _, c := range copies {
		tail = append(tail, b.commitCopy(c))
	}
	b.inPlace(dbs, buckets, migrate)
	for i, s := range services {
		b.add(plan.PhaseCommit, plan.Step{
			ID: "group.resume." + s.cfg.Name, Action: plan.GroupResume, Resource: s.address,
			Description: fmt.Sprintf("Put %s back in service: scaling processes resumed first, instances to InService, sizes as they were, then wait until every instance is healthy in its load balancers", s.group),
			Params:      plan.GroupResumeParams{Group: s.group, StandbyStep: standbyIDs[i]},
		})
	}
	for _, sw := range switches {
		b.switchOn(sw)
	}
	b.standby = false
	for _, d := range migrating {
		if b.strategy == config.StrategyCloneSwap {
			b.add(plan.PhaseCommit, plan.Step{
				ID: "db.delete." + d.t.cfg.Name + ".clone", Action: plan.DBDelete, Resource: d.t.address,
				Description: fmt.Sprintf("Delete the clone %s: its data now lives in %s", d.t.temp, d.t.id),
				Params:      plan.DBDeleteParams{Identifier: d.t.temp},
				Removes:     []string{d.t.temp},
			})
		}
	}
	for _, f := range tail {
		f()
	}
	out := append(b.prepare, gate)
	return append(out, b.commit...)
}

// restoreParams are the parameters of a restore of d.
func restoreParams(d dbPlan, snapshot, identifier string, deletionProtection bool, tags map[string]string) plan.DBRestoreParams {
	set := func(k string) string {
		if v := d.settings[k]; !defaultGroup(k, v) {
			return v
		}
		return ""
	}
	flag := func(k string) *bool {
		if v, err := strconv.ParseBool(d.settings[k]); err == nil {
			return &v
		}
		return nil
	}
	s := plan.DBSettings{
		InstanceClass: set("instance_class"), DBSubnetGroup: set("db_subnet_group"),
		ParameterGroup: set("parameter_group"), OptionGroup: set("option_group"),
		MultiAZ: flag("multi_az"), PubliclyAccessible: flag("publicly_accessible"),
		StorageType: set("storage_type"),
	}
	if port, err := strconv.ParseInt(d.settings["port"], 10, 32); err == nil && port > 0 {
		s.Port = int32(port)
	}
	if g := d.settings["vpc_security_group_ids"]; g != "" {
		s.VPCSecurityGroupIDs = strings.Split(g, ",")
	}
	if d.settings["engine"] != d.live.Engine {
		s.Engine = d.settings["engine"]
	}
	return plan.DBRestoreParams{Snapshot: snapshot, Identifier: identifier, Settings: s, DeletionProtection: deletionProtection, Tags: maps.Clone(tags)}
}

// tempRestoreParams are the parameters of the restore into the temporary
// instance. Before a major upgrade the snapshot is of the old version, so
// it is restored with the live groups; the upgrade's modification moves
// them to the new family.
func tempRestoreParams(d dbPlan, snapshot string) plan.DBRestoreParams {
	p := restoreParams(d, snapshot, d.t.temp, false, d.tags)
	if d.upgrade != nil {
		p.Settings.ParameterGroup, p.Settings.OptionGroup = "", ""
		if !defaultGroup("parameter_group", d.live.ParameterGroup) {
			p.Settings.ParameterGroup = d.live.ParameterGroup
		}
		if !defaultGroup("option_group", d.live.OptionGroup) {
			p.Settings.OptionGroup = d.live.OptionGroup
		}
	}
	return p
}

// dbChange turns setting name → value into the typed change.
func dbChange(m map[string]string) plan.DBChange {
	c := plan.DBChange{EngineVersion: m["engine_version"], InstanceClass: m["instance_class"], ParameterGroup: m["parameter_group"]}
	if n, err := strconv.ParseInt(m["allocated_storage"], 10, 64); err == nil {
		c.AllocatedStorage = n
	}
	if v, err := strconv.ParseBool(m["multi_az"]); err == nil {
		c.MultiAZ = &v
	}
	if v, err := strconv.ParseBool(m["deletion_protection"]); err == nil {
		c.DeletionProtection = &v
	}
	return c
}

// defaultGroup reports an RDS default parameter or option group: a restore
// gets it without naming it, and naming it fails where it is implicit.
func defaultGroup(key, value string) bool {
	return (key == "option_group" || key == "parameter_group") && strings.HasPrefix(value, "default")
}

func (b *builder) cloneDatabase(d dbPlan) {
	name := d.t.cfg.Name
	snap := snapshotID(b.lineage, name, "")
	b.add(plan.PhasePrepare, plan.Step{
		ID: "db.snapshot." + name, Action: plan.DBSnapshot, Resource: d.t.address,
		Description: fmt.Sprintf("Snapshot %s as %s", d.t.id, snap),
		Undo:        "Delete the snapshot",
		Params:      plan.DBSnapshotParams{Identifier: d.t.id, Snapshot: snap},
		Creates:     []string{snap},
	})
	b.keep(plan.LeftoverDBSnapshot, snap, "", "the state of "+d.t.id+" before the migration")
	source := snap
	if d.encryptKey != "" {
		enc := snapshotID(b.lineage, name, "enc")
		key := d.encryptKey
		keyText := "key " + key
		if key == "default" {
			key, keyText = "", "the account's default RDS key"
		}
		b.add(plan.PhasePrepare, plan.Step{
			ID: "db.copy-snapshot." + name, Action: plan.DBCopySnapshot, Resource: d.t.address,
			Description: fmt.Sprintf("Copy %s to %s, encrypted with %s", snap, enc, keyText),
			Undo:        "Delete the encrypted copy",
			Params:      plan.DBCopySnapshotParams{Source: snap, Snapshot: enc, KMSKeyID: key},
			Creates:     []string{enc},
		})
		b.keep(plan.LeftoverDBSnapshot, enc, "", "the encrypted copy the clone was restored from")
		source = enc
	}
	b.add(plan.PhasePrepare, plan.Step{
		ID: "db.restore." + name, Action: plan.DBRestore, Resource: d.t.address,
		Description: fmt.Sprintf("Restore %s from %s as %s", d.t.temp, source, describeSettings(d)),
		Undo:        "Delete " + d.t.temp + " (no final snapshot: it is a copy)",
		Params:      tempRestoreParams(d, source),
		Creates:     []string{d.t.temp},
	})
	if len(d.modify) > 0 {
		b.add(plan.PhasePrepare, plan.Step{
			ID: "db.modify." + name, Action: plan.DBModify, Resource: d.t.address,
			Description: fmt.Sprintf("Modify the clone %s: %s", d.t.temp, kv(d.modify)),
			Params:      plan.DBModifyParams{Identifier: d.t.temp, Change: dbChange(d.modify)},
		})
	}
}

func describeSettings(d dbPlan) string {
	s := d.settings["instance_class"]
	if d.settings["storage_encrypted"] == "true" {
		s += ", encrypted"
	}
	return s
}

func (b *builder) verifyDatabase(phase plan.Phase, d dbPlan, identifier, which string, final bool) {
	flag := func(k string) *bool {
		if v, err := strconv.ParseBool(d.settings[k]); err == nil {
			return &v
		}
		return nil
	}
	e := plan.DBExpect{
		Engine: d.settings["engine"], InstanceClass: d.settings["instance_class"], StorageEncrypted: flag("storage_encrypted"),
		MultiAZ: flag("multi_az"), DBSubnetGroup: d.settings["db_subnet_group"], ParameterGroup: d.settings["parameter_group"],
	}
	if d.settings["storage_encrypted"] == "true" && d.encryptKey != "" && d.encryptKey != "default" {
		e.KMSKeyID = d.encryptKey
	}
	if d.modify["engine_version"] != "" || final {
		e.EngineVersion = d.settings["engine_version"]
	}
	if final {
		e.AllocatedStorage, _ = strconv.ParseInt(d.settings["allocated_storage"], 10, 64)
		e.DeletionProtection = flag("deletion_protection")
	}
	b.add(phase, plan.Step{
		ID: "verify.database." + d.t.cfg.Name + "." + which, Action: plan.VerifyDatabase, Resource: d.t.address,
		Description: fmt.Sprintf("Verify %s is available with the desired settings", identifier),
		Params:      plan.VerifyDatabaseParams{Identifier: identifier, Expect: e, Tags: maps.Clone(d.tags)},
	})
}

func (b *builder) verifyFrozen(dbs []dbPlan, copies []bucketCopy, services []serviceTarget, standbyIDs []string) {
	var groups, ids []string
	var buckets []plan.BucketGuard
	for _, s := range services {
		groups = append(groups, s.group)
	}
	for _, d := range dbs {
		if d.live != nil && d.live.Exists {
			ids = append(ids, d.t.id)
		}
	}
	for _, c := range copies {
		buckets = append(buckets, c.guard(b.env.Migration.Verify.Objects))
	}
	desc := "Verify nothing changed the originals during the standby: no instance back in service, no database setting changed, every copied bucket still as its manifest (objects, versions, deletes)"
	if b.switchedOff {
		desc += ", no switched-off writer back on"
	}
	b.add(plan.PhasePrepare, plan.Step{
		ID: "verify.frozen", Action: plan.VerifyFrozen,
		Description: desc,
		Params:      plan.VerifyFrozenParams{Groups: groups, Databases: ids, Buckets: buckets, StandbySteps: standbyIDs},
	})
}

// userChecks adds the spec's verify probes, run against the clone; the
// clone's names are passed to commands in ENVMIG_* variables.
func (b *builder) userChecks(migrating []dbPlan, copies []bucketCopy) {
	env := map[string]string{}
	for _, d := range migrating {
		env["ENVMIG_DATABASE_"+envName(d.t.cfg.Name)] = d.t.temp
	}
	for _, c := range copies {
		env["ENVMIG_BUCKET_"+envName(c.bp.t.cfg.Name)] = c.to
	}
	for _, h := range b.env.Migration.Verify.HTTP {
		b.add(plan.PhasePrepare, plan.Step{
			ID: "verify.http." + h.Name, Action: plan.VerifyHTTP,
			Description: fmt.Sprintf("Probe %s, expect HTTP %d", h.URL, h.Status),
			Params:      plan.VerifyHTTPParams{URL: h.URL, Status: h.Status, Timeout: h.Timeout},
		})
	}
	for _, c := range b.env.Migration.Verify.Commands {
		b.add(plan.PhasePrepare, plan.Step{
			ID: "verify.command." + c.Name, Action: plan.VerifyCommand,
			Description: fmt.Sprintf("Run check %q against the clone", c.Name),
			Params:      plan.VerifyCommandParams{Run: c.Run, Env: maps.Clone(env)},
		})
	}
}

func envName(s string) string {
	return strings.ToUpper(nonSnapshotChars.ReplaceAllString(strings.ToLower(s), "_"))
}

func (b *builder) swapDatabase(d dbPlan) {
	name := d.t.cfg.Name
	if b.strategy == config.StrategyCloneSwap {
		final := snapshotID(b.lineage, name, "final")
		clone := snapshotID(b.lineage, name, "clone")
		b.add(plan.PhaseCommit, plan.Step{
			ID: "db.delete." + name, Action: plan.DBDelete, Resource: d.t.address,
			Description: fmt.Sprintf("Delete the original %s, keeping a final snapshot %s", d.t.id, final),
			Params:      plan.DBDeleteParams{Identifier: d.t.id, FinalSnapshot: final},
			Creates:     []string{final}, Removes: []string{d.t.id},
		})
		b.keep(plan.LeftoverDBSnapshot, final, "", "the final snapshot of the original "+d.t.id)
		b.add(plan.PhaseCommit, plan.Step{
			ID: "db.snapshot." + name + ".clone", Action: plan.DBSnapshot, Resource: d.t.address,
			Description: fmt.Sprintf("Snapshot the verified clone %s as %s", d.t.temp, clone),
			Params:      plan.DBSnapshotParams{Identifier: d.t.temp, Snapshot: clone},
			Creates:     []string{clone},
		})
		b.keep(plan.LeftoverDBSnapshot, clone, "", "the verified clone's snapshot "+d.t.id+" was restored from")
		dp, _ := strconv.ParseBool(d.settings["deletion_protection"])
		b.add(plan.PhaseCommit, plan.Step{
			ID: "db.restore." + name + ".original", Action: plan.DBRestore, Resource: d.t.address,
			Description: fmt.Sprintf("Restore %s from %s", d.t.id, clone),
			Params:      restoreParams(d, clone, d.t.id, dp, d.tags),
			Creates:     []string{d.t.id},
		})
	} else {
		b.add(plan.PhaseCommit, plan.Step{
			ID: "db.rename." + name + ".retire", Action: plan.DBRename, Resource: d.t.address,
			Description: fmt.Sprintf("Rename the original %s aside to %s", d.t.id, d.t.retired),
			Params:      plan.DBRenameParams{From: d.t.id, To: d.t.retired, RetiredBy: b.lineage},
			Removes:     []string{d.t.id}, Creates: []string{d.t.retired},
		})
		b.keep(plan.LeftoverDBInstance, d.t.retired, "", "the original "+d.t.id+", kept as the fastest way back", func(l *plan.Leftover) {
			l.Attrs = retiredSettings(d)
		})
		b.add(plan.PhaseCommit, plan.Step{
			ID: "db.rename." + name + ".swap", Action: plan.DBRename, Resource: d.t.address,
			Description: fmt.Sprintf("Rename the verified clone %s to %s", d.t.temp, d.t.id),
			Params:      plan.DBRenameParams{From: d.t.temp, To: d.t.id},
			Removes:     []string{d.t.temp}, Creates: []string{d.t.id},
		})
		if d.settings["deletion_protection"] == "true" {
			b.add(plan.PhaseCommit, plan.Step{
				ID: "db.update." + name + ".protect", Action: plan.DBUpdate, Resource: d.t.address,
				Description: fmt.Sprintf("Turn deletion protection on for %s", d.t.id),
				Params:      plan.DBUpdateParams{Identifier: d.t.id, Change: plan.DBChange{DeletionProtection: plan.Ptr(true)}},
			})
		}
	}
	b.verifyDatabase(plan.PhaseCommit, d, d.t.id, "final", true)
}

// inPlace adds the updates that need no clone: databases and buckets that
// do not migrate, and buckets to create.
func (b *builder) inPlace(dbs []dbPlan, buckets []bucketPlan, migrate bool) {
	for _, d := range dbs {
		if d.res.Action != plan.ActionUpdate {
			continue
		}
		p := plan.DBUpdateParams{Identifier: d.t.id, Change: dbChange(d.update)}
		if d.updateTags {
			p.Tags = plan.Ptr(maps.Clone(d.tags))
			if *p.Tags == nil {
				*p.Tags = map[string]string{}
			}
		}
		b.add(plan.PhaseCommit, plan.Step{
			ID: "db.update." + d.t.cfg.Name, Action: plan.DBUpdate, Resource: d.t.address,
			Description: fmt.Sprintf("Update %s in place: %s", d.t.id, kvTags(d.update, d.updateTags)),
			Params:      p,
		})
	}
	for _, bp := range buckets {
		switch {
		case bp.create:
			b.add(plan.PhaseCommit, plan.Step{
				ID: "bucket.create." + bp.t.cfg.Name, Action: plan.BucketCreate, Resource: bp.t.address,
				Description: fmt.Sprintf("Create bucket %s in %s", bp.t.name, bp.region),
				Params:      plan.BucketCreateParams{Bucket: bp.t.name, Region: bp.region, Versioning: b.versioning(bp, false), Tags: maps.Clone(bp.tags)},
				Creates:     []string{bp.t.name},
			})
		case bp.update && !bp.regions:
			p := plan.BucketUpdateParams{Bucket: bp.t.name, Region: bp.region}
			if v, err := strconv.ParseBool(bp.versioning); err == nil {
				p.Versioning = &v
			}
			if bp.t.cfg.Tags != nil {
				p.Tags = plan.Ptr(maps.Clone(bp.t.cfg.Tags))
			}
			b.add(plan.PhaseCommit, plan.Step{
				ID: "bucket.update." + bp.t.cfg.Name, Action: plan.BucketUpdate, Resource: bp.t.address,
				Description: fmt.Sprintf("Update %s in place: %s", bp.t.name, changeList(bp.res.Changes)),
				Params:      p,
			})
		}
	}
}

func kv(m map[string]string) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + " = " + m[k]
	}
	return strings.Join(parts, ", ")
}

func kvTags(m map[string]string, tags bool) string {
	s := kv(m)
	if tags {
		if s != "" {
			s += ", "
		}
		s += "tags"
	}
	return s
}

func changeList(cs []plan.Change) string {
	seen := map[string]bool{}
	var parts []string
	for _, c := range cs {
		a := c.Attribute
		if strings.HasPrefix(a, "tags.") {
			a = "tags"
		}
		if !seen[a] {
			seen[a] = true
			parts = append(parts, a)
		}
	}
	return strings.Join(parts, ", ")
}

// retiredSettings are the settings of an original retired by a rename, as
// the plan observed them: cleanup keeps it when they changed since (someone
// uses it).
func retiredSettings(d dbPlan) map[string]string {
	attrs := dbObservation("", d.t.id, d.live).Attrs
	out := map[string]string{}
	for _, k := range RetiredKeys {
		out[k] = attrs[k]
	}
	return out
}

// RetiredKeys are the settings of a retired database that cleanup compares.
var RetiredKeys = []string{"engine_version", "instance_class", "allocated_storage", "storage_encrypted", "multi_az", "parameter_group", "db_subnet_group", "vpc_security_group_ids", "port"}
