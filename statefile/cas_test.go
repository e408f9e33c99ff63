package statefile

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Two processes (two Stores) load one journal, then both save: the second
// is refused with a *ConflictError naming what the first wrote, and writes
// nothing.
func TestSaveIsCompareAndSwap(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	savedRun(t, dir, "production", 3)

	a, b := Open(dir, "production"), Open(dir, "production")
	stA, err := a.Load()
	if err != nil {
		t.Fatal(err)
	}
	stB, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	stA.Status = RunRollingBack
	if err := a.Save(stA); err != nil {
		t.Fatalf("first writer: %v", err)
	}
	written, _ := os.ReadFile(a.Path())

	stB.Status = RunApplied
	err = b.Save(stB)
	var ce *ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("second writer: %v, want *ConflictError", err)
	}
	if ce.Found == nil || ce.Found.Serial != stA.Serial || ce.Found.Status != RunRollingBack {
		t.Errorf("ConflictError found %+v, want the first writer's serial %d", ce.Found, stA.Serial)
	}
	if now, _ := os.ReadFile(a.Path()); string(now) != string(written) {
		t.Error("the refused Save changed the state file")
	}
	// The refusal lasts: B never overwrites what it did not read...
	if err := b.Save(stB); !errors.As(err, &ce) {
		t.Errorf("second writer, again: %v, want *ConflictError", err)
	}
	// ...until it loads again.
	again, err := b.Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Save(again); err != nil {
		t.Errorf("Save after a new Load: %v", err)
	}
	// The first writer is now the stale one.
	if err := a.Save(stA); !errors.As(err, &ce) {
		t.Errorf("first writer after the second's Save: %v, want *ConflictError", err)
	}
}

// A Store that has loaded nothing expects no journal: it cannot overwrite
// one it never read.
func TestSaveWithoutLoadExpectsNoJournal(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	savedRun(t, dir, "production", 2)
	err := Open(dir, "production").Save(NewState(testPlan("production", 3), "apply", t0))
	var ce *ConflictError
	if !errors.As(err, &ce) || ce.Found == nil || ce.Found.Serial != 2 {
		t.Fatalf("Save over an unread journal: %v, want *ConflictError naming serial 2", err)
	}
}

// A new run's state replaces a finished one with a serial past the
// journal's: serials never go back, so no two versions share one.
func TestNewRunSerialGoesOn(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	savedRun(t, dir, "production", 5)
	s := Open(dir, "production")
	old, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	st := NewState(testPlan("production", 3), "apply", t0)
	st.History = old.History
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	if st.Serial != 6 {
		t.Errorf("new run saved with serial %d, want 6", st.Serial)
	}
}

// A Save that fails after its rename may or may not have reached the disk:
// the same Store's next Save accepts either version, and no other Store's.
func TestSaveAfterAnUncertainFailure(t *testing.T) {
	m := newMemFS()
	s := Open(jDir, jEnv, WithFS(m))
	st := NewState(testPlan(jEnv, 4), "apply", t0)
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	before := m.ops
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	perSave := m.ops - before
	m.failAt = m.ops + perSave // the directory fsync, after the rename
	if err := s.Save(st); !errors.Is(err, syscall.EIO) {
		t.Fatalf("Save with a failing directory fsync: %v", err)
	}
	if got, err := Open(jDir, jEnv, WithFS(m)).Load(); err != nil || got.Serial != 3 {
		t.Fatalf("the failed Save's rename did not happen (serial %v, %v); the test needs it", got, err)
	}
	if err := s.Save(st); err != nil {
		t.Errorf("Save after an uncertain failure: %v", err)
	}
}

// Many processes race to save the version they all loaded: exactly one
// wins, whatever the interleaving (the save lock makes the compare and the
// rename one step).
func TestSaveRaceHasOneWinner(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	savedRun(t, dir, "production", 1)
	const n = 8
	for round := range 20 {
		stores := make([]*Store, n)
		states := make([]*State, n)
		for i := range stores {
			stores[i] = Open(dir, "production")
			st, err := stores[i].Load()
			if err != nil {
				t.Fatal(err)
			}
			states[i] = st
		}
		var (
			wg        sync.WaitGroup
			mu        sync.Mutex
			wins      int
			conflicts int
		)
		start := make(chan struct{})
		for i := range stores {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				err := stores[i].Save(states[i])
				var ce *ConflictError
				mu.Lock()
				defer mu.Unlock()
				switch {
				case err == nil:
					wins++
				case errors.As(err, &ce):
					conflicts++
				default:
					t.Errorf("round %d: Save: %v", round, err)
				}
			}()
		}
		close(start)
		wg.Wait()
		if wins != 1 || conflicts != n-1 {
			t.Fatalf("round %d: %d saves won and %d were refused, want 1 and %d", round, wins, conflicts, n-1)
		}
	}
}

