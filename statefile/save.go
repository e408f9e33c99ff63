package statefile

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// saveLockWait bounds how long a Save waits for another process's Save
// (which holds the save lock for a few filesystem operations).
const saveLockWait = 30 * time.Second

// Save writes st as the journal's state, atomically and durably: when Save
// returns nil the new state survives a power failure, and at every instant
// the state file holds either the previous complete state or this one. The
// previous state is kept as BackupPath.
//
// Save is a compare-and-swap: it writes only if the state file is still
// what this Store last loaded or saved (no file, for a Store that has
// loaded nothing), and otherwise returns a *ConflictError and writes
// nothing. The comparison and the rename happen under a second, short
// flock (<name>.save.lock), so two processes can never both write one
// journal, even two that both think they hold its lock.
//
// Save sets st.Serial past both st's serial and the journal's, and sets
// st.FormatVersion and st.Checksum (it never touches the times). On error
// st.Serial stays incremented and the file holds the old or the new state;
// the next Save of this Store accepts either. A new journal is refused with
// a *MigratedError when this one was migrated away, and every Save with a
// *LockLostError once a Lock taken through this Store was lost.
func (s *Store) Save(st *State) error {
	if err := s.checkName(); err != nil {
		return err
	}
	if !Belongs(st.Environment, s.name) {
		return fmt.Errorf("save state of environment %q into journal %q: the journal belongs to another environment", st.Environment, s.name)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.held != nil {
		if err := s.held.Err(); err != nil {
			return err
		}
	}
	data, err := Seal(st, s.serial)
	if err != nil {
		return err
	}
	if err := s.ensureDir(); err != nil {
		return err
	}
	err = s.withSaveLock(func() error {
		cur, err := s.current()
		if err != nil {
			return err
		}
		if !s.expect[cur] {
			return s.conflict()
		}
		if cur == "" {
			if note, err := s.readNote(); err != nil || note != nil {
				if err != nil {
					return err
				}
				return &MigratedError{Name: s.name, Location: s.Path(), Note: *note}
			}
		}
		return s.install(data, true)
	})
	if err != nil {
		return fmt.Errorf("save state %s: %w", s.Path(), err)
	}
	s.serial = st.Serial
	return nil
}

// install writes data as the state file (keeping the current one as the
// backup when keepBackup), under the save lock. Once the temp file is
// written, the new content counts as possibly on disk: if the rename's
// outcome is unknown, the next Save accepts either version.
func (s *Store) install(data []byte, keepBackup bool) error {
	tmp, err := s.writeTemp(s.Path(), data)
	if err != nil {
		return err
	}
	sum := contentSum(data)
	s.expect[sum] = true
	if err := s.replace(tmp, s.Path(), keepBackup); err != nil {
		return err
	}
	s.expect = map[string]bool{sum: true}
	return nil
}

// current identifies what the state file holds now ("" = no file).
func (s *Store) current() (string, error) {
	data, err := s.fs.ReadFile(s.Path())
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read state: %w", err)
	}
	return contentSum(data), nil
}

// conflict describes what another process left in the state file.
func (s *Store) conflict() error {
	e := &ConflictError{Name: s.name, Location: s.Path()}
	if data, err := s.fs.ReadFile(s.Path()); err == nil {
		if st, err := decode(s.Path(), data); err == nil {
			e.Found = st
		}
	}
	return e
}

// withSaveLock runs f holding the journal's save lock.
func (s *Store) withSaveLock(f func() error) error {
	fl := s.fs.Flock(s.saveLockPath())
	deadline := time.Now().Add(saveLockWait)
	for wait := time.Millisecond; ; wait = min(2*wait, 50*time.Millisecond) {
		ok, err := fl.TryLock()
		if err != nil {
			return fmt.Errorf("take the save lock %s: %w", s.saveLockPath(), err)
		}
		if ok {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("another process has held the save lock %s for %s: it is hung; stop it and retry", s.saveLockPath(), saveLockWait)
		}
		time.Sleep(wait) // the holder is between a read and a rename
	}
	defer fl.Unlock() // a write lock nobody else holds; its error changes nothing
	// Like every file here it is 0600, whatever the umask it was created under.
	if fi, err := s.fs.Lstat(s.saveLockPath()); err == nil && fi.Mode().Perm() != fileMode {
		if err := s.fs.Chmod(s.saveLockPath(), fileMode); err != nil {
			return fmt.Errorf("take the save lock: %w", err)
		}
	}
	return f()
}

// ensureDir creates the state directory (0700) when missing and makes its
// entry durable in each parent it was created in.
func (s *Store) ensureDir() error {
	return ensureDirs(s.fs, s.dir)
}

// ensureDirs creates dir (0700) and its missing parents, and makes each new
// entry durable in its parent.
func ensureDirs(fsys FS, dir string) error {
	var missing []string // innermost first
	for d := filepath.Clean(dir); ; {
		_, err := fsys.Stat(d)
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
	if err := fsys.MkdirAll(dir, dirMode); err != nil {
		return fmt.Errorf("create state directory: %w", err)
	}
	for i := len(missing) - 1; i >= 0; i-- {
		d := missing[i]
		if err := fsys.Chmod(d, dirMode); err != nil {
			return fmt.Errorf("create state directory: %w", err)
		}
		if err := fsys.SyncDir(filepath.Dir(d)); err != nil {
			return fmt.Errorf("create state directory: sync %s: %w", filepath.Dir(d), err)
		}
	}
	return nil
}

// writeAtomic replaces path with data: writeTemp, then replace.
func (s *Store) writeAtomic(path string, data []byte, keepBackup bool) error {
	tmp, err := s.writeTemp(path, data)
	if err != nil {
		return err
	}
	return s.replace(tmp, path, keepBackup)
}

// writeTemp writes data to a new temp file in path's directory, fsyncs and
// closes it, and returns its name. On error it removes it.
func (s *Store) writeTemp(path string, data []byte) (tmp string, err error) {
	tmp = tempName(path)
	f, err := s.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return "", err
	}
	if err := writeSyncClose(f, data); err != nil {
		_ = s.fs.Remove(tmp) // the error says what failed; the temp is litter
		return "", err
	}
	return tmp, nil
}

