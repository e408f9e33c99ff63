package bucket

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"time"
	"unicode/utf8"
)

// Manifest file format: gzip'd JSON lines. The first line is the header,
// then one line per entry in manifest order, then a trailer with the
// counts and the SHA-256 of the entry lines.
const (
	manifestFormat = "envmig-bucket-manifest"
	// ManifestFormatVersion is the version this package writes; a reader
	// refuses any other.
	ManifestFormatVersion = 1
	// maxManifestLine bounds one line: a 1,024-byte key escaped at worst
	// six bytes a byte, plus the other fields.
	maxManifestLine = 64 << 10
)

// Entry is one line of a manifest: a current object (in a manifest of
// current objects), or one version or delete marker (in a manifest of
// versions).
type Entry struct {
	Key string
	// VersionID is "" in a manifest of current objects.
	VersionID string
	Size      int64
	// ETag without quotes ("" for a delete marker).
	ETag         string
	LastModified time.Time
	// IsLatest is true for every entry of a manifest of current objects.
	IsLatest     bool
	DeleteMarker bool
	// Checksum is the algorithm of the stored checksum the listing named
	// ("CRC32", ...), or "": none, or a manifest of an older format.
	Checksum string
}

// Current reports whether e is a key's current object (not a noncurrent
// version, not a delete marker).
func (e Entry) Current() bool { return e.IsLatest && !e.DeleteMarker }

// sameState reports whether two entries describe the same object version:
// same version ID, kind, size, ETag and last-modified time.
func sameState(a, b Entry) bool {
	return a.Key == b.Key && a.VersionID == b.VersionID && a.DeleteMarker == b.DeleteMarker &&
		a.IsLatest == b.IsLatest && a.Size == b.Size && a.ETag == b.ETag && a.LastModified.Equal(b.LastModified)
}

// entryOf is the manifest entry of a listed current object.
func entryOf(o *Object) Entry {
	return Entry{Key: o.Key, Size: o.Size, ETag: o.ETag, LastModified: o.LastModified, IsLatest: true, Checksum: o.Checksum}
}

// entryBefore is the manifest order: keys in byte order; a key's entries
// latest first, then newest first, then by version ID.
func entryBefore(a, b Entry) bool {
	if a.Key != b.Key {
		return a.Key < b.Key
	}
	if a.IsLatest != b.IsLatest {
		return a.IsLatest
	}
	if !a.LastModified.Equal(b.LastModified) {
		return a.LastModified.After(b.LastModified)
	}
	return a.VersionID < b.VersionID
}

// ManifestHeader says what a manifest records.
type ManifestHeader struct {
	Bucket string
	// Versions: every version and delete marker; otherwise current objects.
	Versions bool
	TakenAt  time.Time
}

type headerJSON struct {
	Format        string    `json:"format"`
	FormatVersion int       `json:"format_version"`
	Bucket        string    `json:"bucket"`
	Versions      bool      `json:"versions"`
	TakenAt       time.Time `json:"taken_at"`
}

// ManifestSummary describes a whole manifest.
type ManifestSummary struct {
	Bucket   string
	Versions bool
	// Entries is the number of lines: objects, or versions and markers.
	Entries int64
	// Objects and Bytes count the current objects.
	Objects, Bytes int64
	// VersionBytes is the size of every version (= Bytes without versions).
	VersionBytes int64
	// SHA256 is the hex digest of the canonical entry lines: equal
	// contents give equal digests, whoever listed them and when.
	SHA256 string
}

type trailerJSON struct {
	End          bool   `json:"end"`
	Entries      int64  `json:"entries"`
	Objects      int64  `json:"objects"`
	Bytes        int64  `json:"bytes"`
	VersionBytes int64  `json:"version_bytes"`
	SHA256       string `json:"sha256"`
}

// counter accumulates a summary as entries go by.
type counter struct {
	sum   hash.Hash
	s     ManifestSummary
	last  Entry
	first bool
}

func newCounter(h ManifestHeader) *counter {
	return &counter{sum: sha256.New(), s: ManifestSummary{Bucket: h.Bucket, Versions: h.Versions}, first: true}
}

