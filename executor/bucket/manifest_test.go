package bucket

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func writeManifest(t *testing.T, h ManifestHeader, entries []Entry) ([]byte, ManifestSummary) {
	t.Helper()
	var buf bytes.Buffer
	w, err := NewManifestWriter(&buf, h)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := w.Add(e); err != nil {
			t.Fatal(err)
		}
	}
	sum, err := w.Close()
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

func readManifest(r io.Reader) ([]Entry, ManifestSummary, error) {
	m, err := OpenManifest(r)
	if err != nil {
		return nil, ManifestSummary{}, err
	}
	var got []Entry
	for {
		e, err := m.Next()
		if errors.Is(err, io.EOF) {
			return got, m.Summary(), nil
		}
		if err != nil {
			return got, ManifestSummary{}, err
		}
		got = append(got, e)
	}
}

// TestManifestRoundTrip: keys of any UTF-8, newlines and tabs included,
// come back exactly, with the summary the writer gave.
func TestManifestRoundTrip(t *testing.T) {
	keys := append([]string{"a\nb", "a\tb", `quote"back\slash`, "ctl\x01\x1f", "\u2028sep", "zz 🙂"}, keyShapes...)
	for _, versions := range []bool{false, true} {
		t.Run(fmt.Sprint("versions=", versions), func(t *testing.T) {
			var entries []Entry
			sorted := append([]string(nil), keys...)
			sortStrings(sorted)
			for i, k := range sorted {
				e := Entry{Key: k, Size: int64(i), ETag: fmt.Sprintf("%032x", i), LastModified: t0.Add(time.Duration(i) * time.Millisecond), IsLatest: true}
				if i%2 == 0 {
					e.Checksum = "CRC64NVME"
				}
				if versions {
					e.VersionID = fmt.Sprintf("v%d", i)
					entries = append(entries, e,
						Entry{Key: k, VersionID: "older", Size: 3, ETag: "abc", LastModified: t0.Add(-time.Hour)},
						Entry{Key: k, VersionID: "oldest", LastModified: t0.Add(-2 * time.Hour), DeleteMarker: true})
					continue
				}
				entries = append(entries, e)
			}
			data, sum := writeManifest(t, ManifestHeader{Bucket: "b", Versions: versions, TakenAt: t0}, entries)
			got, rsum, err := readManifest(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(entries, got); diff != "" {
				t.Errorf("entries (-wrote +read):\n%s", diff)
			}
			if diff := cmp.Diff(sum, rsum); diff != "" {
				t.Errorf("summary (-writer +reader):\n%s", diff)
			}
			if sum.Objects != int64(len(keys)) || sum.Entries != int64(len(entries)) || sum.Bucket != "b" || len(sum.SHA256) != 64 {
				t.Errorf("summary %+v", sum)
			}
			// Same content, another bucket and time: the same digest.
			_, other := writeManifest(t, ManifestHeader{Bucket: "c", Versions: versions, TakenAt: t0.Add(time.Hour)}, entries)
			if other.SHA256 != sum.SHA256 {
				t.Error("the digest depends on the header")
			}
		})
	}
}

// TestManifestReadsLinesWithoutChecksum: a manifest written before entries
// named their checksum algorithm reads as entries naming none.
func TestManifestReadsLinesWithoutChecksum(t *testing.T) {
	e := Entry{Key: "k", Size: 3, ETag: "abc", LastModified: t0, IsLatest: true}
	line := `{"k":"k","s":3,"e":"abc","t":"2025-03-01T12:00:00Z"}` + "\n"
	if got := string(appendEntry(nil, e, false)); got != line {
		t.Fatalf("an entry without checksum is written %q, want %q", got, line)
	}
	p := lineParser{b: []byte(line)}
	if got := p.entry(false); p.err != nil || got != e {
		t.Errorf("read %+v (%v), want %+v", got, p.err, e)
	}
	e.Checksum = "CRC32"
	p = lineParser{b: appendEntry(nil, e, false)}
	if got := p.entry(false); p.err != nil || got != e {
		t.Errorf("read %+v (%v), want %+v", got, p.err, e)
	}
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// TestManifestRefusesDamage: out-of-order entries are refused when
// written; a truncated, altered or foreign file is refused when read.
func TestManifestRefusesDamage(t *testing.T) {
	var buf bytes.Buffer
	w, _ := NewManifestWriter(&buf, ManifestHeader{Bucket: "b"})
	if err := w.Add(Entry{Key: "b"}); err != nil {
		t.Fatal(err)
	}
	if err := w.Add(Entry{Key: "a"}); err == nil || !strings.Contains(err.Error(), "out of manifest order") {
		t.Errorf("out-of-order entry: %v", err)
	}
	if err := w.Add(Entry{Key: "c"}); err == nil {
		t.Error("a writer kept writing after an error")
	}
	w, _ = NewManifestWriter(&bytes.Buffer{}, ManifestHeader{Bucket: "b"})
	if err := w.Add(Entry{Key: "bad\xff"}); err == nil {
		t.Error("a key that is not UTF-8 was written")
	}

	var entries []Entry
	for i := range 5000 {
		entries = append(entries, Entry{Key: fmt.Sprintf("k/%05d", i), Size: int64(i), ETag: "e", LastModified: t0})
	}
	data, _ := writeManifest(t, ManifestHeader{Bucket: "b"}, entries)
	plain := gunzip(t, data)

	cases := map[string][]byte{
		"truncated gzip":  data[:len(data)/2],
		"no trailer":      gz(plain[:bytes.LastIndexByte(plain[:len(plain)-1], '\n')+1]),
		"altered size":    gz(bytes.Replace(plain, []byte(`"k/00042","s":42`), []byte(`"k/00042","s":43`), 1)),
		"entry removed":   gz(bytes.Replace(plain, []byte(`{"k":"k/00042","s":42,"e":"e","t":"2025-03-01T12:00:00Z"}`+"\n"), nil, 1)),
		"not a manifest":  gz([]byte(`{"hello":"world"}` + "\n")),
		"future version":  gz(bytes.Replace(plain, []byte(`"format_version":1`), []byte(`"format_version":2`), 1)),
		"data after end":  gz(append(append([]byte(nil), plain...), "{}\n"...)),
		"not gzip at all": plain,
	}
	for name, file := range cases {
		t.Run(name, func(t *testing.T) {
			if _, _, err := readManifest(bytes.NewReader(file)); err == nil {
				t.Error("read without an error")
			}
			if _, err := CheckManifest(bytes.NewReader(file)); err == nil {
				t.Error("CheckManifest passed it")
			}
		})
	}
}

func gunzip(t *testing.T, data []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// TestManifestMillionEntriesFlatMemory: a manifest of 1,000,000 entries
// streams through a writer and a reader with the heap staying flat.
func TestManifestMillionEntriesFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000,000 entries")
	}
	const n = 1_000_000
	pr, pw := io.Pipe()
	var wsum ManifestSummary
	werr := make(chan error, 1)
	go func() {
		w, err := NewManifestWriter(pw, ManifestHeader{Bucket: "big", TakenAt: t0})
		if err == nil {
			for i := 0; i < n && err == nil; i++ {
				err = w.Add(Entry{Key: fmt.Sprintf("data/%08d.json", i), Size: int64(i), ETag: "d41d8cd98f00b204e9800998ecf8427e", LastModified: t0})
			}
		}
		if err == nil {
			wsum, err = w.Close()
		}
		pw.CloseWithError(err)
		werr <- err
	}()
	m, err := OpenManifest(pr)
	if err != nil {
		t.Fatal(err)
	}
	var peak uint64
	var ms runtime.MemStats
	count := 0
	for {
		_, err := m.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		count++
		if count%100_000 == 0 {
			runtime.GC()
			runtime.ReadMemStats(&ms)
			peak = max(peak, ms.HeapInuse)
		}
	}
	if err := <-werr; err != nil {
		t.Fatal(err)
	}
	if count != n || m.Summary() != wsum || wsum.Entries != n {
		t.Errorf("read %d entries (%+v), wrote %+v", count, m.Summary(), wsum)
	}
	if peak > 32<<20 {
		t.Errorf("heap in use reached %d MiB while streaming; it must not grow with the manifest", peak>>20)
	}
}

// BenchmarkManifestWrite is the cost a copy's SourceManifest tee adds per
// listed object.
func BenchmarkManifestWrite(b *testing.B) {
	w, err := NewManifestWriter(io.Discard, ManifestHeader{Bucket: "b"})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		if err := w.Add(Entry{Key: fmt.Sprintf("data/%09d.json", i), Size: 4096, ETag: "d41d8cd98f00b204e9800998ecf8427e", LastModified: t0}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkManifestRead is the cost per entry of reading a manifest
// (ChangesSince, Protect, a guarded emptying).
func BenchmarkManifestRead(b *testing.B) {
	var buf bytes.Buffer
	w, _ := NewManifestWriter(&buf, ManifestHeader{Bucket: "b"})
	for i := range b.N {
		if err := w.Add(Entry{Key: fmt.Sprintf("data/%09d.json", i), Size: 4096, ETag: "d41d8cd98f00b204e9800998ecf8427e", LastModified: t0}); err != nil {
			b.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	m, err := OpenManifest(&buf)
	if err != nil {
		b.Fatal(err)
	}
	for {
		if _, err := m.Next(); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			b.Fatal(err)
		}
	}
}
