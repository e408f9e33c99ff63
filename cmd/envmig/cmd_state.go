package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/cmd/envmig/view"
	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

// journalName picks the journal a state command acts on: -environment,
// the backend's only journal, or the spec's only environment.
func (g *globals) journalName(ctx context.Context, vars varFlags, flag string) (string, error) {
	if flag != "" {
		return flag, nil
	}
	b, err := g.backend(ctx, vars)
	if err != nil {
		return "", err
	}
	names, err := b.Journals(ctx)
	if err != nil {
		return "", err
	}
	if len(names) == 1 {
		return names[0], nil
	}
	if cfg, diags := config.Load(".", config.LoadOptions{Environ: g.environ}); !diags.HasErrors() && len(cfg.Environments) == 1 {
		return cfg.Environments[0].Name, nil
	}
	if len(names) == 0 {
		return "", fmt.Errorf("no journal in %s: nothing has been applied from here (use -chdir=DIR, or -environment NAME)", b.Location())
	}
	sort.Strings(names)
	return "", fmt.Errorf("several journals in %s (%s): choose one with -environment NAME", b.Location(), strings.Join(names, ", "))
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
		Usage: "show the journal: what ran, where it stopped, what resume and rollback would do; without one, the runs AWS shows",
		Flags: []cli.Flag{environmentFlag(), &cli.BoolFlag{Name: "json", Usage: "print the state file as JSON"}},
		Action: func(c *cli.Context) error {
			if _, err := positional(c, 0, 0, ""); err != nil {
				return err
			}
			return runStatus(c.Context, g, c.String("environment"), c.Bool("json"))
		},
	}
}

