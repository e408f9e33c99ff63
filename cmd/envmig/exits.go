package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/statefile"
)

// Exit codes (DESIGN.md §4).
const (
	exitOK          = 0
	exitError       = 1
	exitChanges     = 2 // plan has changes, with -detailed-exitcode
	exitLocked      = 3
	exitStale       = 4 // stale plan or drift
	exitDeclined    = 5
	exitInterrupted = 130
)

// changesError is returned by plan -detailed-exitcode when there are
// changes; it prints nothing.
type changesError struct{}

func (changesError) Error() string { return "" }

// usageError wraps a command-line mistake.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// reportedError is an error whose message has already been written (config
// diagnostics with snippets); fail only sets the exit code.
type reportedError struct {
	code int
	err  error
}

func (e reportedError) Error() string { return e.err.Error() }
func (e reportedError) Unwrap() error { return e.err }

// StaleError reports a saved plan that no longer matches live AWS.
type StaleError struct {
	Changes []string
}

func (e *StaleError) Error() string {
	return "the plan is stale: live AWS changed since it was made:\n  - " + strings.Join(e.Changes, "\n  - ") + "\nmake a new plan (envmig plan -out FILE) and have it reviewed again"
}

// exitCode maps an error to the process exit code. It is the only place
// that does.
func exitCode(err error) int {
	var (
		lock     *statefile.LockError
		stale    *StaleError
		inter    *executor.InterruptedError
		reported reportedError
	)
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &reported):
		return reported.code
	case errors.Is(err, changesError{}):
		return exitChanges
	case errors.As(err, &lock), errors.As(err, new(*statefile.LockLostError)), errors.As(err, new(*statefile.ConflictError)):
		// Another process holds the journal, took it over, or wrote it.
		return exitLocked
	case errors.As(err, &stale):
		return exitStale
	case errors.Is(err, executor.ErrDeclined):
		return exitDeclined
	case errors.As(err, &inter), errors.Is(err, context.Canceled):
		return exitInterrupted
	}
	return exitError
}

// fail prints err (unless already reported) and returns its exit code.
func (g *globals) fail(err error) int {
	code := exitCode(err)
	var reported reportedError
	if code == exitChanges || errors.As(err, &reported) {
		return code
	}
	msg := err.Error()
	var u usageError
	if errors.As(err, &u) {
		msg += "\nrun `envmig help` or `envmig COMMAND -help` for usage"
	}
	fmt.Fprintf(g.stderr, "%s %s\n", g.style().Red("Error:"), g.redact(msg))
	return code
}
