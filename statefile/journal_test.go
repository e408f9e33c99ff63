package statefile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/envmig/envmig/internal/report"
	"io/fs"
	"testing"
	"time"

	"github.com/envmig/envmig/planner/plan"
)

// Suite J: journal power loss. A realistic 30-record run goes through
// memFS; the power fails after every operation in turn, and every disk a
// reboot could find is loaded.

const (
	jDir = "/work/project/.envmig"
	jEnv = "production"
)

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// testPlan is a plan of n steps with the gate in the middle.
func testPlan(env string, n int) *plan.Plan {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Lineage: "3fa2c1d0-run", CreatedAt: t0, Tool: "test",
		Environment: env, Account: "123456789012", Region: "eu-west-1", Strategy: "snapshot-restore"}
	for i := range n {
		ph := plan.PhasePrepare
		switch {
		case i == n/2:
			ph = plan.PhaseGate
		case i > n/2:
			ph = plan.PhaseCommit
		}
		p.Steps = append(p.Steps, plan.Step{ID: fmt.Sprintf("step.%02d", i), Phase: ph, Action: plan.DBSnapshot,
			Resource: "database.main", Description: fmt.Sprintf("step %d", i),
			Params: plan.DBSnapshotParams{Identifier: "orders-db", Snapshot: fmt.Sprintf("envmig-3fa2-%d", i)}})
	}
	plan.Seal(p)
	return p
}

// journalRecords are the 30 changes of a run, each followed by a Save: the
// run's start, ten steps started then done (four of them failing once
// first), then the finish.
func journalRecords() []func(st *State) {
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Minute) }
	var recs []func(st *State)
	recs = append(recs, func(st *State) {}) // the intent to run
	for i := range 10 {
		id := fmt.Sprintf("step.%02d", i)
		start := func(st *State) {
			r := st.Step(id)
			r.Status, r.Attempts, r.StartedAt = StepStarted, r.Attempts+1, at(len(recs))
			r.Error = ""
			if r.Values == nil {
				r.Values = map[string]string{}
			}
			r.Values["original_size"] = fmt.Sprint(3 + i)
			st.UpdatedAt = at(len(recs))
		}
		recs = append(recs, start)
		if i == 1 || i == 4 || i == 7 || i == 8 {
			recs = append(recs, func(st *State) {
				r := st.Step(id)
				r.Status, r.FinishedAt, r.Error = StepFailed, at(i), "InvalidDBInstanceState: the instance is modifying"
			}, start)
		}
		recs = append(recs, func(st *State) {
			r := st.Step(id)
			r.Status, r.FinishedAt = StepDone, at(i+1)
			r.Values["created"] = fmt.Sprintf("envmig-3fa2-%d", i)
		})
	}
	recs = append(recs, func(st *State) {
		st.Status, st.UpdatedAt = RunApplied, at(40)
		st.Kept = st.Plan.Leftovers
		st.History = append(st.History, RunSummary{Lineage: st.Lineage, PlanDigest: st.PlanDigest, Operation: st.Operation,
			Status: RunApplied, StartedAt: st.StartedAt, FinishedAt: at(40)})
	})
	if len(recs) != 30 {
		panic(fmt.Sprintf("journalRecords: %d records, want 30", len(recs)))
	}
	return recs
}

// runJournal locks the journal, saves the 30 records and unlocks, until
// the first error. It returns the serial of the last Save that returned
// nil, and calls saved with each acknowledged state's encoding.
func runJournal(fsys FS, saved func(serial uint64, enc string)) (acked uint64, err error) {
	s := Open(jDir, jEnv, WithFS(fsys))
	lock, err := s.Lock(context.Background(), LockInfo{Operation: "apply", Run: "3fa2c1d0-run", Who: "ops", PID: 4242, Host: "build-7"}, 0)
	if err != nil {
		return 0, err
	}
	st := NewState(testPlan(jEnv, 10), "apply", t0)
	for _, rec := range journalRecords() {
		rec(st)
		if err := s.Save(st); err != nil {
			return acked, err
		}
		acked = st.Serial
		if saved != nil {
			saved(st.Serial, encode(st))
		}
	}
	return acked, lock.Unlock()
}

