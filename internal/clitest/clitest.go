// Package clitest drives the built envmig binary through its command line
// against the AWS emulator, as users (and the scenarios that check the
// product) do. The end-to-end tests of cmd/envmig and the reliability
// suites share it.
//
// A test package builds the binaries once in TestMain (Build), runs its
// tests under testaws.Main, and uses New for a fresh working directory per
// test. Every run records the AWS operations the binary made
// (ENVMIG_AWS_TRACE), so tests can assert that nothing mutating happened
// and that envmig's IAM policy covers every action seen.
package clitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/iampolicy"
	"github.com/envmig/envmig/internal/report"
	"github.com/envmig/envmig/internal/testaws"
)

// Binaries are the builds a test package uses.
type Binaries struct {
	Envmig string // the release build
	Crash  string // built with -tags crashtest: ENVMIG_CRASH_AT kills it
	dir    string
}

// Build compiles ./cmd/envmig twice (release and crashtest) into a
// temporary directory. When executor.BreakEnv is set (to see the suites
// fail on a deliberately broken handler), both are crashtest builds, so
// that every run of the binary honours it.
func Build() (*Binaries, error) {
	root, err := testaws.ModuleRoot()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "envmig-bin-")
	if err != nil {
		return nil, err
	}
	b := &Binaries{Envmig: filepath.Join(dir, "envmig"), Crash: filepath.Join(dir, "envmig-crashtest"), dir: dir}
	release := ""
	if os.Getenv(executor.BreakEnv) != "" {
		release = "crashtest"
		fmt.Fprintf(os.Stderr, "clitest: %s=%s: every envmig the tests run is a crashtest build with that handler broken\n", executor.BreakEnv, os.Getenv(executor.BreakEnv))
	}
	for _, x := range []struct{ out, tags string }{{b.Envmig, release}, {b.Crash, "crashtest"}} {
		cmd := exec.Command("go", "build", "-tags", x.tags, "-o", x.out, "./cmd/envmig")
		cmd.Dir = root
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("build envmig: %w", err)
		}
	}
	return b, nil
}

// Remove deletes the builds.
func (b *Binaries) Remove() { os.RemoveAll(b.dir) }

// Bins are the builds Main made.
var Bins *Binaries

// Main is a TestMain for packages that drive the binary: it builds it, runs
// the tests against the emulator, fails the package when envmig's IAM
// policy misses an action the tests needed, and removes the builds.
func Main(m *testing.M) int {
	var err error
	if Bins, err = Build(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer Bins.Remove()
	code := testaws.Main(m)
	if missing := PolicyMissing(); len(missing) > 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "FAIL: envmig iam-policy misses actions the tests needed: %v\n", missing)
		code = 1
	}
	return code
}

// Result is one run of the binary.
type Result struct {
	Code           int
	Stdout, Stderr string
	// Killed is true when the process died of SIGKILL (the crash hook).
	Killed bool
	// Elapsed is the time from the start of the process to its exit, at
	// Exited.
	Elapsed time.Duration
	Exited  time.Time
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.Code, r.Stdout, r.Stderr)
}

// CLI runs envmig in Dir with the test process's environment (the
// emulator's) plus Env.
type CLI struct {
	T     testing.TB
	Dir   string
	Env   []string
	Bin   string
	trace string
	all   []awsclient.Call // every call Calls read
}

