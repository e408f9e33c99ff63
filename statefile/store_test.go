package statefile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// savedRun saves n records of a run of env into dir and returns the store
// and the last state.
func savedRun(t *testing.T, dir, env string, n int) (*Store, *State) {
	t.Helper()
	s := Open(dir, env)
	st := NewState(testPlan(env, 10), "apply", t0)
	for i := range n {
		if i > 0 {
			r := &st.Steps[(i-1)%len(st.Steps)]
			r.Status, r.StartedAt = StepStarted, t0.Add(time.Duration(i)*time.Second)
			r.Values = map[string]string{"created": fmt.Sprint("snap-", i)}
		}
		if err := s.Save(st); err != nil {
			t.Fatal(err)
		}
	}
	return s, st
}

func TestSaveLoadRoundTrip(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	s := Open(dir, "production")
	st := NewState(testPlan("production", 10), "apply", time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600)))
	st.Steps[0] = StepRecord{ID: st.Steps[0].ID, Status: StepDone, Attempts: 2, StartedAt: t0, FinishedAt: t0.Add(time.Minute),
		Values: map[string]string{"min_size": "2", "note": "ünïcode \"quoted\" <b>"}}
	st.Steps[1].Status, st.Steps[1].Error = StepFailed, "AccessDenied: not allowed"
	st.History = []RunSummary{{Lineage: "old", PlanDigest: "sha256:00", Operation: "apply", Status: RunApplied, StartedAt: t0, FinishedAt: t0}}
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	if st.Serial != 1 || st.FormatVersion != FormatVersion || !strings.HasPrefix(st.Checksum, "sha256:") || len(st.Checksum) != len("sha256:")+64 {
		t.Fatalf("after Save: serial %d, format %q, checksum %q", st.Serial, st.FormatVersion, st.Checksum)
	}
	got, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, got); diff != "" {
		t.Errorf("Load after Save (-saved +loaded):\n%s", diff)
	}
	if err := s.Save(got); err != nil {
		t.Fatal(err)
	}
	again, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if again.Serial != 2 {
		t.Errorf("second Save: serial %d, want 2", again.Serial)
	}
}

// The backup is the previous state's very inode: never written in place.
func TestSaveKeepsPreviousVersionAsBackup(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	s, st := savedRun(t, dir, "production", 2)
	before, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	beforeData, _ := os.ReadFile(s.Path())
	st.Status = RunApplied
	if err := s.Save(st); err != nil {
		t.Fatal(err)
	}
	b, err := s.LoadBackup()
	if err != nil {
		t.Fatal(err)
	}
	cur, err := s.Load()
	if err != nil {
		t.Fatal(err)
	}
	if b.Serial != 2 || cur.Serial != 3 || b.Status != RunRunning || cur.Status != RunApplied {
		t.Fatalf("backup serial %d (%s), state serial %d (%s); want 2 (running) and 3 (applied)", b.Serial, b.Status, cur.Serial, cur.Status)
	}
	bi, err := os.Stat(s.BackupPath())
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, bi) {
		t.Error("the backup is not the previous state file's inode")
	}
	if data, _ := os.ReadFile(s.BackupPath()); !bytes.Equal(data, beforeData) {
		t.Error("the backup's bytes differ from the previous state file's")
	}
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if diff := cmp.Diff([]string{"production.save.lock", "production.state.json", "production.state.json.backup"}, names); diff != "" {
		t.Errorf("state directory (-want +got):\n%s", diff)
	}
}

func TestSaveRefusesOtherEnvironment(t *testing.T) {
	s := Open(t.TempDir(), "staging")
	st := NewState(testPlan("production", 3), "apply", t0)
	if err := s.Save(st); err == nil {
		t.Fatal("Save of a production state into the staging journal succeeded")
	}
	if _, err := os.Stat(s.Path()); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("a refused Save wrote %s: %v", s.Path(), err)
	}
	// A clone journal holds its own environment name, or the environment's.
	for _, env := range []string{"production.clone-exp1", "production"} {
		c := Open(t.TempDir(), "production.clone-exp1")
		if err := c.Save(NewState(testPlan(env, 3), "clone", t0)); err != nil {
			t.Errorf("Save of %q into production.clone-exp1: %v", env, err)
		}
		if _, err := c.Load(); err != nil {
			t.Errorf("Load of %q from production.clone-exp1: %v", env, err)
		}
	}
}

