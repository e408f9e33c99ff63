package planner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// Diagnostic codes. They are stable: scripts and docs refer to them.
//
//	EM100 a logical ID cannot be resolved           error
//	EM101 a database does not exist                  error
//	EM102 an Auto Scaling group does not exist       error
//	EM103 neither moved_from nor name exists         error
//	EM104 moved_from and name both exist             error
//	EM110 deletion protection blocks retiring        error
//	EM111 storage would shrink                       warning
//	EM112 encryption cannot be removed               error
//	EM113 engine change across families              error
//	EM114 engine version downgrade                   error
//	EM115 database not available                     warning
//	EM116 major upgrade needs a group of the new version error
//	EM120 temporary name taken                       error
//	EM121 retired name taken                         error
//	EM130 KMS key unreadable or disabled             error
//	EM140 object lock on a bucket to be emptied      error
//	EM141 conditional policy on a bucket to copy     warning
//	EM142 (retired: superseded by EM160–EM169)
//	EM143 listing capped: estimates are lower bounds warning
//	EM144 moved_from already done                    warning
//	EM145 versions would be lost                     error
//	EM146 history copied, version IDs change         warning
//	EM147 archived objects a copy cannot read        warning
//	EM150 MinSize lowered during standby             warning
//	EM151 Standby in batches of 20                   warning
//	EM152 no instance in service                     warning
//	EM153 nothing switches the environment off       warning
//	EM154 database writes are invisible to envmig    warning
//	EM155 a run switched it off and never put it back error
//	EM160–EM169 bucket settings (bucketsettings.go)
//	EM180 (retired: stack-swap is supported)
//	EM181 a template unfit for stack-swap            error (NoEcho: warning)
//	EM182 the stack is missing or not complete       error
//	EM183 the temporary stack name is taken          error
//	EM184 the spec or the template leaves data out   error
//	EM185 a change behind the stack's back           error
//	EM186 a logical ID resolves to a retired original error
//	EM190 a switch's resource does not exist         error
//	EM191 a switch is already off                    warning
type analyzer struct {
	diags []plan.Diagnostic
}

func (a *analyzer) add(d ...plan.Diagnostic) { a.diags = append(a.diags, d...) }

func (a *analyzer) errorf(code, resource, summary, detail, fix string) {
	a.diags = append(a.diags, plan.Diagnostic{Severity: plan.SeverityError, Code: code, Resource: resource, Summary: summary, Detail: detail, Fix: fix})
}

func (a *analyzer) warnf(code, resource, summary, detail, fix string) {
	a.diags = append(a.diags, plan.Diagnostic{Severity: plan.SeverityWarning, Code: code, Resource: resource, Summary: summary, Detail: detail, Fix: fix})
}

