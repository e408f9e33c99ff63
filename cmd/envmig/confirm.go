package main

import (
	"bufio"
	"context"
	"fmt"
	"strings"

	"github.com/envmig/envmig/cmd/envmig/view"
	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/executor/check"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/planner/plan"
)

// ask prints question and reads one line; the answer must equal want.
// Without a terminal it refuses.
func (g *globals) ask(question, want string) error {
	if !g.interactive() {
		return fmt.Errorf("%w: no terminal to confirm on; pass -auto-approve", executor.ErrDeclined)
	}
	fmt.Fprintf(g.stdout, "%s\n  %s ", question, g.style().Bold("Enter a value:"))
	line, err := bufio.NewReader(g.stdin).ReadString('\n')
	if err != nil && line == "" {
		return fmt.Errorf("%w: no answer", executor.ErrDeclined)
	}
	if strings.TrimSpace(line) != want {
		return fmt.Errorf("%w: the answer was not %q", executor.ErrDeclined, want)
	}
	fmt.Fprintln(g.stdout)
	return nil
}

// gate is the point-of-no-return handler: it checks the account and region
// once more, then asks for the environment's name, unless -auto-approve
// answered in advance.
func (g *globals) gate(cl *awsclient.Clients, frozen *check.Frozen, autoApprove bool) executor.HandlerFunc {
	return func(ctx context.Context, sc *executor.StepContext) error {
		if err := checkIdentity(ctx, cl, sc.Plan); err != nil {
			return err
		}
		p, err := executor.Params[plan.GateParams](sc)
		if err != nil {
			return err
		}
		if err := g.confirmGate(ctx, sc, p, autoApprove); err != nil {
			return err
		}
		// The confirmation may have taken minutes: the originals are
		// checked once more, after it, before anything is destroyed.
		if p.Recheck == "" {
			return nil
		}
		s, ok := sc.Plan.Step(p.Recheck)
		fp, isFrozen := s.Params.(plan.VerifyFrozenParams)
		if !ok || !isFrozen {
			return fmt.Errorf("the point of no return rechecks step %s, which is not a verify.frozen step: the plan is malformed", p.Recheck)
		}
		sc.Report(executor.Progress{Line: "checking once more that nothing changed the originals"})
		return frozen.Check(ctx, sc, fp)
	}
}

// confirmGate asks for the environment's name, unless -auto-approve
// answered in advance.
func (g *globals) confirmGate(_ context.Context, sc *executor.StepContext, p plan.GateParams, autoApprove bool) error {
	if autoApprove {
		switch sc.Plan.Strategy {
		case "clone":
			// A clone's gate only marks it complete: nothing follows it.
		case plan.StrategyCloneDestroy:
			// Its confirmation was asked before the run began.
			sc.Report(executor.Progress{Line: "deleting the clone"})
		default:
			sc.Report(executor.Progress{Line: "crossing the point of no return (-auto-approve)"})
		}
		return nil
	}
	env := p.Environment
	q := fmt.Sprintf("\n%s The clone is verified. From here the originals of %q change and the run can only roll forward.\n"+
		"Type the environment's name (%s) to continue with plan %s; anything else undoes the run.",
		g.style().Red("POINT OF NO RETURN."), env, env, view.ShortDigest(sc.Plan.Digest))
	return g.ask(q, env)
}
