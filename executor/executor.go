package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

// Store persists the journal. *statefile.Store satisfies it; Save must be
// durable when it returns.
type Store interface {
	Save(st *statefile.State) error
}

// Observer receives the run's events, in order, from one goroutine at a
// time. A reporter renders them; the executor never prints.
type Observer interface {
	StepStarted(s plan.Step, op string, attempt int)
	StepProgress(s plan.Step, p Progress)
	StepFinished(s plan.Step, op string, err error, elapsed time.Duration)
}

// Executor runs the plan embedded in State.
type Executor struct {
	State    *statefile.State
	Store    Store
	Handlers map[plan.StepAction]Handler
	Observer Observer // may be nil
	// Stop, when closed, asks the run to stop after the current step has
	// finished and been journaled (the first Ctrl-C). Cancelling the context
	// stops at once (the second).
	Stop <-chan struct{}
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Hook, when set, is called at every crash point (tests).
	Hook func(op, stepID, point string)
	// Blobs keeps the run's large records (bucket manifests); the
	// journal's backend. Steps that need them fail without.
	Blobs Blobs
}

// Apply runs every step not yet done, in order. A failure before the gate
// rolls the run back automatically; after it, the run stops resumably.
func (e *Executor) Apply(ctx context.Context) error {
	if err := e.check(); err != nil {
		return err
	}
	if e.State.Status == statefile.RunRollingBack {
		return errors.New("a rollback of this run is under way: run `envmig rollback` to finish it")
	}
	if e.State.Finished() {
		return nil
	}
	p := e.State.Plan
	last := ""
	for i, step := range p.Steps {
		rec := &e.State.Steps[i]
		switch rec.Status {
		case statefile.StepDone:
			last = step.ID
			continue
		case statefile.StepReverting, statefile.StepReverted:
			return fmt.Errorf("step %s was undone by a rollback: run `envmig rollback` to finish it", step.ID)
		}
		if e.stopRequested() {
			return &InterruptedError{Last: last, AfterGate: e.State.GatePassed(), Op: "apply"}
		}
		err := e.runStep(ctx, i, "apply")
		if err == nil {
			last = step.ID
			continue
		}
		var je *JournalError
		if errors.As(err, &je) {
			return err
		}
		if ctx.Err() != nil {
			return &InterruptedError{Last: last, InFlight: step.ID, AfterGate: e.State.GatePassed(), Op: "apply"}
		}
		serr := &StepError{Step: step, Op: "apply", Err: err}
		var changed *ChangedError
		if step.Phase != plan.PhaseCommit && !e.stopRequested() && !errors.As(err, &changed) {
			if rerr := e.rollback(ctx); rerr != nil {
				serr.RollbackErr = rerr
			} else {
				serr.RolledBack = true
			}
		}
		return serr
	}
	e.State.Status = statefile.RunApplied
	retired := e.now()
	for _, l := range p.Leftovers {
		l.RetiredAt = retired
		e.State.Kept = append(e.State.Kept, l)
	}
	e.archive()
	return e.save()
}

// Rollback undoes every started step in reverse order. It is refused after
// the point of no return.
func (e *Executor) Rollback(ctx context.Context) error {
	if err := e.check(); err != nil {
		return err
	}
	if e.State.Finished() {
		return nil
	}
	return e.rollback(ctx)
}

// Resume continues what the journal says was under way: the rollback when
// one was interrupted, the run otherwise.
func (e *Executor) Resume(ctx context.Context) error {
	if e.State != nil && e.State.Status == statefile.RunRollingBack {
		return e.Rollback(ctx)
	}
	return e.Apply(ctx)
}

func (e *Executor) rollback(ctx context.Context) error {
	p := e.State.Plan
	if e.State.GatePassed() {
		return &RollbackRefusedError{Gate: p.Steps[p.GateIndex()].ID}
	}
	if e.State.Status != statefile.RunRollingBack {
		e.State.Status = statefile.RunRollingBack
		if err := e.save(); err != nil {
			return err
		}
	}
	last := ""
	for i := len(p.Steps) - 1; i >= 0; i-- {
		switch e.State.Steps[i].Status {
		case statefile.StepPending, statefile.StepReverted:
			continue
		}
		if e.stopRequested() {
			return &InterruptedError{Last: last, Op: "revert"}
		}
		if err := e.runStep(ctx, i, "revert"); err != nil {
			var je *JournalError
			if errors.As(err, &je) {
				return err
			}
			if ctx.Err() != nil {
				return &InterruptedError{Last: last, InFlight: p.Steps[i].ID, Op: "revert"}
			}
			return &StepError{Step: p.Steps[i], Op: "revert", Err: err}
		}
		last = p.Steps[i].ID
	}
	e.State.Status = statefile.RunRolledBack
	e.archive()
	return e.save()
}

