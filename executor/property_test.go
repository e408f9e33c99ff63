package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"pgregory.net/rapid"

	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

// crash is what the hook panics with to model a kill -9: the process
// vanishes, and only what the store saved survives.
type crash struct{}

// idemWorld is a set of resources; each step's Apply creates one, Revert
// removes it, both idempotently, as real handlers must.
type idemWorld struct {
	have map[string]int // resource -> 1 while it exists
}

type idemHandler struct {
	w        *idemWorld
	failOnce map[string]bool
}

func (h idemHandler) Apply(ctx context.Context, sc *StepContext) error {
	if h.failOnce[sc.Step.ID] {
		delete(h.failOnce, sc.Step.ID)
		return errors.New("transient failure")
	}
	if sc.Step.Phase == plan.PhaseGate {
		return nil
	}
	if h.w.have[sc.Step.ID] == 0 { // observe first
		h.w.have[sc.Step.ID] = 1
		sc.Accepted()
	}
	sc.Report(Progress{Message: "waiting"})
	return sc.Record("id", sc.Step.ID)
}

func (h idemHandler) Revert(ctx context.Context, sc *StepContext) error {
	if h.w.have[sc.Step.ID] > 0 {
		delete(h.w.have, sc.Step.ID)
		sc.Accepted()
	}
	return nil
}

func TestJournalConvergesUnderCrashes(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		nPrepare := rapid.IntRange(1, 5).Draw(rt, "prepare")
		nCommit := rapid.IntRange(0, 4).Draw(rt, "commit")
		p := &plan.Plan{Lineage: "r", Environment: "e"}
		for i := 0; i < nPrepare; i++ {
			p.Steps = append(p.Steps, plan.Step{ID: fmt.Sprintf("p%d", i), Phase: plan.PhasePrepare, Action: plan.VerifyHTTP, Params: plan.VerifyHTTPParams{}})
		}
		p.Steps = append(p.Steps, plan.Step{ID: "gate", Phase: plan.PhaseGate, Action: plan.Gate, Params: plan.GateParams{}})
		for i := 0; i < nCommit; i++ {
			p.Steps = append(p.Steps, plan.Step{ID: fmt.Sprintf("c%d", i), Phase: plan.PhaseCommit, Action: plan.VerifyHTTP, Params: plan.VerifyHTTPParams{}})
		}
		plan.Seal(p)
		w := &idemWorld{have: map[string]int{}}
		failOnce := map[string]bool{}
		if rapid.Bool().Draw(rt, "transient") {
			failOnce[rapid.SampledFrom(p.Steps).Draw(rt, "failing").ID] = true
		}
		store := &memStore{}
		st := statefile.NewState(p, "apply", time.Unix(0, 0))
		if err := store.Save(st); err != nil {
			rt.Fatal(err)
		}
		points := []string{PointBeforeIntent, PointAfterIntent, PointAccepted, PointWaiting}
		for round := 0; round < 40; round++ {
			var loaded statefile.State
			if err := json.Unmarshal([]byte(store.saves[len(store.saves)-1]), &loaded); err != nil {
				rt.Fatal(err)
			}
			if loaded.Finished() {
				break
			}
			crashAt := -1
			if rapid.Bool().Draw(rt, fmt.Sprintf("crash%d", round)) {
				crashAt = rapid.IntRange(0, 30).Draw(rt, fmt.Sprintf("at%d", round))
			}
			seen := 0
			e := &Executor{
				State:    &loaded,
				Store:    store,
				Handlers: map[plan.StepAction]Handler{plan.VerifyHTTP: idemHandler{w, failOnce}, plan.Gate: idemHandler{w, failOnce}},
				Hook: func(op, id, point string) {
					for _, p := range points {
						if p == point {
							if seen == crashAt {
								panic(crash{})
							}
							seen++
						}
					}
				},
			}
			rollback := !loaded.GatePassed() && rapid.Bool().Draw(rt, fmt.Sprintf("rollback%d", round))
			func() {
				defer func() {
					if r := recover(); r != nil {
						if _, ok := r.(crash); !ok {
							panic(r)
						}
					}
				}()
				if rollback {
					_ = e.Rollback(context.Background())
				} else {
					_ = e.Resume(context.Background())
				}
			}()
		}
		var final statefile.State
		if err := json.Unmarshal([]byte(store.saves[len(store.saves)-1]), &final); err != nil {
			rt.Fatal(err)
		}
		if !final.Finished() {
			// 40 rounds with at most one crash each always leave rounds
			// with no crash: a run that has not finished did not converge.
			rt.Fatalf("the run did not converge in 40 rounds: %s, steps %+v", final.Status, final.Steps)
		}
		switch final.Status {
		case statefile.RunApplied:
			for _, s := range p.Steps {
				if s.Phase != plan.PhaseGate && w.have[s.ID] != 1 {
					rt.Fatalf("applied run is missing %s: %v", s.ID, w.have)
				}
			}
		case statefile.RunRolledBack:
			if final.GatePassed() {
				rt.Fatal("rolled back after the gate")
			}
			if len(w.have) != 0 {
				rt.Fatalf("rollback left %v behind", w.have)
			}
		}
	})
}