func TestLoadNotFound(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	_, err := Open(dir, "production").Load()
	var nf *NotFoundError
	if !errors.Is(err, fs.ErrNotExist) || !errors.As(err, &nf) {
		t.Fatalf("Load of a missing journal: %v (%T), want a *NotFoundError matching fs.ErrNotExist", err, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatal("Load created the state directory")
	}
}

func TestInvalidNames(t *testing.T) {
	for _, name := range []string{"", ".hidden", "../production", "prod/uction", "prod uction", "prød", strings.Repeat("a", 129), "a\x00b"} {
		s := Open(t.TempDir(), name)
		if ValidName(name) {
			t.Errorf("ValidName(%q) = true", name)
		}
		if _, err := s.Load(); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Load(%q): %v, want ErrInvalidName", name, err)
		}
		if err := s.Save(&State{Environment: name}); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Save(%q): %v, want ErrInvalidName", name, err)
		}
		if _, err := s.Lock(t.Context(), LockInfo{}, 0); !errors.Is(err, ErrInvalidName) {
			t.Errorf("Lock(%q): %v, want ErrInvalidName", name, err)
		}
	}
	for _, name := range []string{"production", "production.clone-exp1", "eu_west-2.a", "A9"} {
		if !ValidName(name) {
			t.Errorf("ValidName(%q) = false", name)
		}
	}
}

// snapshotDir describes every entry of dir: type, mode, content.
func snapshotDir(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fi.Mode().String()
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			target, _ := os.Readlink(p)
			desc += " -> " + target
		case fi.Mode().IsRegular():
			data, _ := os.ReadFile(p)
			desc += " " + string(data)
		}
		out[p] = desc
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// Every refusal: the error's type (and problem), a message that says what
// to do, and the state directory left byte-identical.
func TestLoadRefuses(t *testing.T) {
	edit := func(f func(string) string) func(t *testing.T, s *Store) {
		return func(t *testing.T, s *Store) {
			data, err := os.ReadFile(s.Path())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(s.Path(), []byte(f(string(data))), 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	chmod := func(path func(s *Store) string, mode fs.FileMode) func(t *testing.T, s *Store) {
		return func(t *testing.T, s *Store) {
			if err := os.Chmod(path(s), mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	state := func(s *Store) string { return s.Path() }
	dir := func(s *Store) string { return filepath.Dir(s.Path()) }
	reencode := func(f func(m map[string]any)) func(string) string {
		return func(in string) string {
			var m map[string]any
			if err := json.Unmarshal([]byte(in), &m); err != nil {
				panic(err)
			}
			f(m)
			out, _ := json.MarshalIndent(m, "", "  ")
			return string(out)
		}
	}
	cases := map[string]struct {
		setup   func(t *testing.T, s *Store)
		problem Problem // for *CorruptError
		want    any     // pointer to the wanted error type
		says    []string
	}{
		"zero bytes":      {setup: edit(func(string) string { return "" }), problem: ProblemEmpty, says: []string{"empty", "cp -p"}},
		"truncated":       {setup: edit(func(s string) string { return s[:len(s)/2] }), problem: ProblemTruncated, says: []string{"truncated", "cp -p"}},
		"not JSON":        {setup: edit(func(string) string { return "serial = 3\n" }), problem: ProblemInvalid, says: []string{"not an envmig state"}},
		"a JSON array":    {setup: edit(func(string) string { return "[1, 2]" }), problem: ProblemInvalid},
		"no version":      {setup: edit(reencode(func(m map[string]any) { delete(m, "format_version") })), problem: ProblemInvalid, says: []string{"no format_version"}},
		"trailing data":   {setup: edit(func(s string) string { return s + "{}" }), problem: ProblemInvalid},
		"unknown field":   {setup: edit(reencode(func(m map[string]any) { m["extra"] = 1 })), problem: ProblemInvalid},
		"newer major":     {setup: edit(reencode(func(m map[string]any) { m["format_version"] = "2.0" })), want: new(*VersionError), says: []string{"newer envmig", "upgrade"}},
		"newer minor":     {setup: edit(reencode(func(m map[string]any) { m["format_version"] = "1.7"; m["new_thing"] = true })), want: new(*VersionError), says: []string{"newer envmig"}},
		"older major":     {setup: edit(reencode(func(m map[string]any) { m["format_version"] = "0.9" })), want: new(*VersionError), says: []string{"does not read"}},
		"edited by hand":  {setup: edit(func(s string) string { return strings.Replace(s, `"status": "started"`, `"status": "done"`, 1) }), problem: ProblemChecksum, says: []string{"edited by hand", "production.state.json.backup", "cp -p"}},
		"no checksum":     {setup: edit(reencode(func(m map[string]any) { m["checksum"] = "" })), problem: ProblemChecksum},
		"other env":       {setup: copyJournal("staging", "production"), problem: ProblemEnvironment, says: []string{`"staging"`, "move it back", "production.state.json"}},
		"removed":         {setup: func(t *testing.T, s *Store) { os.Remove(s.Path()) }, problem: ProblemMissing, says: []string{"removed", "cp -p"}},
		"symlink":         {setup: symlinkState, want: new(*UnsafeError), says: []string{"symbolic link"}},
		"group-writable":  {setup: chmod(state, 0o620), want: new(*UnsafeError), says: []string{"chmod 600"}},
		"world-writable":  {setup: chmod(state, 0o606), want: new(*UnsafeError), says: []string{"chmod 600"}},
		"world-writ. dir": {setup: chmod(dir, 0o777), want: new(*UnsafeError), says: []string{"chmod 700"}},
		"group-writ. dir": {setup: chmod(dir, 0o770), want: new(*UnsafeError), says: []string{"chmod 700"}},
		"a directory":     {setup: func(t *testing.T, s *Store) { os.Remove(s.Path()); os.Mkdir(s.Path(), 0o700) }, want: new(*UnsafeError)},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), ".envmig")
			s, _ := savedRun(t, dir, "production", 3)
			c.setup(t, s)
			before := snapshotDir(t, filepath.Dir(dir))
			_, err := s.Load()
			if err == nil {
				t.Fatal("Load succeeded")
			}
			t.Log(err)
			if c.want == nil {
				var ce *CorruptError
				if !errors.As(err, &ce) {
					t.Fatalf("Load: %v (%T), want a *CorruptError", err, err)
				}
				if ce.Problem != c.problem {
					t.Errorf("problem %q, want %q (%v)", ce.Problem, c.problem, err)
				}
			} else if !errors.As(err, c.want) {
				t.Fatalf("Load: %v (%T), want %T", err, err, c.want)
			}
			if errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a refusal matches fs.ErrNotExist, so callers would start afresh: %v", err)
			}
			for _, w := range c.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("message does not say %q: %v", w, err)
				}
			}
			if diff := cmp.Diff(before, snapshotDir(t, filepath.Dir(dir))); diff != "" {
				t.Errorf("Load changed the state directory (-before +after):\n%s", diff)
			}
		})
	}
}

