// Package shellcmd runs a user's shell command from the spec (a check, a
// switch's off and on commands) so that it can never hold envmig: its
// output is read as it comes, line by line, each line cut at MaxLine and
// MaxOutput reported in all (the rest is read and dropped, never
// buffered); at the timeout, or when the run is cancelled, its whole
// process group is killed; and WaitDelay after it exited or was killed its
// output pipes are closed even if a process that left the group still
// holds them.
package shellcmd

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// Limits of a command's output.
const (
	// MaxLine is the longest output line reported; the rest of a longer
	// line is dropped (and said to be).
	MaxLine = 64 << 10
	// MaxOutput is how much output one command reports in all.
	MaxOutput = 1 << 20
)

// Defaults of Command.
const (
	DefaultTimeout   = 10 * time.Minute
	DefaultWaitDelay = 5 * time.Second
)

// Command is one shell command to run.
type Command struct {
	// Script runs as Shell -c Script (Shell defaults to /bin/sh).
	Script, Shell string
	// Dir is the working directory ("" is envmig's).
	Dir string
	// Env is the whole environment of the command.
	Env []string
	// Timeout bounds the command (default DefaultTimeout); WaitDelay
	// bounds the wait for its output once it exited or was killed
	// (default DefaultWaitDelay).
	Timeout, WaitDelay time.Duration
	// Line receives every output line (stdout and stderr, in order),
	// cut as the package says; it is called from one goroutine at a time.
	Line func(string)
}

// The ways a command fails; Error.Kind.
const (
	Failed      = "failed"      // it exited non-zero, or could not start
	TimedOut    = "timed out"   // it ran past Timeout: its group was killed
	Interrupted = "interrupted" // the context ended: its group was killed
)

// Error is a command that did not succeed.
type Error struct {
	Kind    string
	Timeout time.Duration
	Err     error
	// Tail is the last lines of output (each cut at 300 bytes).
	Tail []string
}

func (e *Error) Error() string {
	switch e.Kind {
	case TimedOut:
		return fmt.Sprintf("did not finish within %s; its process group was killed", e.Timeout)
	case Interrupted:
		return fmt.Sprintf("was interrupted, its process group killed: %v", e.Err)
	}
	return fmt.Sprintf("failed: %v", e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// Run runs c until it exits, its timeout passes or ctx ends. A command
// that exited 0 succeeds even when a process it started (a daemon) still
// holds its output: WaitDelay later envmig stops reading, and Line is told.
func Run(ctx context.Context, c Command) error {
	shell, timeout, delay := c.Shell, c.Timeout, c.WaitDelay
	if shell == "" {
		shell = "/bin/sh"
	}
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if delay <= 0 {
		delay = DefaultWaitDelay
	}
	report := c.Line
	if report == nil {
		report = func(string) {}
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(cctx, shell, "-c", c.Script)
	cmd.Dir, cmd.Env, cmd.Stdin = c.Dir, c.Env, nil
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = delay
	out := &LineWriter{Report: report}
	cmd.Stdout, cmd.Stderr = out, out
	err := cmd.Run()
	out.Flush()
	if err == nil {
		return nil
	}
	if errors.Is(err, exec.ErrWaitDelay) && cmd.ProcessState != nil && cmd.ProcessState.Success() {
		report("the command exited 0 but left a process writing to its output; envmig stopped reading it")
		return nil
	}
	e := &Error{Kind: Failed, Timeout: timeout, Err: err, Tail: out.last}
	switch {
	case ctx.Err() != nil:
		e.Kind, e.Err = Interrupted, ctx.Err()
	case errors.Is(cctx.Err(), context.DeadlineExceeded):
		e.Kind = TimedOut
	}
	return e
}

// LineWriter splits output into lines and reports each, cut at MaxLine, up
// to MaxOutput in all. exec calls Write from one goroutine at a time when
// stdout and stderr are the same writer.
type LineWriter struct {
	Report   func(string)
	line     []byte
	cut      bool // the current line passed MaxLine: drop until newline
	reported int
	last     []string
}

func (w *LineWriter) Write(p []byte) (int, error) {
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

// Flush reports a last line that had no newline.
func (w *LineWriter) Flush() {
	if len(w.line) > 0 && !w.cut {
		w.emit(string(w.line))
	}
	w.line = w.line[:0]
}

func (w *LineWriter) emit(line string) {
	if len(w.last) == 5 {
		w.last = w.last[1:]
	}
	w.last = append(w.last, truncate(line, 300))
	if w.reported >= MaxOutput {
		return
	}
	w.reported += len(line) + 1
	if w.reported >= MaxOutput {
		w.Report("[further output not shown: over 1 MiB]")
		return
	}
	w.Report(line)
}

// Tail is the last lines of output, for an error message ("" when none).
func Tail(lines []string) string {
	if len(lines) == 0 {
		return ""
	}
	return "; its last output:\n  " + strings.Join(lines, "\n  ")
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
