package plan

import "time"

// FormatVersion is written into every plan file. Decode accepts any version
// whose major number (the part before the first dot) equals this one's.
const FormatVersion = "1.0"

// Plan is one reviewed migration run. Every field is part of the digest.
type Plan struct {
	FormatVersion string `json:"format_version"`
	// Lineage identifies the run. It names every snapshot and tag the run
	// creates (envmig-<lineage>-<resource>), so it must be unique per plan.
	Lineage   string    `json:"lineage"`
	CreatedAt time.Time `json:"created_at"`
	// Tool is the envmig version that computed the plan.
	Tool         string `json:"envmig_version"`
	Environment  string `json:"environment"`
	Account      string `json:"account"`
	Region       string `json:"region"`
	Strategy     string `json:"strategy"`
	ConfigDigest string `json:"config_digest"`
	// Replace lists the addresses the plan was asked to migrate through a
	// clone though no setting requires it (plan -replace).
	Replace []string `json:"replace,omitempty"`

	Resources    []Resource    `json:"resources"`
	Observations []Observation `json:"observations"`
	// Fingerprint is Fingerprint(Observations): apply re-observes and refuses
	// the plan when it no longer matches.
	Fingerprint string       `json:"fingerprint"`
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
	Steps       []Step       `json:"steps"`
	// Leftovers are what a successful run keeps for `envmig cleanup`: the
	// retired originals and the snapshots, the fastest ways back.
	Leftovers []Leftover `json:"leftovers,omitempty"`
	Estimate  Estimate   `json:"estimate"`

	Digest string `json:"digest"`
}

// Kind is the kind of a persistent resource or availability switch.
type Kind string

const (
	KindDatabase Kind = "database"
	KindBucket   Kind = "bucket"
	KindService  Kind = "service"
	// KindKMSKey observations record the keys a plan encrypts with.
	KindKMSKey Kind = "kms-key"
	// KindStack observations record the CloudFormation stack whose
	// resources the spec names by logical ID.
	KindStack Kind = "stack"
	// KindSwitch observations record the writers switched off in the
	// standby.
	KindSwitch Kind = "switch"
)

// StrategyCloneDestroy is the strategy of a plan that removes a clone
// (envmig clone -destroy).
const StrategyCloneDestroy = "clone-destroy"

// Action is what the plan does to one resource.
type Action string

const (
	ActionNoOp    Action = "no-op"   // live matches the spec
	ActionCreate  Action = "create"  // +  the resource does not exist yet
	ActionUpdate  Action = "update"  // ~  changed in place
	ActionMigrate Action = "migrate" // -/+ moved into a new resource by cloning
	ActionRead    Action = "read"    // a service: only switched to standby and back
	ActionDelete  Action = "delete"  // -  removed for good (clone -destroy)
)

// Resource is one resource of the environment as the reviewer sees it.
type Resource struct {
	Address string `json:"address"` // "database.main", "bucket.uploads", "service.web"
	Kind    Kind   `json:"kind"`
	Name    string `json:"name"` // the block label
	ID      string `json:"id"`   // physical identifier, bucket name or group name
	Action  Action `json:"action"`
	// Reasons say why Action is ActionMigrate, one per forcing change.
	Reasons []string `json:"reasons,omitempty"`
	Changes []Change `json:"changes,omitempty"`
}

// Change is one attribute's live and desired value.
type Change struct {
	Attribute       string `json:"attribute"`
	Before          string `json:"before"`
	After           string `json:"after"`
	ForcesMigration bool   `json:"forces_migration,omitempty"`
}

// Observation is what the planner saw of one live resource. Attrs are the
// values the plan depends on and form the fingerprint; Info holds volatile
// values (object counts, desired capacity, instance states) that are shown
// and used for estimates but do not make a plan stale when they move.
type Observation struct {
	Address string            `json:"address"`
	Kind    Kind              `json:"kind"`
	ID      string            `json:"id"`
	Exists  bool              `json:"exists"`
	Attrs   map[string]string `json:"attrs,omitempty"`
	Info    map[string]string `json:"info,omitempty"`
}

