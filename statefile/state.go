package statefile

import (
	"time"

	"github.com/envmig/envmig/planner/plan"
)

// FormatVersion is written into every state file. Load refuses a file whose
// major number differs.
const FormatVersion = "1.0"

// Run status values (State.Status).
const (
	RunRunning     = "running"      // a run is under way or was interrupted
	RunRollingBack = "rolling-back" // a rollback is under way or was interrupted
	RunApplied     = "applied"      // every step done
	RunRolledBack  = "rolled-back"  // every started step undone
	RunCleaned     = "cleaned"      // applied, then cleanup removed what it kept
	RunRecovered   = "recovered"    // its journal was lost; `envmig recover` brought back what it switched off
)

// Step status values (StepRecord.Status).
const (
	StepPending   = ""          // never started
	StepStarted   = "started"   // intent journaled; the side effect may or may not have happened
	StepDone      = "done"      // finished and journaled
	StepFailed    = "failed"    // the handler returned an error
	StepReverting = "reverting" // undo intent journaled
	StepReverted  = "reverted"  // undone
)

// State is the journal of one environment's current run. It embeds the plan
// being run, so resume and rollback need nothing but the state file.
type State struct {
	FormatVersion string `json:"format_version"`
	Environment   string `json:"environment"`
	// Lineage is the plan's lineage: the run's identity.
	Lineage string `json:"lineage"`
	// Serial increases by one on every write.
	Serial     uint64 `json:"serial"`
	PlanDigest string `json:"plan_digest"`
	// Operation is what the run does: "apply", "clone" or "cleanup".
	Operation string       `json:"operation"`
	Status    string       `json:"status"`
	StartedAt time.Time    `json:"started_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	Plan      *plan.Plan   `json:"plan"`
	Steps     []StepRecord `json:"steps"`
	// Kept lists what applied runs left for `envmig cleanup` (their plans'
	// Leftovers), carried from run to run until cleanup removes them.
	Kept []plan.Leftover `json:"kept,omitempty"`
	// History lists finished runs, newest last, so an already-applied plan is
	// recognised.
	History []RunSummary `json:"history,omitempty"`
	// Checksum is a SHA-256 over the file's content with this field empty; a
	// state edited by hand is refused.
	Checksum string `json:"checksum"`
}

// StepRecord is the journal of one plan step.
type StepRecord struct {
	ID         string    `json:"id"`
	Status     string    `json:"status"`
	Attempts   int       `json:"attempts,omitempty"`
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
	Error      string    `json:"error,omitempty"`
	// Values are what the handler recorded before and while acting: the
	// group's original sizes, the IDs it created, the freeze time.
	Values map[string]string `json:"values,omitempty"`
}

// RunSummary is one finished run.
type RunSummary struct {
	Lineage    string    `json:"lineage"`
	PlanDigest string    `json:"plan_digest"`
	Operation  string    `json:"operation"`
	Status     string    `json:"status"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// Step returns the record of the step with the given ID, or nil.
func (s *State) Step(id string) *StepRecord {
	for i := range s.Steps {
		if s.Steps[i].ID == id {
			return &s.Steps[i]
		}
	}
	return nil
}

// NewState starts the journal of a run of p.
func NewState(p *plan.Plan, operation string, now time.Time) *State {
	st := &State{
		FormatVersion: FormatVersion,
		Environment:   p.Environment,
		Lineage:       p.Lineage,
		PlanDigest:    p.Digest,
		Operation:     operation,
		Status:        RunRunning,
		StartedAt:     now,
		UpdatedAt:     now,
		Plan:          p,
	}
	for _, s := range p.Steps {
		st.Steps = append(st.Steps, StepRecord{ID: s.ID})
	}
	return st
}

// Finished reports whether the run needs nothing more: applied, rolled
// back or cleaned.
func (s *State) Finished() bool {
	switch s.Status {
	case RunApplied, RunRolledBack, RunCleaned, RunRecovered:
		return true
	}
	return false
}

// GatePassed reports whether the run crossed the point of no return.
func (s *State) GatePassed() bool {
	if s.Plan == nil {
		return false
	}
	i := s.Plan.GateIndex()
	return i >= 0 && i < len(s.Steps) && s.Steps[i].Status == StepDone
}

// Applied reports whether a plan with this digest has already been applied.
func (s *State) Applied(digest string) bool {
	if s.PlanDigest == digest && s.Status == RunApplied {
		return true
	}
	for _, h := range s.History {
		if h.PlanDigest == digest && (h.Status == RunApplied || h.Status == RunCleaned) {
			return true
		}
	}
	return false
}
