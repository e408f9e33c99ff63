package bucket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"
)

// Verification levels (the objects setting of migration.verify).
const (
	LevelCount    = "count"    // keys and sizes
	LevelETag     = "etag"     // + identity by listing
	LevelChecksum = "checksum" // + stored checksums by HEAD where the ETags cannot decide
	LevelContent  = "content"  // + SHA-256 of both bodies where nothing else decides
)

// Difference kinds.
const (
	DiffMissing      = "missing"      // in the source only
	DiffExtra        = "extra"        // in the destination only
	DiffSize         = "size"         // sizes differ
	DiffIdentity     = "identity"     // ETags, checksums or content differ
	DiffUnverifiable = "unverifiable" // the level cannot decide (ETag layouts differ)
)

// MaxDifferences is how many differences a Report keeps; Count has them all.
const MaxDifferences = 1000

// verifyConcurrency bounds the HEADs and GETs of a verification.
const verifyConcurrency = 32

// Difference is one key whose copy does not match.
type Difference struct {
	Key    string
	Kind   string
	Detail string
}

func (d Difference) String() string {
	if d.Detail == "" {
		return fmt.Sprintf("%s: %s", d.Kind, d.Key)
	}
	return fmt.Sprintf("%s: %s (%s)", d.Kind, d.Key, d.Detail)
}

// Report is a verification's outcome.
type Report struct {
	Level string
	// Objects and Bytes are the source's.
	Objects, Bytes int64
	// Differences, sorted by key, at most MaxDifferences; Count is the
	// number found.
	Differences []Difference
	Count       int64
	// Checked counts the objects compared by HEAD or by content.
	Checked int64
}

// OK reports whether the buckets match.
func (r Report) OK() bool { return r.Count == 0 }

// Verify compares dstBucket with srcBucket by manifest at level. It lists
// both buckets once and decides by the listings wherever it can: equal
// ETags of one layout are one content. "checksum" HEADs the pairs a listing
// cannot decide (ETags of other part layouts, or differing ETags that may
// be no digests, as SSE-KMS ones) and compares their stored checksums;
// "content" reads both bodies of the objects nothing else decides. It
// never changes anything.
func Verify(ctx context.Context, src SourceAPI, dst DestAPI, srcBucket, dstBucket, level string) (Report, error) {
	return verifyFrom(ctx, src, dst, srcBucket, dstBucket, level, func(ctx context.Context, out chan<- []Object) error {
		return List(ctx, src, srcBucket, DefaultListParallel, out)
	})
}

// VerifyManifest is Verify against the source as a copy listed it: its
// manifest of current objects, read from r, stands for the source's
// listing (a HEAD or a read of the source, where the level needs one,
// still goes to the bucket). A source written to after the copy listed it
// is then no difference: the copy is of the moment it listed each key.
func VerifyManifest(ctx context.Context, src SourceAPI, dst DestAPI, srcBucket, dstBucket, level string, r io.Reader) (Report, error) {
	return verifyFrom(ctx, src, dst, srcBucket, dstBucket, level, func(ctx context.Context, out chan<- []Object) error {
		return listManifest(ctx, r, srcBucket, out)
	})
}

