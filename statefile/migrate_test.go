package statefile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/planner/plan"
)

// migrationSource saves a journal with history, leftovers and blobs in b.
func migrationSource(t *testing.T, b Backend) (cur, prev *State) {
	t.Helper()
	j := b.Journal("production")
	st := NewState(testPlan("production", 4), "apply", t0)
	st.History = []RunSummary{{Lineage: "0b6e7c52-old", PlanDigest: "sha256:00", Operation: "apply", Status: RunApplied, StartedAt: t0, FinishedAt: t0}}
	st.Kept = []plan.Leftover{{ID: "envmig-0b6e-orders", Kind: "db-snapshot", Why: "kept for rollback", Run: "0b6e7c52-old"}}
	for i := range 3 {
		st.Steps[i].Status = StepDone
		if err := j.Save(st); err != nil {
			t.Fatal(err)
		}
	}
	writeBlob(t, j, st.Lineage, "manifest.orders", blobContent(300_000, 2))
	writeBlob(t, j, "0b6e7c52-old", "manifest.orders", []byte("old run"))
	cur, err := j.Load()
	if err != nil {
		t.Fatal(err)
	}
	if prev, err = j.LoadBackup(); err != nil {
		t.Fatal(err)
	}
	return cur, prev
}

// checkMigrated requires dst to hold exactly cur, prev and the blobs, and
// src to refuse to be used, naming dst.
func checkMigrated(t *testing.T, src, dst Backend, cur, prev *State) {
	t.Helper()
	to := dst.Journal("production")
	got, err := to.Load()
	if err != nil {
		t.Fatalf("destination Load: %v", err)
	}
	if diff := cmp.Diff(cur, got); diff != "" {
		t.Errorf("destination state (-source +destination):\n%s", diff)
	}
	if got, err := to.LoadBackup(); err != nil || got.Checksum != prev.Checksum {
		t.Errorf("destination backup: %v, want the source's serial %d", err, prev.Serial)
	}
	if got := readBlob(t, to, cur.Lineage, "manifest.orders"); string(got) != string(blobContent(300_000, 2)) {
		t.Error("the run's blob differs at the destination")
	}
	if got := readBlob(t, to, "0b6e7c52-old", "manifest.orders"); string(got) != "old run" {
		t.Error("the old run's blob differs at the destination")
	}
	_, err = src.Journal("production").Load()
	var me *MigratedError
	if !errors.As(err, &me) || me.Note.To != to.Location() || me.Note.Serial != cur.Serial {
		t.Errorf("source Load after the migration: %v, want *MigratedError naming %s", err, to.Location())
	}
	if errors.Is(err, fs.ErrNotExist) {
		t.Error("a migrated journal reads as \"no runs yet\"")
	}
	if names, _ := src.Journals(t.Context()); len(names) != 0 {
		t.Errorf("the retired journal is still listed: %v", names)
	}
}

func TestMigrateLocal(t *testing.T) {
	base := t.TempDir()
	src, dst := Local(filepath.Join(base, "a", ".envmig")), Local(filepath.Join(base, "b", ".envmig"))
	cur, prev := migrationSource(t, src)
	m, err := Migrate(t.Context(), src, dst, "production", CurrentHolder("state-migrate", ""))
	if err != nil {
		t.Fatal(err)
	}
	want := &Migration{Name: "production", From: src.Journal("production").Location(), To: dst.Journal("production").Location(),
		Lineage: cur.Lineage, Serial: cur.Serial, Backup: true, Blobs: 2}
	if diff := cmp.Diff(want, m); diff != "" {
		t.Errorf("Migration (-want +got):\n%s", diff)
	}
	checkMigrated(t, src, dst, cur, prev)
	for _, f := range []string{"production.state.json.migrated-to-local", "production.state.json.backup.migrated-to-local", "production.migrated.json"} {
		if _, err := os.Stat(filepath.Join(src.Location(), f)); err != nil {
			t.Errorf("source: %v", err)
		}
	}
	// A new run cannot start at the old place by mistake.
	err = src.Journal("production").Save(NewState(testPlan("production", 2), "apply", t0))
	var me *MigratedError
	if !errors.As(err, &me) {
		t.Errorf("Save of a new run where the journal was migrated from: %v, want *MigratedError", err)
	}

	// Again: nothing to do, said so.
	again, err := Migrate(t.Context(), src, dst, "production", CurrentHolder("state-migrate", ""))
	if err != nil || !again.AlreadyDone {
		t.Fatalf("second Migrate: %+v, %v; want AlreadyDone", again, err)
	}
	// And back: the note is gone, the journal is used there again.
	back, err := Migrate(t.Context(), dst, src, "production", CurrentHolder("state-migrate", ""))
	if err != nil || back.Serial != cur.Serial {
		t.Fatalf("Migrate back: %+v, %v", back, err)
	}
	checkMigrated(t, dst, src, cur, prev)
	if _, err := os.Stat(filepath.Join(src.Location(), "production.migrated.json")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("the note of a journal migrated back is still there: %v", err)
	}
}

