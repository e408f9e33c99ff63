package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/envmig/envmig/cmd/envmig/view"
	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

// session is one locked journal: the state of a run and the clients that
// act on it.
type session struct {
	g *globals
	// name is the journal's ("production", "production.clone-exp1").
	name  string
	store statefile.Journal
	lock  *statefile.Lock
	// envLock is the environment's lock, held beside a clone journal's.
	envLock *statefile.Lock
	state   *statefile.State // nil when the journal is empty
}

// openSession locks journal name for operation and loads it. check decides
// whether the operation may go on with the state found (nil when there is
// none). A journal whose lock a live process holds is refused at once with
// the holder named (exit 3), whatever its state says (or, with timeout,
// after waiting); otherwise check runs before the lock is taken, so that a
// refusal changes nothing, not even the state directory, and again under
// the lock.
//
// A clone journal's run (making, destroying, resuming or rolling back a
// clone) also holds its environment's lock, taken before its own (after
// that first check): a clone reads the environment, so no migration of it
// may run meanwhile, nor start, and runs of one environment's clones take
// turns.
func (g *globals) openSession(ctx context.Context, vars varFlags, name, operation, run string, timeout time.Duration, check func(*statefile.State) error) (s *session, err error) {
	j, err := g.journal(ctx, vars, name)
	if err != nil {
		return nil, err
	}
	if _, held, err := j.LockInfo(); err != nil {
		return nil, err
	} else if !held {
		st, err := loadJournal(j)
		if err == nil {
			err = check(st)
		}
		if err != nil {
			return nil, namedJournal(err, name)
		}
	}
	var envLock *statefile.Lock
	if env := statefile.EnvironmentOf(name); env != name {
		ej, err := g.journal(ctx, vars, env)
		if err != nil {
			return nil, err
		}
		if envLock, err = g.lock(ctx, ej, operation, run, timeout); err != nil {
			return nil, err
		}
		defer func() {
			if err != nil {
				g.unlock(envLock)
			}
		}()
	}
	lock, err := g.lock(ctx, j, operation, run, timeout)
	if err != nil {
		return nil, err
	}
	s = &session{g: g, name: name, store: j, lock: lock, envLock: envLock}
	if s.state, err = loadJournal(j); err == nil {
		err = check(s.state)
	}
	if err != nil {
		g.unlock(lock) // and the environment's, deferred above
		return nil, namedJournal(err, name)
	}
	return s, nil
}

// namedJournalError is an error whose message names commands to run next
// (`envmig resume`, `envmig rollback`, `envmig status`) about a journal
// that is not an environment's own, a clone's ("production.clone-exp1"):
// without -environment those commands would act on the environment's
// journal, not this one, so its message names it.
type namedJournalError struct {
	err     error
	journal string
}

// namedJournal names journal in err's next commands when it is a clone's.
func namedJournal(err error, journal string) error {
	if err == nil || statefile.EnvironmentOf(journal) == journal {
		return err
	}
	return &namedJournalError{err: err, journal: journal}
}

func (e *namedJournalError) Error() string { return nameJournal(e.err.Error(), e.journal) }

func (e *namedJournalError) Unwrap() error { return e.err }

// nameJournal adds -environment journal to the resume, rollback and status
// commands text names, when journal is not an environment's own.
func nameJournal(text, journal string) string {
	if statefile.EnvironmentOf(journal) == journal {
		return text
	}
	var pairs []string
	for _, cmd := range []string{"resume", "rollback", "status"} {
		pairs = append(pairs, "`envmig "+cmd+"`", "`envmig "+cmd+" -environment "+journal+"`")
	}
	return strings.NewReplacer(pairs...).Replace(text)
}

func (s *session) close() {
	s.g.unlock(s.lock)
	s.g.unlock(s.envLock)
}

// lock takes journal j's lock for operation, saying so when it takes over
// the lock of a process that is gone.
func (g *globals) lock(ctx context.Context, j statefile.Journal, operation, run string, timeout time.Duration) (*statefile.Lock, error) {
	lock, err := j.Lock(ctx, statefile.CurrentHolder(operation, run), timeout)
	if err != nil {
		return nil, err
	}
	if prev := lock.TookOver(); prev != nil {
		fmt.Fprintf(g.stderr, "Took over the lock of %s (pid %d on %s, since %s): that process is no longer running or its lease ended.\n",
			prev.Operation, prev.PID, prev.Host, prev.Since.Format(time.RFC3339))
	}
	return lock, nil
}

func (g *globals) unlock(l *statefile.Lock) {
	if l == nil {
		return
	}
	if err := l.Unlock(); err != nil {
		fmt.Fprintf(g.stderr, "warning: release the state lock: %v\n", err)
	}
}