// copyJournal puts a copy of the journal of environment from where the
// journal of environment to is read.
func copyJournal(to, from string) func(t *testing.T, s *Store) {
	return func(t *testing.T, s *Store) {
		t.Helper()
		other := filepath.Join(filepath.Dir(s.Path()), to+".state.json")
		data, err := os.ReadFile(s.Path())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(other, data, 0o600); err != nil {
			t.Fatal(err)
		}
		*s = *Open(filepath.Dir(s.Path()), to)
	}
}

func symlinkState(t *testing.T, s *Store) {
	t.Helper()
	real := filepath.Join(filepath.Dir(s.Path()), "elsewhere.json")
	if err := os.Rename(s.Path(), real); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(real, s.Path()); err != nil {
		t.Fatal(err)
	}
}

// Every truncation of a state file is refused as empty or truncated, never
// loaded and never mistaken for another problem.
func TestEveryTruncationRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	s, _ := savedRun(t, dir, "production", 2)
	data, err := os.ReadFile(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	end := bytes.LastIndexByte(data, '}')
	m := newMemFS()
	ms := Open(jDir, "production", WithFS(m))
	if err := m.MkdirAll(jDir, 0o700); err != nil {
		t.Fatal(err)
	}
	for n := range end {
		f, err := m.OpenFile(ms.Path(), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		f.Write(data[:n])
		f.Close()
		_, err = ms.Load()
		var ce *CorruptError
		if !errors.As(err, &ce) || (ce.Problem != ProblemEmpty && ce.Problem != ProblemTruncated) {
			t.Fatalf("Load of the first %d of %d bytes: %v, want empty or truncated", n, len(data), err)
		}
	}
}

// A Save that fails at any operation leaves no temp file behind and the
// journal loadable.
func TestSaveFailureLeavesNoTemp(t *testing.T) {
	count := newMemFS()
	cs := Open(jDir, jEnv, WithFS(count))
	st := NewState(testPlan(jEnv, 4), "apply", t0)
	for range 2 {
		if err := cs.Save(st); err != nil {
			t.Fatal(err)
		}
	}
	before := count.ops
	if err := cs.Save(st); err != nil {
		t.Fatal(err)
	}
	perSave := count.ops - before
	for k := 1; k <= perSave; k++ {
		m := newMemFS()
		s := Open(jDir, jEnv, WithFS(m))
		st := NewState(testPlan(jEnv, 4), "apply", t0)
		for range 2 {
			if err := s.Save(st); err != nil {
				t.Fatal(err)
			}
		}
		m.failAt = m.ops + k
		err := s.Save(st)
		if !errors.Is(err, syscall.EIO) {
			t.Fatalf("operation %d of %d failing: Save returned %v", k, perSave, err)
		}
		for _, n := range m.names(jDir) {
			if strings.Contains(n, ".tmp-") {
				t.Errorf("operation %d of %d failing: %s left behind", k, perSave, n)
			}
		}
		got, err := s.Load()
		if err != nil || (got.Serial != 2 && got.Serial != 3) {
			t.Errorf("operation %d of %d failing: Load: %v", k, perSave, err)
		}
	}
}