// New makes a working directory holding spec (as main.envmig.hcl, unless
// spec is empty).
func New(t testing.TB, bin, spec string) *CLI {
	t.Helper()
	dir := t.TempDir()
	if spec != "" {
		if err := os.WriteFile(filepath.Join(dir, "main.envmig.hcl"), []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &CLI{T: t, Dir: dir, Bin: bin, trace: filepath.Join(t.TempDir(), "aws-trace.log")}
}

// Run runs envmig with args.
func (c *CLI) Run(args ...string) Result {
	c.T.Helper()
	return c.RunContext(context.Background(), args...)
}

// RunContext runs envmig with args until it exits or ctx ends.
func (c *CLI) RunContext(ctx context.Context, args ...string) Result {
	c.T.Helper()
	p := c.start(ctx, args)
	return p.Wait()
}

// Process is envmig started by Start, running until Wait.
type Process struct {
	c         *CLI
	args      []string
	cmd       *exec.Cmd
	out, errb bytes.Buffer
	started   time.Time
	done      chan struct{} // closed when the process has exited
	err       error         // of Start, then of Wait
	exited    time.Time
}

// Start starts envmig with args and returns at once: Pid names it, Wait
// waits for its Result. Tests of runs that race use it.
func (c *CLI) Start(args ...string) *Process {
	c.T.Helper()
	return c.start(context.Background(), args)
}

func (c *CLI) start(ctx context.Context, args []string) *Process {
	p := &Process{c: c, args: args, cmd: exec.CommandContext(ctx, c.Bin, args...)}
	p.cmd.Dir = c.Dir
	p.cmd.Env = append(os.Environ(), "NO_COLOR=1", "ENVMIG_HEARTBEAT=1h", "ENVMIG_AWS_TRACE="+c.trace)
	p.cmd.Env = append(p.cmd.Env, c.Env...)
	p.cmd.Stdout, p.cmd.Stderr = &p.out, &p.errb
	p.done = make(chan struct{})
	p.started = time.Now()
	if p.err = p.cmd.Start(); p.err != nil {
		close(p.done)
		return p
	}
	go func() {
		p.err = p.cmd.Wait()
		p.exited = time.Now()
		close(p.done)
	}()
	return p
}

// Pid is the process's ID (0 if it could not start).
func (p *Process) Pid() int {
	if p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Wait waits for the process to exit.
func (p *Process) Wait() Result {
	p.c.T.Helper()
	<-p.done
	err := p.err
	r := Result{Stdout: p.out.String(), Stderr: p.errb.String(), Elapsed: p.exited.Sub(p.started), Exited: p.exited}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.Code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.Killed = ws.Signal() == syscall.SIGKILL
		}
	default:
		p.c.T.Fatalf("run envmig %v: %v", p.args, err)
	}
	return r
}

// Must runs and requires an exit code.
func (c *CLI) Must(code int, args ...string) Result {
	c.T.Helper()
	r := c.Run(args...)
	if r.Code != code || r.Killed {
		c.T.Fatalf("envmig %s: want exit %d\n%s", strings.Join(args, " "), code, r)
	}
	return r
}

// Calls returns the AWS operations the binary made since the last call,
// and records their IAM actions for CheckPolicy.
func (c *CLI) Calls() []awsclient.Call {
	c.T.Helper()
	b, err := os.ReadFile(c.trace)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		c.T.Fatal(err)
	}
	os.Remove(c.trace)
	var out []awsclient.Call
	for _, line := range strings.Split(string(b), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 4 {
			c.T.Fatalf("trace line %q is not SERVICE<TAB>OPERATION<TAB>OWNER<TAB>RESOURCES", line)
		}
		call := awsclient.Call{Service: f[0], Operation: f[1], Owner: f[2]}
		for _, r := range strings.Fields(f[3]) {
			r, err := url.QueryUnescape(r)
			if err != nil {
				c.T.Fatalf("trace line %q: %v", line, err)
			}
			call.Resources = append(call.Resources, r)
		}
		out = append(out, call)
	}
	c.all = append(c.all, out...)
	recordActions(out)
	for _, call := range out {
		if call.Service == "S3" && call.Owner == "" && !withoutOwner[call.Operation] {
			c.T.Errorf("S3 %s named no expected bucket owner: every S3 request must carry the caller's account", call.Operation)
		}
	}
	return out
}

// Denied returns every call this CLI made (as read by Calls, so call Calls
// first) that policy does not allow on the resources it acted on, with the
// resources' ARNs in account and region: "Service Operation: ACTION on ARN".
// Conditions are not evaluated (iampolicy.Policy.Allows).
func (c *CLI) Denied(policy iampolicy.Policy, account, region string) []string {
	var out []string
	seen := map[string]bool{}
	for _, call := range c.all {
		arns := make([]string, len(call.Resources))
		for i, r := range call.Resources {
			arns[i] = iampolicy.ARN(r, account, region)
		}
		for _, d := range policy.Denied(call.Service, call.Operation, arns) {
			d = call.Service + " " + call.Operation + ": " + d
			if !seen[d] {
				seen[d] = true
				out = append(out, d)
			}
		}
	}
	return out
}

// CallCount is how many calls Calls has read so far.
func (c *CLI) CallCount() int { return len(c.all) }

// withoutOwner are the S3 operations that have no expected-owner field.
var withoutOwner = map[string]bool{"ListBuckets": true, "CreateBucket": true, "ListDirectoryBuckets": true}

// Mutating lists the calls that can change anything.
func Mutating(calls []awsclient.Call) []string {
	var out []string
	for _, c := range calls {
		if c.Mutating() {
			out = append(out, c.Service+" "+c.Operation)
		}
	}
	return out
}

var (
	actionsMu sync.Mutex
	actions   = map[string]bool{}
)

func recordActions(calls []awsclient.Call) {
	actionsMu.Lock()
	defer actionsMu.Unlock()
	for _, c := range calls {
		for _, a := range iampolicy.Actions(c.Service, c.Operation) {
			actions[a] = true
		}
	}
}

// PolicyMissing returns the IAM actions the binary needed in this test
// process that envmig's policy does not grant; TestMain fails the package
// when there is one.
func PolicyMissing() []string {
	actionsMu.Lock()
	defer actionsMu.Unlock()
	var all []string
	for a := range actions {
		all = append(all, a)
	}
	return iampolicy.For(iampolicy.Scope{Databases: []string{"*"}, Buckets: []string{"*"}, Groups: []string{"*"}, Stacks: []string{"*"}}).Missing(all)
}

// ActionsSeen counts the distinct IAM actions recorded.
func ActionsSeen() int {
	actionsMu.Lock()
	defer actionsMu.Unlock()
	return len(actions)
}

// Full reports whether the reliability suites run at full size.
func Full() bool { return report.Full() }

// Report logs a suite's figures for docs/RELIABILITY.md.
func Report(t testing.TB, suite string, figures map[string]any) { report.Figures(t, suite, figures) }