// countingFS records every flock attempt.
type countingFS struct {
	OSFS
	mu    sync.Mutex
	tries int
}

type countingFlock struct {
	Flocker
	c *countingFS
}

func (c *countingFS) Flock(path string) Flocker { return &countingFlock{c.OSFS.Flock(path), c} }

func (f *countingFlock) TryLock() (bool, error) {
	f.c.mu.Lock()
	f.c.tries++
	f.c.mu.Unlock()
	return f.Flocker.TryLock()
}

// LockInfo (what status reads) never takes the lock, held or free, and
// still tells a live holder from a dead one.
func TestLockInfoNeverLocks(t *testing.T) {
	dir := t.TempDir()
	cfs := &countingFS{}
	reader := Open(dir, "production", WithFS(cfs))

	holder, err := Open(dir, "production").Lock(t.Context(), applyInfo(), 0)
	if err != nil {
		t.Fatal(err)
	}
	info, held, err := reader.LockInfo()
	if err != nil || !held || info == nil || info.ID != holder.Info().ID {
		t.Errorf("LockInfo while held: %+v, held %v, %v", info, held, err)
	}
	var le *LockError
	if err := CheckUnlocked(reader); !errors.As(err, &le) || le.Info.ID != holder.Info().ID {
		t.Errorf("CheckUnlocked while held: %v, want *LockError naming the holder", err)
	}
	holder.Unlock()

	dead := LockInfo{ID: "0b6e7c52-dead", Operation: "apply", PID: 999999, Host: "build-7", Since: t0}
	writeLockInfo(t, reader, dead)
	info, held, err = reader.LockInfo()
	if err != nil || held || info == nil || info.ID != dead.ID {
		t.Errorf("LockInfo of a dead holder: %+v, held %v, %v; want it recorded, not held", info, held, err)
	}
	if err := CheckUnlocked(reader); err != nil {
		t.Errorf("CheckUnlocked with a dead holder: %v", err)
	}
	if cfs.tries != 0 {
		t.Errorf("LockInfo tried to take the lock %d times", cfs.tries)
	}
}

// A lock attempt against a live holder is refused within a second naming
// it, however the journal looks (here: no state, and a corrupt one).
func TestLockRefusedWhateverTheJournal(t *testing.T) {
	for name, setup := range map[string]func(t *testing.T, dir string){
		"no state": func(t *testing.T, dir string) {},
		"corrupt state": func(t *testing.T, dir string) {
			os.WriteFile(filepath.Join(dir, "production.state.json"), []byte("{"), 0o600)
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			setup(t, dir)
			holder, err := Open(dir, "production").Lock(t.Context(), applyInfo(), 0)
			if err != nil {
				t.Fatal(err)
			}
			defer holder.Unlock()
			start := time.Now()
			_, err = Open(dir, "production").Lock(t.Context(), LockInfo{Operation: "apply"}, 0)
			var le *LockError
			if !errors.As(err, &le) || le.Info.ID != holder.Info().ID {
				t.Fatalf("Lock: %v, want *LockError naming the holder", err)
			}
			if d := time.Since(start); d > time.Second {
				t.Errorf("refused after %v", d)
			}
		})
	}
}

// Once its lock is lost, a journal refuses every save with the
// *LockLostError, and the lock's context ends with it as cause.
func TestSaveRefusedAfterLockLost(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	s, st := savedRun(t, dir, "production", 1)
	l, err := s.Lock(t.Context(), applyInfo(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	ctx, cancel := l.Context(t.Context())
	defer cancel()
	lost := &LockLostError{Name: "production", Lock: l.Info(), Reason: "its lease ended"}
	l.lose(lost)
	<-l.Lost()
	<-ctx.Done()
	if !errors.Is(context.Cause(ctx), lost) {
		t.Errorf("context cause %v, want the loss", context.Cause(ctx))
	}
	if err := s.Save(st); !errors.Is(err, lost) {
		t.Errorf("Save after the lock was lost: %v", err)
	}
}