// listManifest streams the current objects of a manifest in pages, in key
// order, as List streams a listing; it closes out only when the whole
// manifest, trailer included, was read.
func listManifest(ctx context.Context, r io.Reader, bucket string, out chan<- []Object) error {
	m, err := OpenManifest(r)
	if err != nil {
		return fmt.Errorf("the manifest of %s: %w", bucket, err)
	}
	if h := m.Header(); h.Bucket != "" && h.Bucket != bucket {
		return fmt.Errorf("the manifest is of bucket %s, not %s", h.Bucket, bucket)
	}
	page := make([]Object, 0, 1000)
	last := ""
	flush := func() error {
		if len(page) == 0 {
			return nil
		}
		if err := checkOrder(bucket, &last, page); err != nil {
			return err
		}
		if !send(ctx, out, page) {
			return ctx.Err()
		}
		page = make([]Object, 0, 1000)
		return nil
	}
	for {
		e, err := m.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return fmt.Errorf("the manifest of %s: %w", bucket, err)
		}
		if !e.Current() {
			continue
		}
		page = append(page, Object{Key: e.Key, Size: e.Size, ETag: e.ETag, LastModified: e.LastModified, Checksum: e.Checksum})
		if len(page) == cap(page) {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	if err := flush(); err != nil {
		return err
	}
	close(out)
	return nil
}

func verifyFrom(ctx context.Context, src SourceAPI, dst DestAPI, srcBucket, dstBucket, level string, listSrc func(context.Context, chan<- []Object) error) (Report, error) {
	switch level {
	case LevelCount, LevelETag, LevelChecksum, LevelContent:
	default:
		return Report{}, fmt.Errorf("verify %s: unknown level %q (count, etag, checksum or content)", dstBucket, level)
	}
	v := &verifier{src: src, dst: dst, srcBucket: srcBucket, dstBucket: dstBucket, level: level}
	v.rep.Level = level
	g, gctx := errgroup.WithContext(ctx)
	srcPages := make(chan []Object, pageBuffer)
	dstPages := make(chan []Object, pageBuffer)
	checks := make(chan [2]Object, verifyConcurrency)
	g.Go(func() error { return listSrc(gctx, srcPages) })
	g.Go(func() error { return List(gctx, dst, dstBucket, DefaultListParallel, dstPages) })
	g.Go(func() error {
		defer close(checks)
		return MergeJoin(gctx, srcPages, dstPages, func(s, d *Object) error {
			if s != nil {
				v.rep.Objects++
				v.rep.Bytes += s.Size
			}
			if c := v.compare(s, d); c != nil && !send(gctx, checks, *c) {
				return gctx.Err()
			}
			return nil
		})
	})
	for range verifyConcurrency {
		g.Go(func() error {
			for c := range checks {
				if err := v.check(gctx, c[0], c[1]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return Report{}, fmt.Errorf("verify s3://%s against s3://%s: %w", dstBucket, srcBucket, err)
	}
	v.rep.Checked = v.checked.Load()
	sort.Slice(v.rep.Differences, func(i, j int) bool { return v.rep.Differences[i].Key < v.rep.Differences[j].Key })
	return v.rep, nil
}

type verifier struct {
	src                  SourceAPI
	dst                  DestAPI
	srcBucket, dstBucket string
	level                string

	mu      sync.Mutex
	rep     Report
	checked atomic.Int64
}

func (v *verifier) add(d Difference) {
	v.mu.Lock()
	v.rep.Count++
	if len(v.rep.Differences) < MaxDifferences {
		v.rep.Differences = append(v.rep.Differences, d)
	}
	v.mu.Unlock()
}

// compare records what the listings decide, and returns the pair when a
// HEAD or a read must decide.
func (v *verifier) compare(s, d *Object) *[2]Object {
	switch {
	case d == nil:
		v.add(Difference{Key: s.Key, Kind: DiffMissing})
		return nil
	case s == nil:
		v.add(Difference{Key: d.Key, Kind: DiffExtra})
		return nil
	case s.Size != d.Size:
		v.add(Difference{Key: s.Key, Kind: DiffSize, Detail: fmt.Sprintf("%d bytes, copy has %d", s.Size, d.Size)})
		return nil
	case v.level == LevelCount:
		return nil
	}
	switch Compare(*s, *d) {
	case Same:
		// One ETag of one layout is one digest of one content: a HEAD
		// would only read back what the listing showed.
		return nil
	case Different:
		if v.level == LevelETag {
			v.add(Difference{Key: s.Key, Kind: DiffIdentity, Detail: fmt.Sprintf("ETag %s, copy has %s", s.ETag, d.ETag)})
			return nil
		}
		// An SSE-KMS (or SSE-C) object's ETag is no digest of its content
		// and differs on every copy: a HEAD tells whether it is one.
		return &[2]Object{*s, *d}
	}
	if sameChecksumAlgorithm(*s, *d) || v.level == LevelContent {
		return &[2]Object{*s, *d}
	}
	v.add(Difference{Key: s.Key, Kind: DiffUnverifiable, Detail: fmt.Sprintf("ETag %s, copy has %s: part layouts differ and no stored checksums; verify with objects = \"content\"", s.ETag, d.ETag)})
	return nil
}

// check decides one pair by stored checksums, by ETags that a HEAD shows
// to be content digests, or by content.
func (v *verifier) check(ctx context.Context, s, d Object) error {
	v.checked.Add(1)
	identity := Compare(s, d)
	if sameChecksumAlgorithm(s, d) || identity == Different {
		// The source is read as it was listed (If-Match): a manifest may
		// be older than the source, and a later object's checksum says
		// nothing of the copy.
		a, err := headIdentity(ctx, v.src, v.srcBucket, s.Key, s.ETag)
		if changedUnderneath(err) {
			v.add(Difference{Key: s.Key, Kind: DiffUnverifiable, Detail: "deleted or rewritten in the source since it was listed: the listed object can no longer be read to compare"})
			return nil
		}
		if err != nil {
			return err
		}
		b, err := headIdentity(ctx, v.dst, v.dstBucket, d.Key, "")
		if err != nil {
			return err
		}
		// The HEADs name the algorithms: a manifest of an older format
		// names none.
		if a.checksum != "" && checksumKind(a.checksum) == checksumKind(b.checksum) {
			if a.checksum != b.checksum {
				v.add(Difference{Key: s.Key, Kind: DiffIdentity, Detail: fmt.Sprintf("checksum %s, copy has %s", a.checksum, b.checksum)})
			}
			return nil
		}
		if identity == Different && a.md5ETag && b.md5ETag {
			v.add(Difference{Key: s.Key, Kind: DiffIdentity, Detail: fmt.Sprintf("ETag %s, copy has %s", s.ETag, d.ETag)})
			return nil
		}
	}
	if v.level != LevelContent {
		if identity == Same {
			return nil
		}
		v.add(Difference{Key: s.Key, Kind: DiffUnverifiable, Detail: "no stored checksum to compare, and the ETags are no content digests (SSE-KMS) or of other part layouts; verify with objects = \"content\""})
		return nil
	}
	a, err := contentHash(ctx, v.src, v.srcBucket, s.Key)
	if err != nil {
		return err
	}
	b, err := contentHash(ctx, v.dst, v.dstBucket, d.Key)
	if err != nil {
		return err
	}
	if a != b {
		v.add(Difference{Key: s.Key, Kind: DiffIdentity, Detail: "content differs"})
	}
	return nil
}

// checksumKind is the "ALGO:TYPE" of a checksum headIdentity returned.
func checksumKind(c string) string {
	if i := strings.LastIndexByte(c, ':'); i >= 0 {
		return c[:i]
	}
	return c
}

// contentHash streams an object's body through SHA-256.
func contentHash(ctx context.Context, api Getter, bucket, key string) (string, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		return "", fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, out.Body); err != nil {
		return "", fmt.Errorf("read s3://%s/%s: %w", bucket, key, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
