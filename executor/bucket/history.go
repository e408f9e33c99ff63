package bucket

import (
	"context"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// HistorySource is what history copy, as-of copy and their verifications
// need of the source bucket's client.
type HistorySource interface {
	VersionLister
	Header
	Tagger
	Getter
}

// HistoryDest is what history copy and its verification need of the
// destination bucket's client.
type HistoryDest interface {
	VersionLister
	Header
	Getter
	Copier
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, optFns ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
}

var (
	_ HistorySource = (*s3.Client)(nil)
	_ HistoryDest   = (*s3.Client)(nil)
)

// VersionEntry is one version or delete marker of a key, as a listing shows
// it (a manifest Entry also carries its key).
type VersionEntry struct {
	VersionID string
	// DeleteMarker: a delete marker, which has no size, ETag or storage
	// class.
	DeleteMarker bool
	Size         int64
	// ETag without quotes.
	ETag string
	// Checksum is the stored checksum's algorithm, or "".
	Checksum string
	// StorageClass is "" for STANDARD.
	StorageClass string
	LastModified time.Time
	// Latest: the listing says this is the key's newest entry.
	Latest bool
}

// object is the entry as the engine's Object (for Compare and copies).
func (e VersionEntry) object(key string) Object {
	return Object{Key: key, Size: e.Size, ETag: e.ETag, Checksum: e.Checksum, StorageClass: e.StorageClass}
}

func (e VersionEntry) kind() string {
	if e.DeleteMarker {
		return "delete marker"
	}
	return "version"
}

// History is one key's entries, oldest first.
type History struct {
	Key     string
	Entries []VersionEntry
}

// keyedEntry is an entry of a listing page, in the server's order.
type keyedEntry struct {
	key string
	VersionEntry
}

func entryOfVersion(v *types.ObjectVersion) keyedEntry {
	e := keyedEntry{key: aws.ToString(v.Key), VersionEntry: VersionEntry{
		VersionID: aws.ToString(v.VersionId), Size: aws.ToInt64(v.Size), ETag: unquote(aws.ToString(v.ETag)),
		LastModified: aws.ToTime(v.LastModified), Latest: aws.ToBool(v.IsLatest),
	}}
	if len(v.ChecksumAlgorithm) > 0 {
		e.Checksum = string(v.ChecksumAlgorithm[0])
	}
	if v.StorageClass != "" && v.StorageClass != types.ObjectVersionStorageClassStandard {
		e.StorageClass = string(v.StorageClass)
	}
	return e
}

func entryOfMarker(m *types.DeleteMarkerEntry) keyedEntry {
	return keyedEntry{key: aws.ToString(m.Key), VersionEntry: VersionEntry{
		VersionID: aws.ToString(m.VersionId), DeleteMarker: true,
		LastModified: aws.ToTime(m.LastModified), Latest: aws.ToBool(m.IsLatest),
	}}
}

// ListHistories streams the histories of bucket's keys in key order, one
// batch of complete histories per send, and closes out when the listing is
// complete. A key whose entries span several listing pages is sent once,
// whole. Like List, it returns an error with out left open, so a reader
// never takes a failed listing for a short one.
//
// Memory is one listing page plus the history of the key being assembled:
// flat in the number of keys, linear in the number of entries of one key.
// The order of a key's entries is the server's (see orderPage).
func ListHistories(ctx context.Context, api VersionLister, bucket string, out chan<- []History) error {
	if err := listHistories(ctx, api, bucket, out); err != nil {
		return err
	}
	close(out)
	return nil
}

func listHistories(ctx context.Context, api VersionLister, bucket string, out chan<- []History) error {
	p := s3.NewListObjectVersionsPaginator(api, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	var open *History // newest first until its key ends
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list versions of bucket %s: %w", bucket, err)
		}
		entries, err := orderPage(ctx, api, bucket, page)
		if err != nil {
			return err
		}
		var batch []History
		for _, ke := range entries {
			if open != nil && ke.key == open.Key {
				open.Entries = append(open.Entries, ke.VersionEntry)
				continue
			}
			if open != nil {
				if ke.key < open.Key {
					return fmt.Errorf("list versions of bucket %s: the server listed %q after %q, out of key order; refusing to compare by merge", bucket, ke.key, open.Key)
				}
				h, err := finish(bucket, open)
				if err != nil {
					return err
				}
				batch = append(batch, h)
			}
			open = &History{Key: ke.key, Entries: []VersionEntry{ke.VersionEntry}}
		}
		if len(batch) > 0 && !send(ctx, out, batch) {
			return ctx.Err()
		}
	}
	if open == nil {
		return nil
	}
	h, err := finish(bucket, open)
	if err != nil {
		return err
	}
	if !send(ctx, out, []History{h}) {
		return ctx.Err()
	}
	return nil
}

