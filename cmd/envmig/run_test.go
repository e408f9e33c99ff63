package main

import (
	"strings"
	"testing"

	"github.com/envmig/envmig/executor"
)

// TestClonesJournalIsNamedInTheNextCommands: the commands an error names
// act on a clone's journal only with -environment; an environment's own
// journal needs none, and the exit code is the wrapped error's.
func TestClonesJournalIsNamedInTheNextCommands(t *testing.T) {
	inter := &executor.InterruptedError{Last: "bucket.copy.uploads.precopy", Op: "apply"}
	err := namedJournal(inter, "production.clone-exp1")
	for _, want := range []string{
		"`envmig resume -environment production.clone-exp1` to continue",
		"`envmig rollback -environment production.clone-exp1` to undo",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
	if got := exitCode(err); got != exitInterrupted {
		t.Errorf("exit code %d, want %d", got, exitInterrupted)
	}
	if own := namedJournal(inter, "production"); own != error(inter) {
		t.Errorf("an environment's own journal is named: %q", own)
	}
	if namedJournal(nil, "production.clone-exp1") != nil {
		t.Error("no error became one")
	}
}
