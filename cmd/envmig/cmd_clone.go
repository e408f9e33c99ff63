package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/cmd/envmig/view"
	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

type cloneOptions struct {
	vars        varFlags
	environment string
	to          string
	destroy     string
	list        bool
	autoApprove bool
	lockTimeout time.Duration
}

func cloneCommand(g *globals) *cli.Command {
	var o cloneOptions
	return &cli.Command{
		Name:      "clone",
		Usage:     "copy an environment for experiments (-to NAME), list its clones (-list), or remove one (-destroy NAME)",
		ArgsUsage: "[ENVIRONMENT] -to NAME | -list | -destroy NAME  (or: clone destroy ENVIRONMENT NAME)",
		Flags: append(o.vars.flags(),
			&cli.StringFlag{Name: "to", Usage: "the clone's `NAME`: databases become <identifier>-NAME, buckets <bucket>-NAME"},
			&cli.StringFlag{Name: "destroy", Usage: "remove the clone `NAME`: exactly what carries its envmig:clone-of tag, after showing it"},
			&cli.BoolFlag{Name: "list", Usage: "list the environment's clones with their age and size"},
			autoApproveFlag(), lockTimeoutFlag()),
		Action: func(c *cli.Context) error {
			const usage = "[ENVIRONMENT] -to NAME | -list | -destroy NAME, or clone destroy ENVIRONMENT NAME"
			args, err := positional(c, 0, 3, usage)
			if err != nil {
				return err
			}
			o.to, o.destroy, o.list = c.String("to"), c.String("destroy"), c.Bool("list")
			switch {
			case len(args) == 3 && args[0] == "destroy":
				// `clone destroy ENV NAME`, the same as `clone ENV -destroy NAME`.
				if o.destroy != "" {
					return usageError{errors.New("clone destroy ENVIRONMENT NAME names the clone already: drop -destroy")}
				}
				o.environment, o.destroy = args[1], args[2]
			case len(args) > 1:
				return usageError{fmt.Errorf("usage: envmig clone %s", usage)}
			case len(args) == 1:
				o.environment = args[0]
			}
			n := 0
			for _, set := range []bool{o.to != "", o.destroy != "", o.list} {
				if set {
					n++
				}
			}
			if n != 1 {
				return usageError{errors.New("clone needs exactly one of -to NAME, -list or -destroy NAME")}
			}
			for _, name := range []string{o.to, o.destroy} {
				if name == "" {
					continue
				}
				if err := planner.ValidCloneName(name); err != nil {
					return usageError{err}
				}
			}
			o.vars.read(c)
			o.autoApprove, o.lockTimeout = c.Bool("auto-approve"), c.Duration("lock-timeout")
			switch {
			case o.list:
				return runCloneList(c.Context, g, o)
			case o.destroy != "":
				return runCloneDestroy(c.Context, g, o)
			}
			return runClone(c.Context, g, o)
		},
	}
}

// The operations a clone journal's runs record: making a clone, and
// destroying one.
const (
	opClone        = "clone"
	opCloneDestroy = "clone -destroy"
)

// cloneOp is one of the operations on a clone that run as a journaled
// run of their own under the clone's journal: making it, and destroying it.
type cloneOp struct {
	name      string // the clone's name
	operation string // the journal's operation
	plan      func(*config.Config, *config.Environment, *live.Observed, string, planner.Options) (*plan.Plan, error)
	// unfinished, question, start and done are the messages, given the
	// environment's name and the clone journal's.
	unfinished, question, start, done func(env, journal string) string
	// nothing is printed when the plan has no step (nil: never empty).
	nothing func(env string) string
}

