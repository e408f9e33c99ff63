package s3state

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/envmig/envmig/statefile"
)

// Two processes race for one environment's lock: exactly one holds it, the
// other is refused within a second by a *LockError naming the holder.
func TestLockRace(t *testing.T) {
	setup(t)
	for round := range 5 {
		b := open(t, nil)
		journals := []statefile.Journal{b.Journal("production"), b.Journal("production")}
		locks := make([]*statefile.Lock, 2)
		errs := make([]error, 2)
		took := make([]time.Duration, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, j := range journals {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				t0 := time.Now()
				locks[i], errs[i] = j.Lock(t.Context(), holderInfo("apply"), 0)
				took[i] = time.Since(t0)
			}()
		}
		close(start)
		wg.Wait()
		winner, loser := 0, 1
		if errs[0] != nil {
			winner, loser = 1, 0
		}
		if errs[winner] != nil || locks[loser] != nil {
			t.Fatalf("round %d: results %v: want exactly one lock", round, errs)
		}
		isLockError(t, errs[loser], locks[winner].Info())
		if took[loser] > time.Second {
			t.Errorf("round %d: the refusal took %v", round, took[loser])
		}
		if err := locks[winner].Unlock(); err != nil {
			t.Fatal(err)
		}
		if info, held, err := b.Journal("production").LockInfo(); err != nil || held || info != nil {
			t.Fatalf("round %d: after Unlock: %+v, held %v, %v", round, info, held, err)
		}
	}
}

