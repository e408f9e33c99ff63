package statefile

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// blobContent is n pseudo-random bytes (seeded, so a mismatch replays).
func blobContent(n int, seed uint64) []byte {
	r := rand.New(rand.NewPCG(seed, seed))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// writeBlob streams data into a blob in uneven chunks.
func writeBlob(t *testing.T, j Journal, run, name string, data []byte) {
	t.Helper()
	w, err := j.CreateBlob(t.Context(), run, name)
	if err != nil {
		t.Fatal(err)
	}
	for rest := data; len(rest) > 0; {
		n := min(len(rest), 100_003)
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
}

func readBlob(t *testing.T, j Journal, run, name string) []byte {
	t.Helper()
	r, err := j.OpenBlob(t.Context(), run, name)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// Blobs round-trip streamed, are listed, replace atomically, and an
// aborted or cancelled write leaves the previous blob and no litter.
func TestLocalBlobs(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	j := Local(dir).Journal("production")
	big := blobContent(3<<20+17, 1)
	writeBlob(t, j, "3fa2c1d0-run", "manifest.orders", big)
	writeBlob(t, j, "3fa2c1d0-run", "manifest.assets", []byte("small"))
	writeBlob(t, j, "0b6e7c52-run", "manifest.orders", nil)

	if got := readBlob(t, j, "3fa2c1d0-run", "manifest.orders"); sha256.Sum256(got) != sha256.Sum256(big) {
		t.Fatalf("blob read back with %d bytes, want the %d written", len(got), len(big))
	}
	list, err := j.Blobs(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	want := []BlobInfo{{"0b6e7c52-run", "manifest.orders", 0}, {"3fa2c1d0-run", "manifest.assets", 5}, {"3fa2c1d0-run", "manifest.orders", int64(len(big))}}
	if diff := cmp.Diff(want, list); diff != "" {
		t.Errorf("Blobs (-want +got):\n%s", diff)
	}

	// A replacement is invisible until Close; an aborted one never shows.
	w, err := j.CreateBlob(t.Context(), "3fa2c1d0-run", "manifest.assets")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("replacement"))
	if got := readBlob(t, j, "3fa2c1d0-run", "manifest.assets"); string(got) != "small" {
		t.Errorf("a blob being written is visible: %q", got)
	}
	if err := w.Abort(); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err == nil {
		t.Error("Close after Abort succeeded")
	}
	ctx, cancel := context.WithCancel(t.Context())
	w, err = j.CreateBlob(ctx, "3fa2c1d0-run", "manifest.assets")
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte("cancelled"))
	cancel()
	if err := w.Close(); !errors.Is(err, context.Canceled) {
		t.Errorf("Close after the context ended: %v", err)
	}
	if got := readBlob(t, j, "3fa2c1d0-run", "manifest.assets"); string(got) != "small" {
		t.Errorf("after an abort and a cancelled write the blob holds %q", got)
	}
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if strings.Contains(d.Name(), ".tmp-") {
			t.Errorf("litter left: %s", p)
		}
		if !d.IsDir() {
			if fi, _ := os.Stat(p); fi.Mode().Perm() != fileMode {
				t.Errorf("%s: mode %04o", p, fi.Mode().Perm())
			}
		} else if fi, _ := os.Stat(p); fi.Mode().Perm() != dirMode && p != dir {
			t.Errorf("%s: mode %04o", p, fi.Mode().Perm())
		}
		return nil
	})

	var nf *NotFoundError
	if _, err := j.OpenBlob(t.Context(), "3fa2c1d0-run", "missing"); !errors.As(err, &nf) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenBlob of a missing blob: %v", err)
	}
	for _, bad := range [][2]string{{"../x", "m"}, {"run", "../../production.state.json"}, {"run", ".hidden"}, {"", "m"}} {
		if _, err := j.CreateBlob(t.Context(), bad[0], bad[1]); !errors.Is(err, ErrInvalidName) {
			t.Errorf("CreateBlob(%q, %q): %v, want ErrInvalidName", bad[0], bad[1], err)
		}
	}
	if got := readBlob(t, j, "0b6e7c52-run", "manifest.orders"); !bytes.Equal(got, nil) && len(got) != 0 {
		t.Errorf("empty blob read back as %d bytes", len(got))
	}
}

func TestLocalJournals(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".envmig")
	b := Local(dir)
	if names, err := b.Journals(t.Context()); err != nil || len(names) != 0 {
		t.Fatalf("Journals of a missing directory: %v, %v", names, err)
	}
	savedRun(t, dir, "staging", 1)
	savedRun(t, dir, "production", 1)
	savedRun(t, dir, "production.clone-exp1", 1)
	writeBlob(t, b.Journal("production"), "run", "blob", []byte("x"))
	names, err := b.Journals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"production", "production.clone-exp1", "staging"}, names); diff != "" {
		t.Errorf("Journals (-want +got):\n%s", diff)
	}
	if b.Location() != dir || b.Kind() != "local" || b.Journal("production").Location() != filepath.Join(dir, "production.state.json") {
		t.Errorf("locations: %s %s %s", b.Location(), b.Kind(), b.Journal("production").Location())
	}
}

func TestCIJobURL(t *testing.T) {
	cases := map[string]struct {
		env  map[string]string
		want string
	}{
		"none": {map[string]string{}, ""},
		"github": {map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com", "GITHUB_REPOSITORY": "acme/infra", "GITHUB_RUN_ID": "123", "GITHUB_RUN_ATTEMPT": "2"},
			"https://github.com/acme/infra/actions/runs/123/attempts/2"},
		"github without run": {map[string]string{"GITHUB_ACTIONS": "true", "GITHUB_SERVER_URL": "https://github.com"}, ""},
		"teamcity":           {map[string]string{"TEAMCITY_VERSION": "2024.1", "TEAMCITY_BUILD_URL": "https://tc.acme.io/viewLog.html?buildId=77"}, "https://tc.acme.io/viewLog.html?buildId=77"},
		"jenkins":            {map[string]string{"BUILD_URL": "https://ci.acme.io/job/x/5/"}, "https://ci.acme.io/job/x/5/"},
		"gitlab":             {map[string]string{"CI_JOB_URL": "https://gitlab.com/acme/x/-/jobs/9"}, "https://gitlab.com/acme/x/-/jobs/9"},
		"user info dropped":  {map[string]string{"BUILD_URL": "https://bot:s3cret@ci.acme.io/job/5"}, "https://ci.acme.io/job/5"},
		"not a URL":          {map[string]string{"BUILD_URL": "javascript:alert(1)"}, ""},
	}
	for name, c := range cases {
		if got := CIJobURL(func(k string) string { return c.env[k] }); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
	info := LockInfo{Operation: "apply", PID: 7, Host: "runner-3", CI: "https://github.com/acme/infra/actions/runs/123"}
	if !strings.Contains(info.describe(), "CI job https://github.com/acme/infra/actions/runs/123") {
		t.Errorf("the holder's description does not name its CI job: %s", info.describe())
	}
}