// runStatus shows a journal without locking it. With no journal, it looks
// for runs AWS shows (groups and writers an envmig run switched off and
// never put back) and names the command that brings them back.
func runStatus(ctx context.Context, g *globals, environment string, asJSON bool) error {
	name, err := g.journalName(ctx, varFlags{}, environment)
	if err != nil {
		if environment == "" {
			if orphans, oerr := g.statusFromAWS(ctx); oerr == nil && orphans {
				return nil
			}
		}
		return err
	}
	j, err := g.journal(ctx, varFlags{}, name)
	if err != nil {
		return err
	}
	st, err := loadJournal(j)
	if err != nil {
		return err
	}
	if st == nil {
		fmt.Fprintf(g.stdout, "No runs recorded for %q in %s.\n", name, g.stateBackend.Location())
		if err := g.unfinishedClones(ctx, name); err != nil {
			return err
		}
		_, err := g.statusFromAWS(ctx)
		return err
	}
	if asJSON {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	info, held, lerr := j.LockInfo()
	if lerr == nil && info != nil {
		if held {
			fmt.Fprintf(g.stdout, "Locked by %s\n\n", describeHolder(info))
		} else {
			fmt.Fprintf(g.stdout, "Lock left by %s: its holder is gone (its lease expired, or its process no longer runs); the next resume, rollback or cleanup takes it over\n\n", describeHolder(info))
		}
	}
	if lerr == nil && info == nil && !st.Finished() {
		// "running" is the journal's word for a run not yet finished.
		fmt.Fprintf(g.stdout, "No process runs it now (nothing holds its lock): it was interrupted, or stopped on a failure.\n\n")
	}
	var text strings.Builder
	if err := view.StatusText(&text, st, g.style()); err != nil {
		return err
	}
	if _, err := io.WriteString(g.stdout, nameJournal(text.String(), name)); err != nil {
		return err
	}
	// Where the journal is: a path here, or the s3:// object any runner
	// can resume from.
	if _, err := fmt.Fprintf(g.stdout, "\nJournal: %s\n", j.Location()); err != nil {
		return err
	}
	if statefile.EnvironmentOf(name) != name {
		return nil
	}
	return g.unfinishedClones(ctx, name)
}

// unfinishedClones names the journals of env's clones that hold an
// unfinished run: status without -environment shows env's own journal.
func (g *globals) unfinishedClones(ctx context.Context, env string) error {
	b, err := g.backend(ctx, varFlags{})
	if err != nil {
		return err
	}
	names, err := b.Journals(ctx)
	if err != nil {
		return err
	}
	for _, n := range names {
		if n == env || !statefile.Belongs(env, n) {
			continue
		}
		st, err := g.unfinishedRun(ctx, varFlags{}, n)
		if err != nil {
			return err
		}
		if st != nil {
			fmt.Fprintf(g.stdout, "Journal %s holds an unfinished %s run (%s, %s): `envmig status -environment %s` shows it.\n", n, st.Operation, st.Lineage, st.Status, n)
		}
	}
	return nil
}

// unfinishedRun is the run journal name holds when it is unfinished; nil
// when it is finished, empty or unreadable (status explains those).
func (g *globals) unfinishedRun(ctx context.Context, vars varFlags, name string) (*statefile.State, error) {
	j, err := g.journal(ctx, vars, name)
	if err != nil {
		return nil, err
	}
	if st, err := loadJournal(j); err == nil && st != nil && !st.Finished() {
		return st, nil
	}
	return nil, nil
}

// describeHolder says who holds a lock.
func describeHolder(info *statefile.LockInfo) string {
	s := fmt.Sprintf("%s (pid %d on %s", info.Operation, info.PID, info.Host)
	if info.Run != "" {
		s += ", run " + info.Run
	}
	s += ", since " + info.Since.Format(time.RFC3339)
	if info.CI != "" {
		s += ", CI job " + info.CI
	}
	if !info.Expires.IsZero() {
		s += ", lease until " + info.Expires.Format(time.RFC3339)
	}
	return s + "); lock ID " + info.ID
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
	name, err := g.journalName(ctx, o.vars, o.environment)
	if err != nil {
		return err
	}
	op := map[runMode]string{modeResume: "resume", modeRollback: "rollback"}[mode]
	errNothing := errors.New("nothing to do")
	s, err := g.openSession(ctx, o.vars, name, op, "", o.lockTimeout, func(st *statefile.State) error {
		switch {
		case st == nil:
			return fmt.Errorf("no run recorded for %q in %s: nothing to %s (with no journal, `envmig status` looks for a run in AWS itself, and `envmig recover` brings back what it switched off)", name, g.stateBackend.Location(), op)
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
		j, _ := g.journal(ctx, o.vars, name)
		st, _ := j.Load()
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
	fmt.Fprintf(g.stdout, "%s run %s of %q (journal %s)\n\n", g.style().Bold(verb), st.Lineage, st.Environment, s.store.Location())
	err = s.execute(ctx, cl, o.autoApprove, mode)
	return g.finish(s, err)
}

func forceUnlockCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "force-unlock",
		Usage:     "remove a stale lock after showing its holder",
		ArgsUsage: "LOCK_ID",
		Flags: []cli.Flag{environmentFlag(),
			&cli.BoolFlag{Name: "force", Usage: "remove the lock even though its holder looks alive, without asking"}},
		Action: func(c *cli.Context) error {
			args, err := positional(c, 1, 1, "LOCK_ID")
			if err != nil {
				return err
			}
			return runForceUnlock(c.Context, g, c.String("environment"), args[0], c.Bool("force"))
		},
	}
}

// runForceUnlock removes a lock after showing its holder; a holder that
// looks alive (its process runs on this machine, or its lease has not
// ended) is only removed when the operator confirms, or with -force.
func runForceUnlock(ctx context.Context, g *globals, environment, id string, force bool) error {
	name, err := g.journalName(ctx, varFlags{}, environment)
	if err != nil {
		return err
	}
	j, err := g.journal(ctx, varFlags{}, name)
	if err != nil {
		return err
	}
	info, held, err := j.LockInfo()
	if err != nil {
		return err
	}
	if info == nil {
		return fmt.Errorf("%q is not locked: nothing to unlock", name)
	}
	if info.ID != id {
		return &statefile.LockMismatchError{Name: name, Given: id, Current: info}
	}
	if held && !force {
		if !g.interactive() {
			return fmt.Errorf("%w: the lock of %q is held by a live holder, %s; stop it first, or pass -force to remove the lock anyway", executor.ErrDeclined, name, describeHolder(info))
		}
		q := fmt.Sprintf("The lock of %q is held by a live holder:\n  %s\nRemoving it lets another run start while that one still acts. Remove it anyway?\nOnly 'yes' will be accepted.", name, describeHolder(info))
		if err := g.ask(q, "yes"); err != nil {
			return err
		}
	}
	removed, err := j.ForceUnlock(id)
	if err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "Removed the lock of %q held by %s.\n", name, describeHolder(&removed))
	if held {
		fmt.Fprintf(g.stdout, "Warning: that holder may still be running; it stops writing the journal when it finds out it lost the lock.\n")
	}
	return nil
}