// add checks e's place in the order and counts it; line is its encoding.
func (c *counter) add(e Entry, line []byte) error {
	if !c.first && !entryBefore(c.last, e) {
		return fmt.Errorf("entry %q (version %q) is out of manifest order after %q (version %q)", e.Key, e.VersionID, c.last.Key, c.last.VersionID)
	}
	if !c.s.Versions && !c.first && e.Key == c.last.Key {
		return fmt.Errorf("key %q twice in a manifest of current objects", e.Key)
	}
	c.first = false
	c.last = e
	c.sum.Write(line)
	c.s.Entries++
	if !e.DeleteMarker {
		c.s.VersionBytes += e.Size
	}
	if e.Current() {
		c.s.Objects++
		c.s.Bytes += e.Size
	}
	return nil
}

func (c *counter) summary() ManifestSummary {
	s := c.s
	s.SHA256 = hex.EncodeToString(c.sum.Sum(nil))
	return s
}

// ManifestWriter streams a manifest: entries must come in manifest order
// (keys in byte order; in a manifest of versions, each key's latest entry
// first, then newest first). Memory is constant. Not safe for concurrent
// use.
type ManifestWriter struct {
	h    ManifestHeader
	zw   *gzip.Writer
	bw   *bufio.Writer
	c    *counter
	line []byte
	err  error
}

// NewManifestWriter writes the header of a manifest to w.
func NewManifestWriter(w io.Writer, h ManifestHeader) (*ManifestWriter, error) {
	if h.TakenAt.IsZero() {
		h.TakenAt = time.Now()
	}
	h.TakenAt = h.TakenAt.UTC()
	zw, err := gzip.NewWriterLevel(w, gzip.BestSpeed)
	if err != nil {
		return nil, err
	}
	m := &ManifestWriter{h: h, zw: zw, bw: bufio.NewWriterSize(zw, 64<<10), c: newCounter(h)}
	hdr, err := json.Marshal(headerJSON{Format: manifestFormat, FormatVersion: ManifestFormatVersion, Bucket: h.Bucket, Versions: h.Versions, TakenAt: h.TakenAt})
	if err != nil {
		return nil, err
	}
	if _, err := m.bw.Write(append(hdr, '\n')); err != nil {
		return nil, fmt.Errorf("write manifest of %s: %w", h.Bucket, err)
	}
	return m, nil
}

// Add appends one entry. In a manifest of current objects only Key, Size,
// ETag, LastModified and Checksum are recorded.
func (m *ManifestWriter) Add(e Entry) error {
	if m.err != nil {
		return m.err
	}
	if !utf8.ValidString(e.Key) {
		m.err = fmt.Errorf("write manifest of %s: key %q is not UTF-8", m.h.Bucket, e.Key)
		return m.err
	}
	if !m.h.Versions {
		e = Entry{Key: e.Key, Size: e.Size, ETag: e.ETag, LastModified: e.LastModified, IsLatest: true, Checksum: e.Checksum}
	}
	m.line = appendEntry(m.line[:0], e, m.h.Versions)
	if err := m.c.add(e, m.line); err != nil {
		m.err = fmt.Errorf("write manifest of %s: %w", m.h.Bucket, err)
		return m.err
	}
	if _, err := m.bw.Write(m.line); err != nil {
		m.err = fmt.Errorf("write manifest of %s: %w", m.h.Bucket, err)
	}
	return m.err
}

// Close writes the trailer and flushes; it does not close the underlying
// writer. A manifest without its trailer is refused by every reader.
func (m *ManifestWriter) Close() (ManifestSummary, error) {
	if m.err != nil {
		return ManifestSummary{}, m.err
	}
	s := m.c.summary()
	t, err := json.Marshal(trailerJSON{End: true, Entries: s.Entries, Objects: s.Objects, Bytes: s.Bytes, VersionBytes: s.VersionBytes, SHA256: s.SHA256})
	if err != nil {
		return ManifestSummary{}, err
	}
	if _, err := m.bw.Write(append(t, '\n')); err == nil {
		if err = m.bw.Flush(); err == nil {
			err = m.zw.Close()
		}
		m.err = err
	} else {
		m.err = err
	}
	if m.err != nil {
		return ManifestSummary{}, fmt.Errorf("write manifest of %s: %w", m.h.Bucket, m.err)
	}
	m.err = errors.New("manifest closed")
	return s, nil
}

