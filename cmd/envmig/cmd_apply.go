package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/cmd/envmig/view"
	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/planner"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

type applyOptions struct {
	vars        varFlags
	environment string
	planFile    string
	autoApprove bool
	lockTimeout time.Duration
	replace     []string
}

func lockTimeoutFlag() cli.Flag {
	return &cli.DurationFlag{Name: "lock-timeout", Usage: "wait up to `DURATION` for another run's lock (default: fail at once)"}
}

func autoApproveFlag() cli.Flag {
	return &cli.BoolFlag{Name: "auto-approve", Usage: "answer every confirmation, the point of no return included"}
}

func applyCommand(g *globals) *cli.Command {
	var o applyOptions
	return &cli.Command{
		Name:      "apply",
		Usage:     "run a saved plan, or plan, confirm and run",
		ArgsUsage: "[PLANFILE]",
		Flags:     append(o.vars.flags(), environmentFlag(), autoApproveFlag(), lockTimeoutFlag(), replaceFlag()),
		Action: func(c *cli.Context) error {
			args, err := positional(c, 0, 1, "[PLANFILE] [-auto-approve]")
			if err != nil {
				return err
			}
			if len(args) == 1 {
				o.planFile = args[0]
			}
			o.vars.read(c)
			o.environment, o.autoApprove, o.lockTimeout = c.String("environment"), c.Bool("auto-approve"), c.Duration("lock-timeout")
			o.replace = c.StringSlice("replace")
			if o.planFile != "" && len(o.replace) > 0 {
				return usageError{errors.New("-replace is an option of the plan: a saved plan already records it (envmig plan -replace ADDRESS -out FILE)")}
			}
			return runApply(c.Context, g, o)
		},
	}
}

func runApply(ctx context.Context, g *globals, o applyOptions) error {
	if err := g.canConfirm(o.autoApprove, "apply"); err != nil {
		return err
	}
	// A run in progress is reported as such before anything else could
	// refuse or take time: planning now would read its half-migrated
	// environment, and a saved plan would meet its unfinished journal.
	if err := g.refuseLocked(ctx, o); err != nil {
		return err
	}
	var (
		p   *plan.Plan
		cl  *awsclient.Clients
		err error
	)
	if o.planFile != "" {
		p, cl, err = g.loadSavedPlan(ctx, o)
	} else {
		p, cl, err = g.planToApply(ctx, o)
	}
	if err != nil {
		return err
	}
	if !p.HasChanges() {
		fmt.Fprintf(g.stdout, "No changes. Environment %q matches the spec; nothing to apply.\n", p.Environment)
		return nil
	}
	// A saved plan is checked against live AWS before the lock is taken (a
	// stale plan changes nothing) and again under it (AWS may have changed
	// while -lock-timeout waited).
	check := func(st *statefile.State) error {
		if err := unfinished(st); err != nil {
			return err
		}
		if st != nil && (st.Applied(p.Digest) || st.Lineage == p.Lineage) {
			return fmt.Errorf("this plan (run %s) was already applied or rolled back; make a new plan", p.Lineage)
		}
		if o.planFile != "" {
			return g.checkFresh(ctx, cl, p)
		}
		return nil
	}
	s, err := g.openSession(ctx, o.vars, p.Environment, "apply", p.Lineage, o.lockTimeout, check)
	if err != nil {
		return err
	}
	defer s.close()
	st := statefile.NewState(p, "apply", time.Now().UTC())
	if s.state != nil {
		st.Kept, st.History = s.state.Kept, s.state.History
	}
	s.state = st
	if err := s.store.Save(st); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "%s run %s on environment %q (%d steps, journal %s)\n\n", g.style().Bold("Applying"), p.Lineage, p.Environment, len(p.Steps), s.store.Location())
	err = s.execute(ctx, cl, o.autoApprove, modeApply)
	return g.finish(s, err)
}

// refuseLocked returns a *statefile.LockError naming the holder when a
// live process holds the lock of the journal the apply would run in (with
// -lock-timeout, openSession waits for it instead). It makes no AWS call
// with a local journal, and it leaves a plan file or spec it cannot read
// to the steps that report them.
func (g *globals) refuseLocked(ctx context.Context, o applyOptions) error {
	if o.lockTimeout > 0 {
		return nil
	}
	var name string
	if o.planFile != "" {
		f, err := os.Open(o.planFile)
		if err != nil {
			return nil
		}
		p, err := plan.Decode(f)
		f.Close()
		if err != nil {
			return nil
		}
		name = p.Environment
	} else {
		cfg, diags := config.Load(".", config.LoadOptions{VarFiles: o.vars.varFiles, Vars: o.vars.vars, Environ: g.environ})
		if cfg == nil || diags.HasErrors() {
			return nil
		}
		env, err := pickEnvironment(cfg, o.environment)
		if err != nil {
			return nil
		}
		name = env.Name
	}
	j, err := g.journal(ctx, o.vars, name)
	if err != nil {
		return nil
	}
	return statefile.CheckUnlocked(j)
}

// loadSavedPlan reads a plan file and refuses one that was edited, or made
// for another account or region.
func (g *globals) loadSavedPlan(ctx context.Context, o applyOptions) (*plan.Plan, *awsclient.Clients, error) {
	f, err := os.Open(o.planFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read plan: %w", err)
	}
	p, err := plan.Decode(f)
	f.Close()
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", o.planFile, err)
	}
	if errs := p.Errors(); len(errs) > 0 {
		return nil, nil, fmt.Errorf("%s: the plan has %d error(s) and cannot be applied", o.planFile, len(errs))
	}
	// Only the plan the spec gives runs: it is computed again from the
	// spec in the working directory and the plan's own observations, before
	// any AWS call.
	spec, err := g.rederive(p, o.vars, o.planFile)
	if err != nil {
		return nil, nil, err
	}
	cl, err := g.awsFor(ctx, spec)
	if err != nil {
		return nil, nil, err
	}
	if err := checkIdentity(ctx, cl, p); err != nil {
		return nil, nil, err
	}
	return p, cl, nil
}

