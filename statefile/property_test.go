package statefile

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"testing"
	"time"

	"pgregory.net/rapid"
)

// TestJournalCrashResumeProperty runs random sequences of saves, power
// failures at random operations (with random choices of what the disk
// keeps) and reboots that resume from what they load. Whatever happens, the
// journal loads, holds the last acknowledged record or the one in flight,
// and a resumed run goes on saving.
func TestJournalCrashResumeProperty(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		disk := newMemFS()
		want := map[uint64]string{}
		var (
			st    *State // the run in memory; nil until the first Save
			acked uint64 // serial of the last acknowledged record
		)
		store := func() *Store { return Open(jDir, jEnv, WithFS(disk)) }
		// The process writing the journal: one Store, which a reboot
		// replaces by a new one that loads before it saves.
		writer := store()
		save := func(limit int) error {
			if st == nil {
				st = NewState(testPlan(jEnv, 6), "apply", t0)
			} else {
				mutate(t, st)
			}
			disk.limit = limit
			err := writer.Save(st)
			if err == nil {
				acked = st.Serial
				want[acked] = encode(st)
			}
			return err
		}
		for i, n := 0, rapid.IntRange(1, 40).Draw(t, "actions"); i < n; i++ {
			switch rapid.SampledFrom([]string{"save", "save", "crash", "load"}).Draw(t, "action") {
			case "save":
				if err := save(-1); err != nil {
					t.Fatalf("save: %v", err)
				}
			case "crash":
				k := rapid.IntRange(0, 12).Draw(t, "operations before the power fails")
				err := save(disk.ops + k)
				if err != nil && !errors.Is(err, errPowerLost) {
					t.Fatalf("save during a power failure: %v", err)
				}
				inFlight := st != nil && err != nil
				if inFlight {
					want[st.Serial] = encode(st) // it may have reached the disk
				}
				dims, reboot := disk.crash()
				pick := make([]int, len(dims))
				for j, d := range dims {
					pick[j] = rapid.IntRange(0, d-1).Draw(t, "disk keeps")
				}
				disk = reboot(pick)
				writer = store()
				got, lerr := writer.Load()
				switch {
				case errors.Is(lerr, fs.ErrNotExist) && acked == 0:
					st = nil
					continue
				case lerr != nil:
					t.Fatalf("Load after reboot (acknowledged serial %d): %v", acked, lerr)
				case got.Serial != acked && !(inFlight && got.Serial == acked+1):
					t.Fatalf("loaded serial %d, acknowledged %d (in flight: %v)", got.Serial, acked, inFlight)
				case encode(got) != want[got.Serial]:
					t.Fatalf("serial %d loaded with other content than was saved", got.Serial)
				}
				// The rebooted disk is durable: resume from it.
				st, acked = got, got.Serial
			case "load":
				got, err := store().Load()
				if acked == 0 {
					if !errors.Is(err, fs.ErrNotExist) {
						t.Fatalf("Load of an empty journal: %v", err)
					}
					continue
				}
				if err != nil {
					t.Fatalf("Load: %v", err)
				}
				if got.Serial != acked || encode(got) != want[acked] {
					t.Fatalf("Load: serial %d, want %d as saved", got.Serial, acked)
				}
			}
		}
		// A lock can always be taken after all this.
		l, err := store().Lock(context.Background(), LockInfo{Operation: "resume"}, 0)
		if err != nil {
			t.Fatalf("Lock: %v", err)
		}
		if err := l.Unlock(); err != nil {
			t.Fatalf("Unlock: %v", err)
		}
	})
}

// mutate journals a random change of st, the way the executor does.
func mutate(t *rapid.T, st *State) {
	i := rapid.IntRange(0, len(st.Steps)-1).Draw(t, "step")
	r := &st.Steps[i]
	r.Status = rapid.SampledFrom([]string{StepStarted, StepDone, StepFailed, StepReverting, StepReverted}).Draw(t, "status")
	r.Attempts++
	r.StartedAt = t0.Add(time.Duration(rapid.IntRange(0, 1e6).Draw(t, "seconds")) * time.Second)
	if r.Status == StepFailed {
		r.Error = rapid.String().Draw(t, "error")
	}
	if r.Values == nil {
		r.Values = map[string]string{}
	}
	r.Values[fmt.Sprint("k", rapid.IntRange(0, 3).Draw(t, "key"))] = rapid.String().Draw(t, "value")
	st.Status = rapid.SampledFrom([]string{RunRunning, RunRollingBack, RunApplied}).Draw(t, "run status")
}
