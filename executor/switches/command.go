package switches

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/shellcmd"
)

// The journal keys of a command switch.
const (
	// KeyOffStarted is recorded (a time) before the off command first
	// runs: the on side runs the on command only when it is there.
	KeyOffStarted = "off_started"
	// KeyOffDone is recorded when the off command exited 0.
	KeyOffDone = "off_done"
)

// Commands runs a user's command pair: `off` before the window, `on` after
// it (and as the off step's undo), each with /bin/sh -c in Dir, bounded by
// Timeout, through shellcmd: its stdout and stderr are streamed, line by
// line, as progress Lines (each line cut at shellcmd.MaxLine,
// shellcmd.MaxOutput in all); at the timeout (or when the run is
// cancelled) its whole process group is killed, and WaitDelay later its
// output pipes are closed even if a process that left the group still
// holds them.
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
	// Timeout bounds one command (default shellcmd.DefaultTimeout).
	Timeout time.Duration
	// WaitDelay bounds the wait for the output once the command exited or
	// was killed (default shellcmd.DefaultWaitDelay).
	WaitDelay time.Duration
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
	label := fmt.Sprintf("switch %s: the %s command", name, side)
	if strings.TrimSpace(script) == "" {
		return fmt.Errorf("%s is empty", label)
	}
	prefix := name + "/" + side + ": "
	tr.Report(executor.Progress{Message: "running " + label, Percent: -1})
	err := shellcmd.Run(ctx, shellcmd.Command{
		Script: script, Shell: c.Shell, Dir: c.Dir, Timeout: c.Timeout, WaitDelay: c.WaitDelay,
		Env:  append(os.Environ(), "ENVMIG_RUN="+tr.Lineage(), "ENVMIG_SWITCH="+name),
		Line: func(line string) { tr.Report(executor.Progress{Line: prefix + line}) },
	})
	var e *shellcmd.Error
	if !errors.As(err, &e) {
		return err
	}
	if e.Kind == shellcmd.Failed {
		return fmt.Errorf("%s failed: %w%s", label, e.Err, shellcmd.Tail(e.Tail))
	}
	return fmt.Errorf("%s %w%s", label, e, shellcmd.Tail(e.Tail))
}
