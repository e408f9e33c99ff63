package switches

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/envmig/envmig/internal/shellcmd"
)

func TestCommandPairRunsOffThenOnAndStreamsOutput(t *testing.T) {
	dir := t.TempDir()
	c := &Commands{Dir: dir}
	j := newJournal("run1")
	off := `echo stopping "$ENVMIG_SWITCH" for "$ENVMIG_RUN"; echo to stderr >&2; touch off`
	if err := c.Off(context.Background(), j.sc(offID, "apply"), "cron", off); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "off")); err != nil {
		t.Errorf("the off command did not run in Dir: %v", err)
	}
	want := []string{"cron/off: stopping cron for run1", "cron/off: to stderr"}
	if strings.Join(j.lines, "|") != strings.Join(want, "|") {
		t.Errorf("lines = %q, want %q", j.lines, want)
	}
	if j.values[offID][KeyOffStarted] == "" || j.values[offID][KeyOffDone] == "" {
		t.Errorf("record = %v", j.values[offID])
	}
	if err := c.On(context.Background(), j.sc(onID, "apply"), "cron", "rm off", j.offGet); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "off")); !os.IsNotExist(err) {
		t.Errorf("the on command did not run: %v", err)
	}
}

func TestCommandOnDoesNothingWhenOffNeverStarted(t *testing.T) {
	dir := t.TempDir()
	c := &Commands{Dir: dir}
	j := newJournal("run1")
	if err := c.On(context.Background(), j.sc(offID, "revert"), "cron", "touch on", j.offGet); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "on")); !os.IsNotExist(err) {
		t.Error("the on command ran although the off command never started")
	}
}

func TestCommandFailureSaysSoWithItsLastOutput(t *testing.T) {
	c := &Commands{}
	j := newJournal("run1")
	err := c.Off(context.Background(), j.sc(offID, "apply"), "cron", "echo no such worker; exit 3")
	if err == nil || !strings.Contains(err.Error(), "exit status 3") || !strings.Contains(err.Error(), "no such worker") {
		t.Fatalf("off = %v, want the exit status and the last output", err)
	}
	if j.values[offID][KeyOffDone] != "" || j.values[offID][KeyOffStarted] == "" {
		t.Errorf("record = %v: started, not done", j.values[offID])
	}
}

// The command and a child it started are killed at the timeout, as a
// process group; Run does not wait for the child's sleep.
func TestCommandTimeoutKillsTheProcessGroup(t *testing.T) {
	dir := t.TempDir()
	c := &Commands{Dir: dir, Timeout: 300 * time.Millisecond, WaitDelay: 200 * time.Millisecond}
	j := newJournal("run1")
	start := time.Now()
	err := c.Off(context.Background(), j.sc(offID, "apply"), "cron", `sh -c 'echo $$ > child; exec sleep 30' & echo started; sleep 30`)
	if err == nil || !strings.Contains(err.Error(), "did not finish within 300ms") || !strings.Contains(err.Error(), "started") {
		t.Fatalf("off = %v, want the timeout with the output", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s after a 300ms timeout", d)
	}
	// The child was in the group: it was killed too (SIGKILL is delivered
	// at once; its exit may take the kernel a moment).
	b, err := os.ReadFile(filepath.Join(dir, "child"))
	if err != nil {
		t.Fatal(err)
	}
	pid := strings.TrimSpace(string(b))
	deadline := time.Now().Add(2 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the command's child %s survived the kill", pid)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie is dead).
func alive(pid string) bool {
	b, err := os.ReadFile("/proc/" + pid + "/stat")
	if err != nil {
		return false
	}
	_, rest, _ := strings.Cut(string(b), ") ")
	return !strings.HasPrefix(rest, "Z") && !strings.HasPrefix(rest, "X")
}

// A process that leaves the group and keeps the output open does not hold
// the step: WaitDelay after the command exited, envmig stops reading.
func TestCommandThatLeavesADaemonHoldingItsOutputReturns(t *testing.T) {
	c := &Commands{Timeout: 10 * time.Second, WaitDelay: 200 * time.Millisecond}
	j := newJournal("run1")
	start := time.Now()
	err := c.Off(context.Background(), j.sc(offID, "apply"), "cron", `setsid sleep 3 & echo daemon started`)
	if err != nil {
		t.Fatalf("off = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %s for a daemon's output", d)
	}
}

// A line far over MaxLine neither hangs nor grows memory: it is cut.
func TestCommandCutsAHugeLine(t *testing.T) {
	c := &Commands{}
	j := newJournal("run1")
	err := c.Off(context.Background(), j.sc(offID, "apply"), "cron", `head -c 3000000 /dev/zero | tr '\0' a; echo; echo after`)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.lines) != 2 || !strings.HasSuffix(j.lines[0], "[line cut at 64 KiB]") || len(j.lines[0]) > shellcmd.MaxLine+100 || j.lines[1] != "cron/off: after" {
		var lens []int
		for _, l := range j.lines {
			lens = append(lens, len(l))
		}
		t.Errorf("lines of lengths %v, want the cut line then \"after\"", lens)
	}
}
