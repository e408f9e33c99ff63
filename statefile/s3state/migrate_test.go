package s3state

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
	"github.com/envmig/envmig/statefile"
)

var bigBlob = blobContent(6<<20+1, 7) // two parts

// journalWithHistory saves, in b, a journal whose state has history and
// leftovers, a previous version, and blobs of two runs.
func journalWithHistory(t *testing.T, b statefile.Backend) (cur, prev *statefile.State) {
	t.Helper()
	j := b.Journal("production")
	st := statefile.NewState(testPlan("production", 4), "apply", t0)
	st.History = []statefile.RunSummary{{Lineage: "0b6e7c52-old", PlanDigest: "sha256:00", Operation: "apply", Status: statefile.RunApplied, StartedAt: t0, FinishedAt: t0}}
	st.Kept = []plan.Leftover{{ID: "envmig-0b6e-orders", Kind: "db-snapshot", Why: "kept for rollback", Run: "0b6e7c52-old"}}
	for i := range 3 {
		st.Steps[i].Status = statefile.StepDone
		if err := j.Save(st); err != nil {
			t.Fatal(err)
		}
	}
	writeBlob(t, j, st.Lineage, "manifest.orders", bigBlob)
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

// checkMoved requires to to hold cur, prev and the blobs, and from to
// refuse to be used, naming to.
func checkMoved(t *testing.T, from, to statefile.Backend, cur, prev *statefile.State) {
	t.Helper()
	j := to.Journal("production")
	got, err := j.Load()
	if err != nil {
		t.Fatalf("destination Load: %v", err)
	}
	if diff := cmp.Diff(cur, got); diff != "" {
		t.Errorf("destination state (-source +destination):\n%s", diff)
	}
	if got, err := j.LoadBackup(); err != nil || got.Checksum != prev.Checksum {
		t.Errorf("destination's previous version: %v, want serial %d", err, prev.Serial)
	}
	if string(readBlob(t, j, cur.Lineage, "manifest.orders")) != string(bigBlob) || string(readBlob(t, j, "0b6e7c52-old", "manifest.orders")) != "old run" {
		t.Error("blobs differ at the destination")
	}
	_, err = from.Journal("production").Load()
	var me *statefile.MigratedError
	if !errors.As(err, &me) || me.Note.To != j.Location() || errors.Is(err, fs.ErrNotExist) {
		t.Errorf("source Load: %v, want *MigratedError naming %s", err, j.Location())
	}
}

// local → S3 → local: the history, leftovers, previous version and blobs
// survive both moves; each source is retired and says where the journal
// went; running a finished migration again changes nothing.
func TestMigrateLocalS3Local(t *testing.T) {
	setup(t)
	dir := filepath.Join(t.TempDir(), ".envmig")
	local, remote := statefile.Local(dir), open(t, nil)
	cur, prev := journalWithHistory(t, local)

	m, err := statefile.Migrate(t.Context(), local, remote, "production", statefile.CurrentHolder("state-migrate", ""))
	if err != nil {
		t.Fatal(err)
	}
	if m.Serial != cur.Serial || !m.Backup || m.Blobs != 2 || m.To != "s3://"+bucket+"/envmig/production.state.json" {
		t.Errorf("Migration %+v", m)
	}
	checkMoved(t, local, remote, cur, prev)
	if _, err := os.Stat(filepath.Join(dir, "production.state.json.migrated-to-s3")); err != nil {
		t.Errorf("the local state was not kept aside: %v", err)
	}
	if again, err := statefile.Migrate(t.Context(), local, remote, "production", statefile.LockInfo{}); err != nil || !again.AlreadyDone {
		t.Errorf("second Migrate: %+v, %v", again, err)
	}

	back, err := statefile.Migrate(t.Context(), remote, local, "production", statefile.LockInfo{})
	if err != nil {
		t.Fatal(err)
	}
	if back.Serial != cur.Serial || !back.Backup {
		t.Errorf("Migration back %+v", back)
	}
	checkMoved(t, remote, local, cur, prev)
	if names, _ := remote.Journals(t.Context()); len(names) != 0 {
		t.Errorf("the retired S3 journal is still listed: %v", names)
	}
	// The journal goes on where it now lives.
	st, err := local.Journal("production").Load()
	if err != nil {
		t.Fatal(err)
	}
	if err := local.Journal("production").Save(st); err == nil {
		// a fresh Journal value has loaded nothing: it must be refused
		t.Error("a Journal that loaded nothing overwrote the journal")
	}
	j := local.Journal("production")
	if st, err = j.Load(); err != nil {
		t.Fatal(err)
	}
	st.Status = statefile.RunRollingBack
	if err := j.Save(st); err != nil || st.Serial != cur.Serial+1 {
		t.Errorf("Save after migrating back: serial %d, %v", st.Serial, err)
	}
}

func TestMigrateRefuses(t *testing.T) {
	t.Run("a different journal in S3", func(t *testing.T) {
		setup(t)
		local, remote := statefile.Local(filepath.Join(t.TempDir(), ".envmig")), open(t, nil)
		journalWithHistory(t, local)
		other := statefile.NewState(testPlan("production", 2), "apply", t0)
		other.Lineage = "77777777-other"
		if err := remote.Journal("production").Save(other); err != nil {
			t.Fatal(err)
		}
		_, err := statefile.Migrate(t.Context(), local, remote, "production", statefile.LockInfo{})
		if err == nil || !strings.Contains(err.Error(), "77777777-other") || !strings.Contains(err.Error(), "refusing to overwrite") {
			t.Fatalf("Migrate: %v", err)
		}
		if st, err := remote.Journal("production").Load(); err != nil || st.Lineage != "77777777-other" {
			t.Errorf("the destination changed: %+v, %v", st, err)
		}
		if _, err := local.Journal("production").Load(); err != nil {
			t.Errorf("the source was retired: %v", err)
		}
		if blobs, _ := remote.Journal("production").Blobs(t.Context()); len(blobs) != 0 {
			t.Errorf("blobs were copied before the refusal: %v", blobs)
		}
	})
	t.Run("a locked S3 journal", func(t *testing.T) {
		setup(t)
		local, remote := statefile.Local(filepath.Join(t.TempDir(), ".envmig")), open(t, nil)
		journalWithHistory(t, local)
		l, err := open(t, nil).Journal("production").Lock(t.Context(), holderInfo("apply"), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Unlock()
		_, err = statefile.Migrate(t.Context(), local, remote, "production", statefile.LockInfo{})
		isLockError(t, err, l.Info())
		if _, err := local.Journal("production").Load(); err != nil {
			t.Errorf("the source was retired: %v", err)
		}
	})
}

// A migration that fails at any write to S3, in either direction, is
// finished by running it again, and the journal loads at one place or the
// other all along.
func TestMigrateRerunnable(t *testing.T) {
	for _, dir := range []string{"to S3", "from S3"} {
		t.Run(dir, func(t *testing.T) {
			run := func(t *testing.T, failAt int) (mutations int) {
				setup(t)
				fc := newFaultClient(t)
				local, remote := statefile.Local(filepath.Join(t.TempDir(), ".envmig")), open(t, fc)
				src, dst := statefile.Backend(local), statefile.Backend(remote)
				if dir == "from S3" {
					src, dst = remote, local
				}
				cur, prev := journalWithHistory(t, src)
				start := fc.count()
				fc.mu.Lock()
				fc.failAt = start + failAt
				fc.mu.Unlock()
				_, err := statefile.Migrate(t.Context(), src, dst, "production", statefile.LockInfo{})
				mutations = fc.count() - start
				if failAt == 0 {
					if err != nil {
						t.Fatal(err)
					}
					checkMoved(t, src, dst, cur, prev)
					return mutations
				}
				_, serr := src.Journal("production").Load()
				_, derr := dst.Journal("production").Load()
				if serr != nil && derr != nil {
					t.Fatalf("after a failure at S3 write %d (%v), neither place loads: %v; %v", failAt, err, serr, derr)
				}
				fc.mu.Lock()
				fc.failAt = 0
				fc.mu.Unlock()
				_, rerr := statefile.Migrate(t.Context(), src, dst, "production", statefile.LockInfo{})
				var le *statefile.LockError
				if errors.As(rerr, &le) && le.Info.Operation == "state-migrate" {
					// The failed write was a lock's release: the lock stays
					// until its lease ends, or an operator removes it.
					if _, err := remote.Journal("production").ForceUnlock(le.Info.ID); err != nil {
						t.Fatal(err)
					}
					_, rerr = statefile.Migrate(t.Context(), src, dst, "production", statefile.LockInfo{})
				}
				if rerr != nil {
					t.Fatalf("after a failure at S3 write %d (%v), Migrate again: %v", failAt, err, rerr)
				}
				checkMoved(t, src, dst, cur, prev)
				return mutations
			}
			total := run(t, 0)
			if total < 5 {
				t.Fatalf("a migration makes only %d writes to S3", total)
			}
			for k := 1; k <= total; k++ {
				t.Run(fmt.Sprint("write ", k), func(t *testing.T) { run(t, k) })
			}
			t.Logf("%d writes to S3, each failed in turn", total)
		})
	}
}