// finish checks that a key's entries, newest first, go back in time, and
// turns them oldest first.
func finish(bucket string, h *History) (History, error) {
	e := h.Entries
	for i := 1; i < len(e); i++ {
		if e[i].LastModified.After(e[i-1].LastModified) {
			return History{}, fmt.Errorf("list versions of bucket %s: %s %s of %q is listed after the older %s %s; refusing to order its history", bucket, e[i].kind(), e[i].VersionID, h.Key, e[i-1].kind(), e[i-1].VersionID)
		}
	}
	for i, j := 0, len(e)-1; i < j; i, j = i+1, j-1 {
		e[i], e[j] = e[j], e[i]
	}
	return History{Key: h.Key, Entries: e}, nil
}

// orderPage returns a page's versions and delete markers in the server's
// order: keys ascending, each key's entries newest first. The SDK returns
// the two kinds in separate slices, each in the server's order; they are
// merged by LastModified. Where a version and a delete marker of one key
// have the same LastModified (one-second precision), the listing's IsLatest
// puts the key's newest entry first, and the server is asked for the rest
// (resolveTie).
func orderPage(ctx context.Context, api VersionLister, bucket string, page *s3.ListObjectVersionsOutput) ([]keyedEntry, error) {
	vs := make([]keyedEntry, len(page.Versions))
	for i := range page.Versions {
		vs[i] = entryOfVersion(&page.Versions[i])
	}
	ms := make([]keyedEntry, len(page.DeleteMarkers))
	for i := range page.DeleteMarkers {
		ms[i] = entryOfMarker(&page.DeleteMarkers[i])
	}
	out := make([]keyedEntry, 0, len(vs)+len(ms))
	i, j := 0, 0
	for i < len(vs) && j < len(ms) {
		v, m := vs[i], ms[j]
		switch {
		case v.key < m.key:
			out = append(out, v)
			i++
		case m.key < v.key:
			out = append(out, m)
			j++
		case v.LastModified.After(m.LastModified):
			out = append(out, v)
			i++
		case m.LastModified.After(v.LastModified):
			out = append(out, m)
			j++
		default:
			gi, gj := i, j
			for gi < len(vs) && vs[gi].key == v.key && vs[gi].LastModified.Equal(v.LastModified) {
				gi++
			}
			for gj < len(ms) && ms[gj].key == m.key && ms[gj].LastModified.Equal(m.LastModified) {
				gj++
			}
			merged, err := resolveTie(ctx, api, bucket, vs[i:gi], ms[j:gj])
			if err != nil {
				return nil, err
			}
			out = append(out, merged...)
			i, j = gi, gj
		}
	}
	out = append(out, vs[i:]...)
	return append(out, ms[j:]...), nil
}