func encode(st *State) string {
	b, err := json.Marshal(st)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// journalReport is what one enumeration found.
type journalReport struct {
	ops, crashPoints, explored, failed int
	firstFailure                       string
}

// enumerateCrashes crashes the run after each of its operations in turn
// and checks every disk a reboot could find.
// With untilFailure it stops at the first failing state.
func enumerateCrashes(t *testing.T, configure func(*memFS), untilFailure bool) journalReport {
	t.Helper()
	want := map[uint64]string{}
	full := newMemFS()
	configure(full)
	if _, err := runJournal(full, func(serial uint64, enc string) { want[serial] = enc }); err != nil {
		t.Fatalf("run without a crash: %v", err)
	}
	rep := journalReport{ops: full.ops}
	for k := 0; k <= full.ops && !(untilFailure && rep.failed > 0); k++ {
		m := newMemFS()
		configure(m)
		m.limit = k
		acked, err := runJournal(m, nil)
		if k < full.ops && !errors.Is(err, errPowerLost) {
			t.Fatalf("crash after operation %d: the run ended with %v, not a power loss", k, err)
		}
		rep.crashPoints++
		dims, reboot := m.crash()
		eachPick(dims, func(pick []int) {
			if untilFailure && rep.failed > 0 {
				return
			}
			rep.explored++
			if msg := checkRebooted(reboot(pick), acked, want); msg != "" {
				rep.failed++
				if rep.firstFailure == "" {
					rep.firstFailure = fmt.Sprintf("crash after operation %d of %d (last acknowledged serial %d), disk choice %v: %s", k, full.ops, acked, pick, msg)
				}
			}
		})
	}
	return rep
}

// checkRebooted loads the journal from a rebooted disk and says what is
// wrong, or "".
func checkRebooted(disk *memFS, acked uint64, want map[uint64]string) string {
	s := Open(jDir, jEnv, WithFS(disk))
	st, err := s.Load()
	switch {
	case errors.Is(err, fs.ErrNotExist) && acked == 0:
		return ""
	case err != nil:
		return fmt.Sprintf("Load: %v", err)
	case st.Serial != acked && st.Serial != acked+1:
		return fmt.Sprintf("loaded serial %d, want %d (acknowledged) or %d (in flight)", st.Serial, acked, acked+1)
	case encode(st) != want[st.Serial]:
		return fmt.Sprintf("serial %d loaded with other content than was saved", st.Serial)
	}
	if st.Serial > 1 {
		b, err := s.LoadBackup()
		if err != nil {
			return fmt.Sprintf("LoadBackup at serial %d: %v", st.Serial, err)
		}
		// The previous version, or the current one when the crash came
		// between the backup's rename and the state's.
		if (b.Serial != st.Serial-1 && b.Serial != st.Serial) || encode(b) != want[b.Serial] {
			return fmt.Sprintf("backup holds serial %d, want %d or %d", b.Serial, st.Serial-1, st.Serial)
		}
	}
	if _, err := s.readLockInfo(); err != nil {
		return fmt.Sprintf("lock information: %v", err)
	}
	// Resuming works: the lock is taken over and the next record saved.
	l, err := s.Lock(context.Background(), LockInfo{Operation: "resume"}, 0)
	if err != nil {
		return fmt.Sprintf("Lock after reboot: %v", err)
	}
	if err := s.Save(st); err != nil {
		return fmt.Sprintf("Save after reboot: %v", err)
	}
	if again, err := s.Load(); err != nil || again.Serial != st.Serial {
		return fmt.Sprintf("Load after resuming: %v", err)
	}
	if err := l.Unlock(); err != nil {
		return fmt.Sprintf("Unlock after reboot: %v", err)
	}
	return ""
}

func TestJournalPowerLoss(t *testing.T) {
	rep := enumerateCrashes(t, func(*memFS) {}, false)
	report.Figures(t, "J", map[string]any{"records": 30, "filesystem operations": rep.ops, "crash points": rep.crashPoints,
		"states explored": rep.explored, "states that fail to load": rep.failed})
	if rep.failed != 0 {
		t.Fatalf("%d of %d states fail; first: %s", rep.failed, rep.explored, rep.firstFailure)
	}
	if rep.ops < 30*8 || rep.explored <= rep.crashPoints {
		t.Fatalf("the enumeration is too small to mean anything: %d operations, %d states", rep.ops, rep.explored)
	}
}

// The negative controls: without the directory fsync (or the file fsync)
// the same enumeration finds an acknowledged record lost or a state that
// does not load.
func TestJournalPowerLossNegativeControls(t *testing.T) {
	controls := map[string]func(*memFS){
		"no directory fsync": func(m *memFS) { m.ignoreDirSync = true },
		"no file fsync":      func(m *memFS) { m.ignoreFileSync = true },
	}
	for name, configure := range controls {
		t.Run(name, func(t *testing.T) {
			rep := enumerateCrashes(t, configure, true)
			if rep.failed == 0 {
				t.Fatalf("%d states explored and none failed: the suite cannot see a missing fsync", rep.explored)
			}
			t.Logf("found after %d states, as it must be: %s", rep.explored, rep.firstFailure)
			report.Figures(t, "J-control", map[string]any{"control": name, "violation found": true, "states explored until found": rep.explored})
		})
	}
}