// checkFresh re-reads everything the plan depended on and refuses a plan
// that no longer matches, saying what changed.
func (g *globals) checkFresh(ctx context.Context, cl *awsclient.Clients, p *plan.Plan) error {
	obs, err := reader(cl).Observe(ctx, planner.Reobserve(p))
	if err != nil {
		return err
	}
	if changes := planner.Stale(p.Observations, planner.Refresh(p, obs)); len(changes) > 0 {
		return &StaleError{Changes: changes}
	}
	return nil
}

// planToApply plans now, shows the plan and asks for a yes.
func (g *globals) planToApply(ctx context.Context, o applyOptions) (*plan.Plan, *awsclient.Clients, error) {
	cfg, err := g.loadConfig(o.vars)
	if err != nil {
		return nil, nil, err
	}
	env, err := pickEnvironment(cfg, o.environment)
	if err != nil {
		return nil, nil, err
	}
	p, cl, err := g.makePlan(ctx, cfg, env, o.replace)
	if err != nil {
		return nil, nil, err
	}
	var buf bytes.Buffer
	if err := view.PlanText(&buf, p, g.style()); err != nil {
		return nil, nil, err
	}
	fmt.Fprint(g.stdout, g.redact(buf.String()))
	if errs := p.Errors(); len(errs) > 0 {
		return nil, nil, reportedError{exitError, errors.New("the plan has errors")}
	}
	if !p.HasChanges() || o.autoApprove {
		return p, cl, nil
	}
	if err := g.ask("\nDo you want to run this plan? envmig will stop again at the point of no return.\nOnly 'yes' will be accepted.", "yes"); err != nil {
		return nil, nil, err
	}
	return p, cl, nil
}

// finish prints how a run ended.
func (g *globals) finish(s *session, err error) error {
	st := s.state
	fmt.Fprintln(g.stdout)
	if err != nil {
		return namedJournal(err, s.name)
	}
	switch st.Status {
	case statefile.RunApplied:
		done := "Apply complete!"
		switch st.Operation {
		case opClone:
			done = "Clone complete!"
		case opCloneDestroy:
			done = "Destroy complete!"
		}
		fmt.Fprintf(g.stdout, "%s Run %s of %q is applied.\n", g.style().Green(done), st.Lineage, st.Environment)
		if len(st.Plan.Leftovers) > 0 {
			fmt.Fprintf(g.stdout, "Kept until `envmig cleanup`:\n")
			for _, l := range st.Plan.Leftovers {
				fmt.Fprintf(g.stdout, "  - %s %s: %s\n", l.Kind, l.ID, l.Why)
			}
		}
	case statefile.RunRolledBack:
		fmt.Fprintf(g.stdout, "%s Run %s of %q was undone; the environment is as it was.\n", g.style().Yellow("Rolled back."), st.Lineage, st.Environment)
	}
	return nil
}

// PlanMismatchError reports a plan that the spec in the working directory
// does not give: made from another spec or with other variables, or edited.
type PlanMismatchError struct {
	Plan, Dir, Difference string
}

func (e *PlanMismatchError) Error() string {
	return fmt.Sprintf("%s is not the plan the spec in %s gives: %s\n"+
		"Only the plan that the spec produces runs. Apply it in the directory and with the -var/-var-file values it was planned with, "+
		"or make the plan again from this spec (envmig plan -out FILE) and have it reviewed.", e.Plan, e.Dir, e.Difference)
}

// rederive loads the spec of the working directory and refuses p unless the
// planner, given p's own observations and options, computes exactly p. It
// makes no AWS call. what names the plan in messages.
func (g *globals) rederive(p *plan.Plan, vars varFlags, what string) (*config.Config, error) {
	dir, _ := os.Getwd()
	cfg, diags := config.Load(".", config.LoadOptions{VarFiles: vars.varFiles, Vars: vars.vars, Environ: g.environ})
	if cfg != nil {
		g.sensitive = append(g.sensitive, cfg.SensitiveValues...)
	}
	if len(cfg.Files) == 0 {
		return nil, fmt.Errorf("%s was made from a spec, and there is none in %s: run envmig in the directory of the spec the plan was made from (envmig -chdir=DIR ...)", what, dir)
	}
	if diags.HasErrors() {
		if _, err := g.loadConfig(vars); err != nil {
			return nil, err
		}
	}
	diff, err := planner.Rederive(cfg, p)
	if err != nil {
		return nil, err
	}
	if diff != "" {
		return nil, &PlanMismatchError{Plan: what, Dir: dir, Difference: diff}
	}
	return cfg, nil
}

// rederiveJournal refuses to resume a journal whose plan is not the one its
// source gives: the spec for migrations and clones, the journal's kept list
// for a cleanup.
func (g *globals) rederiveJournal(st *statefile.State, vars varFlags) error {
	what := fmt.Sprintf("the plan of run %s", st.Lineage)
	if st.Plan.Strategy == "cleanup" {
		if d := planner.RederiveCleanup(st.Kept, st.Plan); d != "" {
			return &PlanMismatchError{Plan: what, Dir: stateDir, Difference: d}
		}
		return nil
	}
	_, err := g.rederive(st.Plan, vars, what)
	return err
}