func TestMigrateRefuses(t *testing.T) {
	cases := map[string]struct {
		setup func(t *testing.T, src, dst Backend) func()
		check func(t *testing.T, err error)
	}{
		"a different journal at the destination": {
			setup: func(t *testing.T, src, dst Backend) func() {
				other := NewState(testPlan("production", 2), "apply", t0)
				other.Lineage = "77777777-other"
				if err := dst.Journal("production").Save(other); err != nil {
					t.Fatal(err)
				}
				return func() {}
			},
			check: func(t *testing.T, err error) {
				if err == nil || !contains(err, "77777777-other", "refusing to overwrite") {
					t.Errorf("Migrate: %v, want a refusal naming the destination's run", err)
				}
			},
		},
		"a locked source": {
			setup: func(t *testing.T, src, dst Backend) func() { return lockFor(t, src) },
			check: isLockError,
		},
		"a locked destination": {
			setup: func(t *testing.T, src, dst Backend) func() { return lockFor(t, dst) },
			check: isLockError,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			src, dst := Local(filepath.Join(base, "a", ".envmig")), Local(filepath.Join(base, "b", ".envmig"))
			migrationSource(t, src)
			release := c.setup(t, src, dst)
			before := snapshotDir(t, base)
			_, err := Migrate(t.Context(), src, dst, "production", CurrentHolder("state-migrate", ""))
			release()
			c.check(t, err)
			after := snapshotDir(t, base)
			for _, f := range []string{"production.lock", "production.lock.json", "production.save.lock"} {
				for _, d := range []string{src.Location(), dst.Location()} { // lock files come and go
					delete(before, filepath.Join(d, f))
					delete(after, filepath.Join(d, f))
				}
			}
			if diff := cmp.Diff(before, after); diff != "" {
				t.Errorf("a refused Migrate changed files (-before +after):\n%s", diff)
			}
		})
	}
}

func lockFor(t *testing.T, b Backend) func() {
	l, err := b.Journal("production").Lock(t.Context(), applyInfo(), 0)
	if err != nil {
		t.Fatal(err)
	}
	return func() { l.Unlock() }
}

func isLockError(t *testing.T, err error) {
	var le *LockError
	if !errors.As(err, &le) || le.Info.Operation != "apply" {
		t.Errorf("Migrate: %v, want *LockError naming the apply holding it", err)
	}
}

func contains(err error, words ...string) bool {
	for _, w := range words {
		if !strings.Contains(err.Error(), w) {
			return false
		}
	}
	return true
}

// A migration interrupted after any filesystem operation, by an error (the
// process goes on) or by a power failure (whatever the disk kept), leaves
// the journal usable at one place or the other, and running it again
// finishes it.
func TestMigrateRerunAfterCrash(t *testing.T) {
	const srcDir, dstDir = "/work/a/.envmig", "/work/b/.envmig"
	setup := func(t *testing.T) (*memFS, *State, *State) {
		m := newMemFS()
		cur, prev := migrationSource(t, Local(srcDir, WithFS(m)))
		return m, cur, prev
	}
	migrate := func(m *memFS) (*Migration, error) {
		return Migrate(t.Context(), Local(srcDir, WithFS(m)), Local(dstDir, WithFS(m)), "production", LockInfo{Operation: "state-migrate"})
	}
	m, _, _ := setup(t)
	start := m.ops
	if _, err := migrate(m); err != nil {
		t.Fatal(err)
	}
	total := m.ops - start
	if total < 30 {
		t.Fatalf("a migration takes only %d operations: the enumeration means little", total)
	}
	points := 0
	for k := 1; k <= total; k++ {
		for _, mode := range []string{"error", "power loss, nothing kept", "power loss, all kept"} {
			t.Run(fmt.Sprintf("op %d %s", k, mode), func(t *testing.T) {
				m, cur, prev := setup(t)
				if mode == "error" {
					m.failAt = m.ops + k
				} else {
					m.limit = m.ops + k - 1
				}
				if _, err := migrate(m); err == nil && mode == "error" {
					return // the failing operation's error was not needed (an unlock, a litter removal)
				}
				if mode != "error" {
					dims, reboot := m.crash()
					pick := make([]int, len(dims))
					if mode == "power loss, all kept" {
						for i, d := range dims {
							pick[i] = d - 1
						}
					}
					m = reboot(pick)
				}
				m.failAt, m.limit = 0, -1
				// The journal is never lost in between.
				_, serr := Local(srcDir, WithFS(m)).Journal("production").Load()
				_, derr := Local(dstDir, WithFS(m)).Journal("production").Load()
				if serr != nil && derr != nil {
					t.Fatalf("neither place loads: source %v; destination %v", serr, derr)
				}
				if _, err := migrate(m); err != nil {
					t.Fatalf("Migrate again: %v", err)
				}
				checkMigrated(t, Local(srcDir, WithFS(m)), Local(dstDir, WithFS(m)), cur, prev)
				points++
			})
		}
	}
	t.Logf("%d operations, %d interruptions re-run", total, points)
}
