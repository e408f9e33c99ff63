package shellcmd

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLineWriterCapsTheWholeOutput(t *testing.T) {
	var got []string
	w := &LineWriter{Report: func(s string) { got = append(got, s) }}
	line := strings.Repeat("x", 1000) + "\n"
	for range 2000 {
		w.Write([]byte(line))
	}
	w.Flush()
	if len(got) > MaxOutput/1000+1 || !strings.Contains(got[len(got)-1], "further output not shown") {
		t.Errorf("%d lines reported, last %q", len(got), got[len(got)-1])
	}
}

// A line far over MaxLine, written without a newline in the middle of a
// command that goes on, neither hangs Run nor is buffered whole.
func TestHugeLineIsCutAndDoesNotHang(t *testing.T) {
	var lines []string
	start := time.Now()
	err := Run(context.Background(), Command{Script: `head -c 3000000 /dev/zero | tr '\0' a; echo; echo after`, Timeout: time.Minute,
		Line: func(s string) { lines = append(lines, s) }})
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("took %s", d)
	}
	if len(lines) != 2 || !strings.HasSuffix(lines[0], "[line cut at 64 KiB]") || len(lines[0]) > MaxLine+100 || lines[1] != "after" {
		var lens []int
		for _, l := range lines {
			lens = append(lens, len(l))
		}
		t.Errorf("lines of lengths %v, want the cut line then \"after\"", lens)
	}
}

// At the timeout the command and a child it started are killed as a
// process group, and Run returns without waiting for the child.
func TestTimeoutKillsTheProcessGroup(t *testing.T) {
	dir := t.TempDir()
	start := time.Now()
	err := Run(context.Background(), Command{Dir: dir, Timeout: 300 * time.Millisecond, WaitDelay: 200 * time.Millisecond,
		Script: `sh -c 'echo $$ > child; exec sleep 30' & echo started; sleep 30`})
	var e *Error
	if !errors.As(err, &e) || e.Kind != TimedOut || !strings.Contains(err.Error(), "did not finish within 300ms") || !strings.Contains(Tail(e.Tail), "started") {
		t.Fatalf("err = %v, want the timeout with the output", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s after a 300ms timeout", d)
	}
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

// A process that leaves the group and keeps the output open does not hold
// Run: WaitDelay after the command exited 0, Run returns nil.
func TestDaemonHoldingTheOutputIsLeftAfterWaitDelay(t *testing.T) {
	start := time.Now()
	var lines []string
	err := Run(context.Background(), Command{Timeout: 10 * time.Second, WaitDelay: 200 * time.Millisecond,
		Script: `setsid sleep 3 & echo daemon started`, Line: func(s string) { lines = append(lines, s) }})
	if err != nil {
		t.Fatalf("err = %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("waited %s for a daemon's output", d)
	}
	if len(lines) == 0 || lines[0] != "daemon started" {
		t.Errorf("lines = %q", lines)
	}
}

func TestCancelKillsAndSaysInterrupted(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	err := Run(ctx, Command{Script: `sleep 30`, WaitDelay: 100 * time.Millisecond})
	var e *Error
	if !errors.As(err, &e) || e.Kind != Interrupted || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v", err)
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
