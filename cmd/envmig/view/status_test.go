package view

import (
	"strings"
	"testing"
	"time"

	"github.com/envmig/envmig/executor/group"
	"github.com/envmig/envmig/executor/switches"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

// standbyState is a journal of a run with a group and a switch: the
// standby step retried (its start moved), the switch off, the gate, both
// back.
func standbyState(t0 time.Time) *statefile.State {
	p := &plan.Plan{Environment: "production", Lineage: "run1", Estimate: plan.Estimate{StandbySeconds: 300}, Steps: []plan.Step{
		{ID: "preflight", Action: plan.Preflight, Phase: plan.PhasePrepare},
		{ID: "group.standby.web", Action: plan.GroupStandby, Phase: plan.PhasePrepare},
		{ID: "switch.off.worker", Action: plan.SwitchOff, Phase: plan.PhasePrepare, InStandby: true},
		{ID: "gate", Action: plan.Gate, Phase: plan.PhaseGate, InStandby: true},
		{ID: "group.resume.web", Action: plan.GroupResume, Phase: plan.PhaseCommit, InStandby: true},
		{ID: "switch.on.worker", Action: plan.SwitchOn, Phase: plan.PhaseCommit, InStandby: true},
	}}
	st := statefile.NewState(p, "apply", t0)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }
	done := func(i, from, to int, values map[string]string) {
		st.Steps[i].Status, st.Steps[i].StartedAt, st.Steps[i].FinishedAt, st.Steps[i].Values = statefile.StepDone, at(from), at(to), values
	}
	done(0, 0, 1, nil)
	done(1, 90, 100, map[string]string{group.KeyStartedAt: at(10).Format(time.RFC3339Nano)}) // retried at 90 s
	done(2, 100, 130, map[string]string{switches.KeyRecordedAt: at(101).Format(time.RFC3339Nano)})
	done(3, 130, 140, nil)
	done(4, 140, 200, nil)
	done(5, 200, 262, nil)
	st.Status = statefile.RunApplied
	return st
}

func statusText(t *testing.T, st *statefile.State) string {
	t.Helper()
	var b strings.Builder
	if err := StatusText(&b, st, Style{}); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestStatusShowsTheMeasuredStandbyNextToThePredicted(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 6, 0, 0, 0, time.UTC)
	cases := map[string]struct {
		change func(st *statefile.State)
		want   string
	}{
		"applied": {func(*statefile.State) {},
			"Standby window: 4m12s measured (2026-12-03T06:00:10Z to 2026-12-03T06:04:22Z), ~5m predicted"},
		"stopped at the gate": {func(st *statefile.State) {
			st.Status = statefile.RunRunning
			for i := 3; i < 6; i++ {
				st.Steps[i] = statefile.StepRecord{ID: st.Steps[i].ID, Status: statefile.StepPending}
			}
		}, "Standby window: open since 2026-12-03T06:00:10Z (~5m predicted): the group and the writers the run switched off are still off"},
		"rolled back": {func(st *statefile.State) {
			st.Status = statefile.RunRolledBack
			for i := 3; i < 6; i++ {
				st.Steps[i] = statefile.StepRecord{ID: st.Steps[i].ID, Status: statefile.StepPending}
			}
			st.Steps[2].Status, st.Steps[2].FinishedAt = statefile.StepReverted, t0.Add(150*time.Second)
			st.Steps[1].Status, st.Steps[1].FinishedAt = statefile.StepReverted, t0.Add(180*time.Second)
		}, "Standby window: 2m50s measured (2026-12-03T06:00:10Z to 2026-12-03T06:03:00Z), ~5m predicted"},
		"not begun": {func(st *statefile.State) {
			st.Status = statefile.RunRunning
			for i := 1; i < 6; i++ {
				st.Steps[i] = statefile.StepRecord{ID: st.Steps[i].ID, Status: statefile.StepPending}
			}
		}, "Standby window: ~5m predicted; it has not begun"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			st := standbyState(t0)
			tc.change(st)
			if got := statusText(t, st); !strings.Contains(got, tc.want) {
				t.Errorf("status lacks %q:\n%s", tc.want, got)
			}
		})
	}
}

func TestStatusWithoutAStandbyShowsNoWindow(t *testing.T) {
	p := &plan.Plan{Environment: "production", Lineage: "run1", Steps: []plan.Step{
		{ID: "preflight", Action: plan.Preflight}, {ID: "gate", Action: plan.Gate, Phase: plan.PhaseGate},
	}}
	st := statefile.NewState(p, "apply", time.Now())
	if got := statusText(t, st); strings.Contains(got, "Standby window") {
		t.Errorf("status shows a window for a run without a standby:\n%s", got)
	}
}

// A freeze check's error lists what changed over several lines: status
// shows them (bounded), not only the line that announces them.
func TestStatusShowsTheLinesOfAStepsError(t *testing.T) {
	st := standbyState(time.Now())
	st.Steps[3] = statefile.StepRecord{ID: "gate", Status: statefile.StepFailed, Error: "the originals changed after their copy was taken, so the copy may miss data:\n  - s3://b: img/7.png deleted"}
	got := statusText(t, st)
	if !strings.Contains(got, "error: the originals changed") || !strings.Contains(got, "img/7.png deleted") {
		t.Errorf("status does not show the error's lines:\n%s", got)
	}
	long := "changed:" + strings.Repeat("\n  - another key", 40)
	st.Steps[3].Error = long
	got = statusText(t, st)
	if n := strings.Count(got, "another key"); n != maxErrorLines-2 || !strings.Contains(got, "… 30 more lines") {
		t.Errorf("status shows %d lines of a 41-line error:\n%s", n, got)
	}
}