func (a *analyzer) databases(dbs []dbPlan, obs *live.Observed, strategy string, migrate bool) {
	for _, d := range dbs {
		if d.live == nil || !d.live.Exists {
			a.errorf("EM101", d.t.address, fmt.Sprintf("database %s does not exist", d.t.id),
				"envmig migrates existing databases; it does not create them.",
				"Check the identifier, the account and the region, or create the database with your provisioning tool first.")
			continue
		}
		c := d.t.cfg
		if c.StorageEncrypted != nil && !*c.StorageEncrypted && d.live.StorageEncrypted {
			a.errorf("EM112", d.t.address, fmt.Sprintf("%s is encrypted and RDS cannot remove encryption", d.t.id),
				"A snapshot of an encrypted instance can only be restored encrypted.",
				"Remove storage_encrypted = false, or move the data with a logical dump (pg_dump, mysqldump).")
		}
		if c.Engine != "" && c.Engine != d.live.Engine && engineFamily(c.Engine) != engineFamily(d.live.Engine) {
			a.errorf("EM113", d.t.address, fmt.Sprintf("engine %s cannot become %s through a snapshot", d.live.Engine, c.Engine),
				"envmig moves a database's data by snapshot and restore, which keeps its engine family.",
				"Move the data with a logical dump or AWS DMS, then point the spec at the new instance.")
		}
		if c.EngineVersion != "" && versionLess(c.EngineVersion, d.live.EngineVersion) {
			a.errorf("EM114", d.t.address, fmt.Sprintf("engine_version %s is older than the live %s", c.EngineVersion, d.live.EngineVersion),
				"RDS cannot downgrade an engine, not even on a restored copy.",
				fmt.Sprintf("Set engine_version = %q or newer.", d.live.EngineVersion))
		}
		if u := d.upgrade; u != nil && u.needParameter != "" {
			a.errorf("EM116", d.t.address, fmt.Sprintf("the upgrade to %s %s needs a parameter group of family %s", d.live.Engine, c.EngineVersion, u.family),
				fmt.Sprintf("%s uses the custom parameter group %s, of the old version's family; RDS refuses a major upgrade that keeps it.", d.t.id, u.needParameter),
				fmt.Sprintf("Create a DB parameter group of family %s with the settings of %s, and set parameter_group = \"<its name>\" on this database.", u.family, u.needParameter))
		}
		if u := d.upgrade; u != nil && u.needOption != "" {
			a.errorf("EM116", d.t.address, fmt.Sprintf("the upgrade to %s %s needs an option group for %s", d.live.Engine, c.EngineVersion, u.optionVersion),
				fmt.Sprintf("%s uses the custom option group %s, made for the old major version; RDS refuses a major upgrade that keeps it, and envmig does not choose option groups.", d.t.id, u.needOption),
				fmt.Sprintf("Create an option group for %s with the options of %s, and upgrade the live instance onto it; or move the instance to the default option group first.", u.optionVersion, u.needOption))
		}
		if c.AllocatedStorage != nil && *c.AllocatedStorage < d.live.AllocatedStorage {
			a.warnf("EM111", d.t.address, fmt.Sprintf("allocated_storage would shrink from %d to %d GiB", d.live.AllocatedStorage, *c.AllocatedStorage),
				"AWS restores a snapshot with at least its original storage; the clone's modify step may be refused by RDS.",
				"Keep allocated_storage at least at the live size, or move the data with a logical dump.")
		}
		if d.live.Status != "" && d.live.Status != "available" {
			a.warnf("EM115", d.t.address, fmt.Sprintf("%s is %s, not available", d.t.id, d.live.Status),
				"Snapshots and modifications wait for the instance to be available.", "Plan again once it is available.")
		}
		if c.KMSKeyID != "" {
			k := obs.KMSKeys[c.KMSKeyID]
			switch {
			case k == nil || !k.Readable:
				why := "it could not be read"
				if k != nil && k.Error != "" {
					why = k.Error
				}
				a.errorf("EM130", d.t.address, fmt.Sprintf("KMS key %s cannot be used: %s", c.KMSKeyID, why),
					"The snapshot copy and the restore need kms:DescribeKey, kms:CreateGrant and kms:Decrypt on the key.",
					"Check the key ID or alias and the key policy, and that the key is in this region.")
			case !k.Enabled:
				a.errorf("EM130", d.t.address, fmt.Sprintf("KMS key %s is disabled", c.KMSKeyID), "", "Enable the key or choose another one.")
			}
		}
		if d.res.Action != plan.ActionMigrate && !(migrate && strategy == config.StrategyCloneSwap) {
			continue
		}
		if strategy == config.StrategyCloneSwap && d.live.DeletionProtection {
			a.errorf("EM110", d.t.address, fmt.Sprintf("deletion protection is on for %s, which clone-swap must delete", d.t.id),
				"envmig never turns deletion protection off on an original by itself.",
				fmt.Sprintf("Use strategy = \"rename-swap\" (which renames instead of deleting), or turn deletion protection off for %s yourself and plan again.", d.t.id))
		}
		a.nameTaken("EM120", d.t.address, "temporary", d.t.temp, obs.Databases[d.t.temp] != nil && obs.Databases[d.t.temp].Exists, runOf(obs.Databases[d.t.temp]))
		if strategy == config.StrategyRenameSwap {
			a.nameTaken("EM121", d.t.address, "retired", d.t.retired, obs.Databases[d.t.retired] != nil && obs.Databases[d.t.retired].Exists, runOf(obs.Databases[d.t.retired]))
		}
	}
}