// ManifestReader streams a manifest written by ManifestWriter. It checks
// the order of the entries and, at the end, the trailer's counts and
// digest: Next returns io.EOF only for a complete, intact manifest.
type ManifestReader struct {
	h       ManifestHeader
	zr      *gzip.Reader
	br      *bufio.Reader
	c       *counter
	done    bool
	sum     ManifestSummary
	scratch []byte
}

// OpenManifest reads a manifest's header.
func OpenManifest(r io.Reader) (*ManifestReader, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("read manifest: %w", err)
	}
	m := &ManifestReader{zr: zr, br: bufio.NewReaderSize(zr, maxManifestLine)}
	line, err := m.readLine()
	if err != nil {
		return nil, fmt.Errorf("read manifest header: %w", err)
	}
	var h headerJSON
	if err := json.Unmarshal(line, &h); err != nil || h.Format != manifestFormat {
		return nil, fmt.Errorf("read manifest: not an envmig bucket manifest")
	}
	if h.FormatVersion != ManifestFormatVersion {
		return nil, fmt.Errorf("read manifest of %s: format version %d, this envmig reads only version %d", h.Bucket, h.FormatVersion, ManifestFormatVersion)
	}
	m.h = ManifestHeader{Bucket: h.Bucket, Versions: h.Versions, TakenAt: h.TakenAt}
	m.c = newCounter(m.h)
	return m, nil
}

// Header returns what the manifest records.
func (m *ManifestReader) Header() ManifestHeader { return m.h }

// Summary is the manifest's summary once Next has returned io.EOF.
func (m *ManifestReader) Summary() ManifestSummary { return m.sum }

func (m *ManifestReader) readLine() ([]byte, error) {
	line, err := m.br.ReadSlice('\n')
	switch {
	case err == nil:
		return line, nil
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Errorf("a line longer than %d bytes", maxManifestLine)
	case errors.Is(err, io.EOF):
		return nil, io.ErrUnexpectedEOF // every line ends with '\n'
	default:
		return nil, err
	}
}

// Next returns the next entry, or io.EOF after the verified trailer.
func (m *ManifestReader) Next() (Entry, error) {
	if m.done {
		return Entry{}, io.EOF
	}
	line, err := m.readLine()
	if err != nil {
		return Entry{}, m.fail(err)
	}
	if !bytes.HasPrefix(line, []byte(`{"k":`)) {
		var t trailerJSON
		if err := json.Unmarshal(line, &t); err != nil {
			return Entry{}, m.fail(fmt.Errorf("line %d: %w", m.c.s.Entries+2, err))
		}
		return Entry{}, m.end(t)
	}
	p := lineParser{b: line, scratch: m.scratch[:0]}
	e := p.entry(m.h.Versions)
	m.scratch = p.scratch
	if p.err != nil {
		return Entry{}, m.fail(fmt.Errorf("entry %d: %w", m.c.s.Entries+1, p.err))
	}
	if err := m.c.add(e, line); err != nil {
		return Entry{}, m.fail(err)
	}
	return e, nil
}

func (m *ManifestReader) end(t trailerJSON) error {
	s := m.c.summary()
	if !t.End || t.Entries != s.Entries || t.SHA256 != s.SHA256 || t.Objects != s.Objects || t.Bytes != s.Bytes {
		return m.fail(fmt.Errorf("the trailer says %d entries (sha256 %s), the file holds %d (sha256 %s): it is corrupt", t.Entries, t.SHA256, s.Entries, s.SHA256))
	}
	if _, err := m.br.ReadByte(); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("data after the trailer")
		}
		return m.fail(err)
	}
	m.done = true
	m.sum = s
	return io.EOF
}

func (m *ManifestReader) fail(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) {
		err = fmt.Errorf("it ends before its trailer (truncated)")
	}
	return fmt.Errorf("read manifest of %s: %w", m.h.Bucket, err)
}

// CheckManifest reads a whole manifest and returns its summary: an error
// for a truncated, reordered or altered one. Compare the digest with the
// one recorded when it was written before trusting the file.
func CheckManifest(r io.Reader) (ManifestSummary, error) {
	m, err := OpenManifest(r)
	if err != nil {
		return ManifestSummary{}, err
	}
	for {
		if _, err := m.Next(); errors.Is(err, io.EOF) {
			return m.Summary(), nil
		} else if err != nil {
			return ManifestSummary{}, err
		}
	}
}
