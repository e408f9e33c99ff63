package planner

import (
	"fmt"
	"strings"

	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// Bucket settings diagnostic codes. They are stable: scripts and docs refer
// to them. Each names what cannot be carried, or what must be done by hand
// for a carried setting to work, when a migration creates a bucket in the
// place of another (BucketSettings).
//
//	EM160 a setting cannot be read on this endpoint: not carried                  warning
//	EM161 the endpoint does not support a setting the run must set (tags)         error
//	EM162 replication is carried: its role and destinations still name the old    warning
//	      bucket, and objects copied by envmig are not replicated
//	EM163 notifications: the targets must allow the new bucket (AWS validates      warning
//	      them when the configuration is put), or targets in another region:
//	      not carried
//	EM164 per-object retention and legal holds are not carried                    warning
//	EM165 the default encryption's KMS key cannot encrypt in the target region    error
//	EM166 access logging not carried: its target bucket is in another region      warning
//	EM167 the policy names the bucket where a new name is not rewritten           warning
//	EM168 a setting not carried to a clone (notifications, replication, object    warning
//	      lock, logging into another bucket)
//	EM169 an endpoint clients use changes (website, transfer acceleration), or    warning
//	      acceleration cannot be enabled on the new name
//
// EM140 (object lock on a bucket that would have to be deleted) and EM141
// (a policy with conditions can deny the copy) stay in analyze.go.

// SettingsMoveKind is what a migration does with a bucket whose settings
// another bucket receives.
type SettingsMoveKind string

const (
	// MoveNewName: moved_from; a new bucket under the spec's name takes the
	// place of the old one (maybe in another region).
	MoveNewName SettingsMoveKind = "new-name"
	// MoveRecreate: the same name is created again (a region move), from the
	// settings of the original, which is deleted first.
	MoveRecreate SettingsMoveKind = "recreate"
	// MoveTemporary: envmig's own working copy.
	MoveTemporary SettingsMoveKind = "temporary"
	// MoveClone: `envmig clone`, a copy for experiments under a new name.
	MoveClone SettingsMoveKind = "clone"
)

// SettingsMove is one bucket that receives the settings of another.
type SettingsMove struct {
	Kind SettingsMoveKind
	// Address is the bucket's address in the spec, for diagnostics.
	Address string
	// Source is the live observation of the bucket whose settings are
	// carried (its Settings filled by the live reader).
	Source *live.Bucket
	// Target is the bucket that receives them, Region its region.
	Target, Region string
	// SpecTags is true when the spec manages the bucket's tags: the
	// source's tags are then not carried (the create step puts the spec's).
	SpecTags bool
}

// SettingPhase is when a carried setting is applied.
type SettingPhase string

const (
	// PhaseAtCreate: when the bucket is created, before any object is
	// copied into it.
	PhaseAtCreate SettingPhase = "create"
	// PhaseAfterCopy: once the copy into it is verified.
	PhaseAfterCopy SettingPhase = "after-copy"
)

// CarriedSetting is one setting a migration carries, for the plan to show
// and for the executor to check (Digest).
type CarriedSetting struct {
	// Setting is the setting's name (live.SettingLifecycle, ...).
	Setting string
	Phase   SettingPhase
	// Present is false when the source does not have the setting: the
	// destination then does not get it either (the digest still makes the
	// executor refuse if the source gained it since the plan).
	Present bool
	// Summary is the source's setting as the plan shows it.
	Summary string
	// Digest is the source's digest of the setting.
	Digest string
	// Note says what is changed on the way ("bucket ARN rewritten to ...").
	Note string
}

// Shown reports whether the plan shows the setting: a present one, or an
// absence that removes something S3 gives a new bucket.
func (c CarriedSetting) Shown() bool { return c.Present || c.Note != "" }

// CarriedDigests maps each carried setting to its digest: the
// SettingsCarry.Expected of executor/bucket.
func CarriedDigests(settings []CarriedSetting) map[string]string {
	out := make(map[string]string, len(settings))
	for _, s := range settings {
		out[s.Setting] = s.Digest
	}
	return out
}

// Where each setting is applied.
var settingPhases = map[string]SettingPhase{
	live.SettingOwnership: PhaseAtCreate, live.SettingEncryption: PhaseAtCreate, live.SettingPublicAccessBlock: PhaseAtCreate,
	live.SettingRequestPayment: PhaseAtCreate, live.SettingTags: PhaseAtCreate, live.SettingObjectLock: PhaseAtCreate,
	live.SettingPolicy: PhaseAfterCopy, live.SettingLifecycle: PhaseAfterCopy, live.SettingCORS: PhaseAfterCopy,
	live.SettingNotifications: PhaseAfterCopy, live.SettingLogging: PhaseAfterCopy, live.SettingWebsite: PhaseAfterCopy,
	live.SettingReplication: PhaseAfterCopy, live.SettingAccelerate: PhaseAfterCopy,
}

// carriedBy reports whether a kind of move carries a setting at all (its
// problems aside).
func carriedBy(kind SettingsMoveKind, setting string) bool {
	switch kind {
	case MoveTemporary:
		// What protects the data, nothing that acts on objects or users.
		return setting == live.SettingOwnership || setting == live.SettingEncryption || setting == live.SettingPublicAccessBlock
	case MoveClone:
		// Nothing that writes into production's targets, nothing that
		// would make the clone impossible to destroy.
		return setting != live.SettingNotifications && setting != live.SettingReplication && setting != live.SettingObjectLock
	}
	return true
}

// BucketSettings returns the settings a move carries, in the order plans
// show them, and a diagnostic for each setting that cannot be carried or
// needs work by hand (codes EM160–EM169 above). It is pure: everything
// comes from m. A source that does not exist carries nothing.
//
// What each kind carries: a new name and a re-created name carry every
// setting; a clone every setting but notifications, replication and object
// lock (and logging only into itself); a temporary bucket only ownership,
// encryption and a public-access block, which blocks all public access
// whatever the source's. Tags are not carried when the spec manages them.
func BucketSettings(m SettingsMove) ([]CarriedSetting, []plan.Diagnostic) {
	b := m.Source
	if b == nil || !b.Exists || len(b.Settings) == 0 {
		return nil, nil
	}
	a := &analyzer{}
	var out []CarriedSetting
	renamed := m.Target != b.Name
	moved := m.Region != "" && b.Region != "" && m.Region != b.Region
	for _, n := range live.BucketSettingNames() {
		s := b.Setting(n)
		if n == live.SettingTags && s.State == live.SettingUnsupported {
			a.errorf("EM161", m.Address, fmt.Sprintf("the endpoint of %s does not support bucket tags", b.Name),
				fmt.Sprintf("envmig marks every bucket it creates with the tag envmig:run, and finds, adopts or deletes only buckets that carry it; without tags it cannot create %s safely.", m.Target),
				"Use an S3 endpoint that supports bucket tagging (GetBucketTagging and PutBucketTagging).")
		}
		if !carriedBy(m.Kind, n) {
			if m.Kind == MoveClone && s.State == live.SettingPresent {
				a.warnf("EM168", m.Address, fmt.Sprintf("%s of %s: not carried to the clone %s", label(n, s), b.Name, m.Target),
					cloneWhy[n], "Configure it on the clone yourself if an experiment needs it.")
			}
			continue
		}
		if n == live.SettingTags && m.SpecTags {
			continue
		}
		c := CarriedSetting{Setting: n, Phase: settingPhases[n], Present: s.State == live.SettingPresent, Summary: s.Summary, Digest: s.Digest}
		switch s.State {
		case live.SettingUnsupported:
			if n != live.SettingTags {
				what := "The plan cannot tell whether the source has it, so it is not carried."
				if m.Kind == MoveTemporary && n == live.SettingPublicAccessBlock {
					what = fmt.Sprintf("The temporary copy %s cannot be closed to public access by a public-access block on this endpoint.", m.Target)
				}
				a.warnf("EM160", m.Address, fmt.Sprintf("%s of %s: not supported by this endpoint", label(n, s), b.Name), what,
					fmt.Sprintf("If the endpoint has an equivalent, set it on %s yourself.", m.Target))
			}
			continue
		case live.SettingPresent, live.SettingAbsent:
		default:
			continue // not read
		}
		if ok := checkSetting(a, m, &c, renamed, moved); ok {
			out = append(out, c)
		}
	}
	return out, a.diags
}

// cloneWhy says why a clone does not get a setting.
var cloneWhy = map[string]string{
	live.SettingNotifications: "A clone is for experiments: its writes must not fire production's Lambda functions, topics or queues.",
	live.SettingReplication:   "A clone is for experiments: its writes must not be replicated into production's replicas.",
	live.SettingObjectLock:    "A clone with object lock could not be destroyed until its retention expires; the clone's objects are not locked.",
}

// checkSetting adds what a carried setting needs to c and the diagnostics
// of its problems; it returns false when the setting cannot be carried.
func checkSetting(a *analyzer, m SettingsMove, c *CarriedSetting, renamed, moved bool) bool {
	b := m.Source
	present := c.Present
	switch c.Setting {
	case live.SettingPublicAccessBlock:
		switch {
		case m.Kind == MoveTemporary:
			c.Present, c.Summary = true, "public access block: all public access blocked"
			c.Note = "the temporary copy blocks all public access, whatever the source's block"
		case !present:
			c.Note = "the block of all public access S3 gives a new bucket is removed: the source has none"
		}
	case live.SettingEncryption:
		if present && b.EncryptionKMSKey != "" && moved {
			keyRegion := arnRegion(b.EncryptionKMSKey)
			if keyRegion == "" {
				keyRegion = b.Region // a key ID or alias resolves in the bucket's region
			}
			if keyRegion != m.Region {
				a.errorf("EM165", m.Address, fmt.Sprintf("the default encryption of %s uses KMS key %s of %s, which cannot encrypt in %s", b.Name, b.EncryptionKMSKey, keyRegion, m.Region),
					"S3 encrypts with a KMS key of the bucket's own region; objects put into the new bucket would be refused or encrypted differently.",
					fmt.Sprintf("Create a key in %s (or a multi-Region replica of this one), set it as the default encryption of %s, and plan again; or keep the bucket in %s.", m.Region, b.Name, b.Region))
			}
		}
	case live.SettingObjectLock:
		if present {
			c.Note = "enabled at creation; the default retention is set after the verified copy, so the copied objects are not locked by it"
			a.warnf("EM164", m.Address, fmt.Sprintf("per-object retention and legal holds of %s are not carried", b.Name),
				fmt.Sprintf("Object lock and its default retention (%s) are carried, but each copied object gets a new version without its retain-until date or legal hold.", orNone(b.ObjectLockRetention)),
				fmt.Sprintf("Set the retention and legal holds of the objects that need them on %s after the migration (S3 Batch Operations can do it in bulk).", m.Target))
		}
	case live.SettingLifecycle:
		if present {
			c.Note = "object ages restart at the copy: expirations and transitions count from the copy's date"
		}
	case live.SettingPolicy:
		if present && renamed {
			c.Note = fmt.Sprintf("the bucket's own ARNs are rewritten to arn:aws:s3:::%s", m.Target)
			if b.PolicyNameMentions > 0 {
				a.warnf("EM167", m.Address, fmt.Sprintf("the policy of %s names it in %d place(s) envmig does not rewrite", b.Name, b.PolicyNameMentions),
					fmt.Sprintf("envmig rewrites arn:aws:s3:::%s and arn:aws:s3:::%s/... to the new name; a bare name or an ARN with a wildcard after the name is copied as it is.", b.Name, b.Name),
					fmt.Sprintf("Review the policy of %s after the migration, or write those statements with the full ARNs.", m.Target))
			}
		}
	case live.SettingLogging:
		if !present {
			break
		}
		self := b.LoggingTarget == b.Name
		switch {
		case self && renamed:
			c.Note = fmt.Sprintf("logs into itself: the target becomes %s", m.Target)
		case self:
		case m.Kind == MoveClone:
			a.warnf("EM168", m.Address, fmt.Sprintf("access logging of %s: not carried to the clone %s", b.Name, m.Target),
				fmt.Sprintf("The clone's access logs would be mixed into production's, in %s.", b.LoggingTarget),
				"Configure logging on the clone yourself if an experiment needs it.")
			return false
		case moved:
			a.warnf("EM166", m.Address, fmt.Sprintf("access logging of %s is not carried: its target %s is not in %s", b.Name, b.LoggingTarget, m.Region),
				"S3 delivers access logs only to a bucket in the same region.",
				fmt.Sprintf("Create a log bucket in %s and enable logging on %s after the migration.", m.Region, m.Target))
			return false
		}
	case live.SettingNotifications:
		if !present || len(b.NotificationTargets) == 0 {
			break
		}
		if moved {
			var elsewhere []string
			for _, t := range b.NotificationTargets {
				if arnRegion(t) != m.Region {
					elsewhere = append(elsewhere, t)
				}
			}
			if len(elsewhere) > 0 {
				a.warnf("EM163", m.Address, fmt.Sprintf("notifications of %s are not carried: targets in another region than %s", b.Name, m.Region),
					fmt.Sprintf("S3 sends events only to targets in the bucket's region: %s.", strings.Join(elsewhere, ", ")),
					fmt.Sprintf("Create the targets in %s and configure the notifications of %s after the migration.", m.Region, m.Target))
				return false
			}
		}
		if renamed {
			a.warnf("EM163", m.Address, fmt.Sprintf("the notification targets of %s must allow %s", b.Name, m.Target),
				fmt.Sprintf("S3 validates every target when the configuration is put, after the copy: a resource policy that allows only arn:aws:s3:::%s makes that step fail. Targets: %s.", b.Name, strings.Join(b.NotificationTargets, ", ")),
				fmt.Sprintf("Before apply, let each topic's and queue's policy, and each function's permission, allow s3.amazonaws.com with aws:SourceArn arn:aws:s3:::%s.", m.Target))
		}
	case live.SettingReplication:
		if present {
			role := fmt.Sprintf("The role %s must still allow %s as a source", orNone(b.ReplicationRole), arnS3(m.Target))
			fix := "Replicate the existing objects with S3 Batch Replication if the replicas need them."
			if renamed {
				role = fmt.Sprintf("The role %s must allow %s as a source (its policy names %s)", orNone(b.ReplicationRole), arnS3(m.Target), arnS3(b.Name))
				fix = "Before apply, update the role's policy (and a cross-account destination's bucket policy) to name " + arnS3(m.Target) + "; " + strings.ToLower(fix[:1]) + fix[1:]
			}
			a.warnf("EM162", m.Address, fmt.Sprintf("replication of %s is carried to %s and needs work by hand", b.Name, m.Target),
				fmt.Sprintf("Replication is put after the verified copy, so the objects envmig copies are not replicated (only later writes are). %s, envmig's credentials need iam:PassRole on it, and the destinations (%s) must accept it.",
					role, strings.Join(b.ReplicationDestinations, ", ")),
				fix)
		}
	case live.SettingWebsite:
		if present && (renamed || moved) && m.Kind != MoveClone {
			a.warnf("EM169", m.Address, fmt.Sprintf("the website endpoint of %s changes", b.Name),
				fmt.Sprintf("A website endpoint contains the bucket's name and region; %s in %s gets its own, and a custom domain must match the bucket's name.", m.Target, m.Region),
				"Point DNS records and CloudFront origins at the new endpoint after the migration.")
		}
	case live.SettingAccelerate:
		switch {
		case present && strings.Contains(m.Target, "."):
			a.warnf("EM169", m.Address, fmt.Sprintf("transfer acceleration of %s is not carried: %s has a dot in its name", b.Name, m.Target),
				"S3 does not accelerate buckets whose names contain dots.", "Use the standard endpoint, or a name without dots.")
			return false
		case present && renamed && m.Kind != MoveClone:
			a.warnf("EM169", m.Address, fmt.Sprintf("the accelerated endpoint of %s changes", b.Name),
				fmt.Sprintf("The accelerated endpoint contains the bucket's name: clients must use %s.s3-accelerate.amazonaws.com.", m.Target),
				"Update the clients that use the accelerated endpoint.")
		}
	}
	return true
}

// label is how diagnostics name a setting: as its summary does ("CORS",
// "default encryption").
func label(setting string, s live.BucketSetting) string {
	if l, _, ok := strings.Cut(s.Summary, ": "); ok {
		return l
	}
	return strings.ReplaceAll(setting, "_", " ")
}

// arnRegion returns the region field of an ARN, "" when s is not an ARN.
func arnRegion(s string) string {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) < 6 || parts[0] != "arn" {
		return ""
	}
	return parts[3]
}

func arnS3(bucket string) string { return "arn:aws:s3:::" + bucket }

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
