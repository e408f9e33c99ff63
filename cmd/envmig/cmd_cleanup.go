package main

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/cmd/envmig/view"
	"github.com/envmig/envmig/planner"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

func cleanupCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "cleanup",
		Usage: "remove the retired originals, snapshots and copies that applied runs kept",
		Flags: stateRunFlags(),
		Action: func(c *cli.Context) error {
			if _, err := positional(c, 0, 0, ""); err != nil {
				return err
			}
			return runCleanup(c.Context, g, stateRunOptions{varFlags{}, c.String("environment"), c.Bool("auto-approve"), c.Duration("lock-timeout")})
		},
	}
}

func runCleanup(ctx context.Context, g *globals, o stateRunOptions) error {
	name, err := g.journalName(ctx, o.vars, o.environment)
	if err != nil {
		return err
	}
	s, err := g.openSession(ctx, o.vars, name, "cleanup", "", o.lockTimeout, func(st *statefile.State) error {
		if st == nil {
			return fmt.Errorf("no run recorded for %q in %s: nothing to clean up (with no journal, `envmig status` looks for a run in AWS itself, and `envmig recover` hands what it left to cleanup)", name, g.stateBackend.Location())
		}
		return unfinished(st)
	})
	if err != nil {
		return err
	}
	defer s.close()
	kept := s.state.Kept
	if len(kept) == 0 {
		fmt.Fprintf(g.stdout, "Nothing to clean up: no run of %q kept anything.\n", name)
		return nil
	}
	last := s.state.Plan
	cl, err := g.awsForPlan(ctx, last)
	if err != nil {
		return err
	}
	obs, err := reader(cl).Observe(ctx, planner.CleanupRequest(kept, last.Region))
	if err != nil {
		return err
	}
	p := planner.Cleanup(name, kept, obs, planner.Options{Lineage: newLineage(), Now: time.Now(), Tool: version})
	refused := planner.KeptForChanges(p)
	if !p.HasChanges() {
		s.state.Kept = slices.DeleteFunc(s.state.Kept, func(l plan.Leftover) bool { return cleaned(p, l) })
		if err := s.store.Save(s.state); err != nil {
			return err
		}
		if len(refused) > 0 {
			var buf bytes.Buffer
			if err := view.PlanText(&buf, p, g.style()); err != nil {
				return err
			}
			fmt.Fprint(g.stdout, g.redact(buf.String()))
			return keptError(refused)
		}
		fmt.Fprintf(g.stdout, "Nothing to clean up: everything the runs kept is already gone.\n")
		return nil
	}
	if err := g.canConfirm(o.autoApprove, "cleanup"); err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := view.PlanText(&buf, p, g.style()); err != nil {
		return err
	}
	fmt.Fprint(g.stdout, g.redact(buf.String()))
	st := statefile.NewState(p, "cleanup", time.Now().UTC())
	st.Kept, st.History = kept, s.state.History
	s.state = st
	if err := s.store.Save(st); err != nil {
		return err
	}
	if err := s.execute(ctx, cl, o.autoApprove, modeApply); err != nil {
		return g.finish(s, err)
	}
	st.Kept = slices.DeleteFunc(st.Kept, func(l plan.Leftover) bool { return cleaned(p, l) })
	st.Status = statefile.RunCleaned
	if len(st.History) > 0 {
		st.History[len(st.History)-1].Status = statefile.RunCleaned
	}
	if err := s.store.Save(st); err != nil {
		return err
	}
	if len(refused) > 0 {
		fmt.Fprintf(g.stdout, "\nRemoved %d item(s) the runs of %q kept.\n", len(kept)-len(st.Kept), name)
		return keptError(refused)
	}
	fmt.Fprintf(g.stdout, "\n%s Removed %d item(s) the runs of %q kept.\n", g.style().Green("Cleanup complete!"), len(kept)-len(st.Kept), name)
	return nil
}

// keptError is cleanup's answer when it kept something because it changed
// after its run retired it: the operator must look before anything more
// is deleted, so cleanup does not report success.
func keptError(diags []plan.Diagnostic) error {
	msgs := make([]string, len(diags))
	for i, d := range diags {
		msgs[i] = d.Code + ": " + d.Summary
	}
	return fmt.Errorf("cleanup kept %d item(s) that changed after their run retired them:\n  - %s\nthey stay recorded; run envmig cleanup again once they are dealt with", len(diags), strings.Join(msgs, "\n  - "))
}

// cleaned reports whether the cleanup plan removed (or found gone) l.
func cleaned(p *plan.Plan, l plan.Leftover) bool {
	for _, s := range p.Steps {
		if slices.Contains(s.Removes, l.ID) {
			return true
		}
	}
	for _, o := range p.Observations {
		if o.ID == l.ID && !o.Exists {
			return true
		}
	}
	return false
}
