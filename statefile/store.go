package statefile

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"sync"
)

// File and directory modes, whatever the umask.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// stateSuffix ends every state file's name.
const stateSuffix = ".state.json"

// Store is one journal in a state directory (the local backend):
// <dir>/<name>.state.json, its backup <name>.state.json.backup, its lock
// <name>.lock (+ .lock.json), and the blobs of its runs under
// <name>.blobs/. A Store holds no open files between calls, and many
// Stores may name one journal; each remembers which version of the state
// it last loaded or saved, against which its next Save is checked.
type Store struct {
	dir, name string
	fs        FS
	// onWait, when set, is called each time Lock finds the lock held and
	// waits (tests).
	onWait func()

	mu sync.Mutex // guards the fields below; held through Save and Import
	// expect holds the contentSums the state file may have for the next
	// Save to go ahead: what this Store last loaded or saved ("" = no
	// file), and the content of a Save that failed after it may have
	// reached the disk.
	expect map[string]bool
	// serial is the highest serial this Store has seen.
	serial uint64
	// held is the last Lock taken through this Store.
	held *Lock
}

// Option configures a Store.
type Option func(*Store)

// WithFS makes the Store use fsys instead of the real filesystem.
func WithFS(fsys FS) Option { return func(s *Store) { s.fs = fsys } }

// Open returns the journal name in the state directory dir (".envmig"
// beside the config). It touches nothing: an invalid name is reported by
// every method.
func Open(dir, name string, opts ...Option) *Store {
	s := &Store{dir: dir, name: name, fs: OSFS{}, expect: map[string]bool{"": true}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Name is the journal's name.
func (s *Store) Name() string { return s.name }

// Location is the state file, for messages.
func (s *Store) Location() string { return s.Path() }

// Path is the state file.
func (s *Store) Path() string { return filepath.Join(s.dir, s.name+stateSuffix) }

// BackupPath is the previous version of the state file.
func (s *Store) BackupPath() string { return s.Path() + ".backup" }

// LockPath is the file the lock is held on.
func (s *Store) LockPath() string { return filepath.Join(s.dir, s.name+".lock") }

// lockInfoPath holds the holder's LockInfo.
func (s *Store) lockInfoPath() string { return s.LockPath() + ".json" }

// saveLockPath is flocked for the instant a Save compares and renames, so
// that the compare-and-swap is atomic between processes.
func (s *Store) saveLockPath() string { return filepath.Join(s.dir, s.name+".save.lock") }

// notePath is the MigrationNote of a retired journal.
func (s *Store) notePath() string { return filepath.Join(s.dir, s.name+".migrated.json") }

// ValidName reports whether name can name a journal: 1 to 128 letters,
// digits, '.', '-' and '_', not starting with '.'.
func ValidName(name string) bool {
	if name == "" || len(name) > 128 || name[0] == '.' {
		return false
	}
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '_':
		default:
			return false
		}
	}
	return true
}

func (s *Store) checkName() error {
	if !ValidName(s.name) {
		return fmt.Errorf("%w %q: use letters, digits, '.', '-' and '_'", ErrInvalidName, s.name)
	}
	return nil
}

// EnvironmentOf is the environment a journal name belongs to: the name up
// to its first '.' ("production.clone-exp1" belongs to "production").
func EnvironmentOf(name string) string {
	env, _, _ := strings.Cut(name, ".")
	return env
}

// Load reads the journal's state. It returns a *NotFoundError
// (errors.Is(err, fs.ErrNotExist)) when nothing was saved, a
// *MigratedError when `envmig state migrate` moved it away, and refuses,
// with a *CorruptError, *VersionError or *UnsafeError saying what to do,
// a file that is empty, truncated, not a state, of another major format,
// edited by hand, of another environment, a symbolic link, or writable by
// group or others (or in such a directory). Load never modifies anything;
// it records the version it read, against which the next Save is checked.
func (s *Store) Load() (*State, error) {
	if err := s.checkName(); err != nil {
		return nil, err
	}
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	st, data, err := s.load(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		if note, nerr := s.readNote(); nerr != nil || note != nil {
			if nerr != nil {
				return nil, nerr
			}
			return nil, &MigratedError{Name: s.name, Location: s.Path(), Note: *note}
		}
		if _, berr := s.fs.Lstat(s.BackupPath()); berr == nil {
			return nil, &CorruptError{Path: s.Path(), Problem: ProblemMissing,
				Reason: "is missing but its backup is there: it was removed by hand",
				Hint:   s.restoreHint() + "; or, to start from nothing, remove " + s.BackupPath() + " too"}
		}
		s.expect = map[string]bool{"": true}
		return nil, err
	}
	if err != nil {
		return nil, err
	}
	s.expect = map[string]bool{contentSum(data): true}
	s.serial = max(s.serial, st.Serial)
	return st, nil
}

