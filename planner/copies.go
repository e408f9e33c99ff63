package planner

import (
	"fmt"
	"maps"
	"strings"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/plan"
)

// bucketCopy is one bucket a migration copies, and how.
type bucketCopy struct {
	bp   bucketPlan
	from string // the bucket holding the objects (the original)
	to   string // the bucket the prepare phase fills
	// back is true when the commit phase copies `to` back into the
	// original name (clone-swap, region move).
	back bool
	// history: every version and delete marker is copied, in order (a
	// versioned bucket recreated under a new name or region).
	history bool
	// toSettings are the settings `to` receives (a temporary: only what
	// protects the data); finalSettings those the bucket re-created under
	// the original's name in another region receives.
	toSettings, finalSettings []CarriedSetting
}

// recreates reports whether the copy ends with the original's objects in
// a bucket other than the original (its history must then be copied).
func (c bucketCopy) recreates() bool { return c.bp.move || c.bp.regions }

// guard is the copy's guard of its original.
func (c bucketCopy) guard(level string) plan.BucketGuard {
	return plan.BucketGuard{
		Bucket: c.from, Region: c.bp.src.Region, Manifest: plan.ManifestName(c.from),
		Copy: c.to, CopyRegion: c.bp.region, History: c.history, Objects: level,
	}
}

// bucketCopies picks the buckets a migration copies — moved buckets,
// region moves, and under clone-swap every existing bucket — and what of
// them is carried: their history, their settings.
func (b *builder) bucketCopies(buckets []bucketPlan, a *analyzer) []bucketCopy {
	var out []bucketCopy
	for _, bp := range buckets {
		var c bucketCopy
		switch {
		case bp.move:
			c = bucketCopy{bp: bp, from: bp.t.source, to: bp.t.name}
		case bp.regions:
			c = bucketCopy{bp: bp, from: bp.t.name, to: bp.t.temp, back: true}
		case b.strategy == config.StrategyCloneSwap && bp.live != nil && bp.live.Exists:
			c = bucketCopy{bp: bp, from: bp.t.name, to: bp.t.temp, back: true}
		default:
			continue
		}
		c.history = c.recreates() && bp.src.Versioning != "" && !bp.t.cfg.DiscardNoncurrentVersions
		specTags := bp.t.cfg.Tags != nil
		var diags []plan.Diagnostic
		if bp.move {
			c.toSettings, diags = BucketSettings(SettingsMove{Kind: MoveNewName, Address: bp.t.address, Source: bp.src, Target: c.to, Region: bp.region, SpecTags: specTags})
		} else {
			c.toSettings, diags = BucketSettings(SettingsMove{Kind: MoveTemporary, Address: bp.t.address, Source: bp.src, Target: c.to, Region: bp.region})
			if bp.regions {
				var more []plan.Diagnostic
				c.finalSettings, more = BucketSettings(SettingsMove{Kind: MoveRecreate, Address: bp.t.address, Source: bp.src, Target: bp.t.name, Region: bp.region, SpecTags: specTags})
				diags = append(diags, more...)
			}
		}
		if a != nil {
			a.add(diags...)
		}
		out = append(out, c)
	}
	return out
}

// carry is the plan's settings carry from src into a bucket.
func carry(src string, settings []CarriedSetting, temporary bool, capturedBy string) *plan.SettingsCarry {
	return &plan.SettingsCarry{Source: src, Expected: CarriedDigests(settings), Temporary: temporary, CapturedBy: capturedBy}
}

