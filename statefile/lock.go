package statefile

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sync"
	"time"
)

// retryInterval is how often a waiting Lock tries again.
const retryInterval = 100 * time.Millisecond

// Lock is a held journal lock, of any backend. A local lock is held until
// Unlock or the process's exit; an S3 lock is a lease its holder renews in
// the background, and can be lost: Lost is then closed, Err says why, and
// the journal it was taken through refuses to save.
type Lock struct {
	info    LockInfo
	prev    *LockInfo
	release func() error
	lost    chan struct{}

	mu       sync.Mutex
	lostErr  error
	released bool
}

// NewLock is for backends: it returns the Lock of holder info (prev is the
// holder it took over, or nil) that release frees, and the function that
// marks it lost with a non-nil error (usually a *LockLostError). Only the
// first loss counts, and none after Unlock.
func NewLock(info LockInfo, prev *LockInfo, release func() error) (*Lock, func(error)) {
	l := &Lock{info: info, prev: prev, release: release, lost: make(chan struct{})}
	return l, l.lose
}

func (l *Lock) lose(err error) {
	if err == nil {
		panic("statefile: a lock lost without a reason")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.lostErr != nil || l.released {
		return
	}
	l.lostErr = err
	close(l.lost)
}

// TookOver returns the holder whose lock was taken over because it was
// gone (its process dead, or its lease expired), or nil.
func (l *Lock) TookOver() *LockInfo { return l.prev }

// Info is the lock's holder information, as written.
func (l *Lock) Info() LockInfo { return l.info }

// Lost is closed when the lock is lost. A local lock is never lost.
func (l *Lock) Lost() <-chan struct{} { return l.lost }

// Err returns why the lock was lost, or nil while it is held (and after
// Unlock).
func (l *Lock) Err() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lostErr
}

// Context returns a context that ends when parent does or when the lock is
// lost; context.Cause then returns Err. Call cancel when done with it.
func (l *Lock) Context(parent context.Context) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithCancelCause(parent)
	go func() {
		select {
		case <-l.lost:
			cancel(l.Err())
		case <-ctx.Done():
		}
	}()
	return ctx, func() { cancel(context.Canceled) }
}

// Unlock releases the lock (for an S3 lock: stops renewing it and deletes
// the lock object if it is still its own). Calling it again does nothing.
func (l *Lock) Unlock() error {
	l.mu.Lock()
	if l.released {
		l.mu.Unlock()
		return nil
	}
	l.released = true
	l.mu.Unlock()
	return l.release()
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
	s.mu.Lock()
	s.held = l
	s.mu.Unlock()
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
	info = info.Filled()
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode lock information: %w", err)
	}
	if err := s.writeAtomic(s.lockInfoPath(), append(data, '\n'), false); err != nil {
		return nil, fmt.Errorf("write lock information %s: %w", s.lockInfoPath(), err)
	}
	l, _ := NewLock(info, prev, func() error { return s.unlock(fl, info.ID) })
	return l, nil
}

// unlock removes the lock information (when it is still id's) and releases
// the flock. The lock file stays: removing it would let a process that
// opened it before the removal and one that opens it after hold "the" lock
// at the same time.
func (s *Store) unlock(fl Flocker, id string) error {
	var err error
	if cur, rerr := s.readLockInfo(); rerr == nil && cur != nil && cur.ID == id {
		if rerr := s.fs.Remove(s.lockInfoPath()); rerr != nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("remove lock information: %w", rerr)
		}
	}
	if uerr := fl.Unlock(); uerr != nil && err == nil {
		err = fmt.Errorf("release state lock: %w", uerr)
	}
	return err
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

// LockInfo returns the recorded holder (nil when none is recorded) and
// whether a live process holds the lock now. A recorded holder that does
// not hold the lock is dead: the next Lock takes over. LockInfo never takes
// the lock: it asks the kernel whether the flock is held (/proc/locks on
// Linux); where the kernel cannot tell, a holder on this host is live while
// its process runs, and one on another host is taken to be live.
func (s *Store) LockInfo() (*LockInfo, bool, error) {
	if err := s.checkName(); err != nil {
		return nil, false, err
	}
	info, err := s.readLockInfo()
	if err != nil {
		return nil, false, err
	}
	held, err := s.fs.FlockHeld(s.LockPath())
	switch {
	case errors.Is(err, errors.ErrUnsupported):
		held = info != nil && info.mayBeAlive()
	case err != nil:
		return info, false, fmt.Errorf("check state lock: %w", err)
	}
	return info, held, nil
}

// ForceUnlock removes the lock whose ID is id, for a holder that is gone
// but whose lock is still held (a hung process, another host): it removes
// the lock information and the lock file. It refuses, with a
// *LockMismatchError naming the current ID, when id is not the holder's.
//
// A holder that is in fact alive keeps its flock on the removed (unlinked)
// file and is no longer excluded: the next Lock creates a new lock file
// and succeeds beside it. Its saves then fail (*ConflictError) as soon as
// the new holder has saved. Force-unlock only a holder that is gone.
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

// mayBeAlive guesses, without the kernel's help, whether the holder runs.
func (i LockInfo) mayBeAlive() bool {
	host, _ := os.Hostname()
	if i.Host != host {
		return true // nothing here can tell: report it
	}
	return processAlive(i.PID)
}