// replace renames the written temp file over path, then fsyncs the
// directory. With keepBackup the current file is first hard-linked to a
// temp name renamed over path+".backup", so the backup is the previous
// inode as it was, never a copy written in place. On error it removes tmp.
func (s *Store) replace(tmp, path string, keepBackup bool) (err error) {
	defer func() {
		if err != nil {
			_ = s.fs.Remove(tmp) // gone already if the rename happened
		}
	}()
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
	if err := s.fs.SyncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("sync directory %s: %w", filepath.Dir(path), err)
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

// Import writes prev (when not nil) then cur, exactly as they are, into a
// journal that holds no state (or a retired one), so that Load returns cur
// and LoadBackup prev; see Journal.Import. It removes the migration note of
// a journal migrated back here.
func (s *Store) Import(prev, cur *State) error {
	if err := s.checkName(); err != nil {
		return err
	}
	curData, prevData, err := ImportContent(s.name, prev, cur)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.ensureDir(); err != nil {
		return err
	}
	err = s.withSaveLock(func() error {
		now, err := s.current()
		if err != nil {
			return err
		}
		switch {
		case now == contentSum(curData):
			s.expect = map[string]bool{now: true}
		case now != "" && prevData != nil && now == contentSum(prevData):
			s.expect = map[string]bool{now: true}
			if err := s.install(curData, true); err != nil {
				return err
			}
		case now == "":
			if prevData != nil {
				if err := s.install(prevData, false); err != nil {
					return err
				}
			}
			if err := s.install(curData, true); err != nil {
				return err
			}
		default:
			return s.conflict()
		}
		switch err := s.fs.Remove(s.notePath()); {
		case errors.Is(err, fs.ErrNotExist):
			return nil
		case err != nil:
			return fmt.Errorf("remove the migration note: %w", err)
		}
		return s.fs.SyncDir(s.dir)
	})
	if err != nil {
		return fmt.Errorf("import state into %s: %w", s.Path(), err)
	}
	s.serial = max(s.serial, cur.Serial)
	return nil
}

// ImportContent checks the states an Import into journal name writes (of
// its environment, sealed, prev older than cur) and returns their content.
func ImportContent(name string, prev, cur *State) (curData, prevData []byte, err error) {
	if cur == nil {
		return nil, nil, errors.New("import: no state")
	}
	for _, st := range []*State{prev, cur} {
		if st != nil && !Belongs(st.Environment, name) {
			return nil, nil, fmt.Errorf("import state of environment %q into journal %q: the journal belongs to another environment", st.Environment, name)
		}
	}
	if curData, err = Encode(cur); err != nil {
		return nil, nil, fmt.Errorf("import: %w", err)
	}
	if prev != nil {
		if prev.Serial >= cur.Serial {
			return nil, nil, fmt.Errorf("import: the previous version (serial %d) is not older than the state (serial %d)", prev.Serial, cur.Serial)
		}
		if prevData, err = Encode(prev); err != nil {
			return nil, nil, fmt.Errorf("import: %w", err)
		}
	}
	return curData, prevData, nil
}

// Retire moves the journal aside after a migration: it writes the note
// (<name>.migrated.json), then renames the state file and its backup to
// <name>.state.json.migrated-to-<kind> and <name>.state.json.backup.migrated-to-<kind>.
// The state must still be what this Store last loaded (a *ConflictError
// otherwise). Once the state file is renamed, Load answers a
// *MigratedError; a crash before that leaves the journal as it was, and
// Retire may run again at any point.
func (s *Store) Retire(note MigrationNote) error {
	if err := s.checkName(); err != nil {
		return err
	}
	if !ValidName(note.Kind) || note.To == "" {
		return fmt.Errorf("retire %q: the note names no destination", s.name)
	}
	data, err := json.MarshalIndent(note, "", "  ")
	if err != nil {
		return fmt.Errorf("encode migration note: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	err = s.withSaveLock(func() error {
		now, err := s.current()
		if err != nil {
			return err
		}
		if now != "" && !s.expect[now] {
			return s.conflict()
		}
		if now == "" {
			if n, err := s.readNote(); err != nil || n == nil {
				if err == nil {
					err = &NotFoundError{Path: s.Path()}
				}
				return err
			}
		} else if err := s.writeAtomic(s.notePath(), append(data, '\n'), false); err != nil {
			return fmt.Errorf("write the migration note: %w", err)
		}
		suffix := ".migrated-to-" + note.Kind
		for _, p := range []string{s.Path(), s.BackupPath()} {
			if err := s.fs.Rename(p, p+suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return err
			}
		}
		s.expect = map[string]bool{"": true}
		return s.fs.SyncDir(s.dir)
	})
	if err != nil {
		return fmt.Errorf("retire %s: %w", s.Path(), err)
	}
	return nil
}
