package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/cmd/envmig/view"
	"github.com/envmig/envmig/planner"
	"github.com/envmig/envmig/planner/live"
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
		ArgsUsage: "[ENVIRONMENT] -to NAME | -list | -destroy NAME",
		Flags: append(o.vars.flags(),
			&cli.StringFlag{Name: "to", Usage: "the clone's `NAME`: databases become <identifier>-NAME, buckets <bucket>-NAME"},
			&cli.StringFlag{Name: "destroy", Usage: "remove the clone `NAME`: exactly what carries its envmig:clone-of tag, after showing it"},
			&cli.BoolFlag{Name: "list", Usage: "list the environment's clones with their age and size"},
			autoApproveFlag(), lockTimeoutFlag()),
		Action: func(c *cli.Context) error {
			args, err := positional(c, 0, 1, "[ENVIRONMENT] -to NAME | -list | -destroy NAME")
			if err != nil {
				return err
			}
			if len(args) == 1 {
				o.environment = args[0]
			}
			o.to, o.destroy, o.list = c.String("to"), c.String("destroy"), c.Bool("list")
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

func runClone(ctx context.Context, g *globals, o cloneOptions) error {
	cfg, err := g.loadConfig(o.vars)
	if err != nil {
		return err
	}
	env, err := pickEnvironment(cfg, o.environment)
	if err != nil {
		return err
	}
	journal := env.Name + ".clone-" + o.to
	// An interrupted clone is continued, not planned again.
	j, err := g.journal(ctx, o.vars, journal)
	if err != nil {
		return err
	}
	if st, err := j.Load(); err == nil && !st.Finished() {
		return fmt.Errorf("the clone %q of %q is unfinished: run `envmig resume -environment %s` to finish it, or `envmig rollback -environment %s` to remove it", o.to, env.Name, journal, journal)
	}
	if err := g.canConfirm(o.autoApprove, "clone"); err != nil {
		return err
	}
	cl, err := g.awsFor(ctx, cfg)
	if err != nil {
		return err
	}
	obs, err := observe(ctx, cl, cfg, env, func(stack map[string]live.StackResource, found bool) live.Request {
		return planner.CloneRequest(cfg, env, stack, found, o.to)
	})
	if err != nil {
		return err
	}
	p, err := planner.Clone(cfg, env, obs, o.to, planner.Options{Lineage: newLineage(), Now: time.Now(), Tool: version})
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	if err := view.PlanText(&buf, p, g.style()); err != nil {
		return err
	}
	fmt.Fprint(g.stdout, g.redact(buf.String()))
	if errs := p.Errors(); len(errs) > 0 {
		return reportedError{exitError, errors.New("the clone plan has errors")}
	}
	if !o.autoApprove {
		if err := g.ask(fmt.Sprintf("\nClone %q as %q? The originals are only read.\nOnly 'yes' will be accepted.", env.Name, o.to), "yes"); err != nil {
			return err
		}
	}
	s, err := g.openSession(ctx, o.vars, journal, "clone", p.Lineage, o.lockTimeout, unfinished)
	if err != nil {
		return err
	}
	defer s.close()
	st := statefile.NewState(p, "clone", time.Now().UTC())
	if s.state != nil {
		st.History = s.state.History
	}
	s.state = st
	if err := s.store.Save(st); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "%s %q as %q (run %s, journal %s)\n\n", g.style().Bold("Cloning"), env.Name, o.to, p.Lineage, s.store.Location())
	// The confirmation above covers the clone's closing gate.
	if err := s.execute(ctx, cl, true, modeApply); err != nil {
		return g.finish(s, err)
	}
	fmt.Fprintf(g.stdout, "\n%s %q is cloned as %q; everything it created is tagged %s.\n", g.style().Green("Clone complete!"), env.Name, o.to, planner.CloneTagKey)
	return nil
}
