package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/cmd/envmig/view"
	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/planner"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

type planOptions struct {
	vars             varFlags
	environment      string
	out              string
	json, markdown   bool
	detailedExitCode bool
	replace          []string
}

func planCommand(g *globals) *cli.Command {
	var o planOptions
	return &cli.Command{
		Name:      "plan",
		Usage:     "read live AWS and show what a migration would do",
		ArgsUsage: " ",
		Flags: append(o.vars.flags(),
			environmentFlag(),
			&cli.StringFlag{Name: "out", Usage: "save the plan to `FILE` for envmig apply"},
			&cli.BoolFlag{Name: "json", Usage: "print the plan as JSON (the plan file format)"},
			&cli.BoolFlag{Name: "markdown", Usage: "print the plan as Markdown for a pull-request comment"},
			&cli.BoolFlag{Name: "detailed-exitcode", Usage: "exit 2 when the plan has changes, 0 when none"},
			replaceFlag(),
		),
		Action: func(c *cli.Context) error {
			if _, err := positional(c, 0, 0, ""); err != nil {
				return err
			}
			o.vars.read(c)
			o.environment, o.out = c.String("environment"), c.String("out")
			o.json, o.markdown, o.detailedExitCode = c.Bool("json"), c.Bool("markdown"), c.Bool("detailed-exitcode")
			o.replace = c.StringSlice("replace")
			if o.json && o.markdown {
				return usageError{errors.New("-json and -markdown exclude each other")}
			}
			return runPlan(c.Context, g, o)
		},
	}
}

func runPlan(ctx context.Context, g *globals, o planOptions) error {
	cfg, err := g.loadConfig(o.vars)
	if err != nil {
		return err
	}
	env, err := pickEnvironment(cfg, o.environment)
	if err != nil {
		return err
	}
	if err := g.refuseUnfinished(ctx, o.vars, env.Name, "plan"); err != nil {
		return err
	}
	p, _, err := g.makePlan(ctx, cfg, env, o.replace)
	if err != nil {
		return err
	}
	var buf bytes.Buffer
	switch {
	case o.json:
		err = plan.Encode(&buf, p)
	case o.markdown:
		err = view.PlanMarkdown(&buf, p, o.out)
	default:
		err = view.PlanText(&buf, p, g.style())
	}
	if err != nil {
		return err
	}
	if _, err := io.WriteString(g.stdout, g.redact(buf.String())); err != nil {
		return err
	}
	g.stepSummary(p, o.out)
	if errs := p.Errors(); len(errs) > 0 {
		return reportedError{exitError, fmt.Errorf("the plan has %d error(s)", len(errs))}
	}
	if o.out != "" {
		if err := writePlanFile(o.out, p); err != nil {
			return err
		}
		if !o.json && !o.markdown {
			fmt.Fprintf(g.stdout, "\nSaved the plan to %s. Apply exactly this plan with:\n    envmig apply %s\n", o.out, o.out)
		}
	}
	if o.detailedExitCode && p.HasChanges() {
		return changesError{}
	}
	return nil
}

// makePlan observes live AWS and computes the plan.
func (g *globals) makePlan(ctx context.Context, cfg *config.Config, env *config.Environment, replace []string) (*plan.Plan, *awsclient.Clients, error) {
	cl, err := g.awsFor(ctx, cfg)
	if err != nil {
		return nil, nil, err
	}
	obs, err := observe(ctx, cl, cfg, env, func(stack map[string]live.StackResource, found bool) live.Request {
		return planner.Request(cfg, env, stack, found)
	})
	if err != nil {
		return nil, nil, err
	}
	p, err := planner.Plan(cfg, env, obs, planner.Options{Lineage: newLineage(), Now: time.Now(), Tool: version, Replace: replace})
	if err != nil {
		return nil, nil, err
	}
	return p, cl, nil
}

// observe checks the caller's account first (failing closed), resolves
// env's stack if it has one, and reads what request lists for it, in the
// clients' region.
func observe(ctx context.Context, cl *awsclient.Clients, cfg *config.Config, env *config.Environment, request func(map[string]live.StackResource, bool) live.Request) (*live.Observed, error) {
	r := reader(cl)
	var stack map[string]live.StackResource
	found := false
	if env.Stack != "" {
		// Observe checks the account too, but the stack is read first.
		if _, err := r.Identity(ctx, cfg.AWS.AllowedAccountIDs); err != nil {
			return nil, err
		}
		var err error
		if stack, found, err = r.Stack(ctx, env.Stack); err != nil {
			return nil, err
		}
	}
	req := request(stack, found)
	req.Stack = "" // read once, above
	req.Region = cl.Config.Region
	obs, err := r.Observe(ctx, req)
	if err != nil {
		return nil, err
	}
	obs.StackResources, obs.StackFound = stack, found
	return obs, nil
}

// newLineage returns a fresh run identity: 8 lowercase hex digits, valid in
// every AWS name it becomes part of.
func newLineage() string {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b[:])
}

func writePlanFile(path string, p *plan.Plan) error {
	var buf bytes.Buffer
	if err := plan.Encode(&buf, p); err != nil {
		return err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		return fmt.Errorf("save plan: %w", err)
	}
	return nil
}

// stepSummary appends the Markdown plan to the GitHub Actions job summary.
func (g *globals) stepSummary(p *plan.Plan, file string) {
	path := g.getenv("GITHUB_STEP_SUMMARY")
	if !g.onGitHub() || path == "" {
		return
	}
	var buf bytes.Buffer
	if err := view.PlanMarkdown(&buf, p, file); err != nil {
		return
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		fmt.Fprintf(g.stderr, "warning: cannot write the GitHub step summary: %v\n", err)
		return
	}
	defer f.Close()
	_, _ = io.WriteString(f, g.redact(buf.String())+"\n")
}

// replaceFlag is plan's and apply's -replace.
func replaceFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "replace", Usage: "migrate `ADDRESS` (database.NAME or bucket.NAME) through a clone even when no setting requires it (repeatable)"}
}