// Leftover kinds.
const (
	LeftoverDBInstance = "db-instance"
	LeftoverDBSnapshot = "db-snapshot"
	LeftoverBucket     = "bucket"
)

// Leftover is one resource a successful run keeps until `envmig cleanup`.
type Leftover struct {
	Kind   string `json:"kind"`
	ID     string `json:"id"`
	Region string `json:"region,omitempty"`
	Why    string `json:"why"`
	// Run is the lineage of the run that kept it.
	Run string `json:"run,omitempty"`
	// RetiredAt is when the run that kept it finished: cleanup keeps a
	// bucket written after it (a straggler's data is not the run's to
	// delete). Set when the run is applied; zero in a plan.
	RetiredAt time.Time `json:"retired_at,omitzero"`
	// Attrs are a retired database's settings when it was retired:
	// cleanup keeps an instance whose settings changed since.
	Attrs map[string]string `json:"attrs,omitempty"`
	// Manifest, for a bucket the objects moved out of, names the run's
	// blob holding the bucket's manifest when it was copied: cleanup
	// deletes exactly what it lists.
	Manifest string `json:"manifest,omitempty"`
}

// Severity of a Diagnostic.
type Severity string

const (
	SeverityError   Severity = "error"   // blocks the plan
	SeverityWarning Severity = "warning" // shown first, does not block
)

// Diagnostic is a finding of a safety analyzer. Codes are stable.
type Diagnostic struct {
	Severity Severity `json:"severity"`
	Code     string   `json:"code"`
	Resource string   `json:"resource,omitempty"`
	Summary  string   `json:"summary"`
	Detail   string   `json:"detail,omitempty"`
	Fix      string   `json:"fix,omitempty"`
}

// Estimate is the planner's model of the run's cost; docs/planning.md
// describes the model.
type Estimate struct {
	// StandbySeconds is the predicted downtime: from the standby step to the
	// step that leaves standby.
	StandbySeconds int64 `json:"standby_seconds"`
	TotalSeconds   int64 `json:"total_seconds"`
	// CopyObjects/CopyBytes are what the bucket copies move in all.
	CopyObjects int64 `json:"copy_objects"`
	CopyBytes   int64 `json:"copy_bytes"`
	// DeltaObjects/DeltaBytes are the part of it predicted to be copied
	// inside the standby window (written while the pre-copy ran).
	DeltaObjects int64 `json:"delta_objects"`
	DeltaBytes   int64 `json:"delta_bytes"`
	// SnapshotGiB is the database storage snapshotted by the run.
	SnapshotGiB int64 `json:"snapshot_gib"`
}

// HasChanges reports whether applying the plan would change anything.
func (p *Plan) HasChanges() bool { return len(p.Steps) > 0 }

// Errors returns the error-severity diagnostics; a plan with any is not
// applicable.
func (p *Plan) Errors() []Diagnostic {
	var out []Diagnostic
	for _, d := range p.Diagnostics {
		if d.Severity == SeverityError {
			out = append(out, d)
		}
	}
	return out
}

// Step returns the step with the given ID.
func (p *Plan) Step(id string) (Step, bool) {
	for _, s := range p.Steps {
		if s.ID == id {
			return s, true
		}
	}
	return Step{}, false
}

// GateIndex returns the index of the point-of-no-return step, or -1.
func (p *Plan) GateIndex() int {
	for i, s := range p.Steps {
		if s.Phase == PhaseGate {
			return i
		}
	}
	return -1
}

// Observation returns the observation with the given address.
func (p *Plan) Observation(address string) (Observation, bool) {
	for _, o := range p.Observations {
		if o.Address == address {
			return o, true
		}
	}
	return Observation{}, false
}
