//go:build unix

package statefile

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Files are 0600 and directories 0700 whatever the umask (000 would widen
// them, 0277 narrow them), and a state directory that already exists keeps
// its mode.
func TestPermissionsWhateverTheUmask(t *testing.T) {
	for _, umask := range []int{0o000, 0o077, 0o277} {
		t.Run(fmt.Sprintf("umask %04o", umask), func(t *testing.T) { checkPermissions(t, umask) })
	}
}

func checkPermissions(t *testing.T, umask int) {
	old := syscall.Umask(umask)
	defer syscall.Umask(old)

	base := t.TempDir()
	dir := filepath.Join(base, "deep", "config", ".envmig")
	s, st := savedRun(t, dir, "production", 1)
	if err := s.Save(st); err != nil { // makes the backup
		t.Fatal(err)
	}
	l, err := s.Lock(t.Context(), applyInfo(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()

	want := map[string]fs.FileMode{
		filepath.Join(base, "deep"):           0o700,
		filepath.Join(base, "deep", "config"): 0o700,
		dir:                                   0o700,
		s.Path():                              0o600,
		s.BackupPath():                        0o600,
		s.LockPath():                          0o600,
		s.lockInfoPath():                      0o600,
		s.saveLockPath():                      0o600,
	}
	for p, mode := range want {
		fi, err := os.Lstat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %04o, want %04o", p, fi.Mode().Perm(), mode)
		}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(want)-3 {
		t.Errorf("state directory holds %d entries, want %d (no temp files)", len(entries), len(want)-3)
	}

	// An existing directory is not chmod-ed.
	mine := filepath.Join(base, "mine")
	if err := os.Mkdir(mine, 0o750); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(mine, 0o750); err != nil {
		t.Fatal(err)
	}
	savedRun(t, mine, "production", 1)
	if fi, _ := os.Stat(mine); fi.Mode().Perm() != 0o750 {
		t.Errorf("an existing state directory was changed to %04o", fi.Mode().Perm())
	}
}
