package view

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/envmig/envmig/executor/group"
	"github.com/envmig/envmig/executor/switches"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

// StatusText renders the journal: the run, every step's state, where it
// stopped, and what resume and rollback would do from here.
func StatusText(w io.Writer, st *statefile.State, s Style) error {
	b := &strings.Builder{}
	p := st.Plan
	fmt.Fprintf(b, "%s %q · run %s (%s) · %s\n", s.Bold("Environment"), st.Environment, st.Lineage, st.Operation, statusWord(st.Status, s))
	fmt.Fprintf(b, "started %s · updated %s · plan %s · journal serial %d\n\n", st.StartedAt.Format(time.RFC3339), st.UpdatedAt.Format(time.RFC3339), ShortDigest(st.PlanDigest), st.Serial)
	idw := 0
	for _, step := range p.Steps {
		idw = max(idw, len(step.ID))
	}
	stopped := -1
	for i, step := range p.Steps {
		r := st.Steps[i]
		if step.Phase == plan.PhaseGate {
			fmt.Fprintf(b, "  %s\n", s.Red("━━━━━━━━ POINT OF NO RETURN ━━━━━━━━"))
		}
		took := ""
		if !r.FinishedAt.IsZero() && !r.StartedAt.IsZero() {
			took = Elapsed(r.FinishedAt.Sub(r.StartedAt))
		}
		fmt.Fprintf(b, "  %s %3d  %-*s  %-9s %6s  %s\n", stepMark(r.Status, s), i+1, idw, step.ID, statusLabel(r.Status), took, step.Description)
		for _, line := range errorLines(r.Error) {
			fmt.Fprintf(b, "         %s\n", s.Red(line))
		}
		if stopped < 0 && r.Status != statefile.StepDone && r.Status != statefile.StepPending {
			stopped = i
		}
	}
	if w := standbyWindow(st); w != "" {
		fmt.Fprintf(b, "\n%s %s\n", s.Bold("Standby window:"), w)
	}
	if len(st.Kept) > 0 {
		fmt.Fprintf(b, "\nKept until `envmig cleanup`:\n")
		for _, k := range st.Kept {
			fmt.Fprintf(b, "  - %s %s: %s\n", k.Kind, k.ID, k.Why)
		}
	}
	historyText(b, st)
	fmt.Fprintf(b, "\n%s\n", nextSteps(st, stopped))
	_, err := io.WriteString(w, b.String())
	return err
}

// shownHistory is how many earlier runs status lists.
const shownHistory = 5

// historyText lists the journal's earlier runs, newest first: after a
// cleanup, the migration it cleaned up is still in view.
func historyText(b *strings.Builder, st *statefile.State) {
	if len(st.History) == 0 {
		return
	}
	fmt.Fprintf(b, "\nEarlier runs (newest first):\n")
	for i := len(st.History) - 1; i >= 0 && i >= len(st.History)-shownHistory; i-- {
		h := st.History[i]
		took := ""
		if !h.FinishedAt.IsZero() && !h.StartedAt.IsZero() {
			took = " in " + Elapsed(h.FinishedAt.Sub(h.StartedAt))
		}
		fmt.Fprintf(b, "  - run %s (%s) %s, finished %s%s · plan %s\n", h.Lineage, h.Operation, h.Status, h.FinishedAt.UTC().Format(time.RFC3339), took, ShortDigest(h.PlanDigest))
	}
	if n := len(st.History) - shownHistory; n > 0 {
		fmt.Fprintf(b, "  (and %d older; `envmig status -json` has them all)\n", n)
	}
}

func nextSteps(st *statefile.State, stopped int) string {
	p := st.Plan
	if st.Finished() {
		return fmt.Sprintf("The run is %s: there is nothing to resume or roll back.", st.Status)
	}
	first := -1
	for i, r := range st.Steps {
		if r.Status != statefile.StepDone {
			first = i
			break
		}
	}
	var b strings.Builder
	if stopped >= 0 {
		fmt.Fprintf(&b, "Stopped at step %d (%s): %s.\n", stopped+1, p.Steps[stopped].ID, statusLabel(st.Steps[stopped].Status))
	}
	if st.Status == statefile.RunRollingBack {
		fmt.Fprintf(&b, "A rollback is under way. `envmig rollback` (or `envmig resume`) finishes it: it undoes %s.\n", undoList(st))
		return b.String()
	}
	if first >= 0 {
		what := fmt.Sprintf("run steps %d–%d", first+1, len(p.Steps))
		if st.Steps[first].Status != statefile.StepPending {
			what = fmt.Sprintf("re-check and finish step %d (%s), then %s", first+1, p.Steps[first].ID, fmt.Sprintf("steps %d–%d", first+2, len(p.Steps)))
		}
		// A clone's gate only marks it complete: nothing is asked there.
		if !st.GatePassed() && st.Operation != "clone" {
			what += ", stopping at the point of no return for confirmation"
		}
		fmt.Fprintf(&b, "`envmig resume` would %s.\n", what)
	}
	if st.GatePassed() {
		b.WriteString("`envmig rollback` is refused: the run crossed the point of no return; it can only roll forward.")
	} else {
		fmt.Fprintf(&b, "`envmig rollback` would undo %s.", undoList(st))
	}
	return b.String()
}