func runOf(d *live.Database) string {
	if d == nil {
		return ""
	}
	return d.RunTag()
}

func (a *analyzer) nameTaken(code, address, role, name string, exists bool, run string) {
	if !exists {
		return
	}
	if run != "" {
		a.errorf(code, address, fmt.Sprintf("the %s name %s is held by what envmig run %s left", role, name, run),
			"A run's leftovers are removed by envmig cleanup.",
			fmt.Sprintf("Run `envmig cleanup` where that run's journal is (without it, `envmig recover` first: it hands the run's leftovers to cleanup), or delete %s; then plan again.", name))
		return
	}
	a.errorf(code, address, fmt.Sprintf("the %s name %s is taken by a resource envmig does not own", role, name),
		"envmig will not reuse or delete a resource it did not create.",
		"Choose another migration { temporary_suffix = ... }, or rename that resource.")
}

func (a *analyzer) buckets(bps []bucketPlan, copies []bucketCopy, obs *live.Observed) {
	copied := map[string]bucketCopy{}
	for _, c := range copies {
		copied[c.bp.t.address] = c
	}
	for _, bp := range bps {
		addr := bp.t.address
		if bp.t.source != bp.t.name && !bp.move && !bp.done {
			src, dst := obs.Buckets[bp.t.source], obs.Buckets[bp.t.name]
			if (src == nil || !src.Exists) && (dst == nil || !dst.Exists) {
				a.errorf("EM103", addr, fmt.Sprintf("neither %s (moved_from) nor %s exists", bp.t.source, bp.t.name),
					"There are no objects to move.", "Check both bucket names, the account and the region.")
			} else {
				a.errorf("EM104", addr, fmt.Sprintf("both %s and %s exist", bp.t.source, bp.t.name),
					fmt.Sprintf("envmig moves objects only into a bucket it creates; %s exists and is not a run's.", bp.t.name),
					"Empty and delete the destination, or remove moved_from if the move is done.")
			}
			continue
		}
		if bp.done {
			a.warnf("EM144", addr, fmt.Sprintf("%s was already moved to %s", bp.t.source, bp.t.name),
				"moved_from has no effect any more.", "Remove moved_from from the spec.")
		}
		c, ok := copied[addr]
		if !ok {
			continue
		}
		src := obs.Buckets[c.from]
		if src == nil {
			continue
		}
		if src.ObjectLock && bp.regions {
			a.errorf("EM140", addr, fmt.Sprintf("%s has object lock and would have to be emptied and deleted", c.from),
				"Moving a bucket to another region under the same name deletes the original, which object lock forbids.",
				"Move the objects to a new name with moved_from instead.")
		}
		a.history(c)
		a.archived(addr, c.from, src, c.history)
		if src.PolicyHasConditions {
			a.warnf("EM141", addr, fmt.Sprintf("the bucket policy of %s has conditions", c.from),
				"A policy with conditions (source IP, VPC endpoint, TLS) can deny the copy's own requests.",
				"Check the policy allows this caller, or run envmig where the policy's conditions hold.")
		}
		if src.Truncated {
			a.warnf("EM143", addr, fmt.Sprintf("%s has more objects than the planner lists", c.from),
				"The object counts and the copy estimate are lower bounds.", "")
		}
		if c.to != bp.t.name {
			tmp := obs.Buckets[c.to]
			if tmp != nil && tmp.Exists {
				a.nameTaken("EM120", addr, "temporary", c.to, true, tmp.RunTag())
			}
		}
	}
}

