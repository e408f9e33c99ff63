// Package check holds the handlers of the verification steps that are not
// about one resource kind: verify.frozen (nothing changed the originals while
// the environment was in standby) and the user's own probes, verify.http and
// verify.command, run against the clone before the point of no return.
//
// Checks only read; their Revert does nothing. A failing check fails its
// prepare step, which makes the executor roll the run back.
package check

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/shellcmd"
	"github.com/envmig/envmig/planner/plan"
)

// HTTP probes a URL and expects a status.
type HTTP struct {
	Client *http.Client // nil: a client with the step's timeout
}

var _ executor.Handler = (*HTTP)(nil)

func (h *HTTP) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.VerifyHTTPParams](sc)
	if err != nil {
		return err
	}
	url, want := p.URL, p.Status
	if p.StackOutputs != "" {
		outs, err := StackOutputs(sc, p.StackOutputs)
		if err != nil {
			return err
		}
		var missing []string
		url = plan.StackOutputRef.ReplaceAllStringFunc(url, func(ref string) string {
			name := plan.StackOutputRef.FindStringSubmatch(ref)[1]
			v, ok := outs[name]
			if !ok {
				missing = append(missing, name)
			}
			return v
		})
		if len(missing) > 0 {
			return fmt.Errorf("probe %s: the stack has no output %s", p.URL, strings.Join(missing, ", "))
		}
	}
	if want == 0 {
		want = http.StatusOK
	}
	timeout, err := time.ParseDuration(p.Timeout)
	if err != nil || timeout <= 0 {
		timeout = 10 * time.Second
	}
	client := h.Client
	if client == nil {
		client = &http.Client{Timeout: timeout}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	req.Header.Set("User-Agent", "envmig-verify")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("probe %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != want {
		return fmt.Errorf("probe %s: got HTTP %d, want %d", url, resp.StatusCode, want)
	}
	return nil
}

func (h *HTTP) Revert(context.Context, *executor.StepContext) error { return nil }

// Command runs a shell command against the clone; exit status 0 passes.
// The clone's names are in its environment (ENVMIG_DATABASE_<NAME>,
// ENVMIG_BUCKET_<NAME>). It runs through shellcmd, so it cannot hold the
// run while production is in standby: its output is shown as progress
// (lines cut at 64 KiB, 1 MiB in all) and never journaled (it may print
// anything); at the timeout its whole process group is killed, and
// WaitDelay later envmig stops waiting for its output.
type Command struct {
	// Timeout bounds a check (default shellcmd.DefaultTimeout).
	Timeout time.Duration
	// WaitDelay bounds the wait for the output once the command exited or
	// was killed (default shellcmd.DefaultWaitDelay).
	WaitDelay time.Duration
}

var _ executor.Handler = (*Command)(nil)

func (c *Command) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.VerifyCommandParams](sc)
	if err != nil {
		return err
	}
	env := os.Environ()
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		env = append(env, k+"="+p.Env[k])
	}
	if p.StackOutputs != "" {
		outs, err := StackOutputs(sc, p.StackOutputs)
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(outs)) {
			env = append(env, "ENVMIG_STACK_OUTPUT_"+k+"="+outs[k])
		}
	}
	err = shellcmd.Run(ctx, shellcmd.Command{
		Script: p.Run, Env: env, Timeout: c.Timeout, WaitDelay: c.WaitDelay,
		Line: func(line string) { sc.Report(executor.Progress{Line: "| " + line}) },
	})
	var e *shellcmd.Error
	if !errors.As(err, &e) {
		return err
	}
	// The output is never in the error: the error is journaled.
	if e.Kind == shellcmd.Failed {
		return fmt.Errorf("check %s failed: %w", sc.Step.ID, e.Err)
	}
	return fmt.Errorf("check %s %w", sc.Step.ID, e)
}

func (c *Command) Revert(context.Context, *executor.StepContext) error { return nil }

// Handlers returns the check handlers keyed by action.
func Handlers(frozen *Frozen) map[plan.StepAction]executor.Handler {
	return map[plan.StepAction]executor.Handler{
		plan.VerifyHTTP:    &HTTP{},
		plan.VerifyCommand: &Command{},
		plan.VerifyFrozen:  frozen,
	}
}

// StackOutputs returns the outputs the stack.create step stepID recorded
// (under the key "outputs", a JSON object).
func StackOutputs(sc *executor.StepContext, stepID string) (map[string]string, error) {
	raw := sc.StepValue(stepID, "outputs")
	if raw == "" {
		return nil, fmt.Errorf("check %s: step %s recorded no stack outputs; run it first", sc.Step.ID, stepID)
	}
	var out map[string]string
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil, fmt.Errorf("check %s: the outputs step %s recorded: %w", sc.Step.ID, stepID, err)
	}
	return out, nil
}