// carriedList says which settings a bucket receives, for the plan's text.
func carriedList(settings []CarriedSetting) string {
	var parts []string
	for _, s := range settings {
		if !s.Shown() {
			continue
		}
		p := s.Summary
		if p == "" {
			p = s.Setting
		}
		if s.Note != "" {
			p += " (" + s.Note + ")"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, "; ")
}

// createFor adds the step creating a copy's destination.
func (b *builder) createFor(c bucketCopy) {
	bp := c.bp
	s := plan.Step{
		ID: "bucket.create." + bp.t.cfg.Name, Action: plan.BucketCreate, Resource: bp.t.address,
		Description: fmt.Sprintf("Create bucket %s in %s", c.to, bp.region),
		Undo:        fmt.Sprintf("Empty and delete %s (only if this run created it)", c.to),
		Creates:     []string{c.to},
	}
	p := plan.BucketCreateParams{Bucket: c.to, Region: bp.region, Versioning: b.versioning(bp, c.history), Tags: maps.Clone(bp.tags)}
	if c.to == bp.t.temp {
		s.ID += ".temporary"
		s.Description += ": envmig's working copy, with the original's encryption and all public access blocked"
		p.Settings = carry(c.from, c.toSettings, true, "")
	} else {
		p.Settings = carry(c.from, c.toSettings, false, "")
		if l := carriedList(atCreate(c.toSettings)); l != "" {
			s.Description += ", carrying " + l
		}
	}
	if c.history {
		s.Description += "; versioned, to receive the history of " + c.from
	}
	s.Params = p
	b.add(plan.PhasePrepare, s)
}

// versioning is whether a bucket the plan creates for bp is versioned: as
// the spec says, else as the bucket it takes the place of; a history copy
// needs it.
func (b *builder) versioning(bp bucketPlan, history bool) bool {
	switch {
	case history:
		return true
	case bp.versioning != "":
		return bp.versioning == "true"
	case bp.src != nil:
		return bp.src.Versioning == "Enabled"
	}
	return false
}

func atCreate(s []CarriedSetting) []CarriedSetting {
	var out []CarriedSetting
	for _, c := range s {
		if c.Phase == PhaseAtCreate {
			out = append(out, c)
		}
	}
	return out
}

func afterCopy(s []CarriedSetting) []CarriedSetting {
	var out []CarriedSetting
	for _, c := range s {
		if c.Phase != PhaseAtCreate {
			out = append(out, c)
		}
	}
	return out
}

// copyStep adds a bucket.copy step.
func (b *builder) copyStep(phase plan.Phase, c bucketCopy, p plan.BucketCopyParams) string {
	what := map[plan.CopyMode]string{
		plan.CopyPrecopy: "Pre-copy %s to %s while the environment is live",
		plan.CopyDelta:   "Copy what changed in %s since the pre-copy to %s, and record the manifest of %[1]s: the state the freeze checks compare it with",
		plan.CopyFinal:   "Copy %s back to %s",
	}[p.Mode]
	desc := fmt.Sprintf(what, p.Source, p.Destination)
	if p.Mode == plan.CopyPrecopy && p.Manifest {
		// A clone's copy: nothing is live or frozen about it.
		desc = fmt.Sprintf("Copy %s to %s, recording the manifest of what it lists: the state the copy is verified against", p.Source, p.Destination)
	}
	if p.AsOfStep != "" {
		desc = fmt.Sprintf("Copy %s to %s as it was at the snapshot of %s: each key's version current then (newer versions are not read)", p.Source, p.Destination, strings.TrimPrefix(p.AsOfStep, "db.snapshot."))
	}
	if p.History {
		desc += " (every version and delete marker, oldest first; version IDs change)"
	}
	if p.Guard != nil {
		desc += "; first check " + p.Destination + " still matches its manifest, and never overwrite, delete or re-create an object that changed since (it is kept and named)"
	}
	id := "bucket.copy." + c.bp.t.cfg.Name + "." + string(p.Mode)
	b.add(phase, plan.Step{ID: id, Action: plan.BucketCopy, Resource: c.bp.t.address, Description: desc, Params: p})
	return id
}

func (b *builder) verifyStep(phase plan.Phase, c bucketCopy, which string, p plan.VerifyBucketParams) {
	desc := fmt.Sprintf("Verify %s against %s by manifest (%s)", p.Destination, p.Source, p.Objects)
	if p.History {
		desc = fmt.Sprintf("Verify %s holds the history of %s, version by version (%s)", p.Destination, p.Source, p.Objects)
	}
	if p.AsOfStep != "" {
		desc = fmt.Sprintf("Verify %s against %s as of the snapshot's time (%s)", p.Destination, p.Source, p.Objects)
	}
	if p.FromManifest {
		desc = fmt.Sprintf("Verify %s against %s as its copy listed it, by manifest (%s)", p.Destination, p.Source, p.Objects)
	}
	b.add(phase, plan.Step{
		ID: "verify.bucket." + c.bp.t.cfg.Name + "." + which, Action: plan.VerifyBucket, Resource: c.bp.t.address,
		Description: desc, Params: p,
	})
}

// prepareCopy adds a copy's steps before the standby: its destination and
// the pre-copy while the environment is live.
func (b *builder) prepareCopy(c bucketCopy) {
	b.createFor(c)
	b.copyStep(plan.PhasePrepare, c, plan.BucketCopyParams{Source: c.from, Destination: c.to, Mode: plan.CopyPrecopy, History: c.history})
}

// standbyCopy adds a copy's steps in the standby: the delta, which records
// the original's manifest.
func (b *builder) standbyCopy(c bucketCopy) {
	b.copyStep(plan.PhasePrepare, c, plan.BucketCopyParams{Source: c.from, Destination: c.to, Mode: plan.CopyDelta, History: c.history, Manifest: true})
}

// verifyCopy adds the verification of a copy before the point of no
// return; a difference caused by the original changing since its manifest
// is reported as a freeze that did not hold.
func (b *builder) verifyCopy(c bucketCopy) {
	level := b.env.Migration.Verify.Objects
	g := c.guard(level)
	b.verifyStep(plan.PhasePrepare, c, "clone", plan.VerifyBucketParams{Source: c.from, Destination: c.to, Objects: level, History: c.history, Guard: &g})
	if c.bp.regions {
		name := c.bp.t.cfg.Name
		b.add(plan.PhasePrepare, plan.Step{
			ID: "bucket.capture." + name, Action: plan.BucketCapture, Resource: c.bp.t.address,
			Description: fmt.Sprintf("Record the settings of %s, checked against the plan, for the bucket re-created under its name", c.from),
			Params:      plan.BucketCaptureParams{Bucket: c.from, Region: c.bp.src.Region, Settings: *carry(c.from, c.finalSettings, false, "")},
		})
	}
}

// commitCopy adds a copy's steps after the point of no return, and returns
// what ends it (after the services are back): the temporary's removal, or
// the leftover kept.
func (b *builder) commitCopy(c bucketCopy) func() {
	bp := c.bp
	level := b.env.Migration.Verify.Objects
	g := c.guard(level)
	name := bp.t.cfg.Name
	switch {
	case bp.move:
		b.configure(c, c.to, bp.region, c.toSettings, "")
		b.keep(plan.LeftoverBucket, c.from, bp.src.Region, "the bucket the objects moved from", func(l *plan.Leftover) {
			l.Manifest = plan.ManifestName(c.from)
		})
		return func() {}
	case bp.regions:
		why := "so its name can move to " + bp.region
		if bp.live.Region == bp.region {
			why = "so it can be re-created under its name (-replace)"
		}
		b.add(plan.PhaseCommit, plan.Step{
			ID: "bucket.delete." + name, Action: plan.BucketDelete, Resource: bp.t.address,
			Description: fmt.Sprintf("Empty and delete %s in %s %s: first check it still matches its manifest, then delete exactly what the manifest lists (its objects and history are verified in %s); anything written since is kept and the step stops",
				bp.t.name, bp.live.Region, why, c.to),
			Params:  plan.BucketDeleteParams{Bucket: bp.t.name, Region: bp.live.Region, Guard: &g},
			Removes: []string{bp.t.name},
		})
		versioning := b.versioning(bp, c.history)
		s := plan.Step{
			ID: "bucket.create." + name + ".recreate", Action: plan.BucketCreate, Resource: bp.t.address,
			Description: fmt.Sprintf("Re-create bucket %s in %s", bp.t.name, bp.region),
			Params: plan.BucketCreateParams{Bucket: bp.t.name, Region: bp.region, Versioning: versioning, Tags: maps.Clone(bp.tags),
				Settings: carry(c.from, c.finalSettings, false, "bucket.capture."+name)},
			Creates: []string{bp.t.name},
		}
		if l := carriedList(atCreate(c.finalSettings)); l != "" {
			s.Description += ", carrying " + l
		}
		b.add(plan.PhaseCommit, s)
		b.copyStep(plan.PhaseCommit, c, plan.BucketCopyParams{Source: c.to, Destination: bp.t.name, Mode: plan.CopyFinal, History: c.history})
		b.verifyStep(plan.PhaseCommit, c, "final", plan.VerifyBucketParams{Source: c.to, Destination: bp.t.name, Objects: level, History: c.history})
		b.configure(c, bp.t.name, bp.region, c.finalSettings, "bucket.capture."+name)
		return func() {
			b.keep(plan.LeftoverBucket, c.to, bp.region, "the verified copy of "+bp.t.name+", kept as a way back")
		}
	default: // clone-swap: the original keeps its name and its history
		copyID := b.copyStep(plan.PhaseCommit, c, plan.BucketCopyParams{Source: c.to, Destination: bp.t.name, Mode: plan.CopyFinal, Guard: &g})
		b.verifyStep(plan.PhaseCommit, c, "final", plan.VerifyBucketParams{Source: c.to, Destination: bp.t.name, Objects: level, AllowKept: copyID})
		return func() {
			b.add(plan.PhaseCommit, plan.Step{
				ID: "bucket.delete." + name + ".temporary", Action: plan.BucketDelete, Resource: bp.t.address,
				Description: fmt.Sprintf("Empty and delete the clone %s: its objects are back in %s", c.to, bp.t.name),
				Params:      plan.BucketDeleteParams{Bucket: c.to, Region: bp.region},
				Removes:     []string{c.to},
			})
		}
	}
}

// configure adds the step applying, once dst's copy is verified, the
// settings that act on objects or users.
func (b *builder) configure(c bucketCopy, dst, region string, settings []CarriedSetting, capturedBy string) {
	b.configureIn(plan.PhaseCommit, c, dst, region, settings, capturedBy)
}

func (b *builder) configureIn(phase plan.Phase, c bucketCopy, dst, region string, settings []CarriedSetting, capturedBy string) {
	after := afterCopy(settings)
	if len(after) == 0 {
		return
	}
	desc := fmt.Sprintf("Configure %s as %s was", dst, c.from)
	if l := carriedList(after); l != "" {
		desc += ": " + l
	} else {
		desc += " (it has none of the settings applied after a copy; their absence is checked)"
	}
	b.add(phase, plan.Step{
		ID: "bucket.configure." + c.bp.t.cfg.Name, Action: plan.BucketConfigure, Resource: c.bp.t.address,
		Description: desc,
		Params:      plan.BucketConfigureParams{Bucket: dst, Region: region, Settings: *carry(c.from, settings, false, capturedBy)},
	})
}