func (a *analyzer) services(svcs []serviceTarget, obs *live.Observed, migrate bool) {
	for _, s := range svcs {
		g := obs.Groups[s.group]
		if g == nil || !g.Exists {
			a.errorf("EM102", s.address, fmt.Sprintf("Auto Scaling group %s does not exist", s.group),
				"The service block names the group whose instances go to Standby during the migration.",
				"Check the group name, the account and the region.")
			continue
		}
		if g.StandbyRun != "" {
			a.orphan(s.address, "Auto Scaling group "+s.group, g.StandbyRun)
			continue
		}
		if !migrate {
			continue
		}
		n := int32(g.InService())
		if n == 0 {
			a.warnf("EM152", s.address, fmt.Sprintf("%s has no instance in service", s.group),
				"There is nothing to switch off; the environment may already be unavailable.", "")
			continue
		}
		if g.DesiredCapacity-n < g.MinSize {
			a.warnf("EM150", s.address, fmt.Sprintf("MinSize %d of %s is lowered to %d during the standby", g.MinSize, s.group, g.DesiredCapacity-n),
				"AWS refuses to move instances to Standby when the desired capacity would drop below MinSize.",
				"Nothing to do: MinSize is restored exactly when the group leaves standby.")
		}
		if n > 20 {
			a.warnf("EM151", s.address, fmt.Sprintf("%s has %d instances in service", s.group, n),
				"EnterStandby takes at most 20 instances per call; envmig moves them in batches.", "")
		}
	}
}

func engineFamily(engine string) string {
	for _, f := range []string{"oracle", "sqlserver", "aurora"} {
		if strings.HasPrefix(engine, f) {
			return f
		}
	}
	return engine
}

// archived warns that src's copy will meet objects (and, when it copies
// the history, noncurrent versions) in an archive storage class: S3
// refuses to copy one that is not restored, and a listing does not say
// which are. The copy then fails and, before the point of no return, the
// run rolls back.
func (a *analyzer) archived(addr, from string, src *live.Bucket, history bool) {
	if src == nil {
		return
	}
	var versions int64
	if history {
		versions = src.ArchivedNoncurrent
	}
	if src.ArchivedObjects == 0 && versions == 0 {
		return
	}
	what := humanizeCount(src.ArchivedObjects, src.Truncated) + " objects"
	if len(src.ArchivedKeys) > 0 {
		keys := strings.Join(src.ArchivedKeys, ", ")
		if int64(len(src.ArchivedKeys)) < src.ArchivedObjects {
			keys += ", ..."
		}
		what += " (" + keys + ")"
	}
	if versions > 0 {
		what += " and " + humanizeCount(versions, src.HistoryTruncated) + " noncurrent versions"
	}
	a.warnf("EM147", addr, fmt.Sprintf("%s holds %s in GLACIER or DEEP_ARCHIVE", from, what),
		"S3 copies an archived object only while a restored copy of it is available; a listing does not say which are. The copy stops at the first that is not, and the run rolls back before the point of no return.",
		"Restore them for longer than the run (aws s3api restore-object), or move them to another storage class, before applying.")
}

// history reports what a copy does with a versioned bucket's history: a
// bucket recreated under a new name or region keeps every noncurrent
// version and delete marker (their IDs change), unless the spec accepts
// losing them.
func (a *analyzer) history(c bucketCopy) {
	src := c.bp.src
	addr := c.bp.t.address
	if src == nil || src.Versioning == "" || !c.recreates() {
		return
	}
	stake := src.NoncurrentVersions + src.DeleteMarkers
	count := humanizeCount(stake, src.HistoryTruncated)
	switch {
	case c.bp.t.cfg.DiscardNoncurrentVersions:
		if stake > 0 {
			a.warnf("EM145", addr, fmt.Sprintf("%s noncurrent versions and delete markers of %s are discarded", count, c.from),
				"discard_noncurrent_versions = true: only the current objects are copied, and the history is lost when the original is deleted.", "")
		}
	case c.bp.versioning == "false" && stake > 0:
		a.errorf("EM145", addr, fmt.Sprintf("%s keeps %s noncurrent versions and delete markers that an unversioned %s cannot hold", c.from, count, c.bp.t.name),
			"The spec turns versioning off for the new bucket, so the history of the old one would be lost.",
			fmt.Sprintf("Remove versioning = false, or set discard_noncurrent_versions = true on %s to accept losing them.", addr))
	case stake > 0:
		a.warnf("EM146", addr, fmt.Sprintf("the history of %s is copied: %s noncurrent versions and delete markers, oldest first", c.from, count),
			"Each key keeps its versions in order, but S3 gives every copied version a new version ID and a new modification time: anything that refers to a version by ID must be updated.",
			"")
	}
}

func humanizeCount(n int64, truncated bool) string {
	s := strconv.FormatInt(n, 10)
	if truncated {
		s = "at least " + s
	}
	return s
}
