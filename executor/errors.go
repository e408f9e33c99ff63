package executor

import (
	"errors"
	"fmt"
	"strings"

	"github.com/envmig/envmig/planner/plan"
)

// ErrDeclined is wrapped by a gate (or any confirmation) the user refused.
var ErrDeclined = errors.New("declined")

// StepError reports a step that failed, and what the executor did about it.
type StepError struct {
	Step plan.Step
	Op   string // "apply" or "revert"
	Err  error
	// RolledBack is true when a prepare-phase failure was undone
	// automatically; RollbackErr is set when that rollback itself failed (the
	// state then says rolling-back, and `envmig rollback` continues it).
	RolledBack  bool
	RollbackErr error
}

func (e *StepError) Error() string {
	verb := "failed"
	if e.Op == "revert" {
		verb = "could not be undone"
	}
	msg := fmt.Sprintf("step %s (%s) %s: %v", e.Step.ID, e.Step.Description, verb, e.Err)
	switch {
	case e.RollbackErr != nil:
		msg += fmt.Sprintf("\nthe automatic rollback stopped: %v\nrun `envmig rollback` to finish undoing the run", e.RollbackErr)
	case e.RolledBack:
		msg += "\nevery completed step was undone: the environment is as it was before the run"
	case errors.As(e.Err, new(*ChangedError)):
		// The ChangedError says what to do.
	case e.Op == "apply" && e.Step.Phase == plan.PhaseCommit:
		msg += "\nthe run is past the point of no return: fix the cause and run `envmig resume` to finish it"
	case e.Op == "apply":
		msg += "\nrun `envmig resume` to retry it, or `envmig rollback` to undo the run"
	}
	return msg
}

func (e *StepError) Unwrap() error { return e.Err }

// InterruptedError reports a run stopped by a signal. The journal is
// consistent; resume (or, before the gate, rollback) continues it.
type InterruptedError struct {
	// Last is the last step whose outcome was journaled ("" when none).
	Last string
	// InFlight is the step that was cancelled mid-way ("" when the run
	// stopped between steps).
	InFlight  string
	AfterGate bool
	Op        string
}

func (e *InterruptedError) Error() string {
	where := "before the first step"
	if e.Last != "" {
		where = "after step " + e.Last
	}
	if e.InFlight != "" {
		where = "during step " + e.InFlight + " (it will be re-checked and finished)"
	}
	next := "run `envmig resume` to continue, or `envmig rollback` to undo the run"
	switch {
	case e.Op == "revert":
		next = "run `envmig rollback` to finish undoing the run"
	case e.AfterGate:
		next = "the run is past the point of no return: run `envmig resume` to finish it"
	}
	return fmt.Sprintf("interrupted %s; %s", where, next)
}

// RollbackRefusedError reports a rollback asked for after the point of no
// return.
type RollbackRefusedError struct {
	Gate string // the gate step's ID
}

func (e *RollbackRefusedError) Error() string {
	return "rollback refused: the run crossed the point of no return (" + e.Gate + "), so the originals have already been changed; run `envmig resume` to finish the migration"
}

// JournalError reports a journal write that failed: the executor stops at
// once rather than act without a record.
type JournalError struct {
	Err error
}

func (e *JournalError) Error() string {
	return "cannot write the state file, stopping before anything else changes: " + e.Err.Error()
}

func (e *JournalError) Unwrap() error { return e.Err }

// ChangedError reports originals that changed after their copy was taken:
// the freeze did not hold. A step that returns it (wrapped or not) stops
// the run before anything is destroyed, without the automatic rollback
// a failed prepare step gets: the operator decides. Resuming copies the
// difference into the copy, verifies it and goes on; before the point of
// no return, rollback undoes the run instead.
type ChangedError struct {
	// Changes describe what changed, one line per original ("s3://shop-
	// prod-uploads: 1 added (late/order-123.json), 1 removed (img/7.png)").
	Changes []string
}

func (e *ChangedError) Error() string {
	return "the originals changed after their copy was taken, so the copy may miss data:\n  - " + strings.Join(e.Changes, "\n  - ") +
		"\nnothing was destroyed. Stop whatever writes to them, then run `envmig resume` (it copies the difference and verifies again)" +
		", or `envmig rollback` before the point of no return to undo the run"
}
