package statefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"sort"
	"strings"
	"time"
)

// Backend is where a project's journals live: a local state directory
// (Local) or a prefix of an S3 bucket (package s3state).
type Backend interface {
	// Journal returns the journal name. It touches nothing: an invalid
	// name is reported by every method of the journal.
	Journal(name string) Journal
	// Journals lists the names of the journals that hold a state, sorted.
	// Retired (migrated) journals are not listed.
	Journals(ctx context.Context) ([]string, error)
	// Location says where the backend lives, for messages: a directory or
	// an s3://bucket/prefix URL.
	Location() string
	// Kind is "local" or "s3".
	Kind() string
}

// Journal is the journal of one environment (or clone) in a backend: its
// state, the previous version of it, its lock and the blobs of its runs.
// Every implementation keeps the same contract:
//
//   - Load never changes anything and never locks; a missing journal is a
//     *NotFoundError (errors.Is(err, fs.ErrNotExist)), one moved away by
//     `envmig state migrate` a *MigratedError, one that cannot be trusted a
//     *CorruptError, *VersionError or *UnsafeError saying what to do.
//   - Save is atomic and durable (the journal holds the previous complete
//     state or the new one, and the new one once Save returns nil) and is a
//     compare-and-swap: it fails with a *ConflictError, writing nothing,
//     when the journal is not what this Journal value last loaded or saved
//     (a Journal that has loaded nothing expects no state). It increments
//     st.Serial past both st's serial and the journal's, and sets
//     FormatVersion and Checksum; on error st.Serial may stay incremented.
//     Once a Lock taken through this Journal value is lost, Save fails with
//     a *LockLostError.
//   - Lock fails with a *LockError naming the holder when a live process
//     holds the lock (at once with timeout 0, or when timeout passes), and
//     takes over a holder that is gone, saying whose lock it took
//     (Lock.TookOver). LockInfo reads the holder without taking the lock.
//
// The state methods take no context: a journal record must be written even
// while the run is being cancelled, and each call is short (the S3 backend
// bounds it with its own timeout). Lock waits and blob streams take one.
//
// A Journal value is safe for concurrent use, but Save must not run
// concurrently with itself.
type Journal interface {
	Name() string
	// Location is the journal's state, for messages: a path or an s3:// URL.
	Location() string

	Load() (*State, error)
	// LoadBackup reads the previous version of the state.
	LoadBackup() (*State, error)
	Save(st *State) error

	Lock(ctx context.Context, info LockInfo, timeout time.Duration) (*Lock, error)
	// LockInfo returns the recorded holder (nil when none is recorded) and
	// whether it holds the lock now. It never takes the lock.
	LockInfo() (info *LockInfo, held bool, err error)
	// ForceUnlock removes the lock whose ID is id; a *LockMismatchError
	// names the current holder when id is not its ID.
	ForceUnlock(id string) (LockInfo, error)

	// CreateBlob starts writing the blob name of run (letters, digits, '.',
	// '-' and '_'), replacing any blob of that name once Close returns nil:
	// readers see the previous blob or the complete new one, never a part.
	// Abort, or the end of ctx, discards it.
	CreateBlob(ctx context.Context, run, name string) (BlobWriter, error)
	// OpenBlob streams a blob; a missing one is a *NotFoundError.
	OpenBlob(ctx context.Context, run, name string) (io.ReadCloser, error)
	// Blobs lists the journal's blobs, sorted by run then name.
	Blobs(ctx context.Context) ([]BlobInfo, error)

	// Import writes prev (when not nil) then cur exactly as they are
	// (serials and checksums kept) into a journal that holds no state, or
	// one retired by a migration, so that Load returns cur and LoadBackup
	// prev. It is idempotent: a journal already holding cur is left as it
	// is, one holding prev gets cur. Anything else is a *ConflictError.
	// It is for `envmig state migrate`, under the journal's lock.
	Import(prev, cur *State) error
	// Retire moves the state aside after a migration, so that it is not
	// used again here: Load then returns a *MigratedError naming
	// note.To. It is idempotent; the previous versions stay recoverable.
	Retire(note MigrationNote) error
}

// BlobWriter is a blob being written: Close stores it, Abort discards it.
// After either, further calls do nothing and return an error.
type BlobWriter interface {
	io.WriteCloser
	Abort() error
}

// BlobInfo names one stored blob.
type BlobInfo struct {
	Run  string
	Name string
	Size int64
}

// MigrationNote is what a retired journal says: where it went and when.
type MigrationNote struct {
	To      string    `json:"to"`   // the destination's Location
	Kind    string    `json:"kind"` // the destination backend's Kind
	At      time.Time `json:"at"`
	Lineage string    `json:"lineage"` // the run of the migrated state
	Serial  uint64    `json:"serial"`  // its serial
}

// CheckUnlocked returns a *LockError naming the holder when a live process
// holds j's lock, and nil when nobody does. It never takes the lock. A
// command checks it before anything that could refuse for another reason
// (an unfinished run), so that a locked journal is always reported as
// locked.
func CheckUnlocked(j Journal) error {
	info, held, err := j.LockInfo()
	if err != nil {
		return err
	}
	if !held {
		return nil
	}
	e := &LockError{Name: j.Name(), Path: j.Location()}
	if info != nil {
		e.Info = *info
	}
	return e
}

// Dir is the local backend: a state directory (".envmig" beside the
// config) whose journals are Stores.
type Dir struct {
	dir  string
	opts []Option
}

var (
	_ Backend = (*Dir)(nil)
	_ Journal = (*Store)(nil)
)

// Local returns the state directory dir as a backend. It touches nothing.
func Local(dir string, opts ...Option) *Dir { return &Dir{dir: dir, opts: opts} }

// Journal returns Open(dir, name) with the backend's options.
func (d *Dir) Journal(name string) Journal { return Open(d.dir, name, d.opts...) }

// Location is the directory.
func (d *Dir) Location() string { return d.dir }

// Kind is "local".
func (d *Dir) Kind() string { return "local" }

// Journals lists the journals that hold a state file. A missing directory
// holds none.
func (d *Dir) Journals(ctx context.Context) ([]string, error) {
	s := Open(d.dir, "", d.opts...)
	entries, err := s.fs.ReadDir(d.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list journals in %s: %w", d.dir, err)
	}
	var names []string
	for _, e := range entries {
		name, ok := strings.CutSuffix(e.Name(), stateSuffix)
		if ok && e.Type().IsRegular() && ValidName(name) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	return names, nil
}
