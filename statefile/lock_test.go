package statefile

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func applyInfo() LockInfo {
	return LockInfo{Operation: "apply", Run: "3fa2c1d0-run", Who: "ops", Host: "build-7"}
}

// Two Locks in one process exclude each other (flock belongs to the open
// file description), and the refusal names the holder.
func TestLockExcludesInProcess(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	first, err := Open(dir, "production").Lock(t.Context(), applyInfo(), 0)
	if err != nil {
		t.Fatal(err)
	}
	if first.TookOver() != nil {
		t.Errorf("a fresh lock took over %+v", first.TookOver())
	}
	info := first.Info()
	if info.ID == "" || info.PID != os.Getpid() || info.Since.IsZero() || info.Host != "build-7" {
		t.Errorf("holder information not filled in: %+v", info)
	}

	second := Open(dir, "production")
	_, err = second.Lock(t.Context(), LockInfo{Operation: "rollback"}, 0)
	var le *LockError
	if !errors.As(err, &le) {
		t.Fatalf("second Lock: %v, want *LockError", err)
	}
	if diff := cmp.Diff(info, le.Info); diff != "" {
		t.Errorf("LockError holder (-holder +reported):\n%s", diff)
	}
	for _, w := range []string{"locked by apply", fmt.Sprintf("pid %d on build-7", os.Getpid()), "run 3fa2c1d0-run", "since", "envmig force-unlock -environment production " + info.ID} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message does not say %q: %v", w, err)
		}
	}
	got, held, err := second.LockInfo()
	if err != nil || !held || got == nil || got.ID != info.ID {
		t.Errorf("LockInfo while held: %+v, held %v, %v", got, held, err)
	}

	if err := first.Unlock(); err != nil {
		t.Fatal(err)
	}
	if err := first.Unlock(); err != nil {
		t.Errorf("second Unlock: %v", err)
	}
	if got, held, err := second.LockInfo(); err != nil || held || got != nil {
		t.Errorf("LockInfo after Unlock: %+v, held %v, %v; want nothing", got, held, err)
	}
	l, err := second.Lock(t.Context(), LockInfo{Operation: "rollback"}, 0)
	if err != nil {
		t.Fatalf("Lock after Unlock: %v", err)
	}
	if l.TookOver() != nil {
		t.Errorf("a cleanly released lock was reported taken over: %+v", l.TookOver())
	}
	l.Unlock()
}

// A waiting Lock gets the lock once it is released.
func TestLockWaitsForRelease(t *testing.T) {
	dir := t.TempDir()
	held, err := Open(dir, "production").Lock(t.Context(), applyInfo(), 0)
	if err != nil {
		t.Fatal(err)
	}
	waiter := Open(dir, "production")
	waiting := make(chan struct{}, 1)
	waiter.onWait = func() {
		select {
		case waiting <- struct{}{}:
		default:
		}
	}
	type result struct {
		l   *Lock
		err error
	}
	done := make(chan result)
	go func() {
		l, err := waiter.Lock(t.Context(), LockInfo{Operation: "resume"}, time.Hour)
		done <- result{l, err}
	}()
	<-waiting // the waiter found the lock held
	if err := held.Unlock(); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("waiting Lock: %v", r.err)
	}
	if r.l.Info().Operation != "resume" {
		t.Errorf("holder %+v", r.l.Info())
	}
	r.l.Unlock()
}

