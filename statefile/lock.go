package statefile

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// LockInfo says who holds a journal's lock. It is written, atomically,
// beside the lock file as <name>.lock.json.
type LockInfo struct {
	// ID is random, set by Lock; force-unlock names it.
	ID        string `json:"id"`
	Operation string `json:"operation"` // apply, resume, rollback, clone, cleanup
	PID       int    `json:"pid"`
	Host      string `json:"host"`
	// Run is the lineage of the run, when known.
	Run   string    `json:"run,omitempty"`
	Who   string    `json:"who,omitempty"`
	Since time.Time `json:"since"`
}

// retryInterval is how often a waiting Lock tries again.
const retryInterval = 100 * time.Millisecond

// Lock is a held journal lock.
type Lock struct {
	store *Store
	fl    Flocker
	info  LockInfo
	prev  *LockInfo

	mu       sync.Mutex
	released bool
}

// Lock takes the journal's exclusive lock: an flock(2) on LockPath, which
// the kernel releases when the holder exits however it exits, and the
// holder's LockInfo beside it. info's ID is always generated; an empty
// PID, Host or Since is filled in.
//
// When a live process holds the lock, Lock fails at once with a *LockError
// naming the holder if timeout is 0, and otherwise tries again every 100ms
// until timeout (then *LockError) or ctx ends (then ctx's error, wrapped).
// A lock whose holder is dead (the flock is free but its LockInfo was left
// behind) is taken over: TookOver returns the dead holder.
//
// flock belongs to an open file description, so two Locks in one process
// exclude each other as two processes do.
func (s *Store) Lock(ctx context.Context, info LockInfo, timeout time.Duration) (*Lock, error) {
	if err := s.checkName(); err != nil {
		return nil, err
	}
	if err := s.ensureDir(); err != nil {
		return nil, err
	}
	fl := s.fs.Flock(s.LockPath())
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	var tick *time.Ticker
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("wait for the state lock of %q: %w", s.name, err)
		}
		ok, err := fl.TryLock()
		if err != nil {
			return nil, fmt.Errorf("lock state %s: %w", s.LockPath(), err)
		}
		if ok {
			break
		}
		if timeout <= 0 {
			return nil, s.lockError()
		}
		if tick == nil {
			tick = time.NewTicker(retryInterval)
			defer tick.Stop()
		}
		if s.onWait != nil {
			s.onWait()
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the state lock of %q: %w", s.name, ctx.Err())
		case <-deadline:
			return nil, s.lockError()
		case <-tick.C:
		}
	}
	l, err := s.claim(fl, info)
	if err != nil {
		_ = fl.Unlock() // the claim error is what matters
		return nil, err
	}
	return l, nil
}

// claim records the new holder once the flock is held.
func (s *Store) claim(fl Flocker, info LockInfo) (*Lock, error) {
	// The lock file holds nothing, but like every file here it is 0600
	// whatever the umask it was created under.
	if fi, err := s.fs.Lstat(s.LockPath()); err == nil && fi.Mode().Perm() != fileMode {
		if err := s.fs.Chmod(s.LockPath(), fileMode); err != nil {
			return nil, fmt.Errorf("lock state: %w", err)
		}
	}
	prev, err := s.readLockInfo()
	if err != nil {
		prev = nil // unreadable leftovers of a dead holder are replaced
	}
	info.ID = newID()
	if info.PID == 0 {
		info.PID = os.Getpid()
	}
	if info.Host == "" {
		info.Host, _ = os.Hostname()
	}
	if info.Since.IsZero() {
		info.Since = time.Now().UTC()
	}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode lock information: %w", err)
	}
	if err := s.writeAtomic(s.lockInfoPath(), append(data, '\n'), false); err != nil {
		return nil, fmt.Errorf("write lock information %s: %w", s.lockInfoPath(), err)
	}
	return &Lock{store: s, fl: fl, info: info, prev: prev}, nil
}