// LoadBackup reads the previous version of the state, with Load's checks.
func (s *Store) LoadBackup() (*State, error) {
	if err := s.checkName(); err != nil {
		return nil, err
	}
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	st, _, err := s.load(s.BackupPath())
	return st, err
}

// checkDir refuses a state directory others can write to.
func (s *Store) checkDir() error {
	fi, err := s.fs.Stat(s.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil // load reports the missing file
	case err != nil:
		return fmt.Errorf("read state directory: %w", err)
	case !fi.IsDir():
		return &UnsafeError{Path: s.dir, Reason: "is not a directory", Fix: "move it away so envmig can create its state directory"}
	case fi.Mode().Perm()&0o022 != 0:
		return &UnsafeError{Path: s.dir, Reason: fmt.Sprintf("is writable by group or others (mode %04o), so anyone could replace the journal", fi.Mode().Perm()),
			Fix: "run: chmod 700 " + s.dir}
	}
	return nil
}

// load reads and checks one state file (the state or its backup) and
// returns it with the file's content.
func (s *Store) load(path string) (*State, []byte, error) {
	fi, err := s.fs.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil, &NotFoundError{Path: path}
	case err != nil:
		return nil, nil, fmt.Errorf("read state: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, nil, &UnsafeError{Path: path, Reason: "is a symbolic link; envmig only reads the regular file it wrote",
			Fix: "replace the link with a copy (mode 0600) of the file it points to"}
	case !fi.Mode().IsRegular():
		return nil, nil, &UnsafeError{Path: path, Reason: "is not a regular file", Fix: "move it away"}
	case fi.Mode().Perm()&0o022 != 0:
		return nil, nil, &UnsafeError{Path: path, Reason: fmt.Sprintf("is writable by group or others (mode %04o), so anyone could have steered the migration", fi.Mode().Perm()),
			Fix: "check its content, then run: chmod 600 " + path}
	}
	data, err := s.fs.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read state: %w", err)
	}
	st, err := Decode(path, s.name, data)
	var ce *CorruptError
	if errors.As(err, &ce) {
		switch {
		case ce.Problem == ProblemEnvironment:
			ce.Hint = fmt.Sprintf("move it back to %s", filepath.Join(s.dir, EnvironmentOf(s.name)+stateSuffix))
			if found, derr := decode(path, data); derr == nil {
				ce.Hint = fmt.Sprintf("move it back to %s", filepath.Join(s.dir, found.Environment+stateSuffix))
			}
		case path == s.Path():
			ce.Hint += s.restoreHint()
		default:
			ce.Hint += "this backup cannot be restored"
		}
	}
	if err != nil {
		return nil, nil, err
	}
	return st, data, nil
}

// restoreHint says how to get back to the last good version.
func (s *Store) restoreHint() string {
	b := s.BackupPath()
	prev, _, err := s.load(b)
	switch {
	case err == nil:
		return fmt.Sprintf("the backup %s is the previous version (serial %d, run %s, %s): restore it with `cp -p %s %s`, then run `envmig status`",
			b, prev.Serial, prev.Lineage, prev.Status, b, s.Path())
	case errors.Is(err, fs.ErrNotExist):
		return "there is no backup (" + b + ") to restore: move the file aside, check in AWS what its run did (`envmig plan` shows the environment as it is), then start again"
	}
	return fmt.Sprintf("its backup %s cannot be used either (%v): move both aside, check in AWS what the run did, then start again", b, err)
}

// readNote returns the journal's MigrationNote, or nil when it was never
// migrated away.
func (s *Store) readNote() (*MigrationNote, error) {
	data, err := s.fs.ReadFile(s.notePath())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read migration note: %w", err)
	}
	var n MigrationNote
	if err := json.Unmarshal(data, &n); err != nil || n.To == "" {
		return nil, fmt.Errorf("the migration note %s is unreadable: it says the journal of %q was moved to another state backend; check where it went before removing it", s.notePath(), s.name)
	}
	return &n, nil
}