func undoList(st *statefile.State) string {
	var parts []string
	for i := len(st.Steps) - 1; i >= 0; i-- {
		r := st.Steps[i]
		if r.Status == statefile.StepPending || r.Status == statefile.StepReverted {
			continue
		}
		step := st.Plan.Steps[i]
		u := step.Undo
		if u == "" {
			u = "nothing to undo"
		}
		parts = append(parts, fmt.Sprintf("%d %s (%s)", i+1, step.ID, u))
	}
	if len(parts) == 0 {
		return "nothing (no step started)"
	}
	return "steps " + strings.Join(parts, "; ")
}

func statusWord(status string, s Style) string {
	switch status {
	case statefile.RunApplied, statefile.RunCleaned:
		return s.Green(status)
	case statefile.RunRolledBack:
		return s.Yellow(status)
	}
	return s.Red(status)
}

func stepMark(status string, s Style) string {
	switch status {
	case statefile.StepDone:
		return s.Green("✓")
	case statefile.StepFailed:
		return s.Red("✗")
	case statefile.StepStarted, statefile.StepReverting:
		return s.Yellow("…")
	case statefile.StepReverted:
		return s.Yellow("↺")
	}
	return "·"
}

func statusLabel(status string) string {
	if status == statefile.StepPending {
		return "pending"
	}
	return status
}

// maxErrorLines bounds the lines of a step's error that status shows: a
// freeze check lists every change it found, and the first of them say what
// to look at.
const maxErrorLines = 12

// errorLines are the lines status shows of a step's error: "error: " and
// its first line, then the lines that follow (what changed, what to do),
// at most maxErrorLines in all.
func errorLines(err string) []string {
	if err == "" {
		return nil
	}
	lines := strings.Split(strings.TrimRight(err, "\n"), "\n")
	lines[0] = "error: " + lines[0]
	if len(lines) > maxErrorLines {
		more := len(lines) - maxErrorLines + 1
		lines = append(lines[:maxErrorLines-1], fmt.Sprintf("… %d more lines (`envmig status -json` has them all)", more))
	}
	return lines
}

// standbyWindow says how long the standby lasted, measured from the
// journal, next to the plan's prediction ("" for a run without one). It
// opens when the first group or switch recorded what it found, right
// before its first change (the record survives a retry of the step, its
// start time does not), and closes when the last of them is back: its
// resume or on step done, or, after a rollback, its undo. The measure
// includes whatever the run waited for inside the window: a confirmation
// at the point of no return, a crash and its resume.
func standbyWindow(st *statefile.State) string {
	var start, end time.Time
	open, closed := 0, 0
	for i, step := range st.Plan.Steps {
		r := st.Steps[i]
		switch step.Action {
		case plan.GroupStandby, plan.SwitchOff:
			if r.Status == statefile.StepPending {
				continue
			}
			open++
			at := r.StartedAt
			for _, key := range []string{group.KeyStartedAt, switches.KeyRecordedAt} {
				if t, err := time.Parse(time.RFC3339Nano, r.Values[key]); err == nil {
					at = t
				}
			}
			if start.IsZero() || (!at.IsZero() && at.Before(start)) {
				start = at
			}
			if r.Status == statefile.StepReverted {
				closed++
				end = later(end, r.FinishedAt)
			}
		case plan.GroupResume, plan.SwitchOn:
			if r.Status == statefile.StepDone {
				closed++
				end = later(end, r.FinishedAt)
			}
		}
	}
	predicted := "no prediction"
	if sec := st.Plan.Estimate.StandbySeconds; sec > 0 {
		predicted = Duration(sec) + " predicted"
	}
	switch {
	case open == 0 && st.Plan.Estimate.StandbySeconds > 0:
		return predicted + "; it has not begun"
	case open == 0 || start.IsZero():
		return ""
	case closed < open || end.IsZero():
		return fmt.Sprintf("open since %s (%s): the group and the writers the run switched off are still off", start.UTC().Format(time.RFC3339), predicted)
	}
	return fmt.Sprintf("%s measured (%s to %s), %s", Elapsed(end.Sub(start)), start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), predicted)
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
