package statefile

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// File and directory modes, whatever the umask.
const (
	fileMode = 0o600
	dirMode  = 0o700
)

// Store is one journal in a state directory: <dir>/<name>.state.json, its
// backup <name>.state.json.backup, and its lock <name>.lock (+ .lock.json).
// A Store holds no open files; many Stores may name one journal. Save must
// not run concurrently for one journal: callers hold the Lock.
type Store struct {
	dir, name string
	fs        FS
	// onWait, when set, is called each time Lock finds the lock held and
	// waits (tests).
	onWait func()
}

// Option configures a Store.
type Option func(*Store)

// WithFS makes the Store use fsys instead of the real filesystem.
func WithFS(fsys FS) Option { return func(s *Store) { s.fs = fsys } }

// Open returns the journal name in the state directory dir (".envmig"
// beside the config). It touches nothing: an invalid name is reported by
// every method.
func Open(dir, name string, opts ...Option) *Store {
	s := &Store{dir: dir, name: name, fs: OSFS{}}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Name is the journal's name.
func (s *Store) Name() string { return s.name }

// Path is the state file.
func (s *Store) Path() string { return filepath.Join(s.dir, s.name+".state.json") }

// BackupPath is the previous version of the state file.
func (s *Store) BackupPath() string { return s.Path() + ".backup" }

// LockPath is the file the lock is held on.
func (s *Store) LockPath() string { return filepath.Join(s.dir, s.name+".lock") }

// lockInfoPath holds the holder's LockInfo.
func (s *Store) lockInfoPath() string { return s.LockPath() + ".json" }

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

// environmentOf is the environment a journal name belongs to: the name up
// to its first '.' ("production.clone-exp1" belongs to "production").
func environmentOf(name string) string {
	env, _, _ := strings.Cut(name, ".")
	return env
}

// Load reads the journal's state. It returns a *NotFoundError
// (errors.Is(err, fs.ErrNotExist)) when nothing was saved, and refuses,
// with a *CorruptError, *VersionError or *UnsafeError saying what to do,
// a file that is empty, truncated, not a state, of another major format,
// edited by hand, of another environment, a symbolic link, or writable by
// group or others (or in such a directory). Load never modifies anything.
func (s *Store) Load() (*State, error) {
	if err := s.checkName(); err != nil {
		return nil, err
	}
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	st, err := s.load(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		if _, berr := s.fs.Lstat(s.BackupPath()); berr == nil {
			return nil, &CorruptError{Path: s.Path(), Problem: ProblemMissing,
				Reason: "is missing but its backup is there: it was removed by hand",
				Hint:   s.restoreHint() + "; or, to start from nothing, remove " + s.BackupPath() + " too"}
		}
	}
	return st, err
}

// LoadBackup reads the previous version of the state, with Load's checks.
func (s *Store) LoadBackup() (*State, error) {
	if err := s.checkName(); err != nil {
		return nil, err
	}
	if err := s.checkDir(); err != nil {
		return nil, err
	}
	return s.load(s.BackupPath())
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

// load reads and checks one state file (the state or its backup).
func (s *Store) load(path string) (*State, error) {
	fi, err := s.fs.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &NotFoundError{Path: path}
	case err != nil:
		return nil, fmt.Errorf("read state: %w", err)
	case fi.Mode()&fs.ModeSymlink != 0:
		return nil, &UnsafeError{Path: path, Reason: "is a symbolic link; envmig only reads the regular file it wrote",
			Fix: "replace the link with a copy (mode 0600) of the file it points to"}
	case !fi.Mode().IsRegular():
		return nil, &UnsafeError{Path: path, Reason: "is not a regular file", Fix: "move it away"}
	case fi.Mode().Perm()&0o022 != 0:
		return nil, &UnsafeError{Path: path, Reason: fmt.Sprintf("is writable by group or others (mode %04o), so anyone could have steered the migration", fi.Mode().Perm()),
			Fix: "check its content, then run: chmod 600 " + path}
	}
	data, err := s.fs.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read state: %w", err)
	}
	st, err := decode(path, data)
	var ce *CorruptError
	if errors.As(err, &ce) {
		if path == s.Path() {
			ce.Hint += s.restoreHint()
		} else {
			ce.Hint += "this backup cannot be restored"
		}
	}
	if err != nil {
		return nil, err
	}
	if st.Environment != s.name && st.Environment != environmentOf(s.name) {
		return nil, &CorruptError{Path: path, Problem: ProblemEnvironment,
			Reason: fmt.Sprintf("records environment %q, not %q: it was copied or renamed from another journal", st.Environment, s.name),
			Hint:   fmt.Sprintf("move it back to %s", filepath.Join(s.dir, st.Environment+".state.json"))}
	}
	return st, nil
}