// unfinished says how to continue when the journal holds a run that is
// neither applied nor rolled back.
func unfinished(st *statefile.State) error {
	if st == nil || st.Finished() {
		return nil
	}
	next := "run `envmig resume` to finish it"
	if !st.GatePassed() {
		next += ", or `envmig rollback` to undo it"
	}
	return fmt.Errorf("the last run (%s %s, %s) is unfinished: %s; `envmig status` shows where it stopped", st.Operation, st.Lineage, st.Status, next)
}

// refuseUnfinished warns that a plan made now would be computed against a
// half-migrated environment.
func (g *globals) refuseUnfinished(ctx context.Context, vars varFlags, name, what string) error {
	j, err := g.journal(ctx, vars, name)
	if err != nil {
		return err
	}
	st, err := j.Load()
	if err != nil || st == nil {
		return nil // no journal, or one that status will explain
	}
	if err := unfinished(st); err != nil {
		return fmt.Errorf("cannot %s: %w", what, err)
	}
	return nil
}

// runMode is what execute asks of the executor.
type runMode int

const (
	modeApply runMode = iota
	modeResume
	modeRollback
)

// execute runs the journal's plan with two-stage Ctrl-C: the first signal
// lets the current step finish and be journaled, the second cancels it.
func (s *session) execute(ctx context.Context, cl *awsclient.Clients, autoApprove bool, mode runMode) error {
	g := s.g
	p := s.state.Plan
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stop := make(chan struct{})
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		n := 0
		for {
			select {
			case <-ctx.Done():
				return
			case <-sigs:
				n++
				if n == 1 {
					fmt.Fprintln(g.stderr, "\nInterrupt received: stopping after the current step is finished and journaled (press Ctrl-C again to cancel it now).")
					close(stop)
				} else {
					fmt.Fprintln(g.stderr, "\nSecond interrupt: cancelling the current step; `envmig resume` will re-check and finish it.")
					cancel()
					return
				}
			}
		}
	}()
	var obs executor.Observer = &view.Reporter{W: g.stdout, Style: g.style(), CI: g.ciDialect(), Plan: p, Redact: g.redact, Heartbeat: g.heartbeat()}
	if g.terminal() && g.ciDialect() == view.CINone {
		live := &view.Live{W: g.stdout, Style: g.style(), Plan: p, Redact: g.redact}
		defer live.Close()
		obs = live
	}
	// A lost lock (another runner took it over after our lease ended)
	// stops the run at once: the journal is no longer ours to write.
	ctx, cancelLock := s.lock.Context(ctx)
	defer cancelLock()
	e := &executor.Executor{
		State:    s.state,
		Store:    s.store,
		Blobs:    s.store,
		Handlers: g.handlers(cl, p, autoApprove),
		Observer: obs,
		Stop:     stop,
	}
	switch mode {
	case modeRollback:
		return e.Rollback(ctx)
	case modeResume:
		return e.Resume(ctx)
	default:
		return e.Apply(ctx)
	}
}

func (g *globals) ciDialect() view.CI {
	switch {
	case g.onTeamCity():
		return view.CITeamCity
	case g.onGitHub():
		return view.CIGitHub
	}
	return view.CINone
}

// heartbeat is the interval of "Still ..." lines (ENVMIG_HEARTBEAT, a Go
// duration; default 10s).
func (g *globals) heartbeat() time.Duration {
	if d, err := time.ParseDuration(g.getenv("ENVMIG_HEARTBEAT")); err == nil && d > 0 {
		return d
	}
	return 10 * time.Second
}

// checkIdentity refuses to act in another account or region than the
// plan's. It fails closed: an unreadable identity is an error.
func checkIdentity(ctx context.Context, cl *awsclient.Clients, p *plan.Plan) error {
	if cl.Config.Region != p.Region {
		return fmt.Errorf("the plan was made for region %s, but AWS is configured for %s: set AWS_REGION=%s (or the spec's aws.region) or plan again", p.Region, cl.Config.Region, p.Region)
	}
	id, err := reader(cl).Identity(ctx, nil)
	if err != nil {
		return fmt.Errorf("cannot confirm the AWS account, refusing to act: %w", err)
	}
	if id.Account != p.Account {
		return fmt.Errorf("the plan was made for account %s, but the credentials are for account %s: refusing to act", p.Account, id.Account)
	}
	return nil
}

// canConfirm refuses up front a run that would need a confirmation nobody
// can give.
func (g *globals) canConfirm(autoApprove bool, what string) error {
	if autoApprove || g.interactive() {
		return nil
	}
	return fmt.Errorf("%w: %s needs a confirmation and there is no terminal to ask on; pass -auto-approve to confirm in advance", executor.ErrDeclined, what)
}
