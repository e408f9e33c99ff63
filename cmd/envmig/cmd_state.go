package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/cmd/envmig/view"
	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

// journalName picks the journal a state command acts on: -environment, the
// only journal in .envmig, or the spec's only environment.
func (g *globals) journalName(flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	matches, _ := filepath.Glob(filepath.Join(stateDir, "*.state.json"))
	var names []string
	for _, m := range matches {
		names = append(names, strings.TrimSuffix(filepath.Base(m), ".state.json"))
	}
	if len(names) == 1 {
		return names[0], nil
	}
	if cfg, diags := config.Load(".", config.LoadOptions{Environ: g.environ}); !diags.HasErrors() && len(cfg.Environments) == 1 {
		return cfg.Environments[0].Name, nil
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no journal in %s/: nothing has been applied from this directory (use -chdir=DIR, or -environment NAME)", stateDir)
	}
	sort.Strings(names)
	return "", fmt.Errorf("several journals in %s/ (%s): choose one with -environment NAME", stateDir, strings.Join(names, ", "))
}

// awsForPlan builds clients for the plan's region and checks the account.
func (g *globals) awsForPlan(ctx context.Context, p *plan.Plan) (*awsclient.Clients, error) {
	cl, err := g.awsFor(ctx, &config.Config{AWS: config.AWS{Region: p.Region}})
	if err != nil {
		return nil, err
	}
	return cl, checkIdentity(ctx, cl, p)
}

func statusCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show the journal: what ran, where it stopped, what resume and rollback would do",
		Flags: []cli.Flag{environmentFlag(), &cli.BoolFlag{Name: "json", Usage: "print the state file as JSON"}},
		Action: func(c *cli.Context) error {
			if _, err := positional(c, 0, 0, ""); err != nil {
				return err
			}
			name, err := g.journalName(c.String("environment"))
			if err != nil {
				return err
			}
			st, err := statefile.Open(stateDir, name).Load()
			if errors.Is(err, fs.ErrNotExist) {
				fmt.Fprintf(g.stdout, "No runs recorded for %q in %s/.\n", name, stateDir)
				return nil
			}
			if err != nil {
				return err
			}
			if c.Bool("json") {
				enc := json.NewEncoder(g.stdout)
				enc.SetIndent("", "  ")
				return enc.Encode(st)
			}
			if info, held, err := statefile.Open(stateDir, name).LockInfo(); err == nil && held && info != nil {
				fmt.Fprintf(g.stdout, "Locked by %s (pid %d on %s, run %s, since %s); lock ID %s\n\n", info.Operation, info.PID, info.Host, info.Run, info.Since.Format(time.RFC3339), info.ID)
			}
			return view.StatusText(g.stdout, st, g.style())
		},
	}
}

type stateRunOptions struct {
	vars        varFlags
	environment string
	autoApprove bool
	lockTimeout time.Duration
}

func stateRunFlags() []cli.Flag {
	return []cli.Flag{environmentFlag(), autoApproveFlag(), lockTimeoutFlag()}
}

func resumeCommand(g *globals) *cli.Command {
	var v varFlags
	return &cli.Command{
		Name:  "resume",
		Usage: "continue an interrupted or failed run (or an interrupted rollback)",
		Flags: append(stateRunFlags(), v.flags()...),
		Action: func(c *cli.Context) error {
			if _, err := positional(c, 0, 0, ""); err != nil {
				return err
			}
			v.read(c)
			return runJournal(c.Context, g, stateRunOptions{v, c.String("environment"), c.Bool("auto-approve"), c.Duration("lock-timeout")}, modeResume)
		},
	}
}

func rollbackCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "rollback",
		Usage: "undo an interrupted or failed run (refused after the point of no return)",
		Flags: stateRunFlags(),
		Action: func(c *cli.Context) error {
			if _, err := positional(c, 0, 0, ""); err != nil {
				return err
			}
			return runJournal(c.Context, g, stateRunOptions{varFlags{}, c.String("environment"), c.Bool("auto-approve"), c.Duration("lock-timeout")}, modeRollback)
		},
	}
}

// runJournal resumes or rolls back the journal's run.
func runJournal(ctx context.Context, g *globals, o stateRunOptions, mode runMode) error {
	name, err := g.journalName(o.environment)
	if err != nil {
		return err
	}
	op := map[runMode]string{modeResume: "resume", modeRollback: "rollback"}[mode]
	errNothing := errors.New("nothing to do")
	s, err := g.openSession(ctx, name, op, "", o.lockTimeout, func(st *statefile.State) error {
		switch {
		case st == nil:
			return fmt.Errorf("no run recorded for %q in %s/: nothing to %s", name, stateDir, op)
		case st.Finished():
			return errNothing
		case mode == modeRollback && st.GatePassed():
			return fmt.Errorf("rollback refused: run %s crossed the point of no return, so the originals have already changed; run `envmig resume` to finish the migration", st.Lineage)
		}
		needsGate := mode == modeResume && st.Status != statefile.RunRollingBack && !st.GatePassed()
		if needsGate || mode == modeRollback {
			return g.canConfirm(o.autoApprove, op)
		}
		return nil
	})
	if errors.Is(err, errNothing) {
		st, _ := statefile.Open(stateDir, name).Load()
		fmt.Fprintf(g.stdout, "Run %s of %q is %s: nothing to %s.\n", st.Lineage, st.Environment, st.Status, op)
		return nil
	}
	if err != nil {
		return err
	}
	defer s.close()
	st := s.state
	// Resuming runs the rest of the journal's plan: only if it is still
	// the plan the spec gives. (A rollback only undoes what the run did,
	// and only to what the run created, so it needs no spec.)
	if mode == modeResume && st.Status != statefile.RunRollingBack {
		if err := g.rederiveJournal(st, o.vars); err != nil {
			return err
		}
	}
	if mode == modeRollback && !o.autoApprove {
		if err := g.ask(fmt.Sprintf("Undo run %s of %q? Every step it started is undone in reverse order.\nOnly 'yes' will be accepted.", st.Lineage, st.Environment), "yes"); err != nil {
			return err
		}
	}
	cl, err := g.awsForPlan(ctx, st.Plan)
	if err != nil {
		return err
	}
	verb := map[runMode]string{modeResume: "Resuming", modeRollback: "Rolling back"}[mode]
	fmt.Fprintf(g.stdout, "%s run %s of %q (journal %s)\n\n", g.style().Bold(verb), st.Lineage, st.Environment, s.store.Path())
	err = s.execute(ctx, cl, o.autoApprove, mode)
	return g.finish(s, err)
}

func forceUnlockCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "force-unlock",
		Usage:     "remove a stale lock after showing its holder",
		ArgsUsage: "LOCK_ID",
		Flags:     []cli.Flag{environmentFlag()},
		Action: func(c *cli.Context) error {
			args, err := positional(c, 1, 1, "LOCK_ID")
			if err != nil {
				return err
			}
			name, err := g.journalName(c.String("environment"))
			if err != nil {
				return err
			}
			info, err := statefile.Open(stateDir, name).ForceUnlock(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(g.stdout, "Removed the lock %s of %q held by %s (pid %d on %s, run %s, since %s).\n",
				info.ID, name, info.Operation, info.PID, info.Host, info.Run, info.Since.Format(time.RFC3339))
			if alive(info.PID) && sameHost(info.Host) {
				fmt.Fprintf(g.stdout, "Warning: process %d is still running; if it is envmig, stop it before starting another run.\n", info.PID)
			}
			return nil
		},
	}
}

func sameHost(h string) bool {
	me, _ := os.Hostname()
	return h == me
}