func TestLockWaitEnds(t *testing.T) {
	dir := t.TempDir()
	held, err := Open(dir, "production").Lock(t.Context(), applyInfo(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer held.Unlock()

	// The timeout passes: *LockError.
	_, err = Open(dir, "production").Lock(t.Context(), LockInfo{}, 50*time.Millisecond)
	var le *LockError
	if !errors.As(err, &le) || le.Info.ID != held.Info().ID {
		t.Errorf("Lock with a timeout: %v, want *LockError naming the holder", err)
	}

	// The context ends: its error.
	ctx, cancel := context.WithCancel(t.Context())
	s := Open(dir, "production")
	s.onWait = cancel
	_, err = s.Lock(ctx, LockInfo{}, time.Hour)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Lock with a cancelled context: %v, want context.Canceled", err)
	}
}

// A holder that died without unlocking left its information: the next Lock
// takes over and says whose lock it was.
func TestLockTakesOverDeadHolder(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir, "production")
	dead := LockInfo{ID: "0b6e7c52-dead", Operation: "apply", PID: 999999, Host: "build-7", Run: "3fa2c1d0-run", Since: t0}
	writeLockInfo(t, s, dead)
	info, held, err := s.LockInfo()
	if err != nil || held || info == nil || info.ID != dead.ID {
		t.Fatalf("LockInfo of a dead holder: %+v, held %v, %v; want the holder, not held", info, held, err)
	}
	l, err := s.Lock(t.Context(), LockInfo{Operation: "resume"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	if diff := cmp.Diff(&dead, l.TookOver()); diff != "" {
		t.Errorf("TookOver (-dead holder +reported):\n%s", diff)
	}
	if l.Info().ID == dead.ID {
		t.Error("the new holder kept the dead holder's ID")
	}
}

func writeLockInfo(t *testing.T, s *Store, info LockInfo) {
	t.Helper()
	data, err := json.Marshal(info)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(s.LockPath()), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.lockInfoPath(), data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestForceUnlock(t *testing.T) {
	dir := t.TempDir()
	s := Open(dir, "production")
	if _, err := s.ForceUnlock("whatever"); !isMismatch(err, "") {
		t.Errorf("ForceUnlock with no lock: %v, want *LockMismatchError without a holder", err)
	}
	hung, err := s.Lock(t.Context(), applyInfo(), 0)
	if err != nil {
		t.Fatal(err)
	}
	id := hung.Info().ID

	_, err = s.ForceUnlock("not-" + id)
	if !isMismatch(err, id) || !strings.Contains(err.Error(), id) {
		t.Fatalf("ForceUnlock with a wrong ID: %v, want *LockMismatchError naming %s", err, id)
	}
	if _, held, _ := s.LockInfo(); !held {
		t.Fatal("a refused ForceUnlock released the lock")
	}

	got, err := s.ForceUnlock(id)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(hung.Info(), got); diff != "" {
		t.Errorf("ForceUnlock returned (-holder +got):\n%s", diff)
	}
	for _, p := range []string{s.LockPath(), s.lockInfoPath()} {
		if _, err := os.Lstat(p); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s still there after ForceUnlock: %v", p, err)
		}
	}
	// As documented: the forced-out holder keeps its flock on the unlinked
	// file, so a new Lock succeeds beside it...
	next, err := Open(dir, "production").Lock(t.Context(), LockInfo{Operation: "resume"}, 0)
	if err != nil {
		t.Fatalf("Lock after ForceUnlock: %v", err)
	}
	// ...and the forced-out holder's Unlock leaves the new holder's
	// information alone.
	if err := hung.Unlock(); err != nil {
		t.Fatal(err)
	}
	info, held, err := s.LockInfo()
	if err != nil || !held || info == nil || info.ID != next.Info().ID {
		t.Errorf("after the old holder's Unlock: %+v, held %v, %v; want the new holder", info, held, err)
	}
	next.Unlock()
}

func isMismatch(err error, current string) bool {
	var me *LockMismatchError
	if !errors.As(err, &me) {
		return false
	}
	if current == "" {
		return me.Current == nil
	}
	return me.Current != nil && me.Current.ID == current
}

const helperEnv = "ENVMIG_STATEFILE_LOCK_HOLDER"

// TestHelperProcess is the lock holder of TestLockAcrossProcesses, run in
// a child process: it locks the journal in $ENVMIG_STATEFILE_LOCK_HOLDER,
// prints the lock ID and holds the lock until it is killed.
func TestHelperProcess(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("the lock holder of TestLockAcrossProcesses")
	}
	l, err := Open(dir, "production").Lock(context.Background(), applyInfo(), 0)
	if err != nil {
		fmt.Println("error:", err)
		os.Exit(2)
	}
	fmt.Println("locked", l.Info().ID)
	io.Copy(io.Discard, os.Stdin) // until killed (or the test closes stdin)
	os.Exit(0)
}

// Suite K at the statefile level: a live holder in another process is
// refused at once by name, and after it is killed with SIGKILL the next
// Lock takes over without a manual unlock.
func TestLockAcrossProcesses(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperProcess$")
	cmd.Env = append(os.Environ(), helperEnv+"="+dir)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	killed := false
	t.Cleanup(func() {
		if !killed {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("lock holder: %v", err)
	}
	id, ok := strings.CutPrefix(strings.TrimSpace(line), "locked ")
	if !ok {
		t.Fatalf("lock holder said %q", line)
	}
	pid := cmd.Process.Pid

	s := Open(dir, "production")
	start := time.Now()
	_, err = s.Lock(t.Context(), LockInfo{Operation: "apply"}, 0)
	elapsed := time.Since(start)
	var le *LockError
	if !errors.As(err, &le) {
		t.Fatalf("Lock while another process holds it: %v, want *LockError", err)
	}
	if le.Info.PID != pid || le.Info.ID != id || !strings.Contains(err.Error(), fmt.Sprintf("pid %d", pid)) {
		t.Errorf("LockError does not name the holder (pid %d, ID %s): %v", pid, id, err)
	}
	if elapsed > time.Second {
		t.Errorf("the refusal took %v; it must come within a second", elapsed)
	}
	if _, err := s.Lock(t.Context(), LockInfo{Operation: "apply"}, 150*time.Millisecond); !errors.As(err, &le) {
		t.Errorf("Lock with a timeout while another process holds it: %v, want *LockError", err)
	}
	if info, held, err := s.LockInfo(); err != nil || !held || info == nil || info.PID != pid {
		t.Errorf("LockInfo: %+v, held %v, %v; want pid %d holding", info, held, err, pid)
	}

	if err := cmd.Process.Kill(); err != nil { // SIGKILL: no Unlock runs
		t.Fatal(err)
	}
	if err := cmd.Wait(); err == nil {
		t.Fatal("the lock holder exited cleanly; it was meant to be killed")
	}
	killed = true
	if info, held, err := s.LockInfo(); err != nil || held || info == nil || info.PID != pid {
		t.Errorf("LockInfo after the kill: %+v, held %v, %v; want pid %d's information, not held", info, held, err, pid)
	}
	l, err := s.Lock(t.Context(), LockInfo{Operation: "resume"}, 0)
	if err != nil {
		t.Fatalf("Lock after the holder was killed: %v", err)
	}
	defer l.Unlock()
	if prev := l.TookOver(); prev == nil || prev.PID != pid || prev.ID != id {
		t.Errorf("TookOver = %+v, want the killed holder (pid %d, ID %s)", prev, pid, id)
	}
}
