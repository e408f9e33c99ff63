// Package check holds the handlers of the verification steps that are not
// about one resource kind: verify.frozen (nothing changed the originals while
// the environment was in standby) and the user's own probes, verify.http and
// verify.command, run against the clone before the point of no return.
//
// Checks only read; their Revert does nothing. A failing check fails its
// prepare step, which makes the executor roll the run back.
package check

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/envmig/envmig/executor"
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
// ENVMIG_BUCKET_<NAME>). Its output is shown as progress, never journaled:
// it may print anything.
type Command struct {
	// Timeout bounds a check (default 10 minutes).
	Timeout time.Duration
}

var _ executor.Handler = (*Command)(nil)

func (c *Command) Apply(ctx context.Context, sc *executor.StepContext) error {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	p, err := executor.Params[plan.VerifyCommandParams](sc)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/bin/sh", "-c", p.Run)
	cmd.Env = os.Environ()
	for _, k := range slices.Sorted(maps.Keys(p.Env)) {
		cmd.Env = append(cmd.Env, k+"="+p.Env[k])
	}
	if p.StackOutputs != "" {
		outs, err := StackOutputs(sc, p.StackOutputs)
		if err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(outs)) {
			cmd.Env = append(cmd.Env, "ENVMIG_STACK_OUTPUT_"+k+"="+outs[k])
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("check %s: %w", sc.Step.ID, err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s := bufio.NewScanner(pr)
		for s.Scan() {
			sc.Report(executor.Progress{Line: "| " + s.Text()})
		}
	}()
	err = cmd.Wait()
	pw.Close()
	<-done
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Errorf("check %s did not finish within %s", sc.Step.ID, timeout)
	}
	if err != nil {
		return fmt.Errorf("check %s failed: %v", sc.Step.ID, err)
	}
	return nil
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
