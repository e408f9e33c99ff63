package switches

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"

	"github.com/envmig/envmig/executor"
)

// The journal keys of a command switch.
const (
	// KeyOffStarted is recorded (a time) before the off command first
	// runs: the on side runs the on command only when it is there.
	KeyOffStarted = "off_started"
	// KeyOffDone is recorded when the off command exited 0.
	KeyOffDone = "off_done"
)

// Limits of a command switch's output.
const (
	// MaxLine is the longest output line reported; the rest of a longer
	// line is dropped (and said to be), never buffered.
	MaxLine = 64 << 10
	// MaxOutput is how much output one command reports in all; what
	// follows is read and dropped.
	MaxOutput = 1 << 20
)

// Commands runs a user's command pair: `off` before the window, `on` after
// it (and as the off step's undo), each with /bin/sh -c in Dir, bounded by
// Timeout. The command's stdout and stderr are streamed, line by line, as
// progress Lines (each line cut at MaxLine, MaxOutput in all). At the
// timeout (or when the run is cancelled) its whole process group is
// killed, and WaitDelay later its output pipes are closed even if a
// process that left the group still holds them.
//
// Commands leave nothing on AWS, so there is no recovery without the
// journal. They run again after a crash: a command must be idempotent
// (stopping what is stopped, starting what runs, succeeds). The on command
// runs only when the off command was started by the run (KeyOffStarted).
// Each command sees ENVMIG_RUN (the run's lineage) and ENVMIG_SWITCH (the
// switch's name) in its environment, besides envmig's own.
type Commands struct {
	// Shell runs the command as Shell -c COMMAND (default /bin/sh).
	Shell string
	// Dir is the working directory (the spec's directory); "" is envmig's.
	Dir string
	// Timeout bounds one command (default 10 minutes).
	Timeout time.Duration
	// WaitDelay bounds the wait for the output once the command exited or
	// was killed (default 5 s).
	WaitDelay time.Duration
}

func (c *Commands) defaults() (shell string, timeout, delay time.Duration) {
	shell, timeout, delay = c.Shell, c.Timeout, c.WaitDelay
	if shell == "" {
		shell = "/bin/sh"
	}
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	if delay <= 0 {
		delay = 5 * time.Second
	}
	return
}

// Off records KeyOffStarted (once), runs the off command of the switch
// named name, and records KeyOffDone when it exits 0.
func (c *Commands) Off(ctx context.Context, sc *executor.StepContext, name, off string) error {
	if sc.Value(KeyOffStarted) == "" {
		if err := sc.Record(KeyOffStarted, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			return fmt.Errorf("record the start of the off command of %s: %w", name, err)
		}
	}
	if err := c.run(ctx, sc, name, "off", off); err != nil {
		return err
	}
	return sc.Record(KeyOffDone, time.Now().UTC().Format(time.RFC3339Nano))
}

// On runs the on command of the switch named name when the off step
// started its off command (get reads the off step's record: sc.Value for
// its Revert, StepValue bound to it for the on step); otherwise it does
// nothing.
func (c *Commands) On(ctx context.Context, sc *executor.StepContext, name, on string, get func(string) string) error {
	if get(KeyOffStarted) == "" {
		return nil
	}
	return c.run(ctx, sc, name, "on", on)
}

// run runs one command and streams its output.
func (c *Commands) run(ctx context.Context, tr tracker, name, side, script string) error {
	shell, timeout, delay := c.defaults()
	label := fmt.Sprintf("switch %s: the %s command", name, side)
	if strings.TrimSpace(script) == "" {
		return fmt.Errorf("%s is empty", label)
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, shell, "-c", script)
	cmd.Dir = c.Dir
	cmd.Env = append(os.Environ(), "ENVMIG_RUN="+tr.Lineage(), "ENVMIG_SWITCH="+name)
	cmd.Stdin = nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = delay
	out := &lineWriter{prefix: name + "/" + side + ": ", report: func(line string) { tr.Report(executor.Progress{Line: line}) }}
	cmd.Stdout, cmd.Stderr = out, out
	tr.Report(executor.Progress{Message: "running " + label, Percent: -1})
	err := cmd.Run()
	out.flush()
	if err == nil {
		return nil
	}
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		// It exited 0 but left a process holding its output (a daemon it
		// started): its work is done.
		tr.Report(executor.Progress{Line: label + " exited 0 but left a process writing to its output; envmig stopped reading it"})
		return nil
	}
	tail := out.tail()
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s was interrupted, its process group killed: %w", label, ctx.Err())
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s did not finish within %s; its process group was killed%s", label, timeout, tail)
	default:
		return fmt.Errorf("%s failed: %w%s", label, err, tail)
	}
}

// lineWriter splits output into lines and reports each, cut at MaxLine,
// up to MaxOutput in all. exec calls Write from one goroutine at a time
// (stdout and stderr are the same writer).
type lineWriter struct {
	prefix   string
	report   func(string)
	line     []byte
	cut      bool // the current line passed MaxLine: drop until newline
	reported int
	last     []string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		chunk := p
		if i >= 0 {
			chunk = p[:i]
		}
		if !w.cut {
			room := MaxLine - len(w.line)
			if len(chunk) > room {
				w.line = append(w.line, chunk[:room]...)
				w.emit(string(w.line) + " [line cut at 64 KiB]")
				w.line, w.cut = w.line[:0], true
			} else {
				w.line = append(w.line, chunk...)
			}
		}
		if i < 0 {
			break
		}
		if !w.cut {
			w.emit(string(w.line))
		}
		w.line, w.cut = w.line[:0], false
		p = p[i+1:]
	}
	return n, nil
}

func (w *lineWriter) flush() {
	if len(w.line) > 0 && !w.cut {
		w.emit(string(w.line))
	}
	w.line = w.line[:0]
}

func (w *lineWriter) emit(line string) {
	if len(w.last) == 5 {
		w.last = w.last[1:]
	}
	w.last = append(w.last, truncate(line, 300))
	if w.reported >= MaxOutput {
		return
	}
	w.reported += len(line) + 1
	if w.reported >= MaxOutput {
		w.report(w.prefix + "[further output not shown: over 1 MiB]")
		return
	}
	w.report(w.prefix + line)
}

// tail is the last lines of output, for an error message.
func (w *lineWriter) tail() string {
	if len(w.last) == 0 {
		return ""
	}
	return "; its last output:\n  " + strings.Join(w.last, "\n  ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