// decode parses a state file and checks its format version and checksum.
// A *CorruptError's Hint is left for load to complete.
func decode(path string, data []byte) (*State, error) {
	corrupt := func(p Problem, reason, hint string) error {
		return &CorruptError{Path: path, Problem: p, Reason: reason, Hint: hint}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, corrupt(ProblemEmpty, "is empty (0 bytes): the disk lost it or another program truncated it", "")
	}
	var head struct {
		FormatVersion *string `json:"format_version"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&head); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, corrupt(ProblemTruncated, fmt.Sprintf("is truncated (its JSON ends early, at byte %d)", len(data)), "")
		}
		return nil, corrupt(ProblemInvalid, "is not an envmig state ("+jsonReason(err)+")", "")
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, corrupt(ProblemInvalid, "has data after its JSON value", "")
	}
	if head.FormatVersion == nil {
		return nil, corrupt(ProblemInvalid, "is not an envmig state: it has no format_version", "")
	}
	v := *head.FormatVersion
	if _, err := strconv.Atoi(major(v)); err != nil {
		return nil, corrupt(ProblemInvalid, fmt.Sprintf("has an invalid format_version %q", v), "")
	}
	if major(v) != major(FormatVersion) {
		return nil, &VersionError{Path: path, Version: v}
	}
	strict := json.NewDecoder(bytes.NewReader(data))
	strict.DisallowUnknownFields()
	var st State
	if err := strict.Decode(&st); err != nil {
		if newerFormat(v) {
			return nil, &VersionError{Path: path, Version: v}
		}
		return nil, corrupt(ProblemInvalid, "is not a valid envmig state ("+jsonReason(err)+")", "")
	}
	sum, err := Checksum(&st)
	if err != nil {
		return nil, corrupt(ProblemInvalid, "cannot be encoded again ("+err.Error()+")", "")
	}
	if sum != st.Checksum {
		if newerFormat(v) {
			return nil, &VersionError{Path: path, Version: v}
		}
		return nil, corrupt(ProblemChecksum, "does not match its checksum: it was edited by hand or by another program",
			"undo the edit, or ")
	}
	return &st, nil
}

// restoreHint says how to get back to the last good version.
func (s *Store) restoreHint() string {
	b := s.BackupPath()
	prev, err := s.load(b)
	switch {
	case err == nil:
		return fmt.Sprintf("the backup %s is the previous version (serial %d, run %s, %s): restore it with `cp -p %s %s`, then run `envmig status`",
			b, prev.Serial, prev.Lineage, prev.Status, b, s.Path())
	case errors.Is(err, fs.ErrNotExist):
		return "there is no backup (" + b + ") to restore: move the file aside, check in AWS what its run did (`envmig plan` shows the environment as it is), then start again"
	}
	return fmt.Sprintf("its backup %s cannot be used either (%v): move both aside, check in AWS what the run did, then start again", b, err)
}

func jsonReason(err error) string {
	var (
		syn *json.SyntaxError
		typ *json.UnmarshalTypeError
	)
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("%v at byte %d", syn, syn.Offset)
	case errors.As(err, &typ) && typ.Field == "":
		return fmt.Sprintf("it holds a JSON %s, not an object", typ.Value)
	case errors.As(err, &typ):
		return fmt.Sprintf("its field %s holds a JSON %s of the wrong type, at byte %d", typ.Field, typ.Value, typ.Offset)
	}
	return err.Error()
}

func major(v string) string {
	m, _, _ := strings.Cut(v, ".")
	return m
}

// newerFormat reports whether version v is newer than FormatVersion.
func newerFormat(v string) bool {
	num := func(v string) (int, int) {
		ma, mi, _ := strings.Cut(v, ".")
		a, _ := strconv.Atoi(ma)
		b, _ := strconv.Atoi(mi)
		return a, b
	}
	a, b := num(v)
	x, y := num(FormatVersion)
	return a > x || (a == x && b > y)
}

// Checksum returns the SHA-256 over st's canonical (compact) JSON encoding
// with the Checksum field empty, as "sha256:<hex>".
func Checksum(st *State) (string, error) {
	c := *st
	c.Checksum = ""
	b, err := json.Marshal(&c)
	if err != nil {
		return "", fmt.Errorf("encode state: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

// Save writes st as the journal's state, atomically and durably: when Save
// returns nil the new state survives a power failure, and at every instant
// the state file holds either the previous complete state or this one. It
// increments st.Serial and sets st.FormatVersion and st.Checksum (it never
// touches the times). The previous state is kept as BackupPath. On error
// st.Serial stays incremented and the file holds the old or the new state.
func (s *Store) Save(st *State) error {
	if err := s.checkName(); err != nil {
		return err
	}
	if st.Environment != s.name && st.Environment != environmentOf(s.name) {
		return fmt.Errorf("save state of environment %q into journal %q: the journal belongs to another environment", st.Environment, s.name)
	}
	st.Serial++
	st.FormatVersion = FormatVersion
	st.Checksum = ""
	sum, err := Checksum(st)
	if err != nil {
		return err
	}
	st.Checksum = sum
	data, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	data = append(data, '\n')
	if err := s.ensureDir(); err != nil {
		return err
	}
	if err := s.writeAtomic(s.Path(), data, true); err != nil {
		return fmt.Errorf("save state %s: %w", s.Path(), err)
	}
	return nil
}

// ensureDir creates the state directory (0700) when missing and makes its
// entry durable in each parent it was created in.
func (s *Store) ensureDir() error {
	var missing []string // innermost first
	for d := filepath.Clean(s.dir); ; {
		_, err := s.fs.Stat(d)
		if err == nil {
			break
		}
		if !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("state directory: %w", err)
		}
		missing = append(missing, d)
		parent := filepath.Dir(d)
		if parent == d {
			break
		}
		d = parent
	}
	if len(missing) == 0 {
		return nil
	}
	if err := s.fs.MkdirAll(s.dir, dirMode); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := s.fs.Chmod(d, dirMode); err != nil {
			return fmt.Errorf("create state directory: %w", err)
		}
		if err := s.fs.SyncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("create state directory: sync %s: %w", filepath.Dir(d), err)
		}
	}
	return nil
}

// writeAtomic replaces path with data: a temp file in the same directory,
// written, fsynced and closed, renamed over path, then the directory
// fsynced. With keepBackup the current file is first hard-linked to a temp
// name renamed over path+".backup", so the backup is the previous inode as
// it was, never a copy written in place.
func (s *Store) writeAtomic(path string, data []byte, keepBackup bool) (err error) {
	dir := filepath.Dir(path)
	tmp := tempName(path)
	f, err := s.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = s.fs.Remove(tmp) // the error says what failed; the temp is litter
		}
	}()
	if err := writeSyncClose(f, data); err != nil {
		return err
	}
	if keepBackup {
		bak := tempName(path + ".backup")
		switch err := s.fs.Link(path, bak); {
		case errors.Is(err, fs.ErrNotExist): // the first version has no predecessor
		case err != nil:
			return fmt.Errorf("keep backup: %w", err)
		default:
			if err := s.fs.Rename(bak, path+".backup"); err != nil {
				_ = s.fs.Remove(bak)
				return fmt.Errorf("keep backup: %w", err)
			}
		}
	}
	if err := s.fs.Rename(tmp, path); err != nil {
		return err
	}
	if err := s.fs.SyncDir(dir); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}

// writeSyncClose writes data, makes it durable and closes f; mode 0600 is
// set on the descriptor, so the umask never widens or narrows it.
func writeSyncClose(f File, data []byte) error {
	err := f.Chmod(fileMode)
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// tempName is a fresh hidden name beside path.
func tempName(path string) string {
	var b [6]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand panics instead)
	return filepath.Join(filepath.Dir(path), "."+filepath.Base(path)+".tmp-"+hex.EncodeToString(b[:]))
}