// The holder renews its lease while it works: a lock held for several
// leases is still live, and a waiter is refused all along.
func TestLeaseRenewedWhileHeld(t *testing.T) {
	setup(t)
	b := open(t, nil)
	l, err := b.Journal("production").Lock(t.Context(), holderInfo("apply"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	_, err = b.Journal("production").Lock(t.Context(), holderInfo("resume"), 2*testLease+time.Second)
	isLockError(t, err, l.Info())
	if err := l.Err(); err != nil {
		t.Fatalf("the holder lost its lock while renewing: %v", err)
	}
	info, held, err := b.Journal("production").LockInfo()
	if err != nil || !held || info.ID != l.Info().ID || info.Expires.IsZero() {
		t.Errorf("LockInfo: %+v, held %v, %v", info, held, err)
	}
}

// A holder that stalls (its renewals stop) is taken over once its lease
// has expired, by S3's clock; the taker says whose lock it took. The
// stalled holder knows it lost the lock, names the new holder, refuses to
// save, its Unlock leaves the new holder's lock alone, and even then it
// cannot overwrite the newer journal.
func TestExpiredLeaseTakenOver(t *testing.T) {
	setup(t)
	stalled := open(t, nil)
	stalled.renewGate = make(chan struct{})
	aj := stalled.Journal("production")
	st := statefile.NewState(testPlan("production", 4), "apply", t0)
	if err := aj.Save(st); err != nil {
		t.Fatal(err)
	}
	a, err := aj.Lock(t.Context(), holderInfo("apply"), 0)
	if err != nil {
		t.Fatal(err)
	}

	b := open(t, nil)
	bj := b.Journal("production")
	start := time.Now()
	l, err := bj.Lock(t.Context(), holderInfo("resume"), 4*testLease)
	if err != nil {
		t.Fatalf("Lock of an expired lease: %v", err)
	}
	defer l.Unlock()
	waited := time.Since(start)
	if waited < testLease {
		t.Errorf("taken over after %v, before the lease of %v ended", waited, testLease)
	}
	if prev := l.TookOver(); prev == nil || prev.ID != a.Info().ID || prev.PID != a.Info().PID || prev.CI != a.Info().CI {
		t.Fatalf("TookOver = %+v, want the stalled holder %+v", prev, a.Info())
	}
	// The new holder goes on with the journal.
	got, err := bj.Load()
	if err != nil {
		t.Fatal(err)
	}
	got.Status = statefile.RunRollingBack
	if err := bj.Save(got); err != nil {
		t.Fatal(err)
	}

	// The stalled holder, let go: its late renewal fails, it knows it lost
	// the lock, and to whom...
	close(stalled.renewGate)
	select {
	case <-a.Lost():
	case <-time.After(4 * testLease):
		t.Fatal("the stalled holder never learned it lost the lock")
	}
	var lost *statefile.LockLostError
	if !errors.As(a.Err(), &lost) || lost.By == nil || lost.By.ID != l.Info().ID {
		t.Errorf("the loss does not name the new holder: %v", a.Err())
	}
	// ...its save is refused...
	st.Status = statefile.RunApplied
	if err := aj.Save(st); !errors.As(err, &lost) {
		t.Fatalf("the stalled holder's Save: %v, want *LockLostError", err)
	}
	// ...and its Unlock leaves the new holder's lock where it is.
	if err := a.Unlock(); err != nil {
		t.Fatal(err)
	}
	if info, held, err := bj.LockInfo(); err != nil || !held || info.ID != l.Info().ID {
		t.Errorf("after the old holder's Unlock: %+v, held %v, %v; want the new holder", info, held, err)
	}
	// Even without its lock to stop it, the old holder cannot overwrite the
	// newer journal: the If-Match on its stale ETag refuses the write.
	var conflict *statefile.ConflictError
	if err := aj.Save(st); !errors.As(err, &conflict) || conflict.Found == nil || conflict.Found.Status != statefile.RunRollingBack {
		t.Errorf("the old holder's Save without its lock: %v, want *ConflictError naming the newer state", err)
	}
	if cur, err := b.Journal("production").Load(); err != nil || cur.Status != statefile.RunRollingBack {
		t.Errorf("journal after all this: %+v, %v; want the new holder's record", cur, err)
	}
}

// A holder that cannot reach S3 gives its lock up when its lease ends,
// before anyone may take it over, and says why.
func TestHolderCutOffLosesLock(t *testing.T) {
	setup(t)
	fc := newFaultClient(t)
	cut := open(t, fc)
	j := cut.Journal("production")
	a, err := j.Lock(t.Context(), holderInfo("apply"), 0)
	if err != nil {
		t.Fatal(err)
	}
	fc.mu.Lock()
	fc.cutLocks = true
	fc.mu.Unlock()
	// Someone else waits for the lock meanwhile: when it gets it, the
	// holder must already know it lost it.
	l, err := open(t, nil).Journal("production").Lock(t.Context(), holderInfo("resume"), 4*testLease)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	select {
	case <-a.Lost():
	default:
		t.Fatal("the lock was taken over before its cut-off holder gave it up")
	}
	if prev := l.TookOver(); prev == nil || prev.ID != a.Info().ID {
		t.Errorf("TookOver = %+v, want %s", prev, a.Info().ID)
	}
	var lost *statefile.LockLostError
	if !errors.As(a.Err(), &lost) || !errors.Is(a.Err(), errInjected) {
		t.Errorf("Err = %v, want a *LockLostError wrapping the renewal error", a.Err())
	}
	if err := j.Save(statefile.NewState(testPlan("production", 2), "apply", t0)); !errors.As(err, &lost) {
		t.Errorf("Save after the loss: %v", err)
	}
	a.Unlock()
}

// force-unlock: a wrong ID is refused naming the holder; the right one
// removes the lock, the forced-out holder learns it at its next renewal,
// and the lock can be taken at once.
func TestForceUnlock(t *testing.T) {
	setup(t)
	b := open(t, nil)
	j := b.Journal("production")
	if _, err := j.ForceUnlock("whatever"); !isMismatch(err, "") {
		t.Errorf("ForceUnlock with no lock: %v", err)
	}
	a, err := j.Lock(t.Context(), holderInfo("apply"), 0)
	if err != nil {
		t.Fatal(err)
	}
	other := b.Journal("production")
	if _, err := other.ForceUnlock("not-" + a.Info().ID); !isMismatch(err, a.Info().ID) {
		t.Fatalf("ForceUnlock with a wrong ID: %v", err)
	}
	got, err := other.ForceUnlock(a.Info().ID)
	if err != nil || got.ID != a.Info().ID {
		t.Fatalf("ForceUnlock: %+v, %v", got, err)
	}
	select {
	case <-a.Lost():
	case <-time.After(4 * testLease):
		t.Fatal("the forced-out holder did not notice at its next renewal")
	}
	var lost *statefile.LockLostError
	if !errors.As(a.Err(), &lost) {
		t.Errorf("Err = %v", a.Err())
	}
	l, err := other.Lock(t.Context(), holderInfo("resume"), 0)
	if err != nil {
		t.Fatalf("Lock after force-unlock: %v", err)
	}
	if l.TookOver() != nil {
		t.Errorf("a force-unlocked lock was reported taken over: %+v", l.TookOver())
	}
	a.Unlock()
	if _, held, _ := other.LockInfo(); !held {
		t.Error("the forced-out holder's Unlock removed the new lock")
	}
	l.Unlock()
}

func isMismatch(err error, current string) bool {
	var me *statefile.LockMismatchError
	if !errors.As(err, &me) {
		return false
	}
	if current == "" {
		return me.Current == nil
	}
	return me.Current != nil && me.Current.ID == current
}

// Reading the holder (status) never writes the lock object, and
// CheckUnlocked reports a live holder as locked.
func TestLockInfoNeverLocks(t *testing.T) {
	setup(t)
	fc := newFaultClient(t)
	reader := open(t, fc).Journal("production")
	if err := statefile.CheckUnlocked(reader); err != nil {
		t.Errorf("CheckUnlocked with no lock: %v", err)
	}
	a, err := open(t, nil).Journal("production").Lock(t.Context(), holderInfo("apply"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Unlock()
	info, held, err := reader.LockInfo()
	if err != nil || !held || info.ID != a.Info().ID {
		t.Errorf("LockInfo: %+v, held %v, %v", info, held, err)
	}
	isLockError(t, statefile.CheckUnlocked(reader), a.Info())
	if n := fc.count(); n != 0 {
		t.Errorf("reading the holder made %d writes", n)
	}
}

// The answers to the lock's own writes can be lost too: the SDK's retry
// then fails its condition on the write itself. Taking the lock and
// renewing it recognise their own writes.
func TestLockWritesWhoseAnswerWasLost(t *testing.T) {
	setup(t)
	b, drop := droppingBackend(t)
	drop.arm(".lock.json")
	l, err := b.Journal("production").Lock(t.Context(), holderInfo("apply"), 0)
	if err != nil {
		t.Fatalf("Lock whose answer was lost: %v", err)
	}
	defer l.Unlock()
	if drop.dropped() != 1 {
		t.Fatalf("%d answers dropped, want 1: the test did not exercise the retry", drop.dropped())
	}
	// A renewal's answer lost: the lock must stay held over several leases.
	drop.arm(".lock.json")
	_, err = open(t, nil).Journal("production").Lock(t.Context(), holderInfo("resume"), 2*testLease+time.Second)
	isLockError(t, err, l.Info())
	if drop.dropped() != 2 {
		t.Fatalf("%d answers dropped, want 2", drop.dropped())
	}
	if err := l.Err(); err != nil {
		t.Fatalf("the holder lost its lock over its own renewal: %v", err)
	}
}