// runStep journals the intent, runs the handler and journals the outcome.
func (e *Executor) runStep(ctx context.Context, i int, op string) error {
	step := e.State.Plan.Steps[i]
	rec := &e.State.Steps[i]
	h := e.Handlers[step.Action] // check() made sure there is one
	e.hook(op, step.ID, PointBeforeIntent)
	now := e.now()
	if op == "apply" {
		rec.Status = statefile.StepStarted
		rec.Attempts++
	} else {
		rec.Status = statefile.StepReverting
	}
	rec.StartedAt, rec.FinishedAt, rec.Error = now, time.Time{}, ""
	if err := e.save(); err != nil {
		return err
	}
	e.hook(op, step.ID, PointAfterIntent)
	if e.Observer != nil {
		e.Observer.StepStarted(step, op, rec.Attempts)
	}
	sc := e.stepContext(i, op)
	var err error
	if op == "apply" {
		err = h.Apply(ctx, sc)
	} else {
		err = h.Revert(ctx, sc)
	}
	rec = &e.State.Steps[i] // stepContext may have saved; the slice is stable
	rec.FinishedAt = e.now()
	switch {
	case err != nil:
		rec.Status = statefile.StepFailed
		if op == "revert" {
			rec.Status = statefile.StepReverting
		}
		rec.Error = err.Error()
	case op == "apply":
		rec.Status = statefile.StepDone
	default:
		rec.Status = statefile.StepReverted
	}
	if e.Observer != nil {
		e.Observer.StepFinished(step, op, err, rec.FinishedAt.Sub(rec.StartedAt))
	}
	if serr := e.save(); serr != nil {
		return serr
	}
	return err
}

func (e *Executor) stepContext(i int, op string) *StepContext {
	step := e.State.Plan.Steps[i]
	if e.State.Steps[i].Values == nil {
		e.State.Steps[i].Values = map[string]string{}
	}
	return &StepContext{
		Plan:    e.State.Plan,
		Step:    step,
		Op:      op,
		started: e.State.StartedAt,
		blobs:   e.Blobs,
		values:  e.State.Steps[i].Values,
		lookup: func(stepID, key string) string {
			if r := e.State.Step(stepID); r != nil {
				return r.Values[key]
			}
			return ""
		},
		record: func(key, value string) error {
			e.State.Steps[i].Values[key] = value
			return e.save()
		},
		hook: func(point string) { e.hook(op, step.ID, point) },
		observe: func(p Progress) {
			if e.Observer != nil {
				e.Observer.StepProgress(step, p)
			}
		},
		now: e.now,
	}
}

func (e *Executor) save() error {
	e.State.UpdatedAt = e.now()
	if err := e.Store.Save(e.State); err != nil {
		return &JournalError{Err: err}
	}
	return nil
}

// archive appends the finished run to the history.
func (e *Executor) archive() {
	e.State.History = append(e.State.History, statefile.RunSummary{
		Lineage:    e.State.Lineage,
		PlanDigest: e.State.PlanDigest,
		Operation:  e.State.Operation,
		Status:     e.State.Status,
		StartedAt:  e.State.StartedAt,
		FinishedAt: e.now(),
	})
}

func (e *Executor) check() error {
	if e.State == nil || e.State.Plan == nil {
		return errors.New("executor: no run to execute")
	}
	if len(e.State.Steps) != len(e.State.Plan.Steps) {
		return fmt.Errorf("state file is inconsistent: %d step records for a plan of %d steps", len(e.State.Steps), len(e.State.Plan.Steps))
	}
	for i, s := range e.State.Plan.Steps {
		if e.State.Steps[i].ID != s.ID {
			return fmt.Errorf("state file is inconsistent: step %d is %q in the journal and %q in the plan", i+1, e.State.Steps[i].ID, s.ID)
		}
		// Every step must be runnable before the first one runs: a run
		// that stops mid-way for want of a handler is half-done.
		if _, ok := e.Handlers[s.Action]; !ok {
			return fmt.Errorf("step %s: this envmig cannot run action %q; use the envmig version that made the plan", s.ID, s.Action)
		}
	}
	return nil
}

func (e *Executor) stopRequested() bool {
	if e.Stop == nil {
		return false
	}
	select {
	case <-e.Stop:
		return true
	default:
		return false
	}
}

func (e *Executor) now() time.Time {
	if e.Now != nil {
		return e.Now()
	}
	return time.Now().UTC()
}

func (e *Executor) hook(op, stepID, point string) {
	if crashHook != nil {
		crashHook(op, stepID, point)
	}
	if e.Hook != nil {
		e.Hook(op, stepID, point)
	}
}