// resolveTie interleaves versions and delete markers of one key listed
// with the same LastModified, each slice in the server's order. An entry
// listed Latest goes first. For the rest, for each entry x of the less
// numerous kind, one ListObjectVersions starting after x (KeyMarker and
// VersionIdMarker) shows which entries of the other kind the server lists
// after x: that places x exactly. The group's entries are consecutive in
// the server's order, so a page of the group's size holds every one of
// them that follows x.
func resolveTie(ctx context.Context, api VersionLister, bucket string, vs, ms []keyedEntry) ([]keyedEntry, error) {
	var merged []keyedEntry
	switch {
	case vs[0].Latest:
		merged, vs = append(merged, vs[0]), vs[1:]
	case ms[0].Latest:
		merged, ms = append(merged, ms[0]), ms[1:]
	}
	if len(vs) == 0 || len(ms) == 0 {
		return append(append(merged, vs...), ms...), nil
	}
	few, many := ms, vs
	if len(vs) < len(ms) {
		few, many = vs, ms
	}
	others := make(map[string]bool, len(many))
	for _, e := range many {
		others[e.VersionID] = true
	}
	key := few[0].key
	after := make([]int, len(few)) // how many of many the server lists after few[k]
	for k, x := range few {
		out, err := api.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{
			Bucket: aws.String(bucket), Prefix: aws.String(key),
			KeyMarker: aws.String(key), VersionIdMarker: aws.String(x.VersionID),
			MaxKeys: aws.Int32(int32(len(few) + len(many))),
		})
		if err != nil {
			return nil, fmt.Errorf("order the entries of %q in bucket %s written within one second: %w", key, bucket, err)
		}
		n := 0
		for _, v := range out.Versions {
			if aws.ToString(v.Key) == key && others[aws.ToString(v.VersionId)] {
				n++
			}
		}
		for _, m := range out.DeleteMarkers {
			if aws.ToString(m.Key) == key && others[aws.ToString(m.VersionId)] {
				n++
			}
		}
		if k > 0 && n > after[k-1] {
			return nil, fmt.Errorf("order the entries of %q in bucket %s written within one second: the server's answers disagree (did its history change?); try again", key, bucket)
		}
		after[k] = n
	}
	mi := 0
	for k, x := range few {
		for ; mi < len(many)-after[k]; mi++ {
			merged = append(merged, many[mi])
		}
		merged = append(merged, x)
	}
	return append(merged, many[mi:]...), nil
}

// pageCursor walks a stream of pages.
type pageCursor[T any] struct {
	ch   <-chan []T
	page []T
	i    int
	done bool
}

// peek returns the current element, nil at the end of the stream.
func (c *pageCursor[T]) peek(ctx context.Context) (*T, error) {
	for !c.done && c.i >= len(c.page) {
		select {
		case page, ok := <-c.ch:
			if !ok {
				c.done, c.page = true, nil
				break
			}
			c.page, c.i = page, 0
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if c.done {
		return nil, nil
	}
	return &c.page[c.i], nil
}

// joinByKey is MergeJoin for streams of any two element types: fn is called
// once per key, with a nil side where a stream lacks the key. Both streams
// must be in increasing key order.
func joinByKey[A, B any](ctx context.Context, as <-chan []A, bs <-chan []B, keyA func(*A) string, keyB func(*B) string, fn func(*A, *B) error) error {
	ca, cb := &pageCursor[A]{ch: as}, &pageCursor[B]{ch: bs}
	for {
		x, err := ca.peek(ctx)
		if err != nil {
			return err
		}
		y, err := cb.peek(ctx)
		if err != nil {
			return err
		}
		switch {
		case x == nil && y == nil:
			return nil
		case y == nil || x != nil && keyA(x) < keyB(y):
			err = fn(x, nil)
			ca.i++
		case x == nil || keyB(y) < keyA(x):
			err = fn(nil, y)
			cb.i++
		default:
			err = fn(x, y)
			ca.i++
			cb.i++
		}
		if err != nil {
			return err
		}
	}
}

func historyKey(h *History) string { return h.Key }

// atOrBefore reports whether a listing's LastModified is at or before t,
// both taken to the whole second (see AsOf).
func atOrBefore(lastModified, t time.Time) bool {
	return !lastModified.Truncate(time.Second).After(t.Truncate(time.Second))
}

// until returns the entries of h written at or before t (all of them when
// t is zero).
func until(entries []VersionEntry, t time.Time) []VersionEntry {
	if t.IsZero() {
		return entries
	}
	n := 0
	for n < len(entries) && atOrBefore(entries[n].LastModified, t) {
		n++
	}
	return entries[:n]
}

// AsOf returns the entry of h that was current at t: its newest entry
// written at or before t. ok is false when h had no entry then. The entry
// may be a delete marker (the key was deleted as of t).
//
// S3 lists LastModified to the second, so "at or before t" compares whole
// seconds: an entry is at or before t when its LastModified, truncated to
// the second, is not after t truncated to the second. Every write made
// before t is therefore included, and so are writes made in the rest of
// t's second (up to one second after t).
func AsOf(h History, t time.Time) (e VersionEntry, ok bool) {
	es := until(h.Entries, t)
	if len(es) == 0 {
		return VersionEntry{}, false
	}
	return es[len(es)-1], true
}