// lockError describes the live holder.
func (s *Store) lockError() error {
	e := &LockError{Name: s.name, Path: s.LockPath()}
	if info, err := s.readLockInfo(); err == nil && info != nil {
		e.Info = *info
	}
	return e
}

// readLockInfo returns the recorded holder, or nil when none is recorded.
func (s *Store) readLockInfo() (*LockInfo, error) {
	data, err := s.fs.ReadFile(s.lockInfoPath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read lock information: %w", err)
	}
	var info LockInfo
	if err := json.Unmarshal(data, &info); err != nil || info.ID == "" {
		return nil, fmt.Errorf("lock information %s is unreadable; if no envmig is running on %q, remove it", s.lockInfoPath(), s.name)
	}
	return &info, nil
}

// TookOver returns the holder whose lock was taken over because it was no
// longer running, or nil.
func (l *Lock) TookOver() *LockInfo { return l.prev }

// Info is the lock's holder information, as written.
func (l *Lock) Info() LockInfo { return l.info }

// Unlock removes the lock information (when it is still this lock's) and
// releases the flock. The lock file stays: removing it would let a process
// that opened it before the removal and one that opens it after hold
// "the" lock at the same time. Calling Unlock again does nothing.
func (l *Lock) Unlock() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.released {
		return nil
	}
	l.released = true
	var err error
	if cur, rerr := l.store.readLockInfo(); rerr == nil && cur != nil && cur.ID == l.info.ID {
		if rerr := l.store.fs.Remove(l.store.lockInfoPath()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("remove lock information: %w", rerr)
		}
	}
	if uerr := l.fl.Unlock(); uerr != nil && err == nil {
		err = fmt.Errorf("release state lock: %w", uerr)
	}
	return err
}

// LockInfo returns the recorded holder (nil when none is recorded) and
// whether a live process holds the lock now. A recorded holder that does
// not hold the lock is dead: the next Lock takes over. The check briefly
// takes and releases the lock when it is free.
func (s *Store) LockInfo() (*LockInfo, bool, error) {
	if err := s.checkName(); err != nil {
		return nil, false, err
	}
	info, err := s.readLockInfo()
	if err != nil {
		return nil, false, err
	}
	switch _, err := s.fs.Lstat(s.LockPath()); {
	case errors.Is(err, fs.ErrNotExist):
		return info, false, nil
	case err != nil:
		return info, false, fmt.Errorf("check state lock: %w", err)
	}
	fl := s.fs.Flock(s.LockPath())
	ok, err := fl.TryLock()
	if err != nil {
		return info, false, fmt.Errorf("check state lock: %w", err)
	}
	if ok {
		if err := fl.Unlock(); err != nil {
			return info, false, fmt.Errorf("check state lock: %w", err)
		}
	}
	return info, !ok, nil
}

// ForceUnlock removes the lock whose ID is id, for a holder that is gone
// but whose lock is still held (a hung process, another host): it removes
// the lock information and the lock file. It refuses, with a
// *LockMismatchError naming the current ID, when id is not the holder's.
//
// A holder that is in fact alive keeps its flock on the removed (unlinked)
// file and is no longer excluded: the next Lock creates a new lock file
// and succeeds beside it. Force-unlock only a holder that is gone.
func (s *Store) ForceUnlock(id string) (LockInfo, error) {
	if err := s.checkName(); err != nil {
		return LockInfo{}, err
	}
	cur, err := s.readLockInfo()
	if err != nil {
		return LockInfo{}, err
	}
	if cur == nil || cur.ID != id {
		return LockInfo{}, &LockMismatchError{Name: s.name, Given: id, Current: cur}
	}
	for _, p := range []string{s.lockInfoPath(), s.LockPath()} {
		if err := s.fs.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return LockInfo{}, fmt.Errorf("force-unlock %q: %w", s.name, err)
		}
	}
	if err := s.fs.SyncDir(s.dir); err != nil {
		return LockInfo{}, fmt.Errorf("force-unlock %q: sync %s: %w", s.name, s.dir, err)
	}
	return *cur, nil
}

// newID returns a random version 4 UUID.
func newID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}