func runClone(ctx context.Context, g *globals, o cloneOptions) error {
	return runCloneOp(ctx, g, o, cloneOp{
		name: o.to, operation: opClone, plan: planner.Clone,
		unfinished: func(env, journal string) string {
			return fmt.Sprintf("the clone %q of %q is unfinished: run `envmig resume -environment %s` to finish it, or `envmig rollback -environment %s` to remove it", o.to, env, journal, journal)
		},
		question: func(env, _ string) string {
			return fmt.Sprintf("\nClone %q as %q? The originals are only read.\nOnly 'yes' will be accepted.", env, o.to)
		},
		start: func(env, _ string) string { return fmt.Sprintf("%s %q as %q", g.style().Bold("Cloning"), env, o.to) },
		done: func(env, _ string) string {
			return fmt.Sprintf("%s %q is cloned as %q; everything it created is tagged %s.", g.style().Green("Clone complete!"), env, o.to, planner.CloneTagKey)
		},
	})
}

// runCloneOp plans op against live AWS, shows the plan, asks, and runs it
// journaled under the clone's journal. An unfinished run of that journal
// is continued with resume or rollback, never planned over.
func runCloneOp(ctx context.Context, g *globals, o cloneOptions, op cloneOp) error {
	cfg, err := g.loadConfig(o.vars)
	if err != nil {
		return err
	}
	env, err := pickEnvironment(cfg, o.environment)
	if err != nil {
		return err
	}
	if op.operation == opClone {
		if err := planner.CheckCloneName(env, op.name); err != nil {
			return usageError{err}
		}
	}
	journal := planner.CloneJournal(env.Name, op.name)
	j, err := g.journal(ctx, o.vars, journal)
	if err != nil {
		return err
	}
	if st, err := j.Load(); err == nil && !st.Finished() {
		return errors.New(op.unfinished(env.Name, journal))
	}
	// A clone copies the environment as it is: half-migrated, it would be
	// a copy of neither version.
	if op.operation == opClone {
		if err := g.refuseUnfinished(ctx, o.vars, env.Name, "clone "+env.Name); err != nil {
			return err
		}
	}
	if err := g.canConfirm(o.autoApprove, op.operation); err != nil {
		return err
	}
	cl, err := g.awsFor(ctx, cfg)
	if err != nil {
		return err
	}
	obs, err := observe(ctx, cl, cfg, env, func(stack map[string]live.StackResource, found bool) live.Request {
		return planner.CloneRequest(cfg, env, stack, found, op.name)
	})
	if err != nil {
		return err
	}
	p, err := op.plan(cfg, env, obs, op.name, planner.Options{Lineage: newLineage(), Now: time.Now(), Tool: version})
	if err != nil {
		return err
	}
	if op.nothing != nil && !p.HasChanges() && len(p.Errors()) == 0 {
		fmt.Fprintln(g.stdout, op.nothing(env.Name))
		return nil
	}
	var buf bytes.Buffer
	if err := view.PlanText(&buf, p, g.style()); err != nil {
		return err
	}
	fmt.Fprint(g.stdout, g.redact(buf.String()))
	if errs := p.Errors(); len(errs) > 0 {
		return reportedError{exitError, fmt.Errorf("the %s plan has errors: nothing was changed", op.operation)}
	}
	if !o.autoApprove {
		if err := g.ask(op.question(env.Name, journal), "yes"); err != nil {
			return err
		}
	}
	s, err := g.openSession(ctx, o.vars, journal, op.operation, p.Lineage, o.lockTimeout, unfinished)
	if err != nil {
		return err
	}
	defer s.close()
	st := statefile.NewState(p, op.operation, time.Now().UTC())
	if s.state != nil {
		st.History = s.state.History
	}
	s.state = st
	if err := s.store.Save(st); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "%s (run %s, journal %s)\n\n", op.start(env.Name, journal), p.Lineage, s.store.Location())
	// The confirmation above covers the plan's gate.
	if err := s.execute(ctx, cl, true, modeApply); err != nil {
		return g.finish(s, err)
	}
	fmt.Fprintf(g.stdout, "\n%s\n", op.done(env.Name, journal))
	return nil
}
