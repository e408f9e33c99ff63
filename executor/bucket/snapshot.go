package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// VersionLister lists a bucket's object versions and delete markers.
type VersionLister interface {
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
}

// VersioningReader reads a bucket's versioning status.
type VersioningReader interface {
	GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, optFns ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
}

// ManifestAPI is what TakeManifest and ChangesSince need; *s3.Client has it.
type ManifestAPI interface {
	Lister
	VersionLister
	VersioningReader
}

var _ ManifestAPI = (*s3.Client)(nil)

// HasVersions reports whether bucket's versioning was ever enabled (it is
// Enabled or Suspended), so that it may hold noncurrent versions and
// delete markers.
func HasVersions(ctx context.Context, api VersioningReader, bucket string) (bool, error) {
	out, err := api.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	if err != nil {
		return false, fmt.Errorf("read versioning of %s: %w", bucket, err)
	}
	return out.Status != "", nil
}

// TakeManifest writes the manifest of bucket to w: every version and delete
// marker when its versioning was ever enabled, else its current objects.
// It lists the bucket once (current objects by several prefixes at once,
// versions in one sequence) and streams: memory does not grow with the
// bucket (only with the number of versions of one key). It changes
// nothing, so it may be repeated; w holds a complete manifest only when it
// returns nil.
func TakeManifest(ctx context.Context, api ManifestAPI, bucket string, w io.Writer) (ManifestSummary, error) {
	versions, err := HasVersions(ctx, api, bucket)
	if err != nil {
		return ManifestSummary{}, err
	}
	mw, err := NewManifestWriter(w, ManifestHeader{Bucket: bucket, Versions: versions, TakenAt: time.Now()})
	if err != nil {
		return ManifestSummary{}, err
	}
	if versions {
		err = eachVersionGroup(ctx, api, bucket, func(group []Entry) error {
			for _, e := range group {
				if err := mw.Add(e); err != nil {
					return err
				}
			}
			return nil
		})
	} else {
		err = eachObject(ctx, api, bucket, func(o *Object) error { return mw.Add(entryOf(o)) })
	}
	if err != nil {
		return ManifestSummary{}, fmt.Errorf("take manifest of %s: %w", bucket, err)
	}
	return mw.Close()
}

// eachObject lists bucket's current objects (List, in key order) and calls
// fn for each.
func eachObject(ctx context.Context, api Lister, bucket string, fn func(*Object) error) error {
	g, gctx := errgroup.WithContext(ctx)
	pages := make(chan []Object, pageBuffer)
	g.Go(func() error { return List(gctx, api, bucket, DefaultListParallel, pages) })
	g.Go(func() error {
		c := &cursor{ch: pages}
		for {
			o, err := c.peek(gctx)
			if err != nil || o == nil {
				return err
			}
			if err := fn(o); err != nil {
				return err
			}
			c.i++
		}
	})
	return g.Wait()
}

// ListVersions streams bucket's versions and delete markers in key order,
// one page per send, and closes out when the listing is complete (left
// open on an error, like List). Within a page a key's entries are in
// manifest order; a key's entries may span pages.
func ListVersions(ctx context.Context, api VersionLister, bucket string, out chan<- []Entry) error {
	p := s3.NewListObjectVersionsPaginator(api, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	last := ""
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list object versions of %s: %w", bucket, err)
		}
		entries := versionEntries(page.Versions, page.DeleteMarkers)
		if len(entries) == 0 {
			continue
		}
		if entries[0].Key < last {
			return fmt.Errorf("list object versions of %s: the server listed %q after %q, out of key order", bucket, entries[0].Key, last)
		}
		last = entries[len(entries)-1].Key
		if !send(ctx, out, entries) {
			return ctx.Err()
		}
	}
	close(out)
	return nil
}

// versionEntries merges a page's versions and delete markers (S3 returns
// them in two lists) into manifest order.
func versionEntries(vs []types.ObjectVersion, ms []types.DeleteMarkerEntry) []Entry {
	entries := make([]Entry, 0, len(vs)+len(ms))
	for i := range vs {
		v := &vs[i]
		entries = append(entries, Entry{Key: aws.ToString(v.Key), VersionID: aws.ToString(v.VersionId), Size: aws.ToInt64(v.Size),
			ETag: unquote(aws.ToString(v.ETag)), LastModified: aws.ToTime(v.LastModified).UTC(), IsLatest: aws.ToBool(v.IsLatest)})
	}
	for i := range ms {
		m := &ms[i]
		entries = append(entries, Entry{Key: aws.ToString(m.Key), VersionID: aws.ToString(m.VersionId),
			LastModified: aws.ToTime(m.LastModified).UTC(), IsLatest: aws.ToBool(m.IsLatest), DeleteMarker: true})
	}
	sort.SliceStable(entries, func(i, j int) bool { return entryBefore(entries[i], entries[j]) })
	for i := 1; i < len(entries); i++ {
		if !entryBefore(entries[i-1], entries[i]) {
			// Two entries no order tells apart: the same version twice.
			entries = append(entries[:i], entries[i+1:]...)
			i--
		}
	}
	return entries
}

// eachVersionGroup lists bucket's versions and calls fn with all the
// entries of one key at a time, in manifest order. The group's slice is
// reused after fn returns.
func eachVersionGroup(ctx context.Context, api VersionLister, bucket string, fn func([]Entry) error) error {
	g, gctx := errgroup.WithContext(ctx)
	pages := make(chan []Entry, pageBuffer)
	g.Go(func() error { return ListVersions(gctx, api, bucket, pages) })
	g.Go(func() error {
		var group []Entry
		flush := func() error {
			if len(group) == 0 {
				return nil
			}
			sort.SliceStable(group, func(i, j int) bool { return entryBefore(group[i], group[j]) })
			err := fn(group)
			group = group[:0]
			return err
		}
		for {
			var page []Entry
			var ok bool
			select {
			case page, ok = <-pages:
			case <-gctx.Done():
				return gctx.Err()
			}
			if !ok {
				return flush()
			}
			for _, e := range page {
				if len(group) > 0 && group[0].Key != e.Key {
					if err := flush(); err != nil {
						return err
					}
				}
				group = append(group, e)
			}
		}
	})
	return g.Wait()
}

// manifestCursor reads a manifest with one entry of lookahead.
type manifestCursor struct {
	r    *ManifestReader
	cur  Entry
	have bool
	eof  bool
	// currentOnly skips noncurrent versions and delete markers.
	currentOnly bool
}

// peek returns the next entry; ok is false at the end.
func (c *manifestCursor) peek() (e Entry, ok bool, err error) {
	for !c.have && !c.eof {
		e, err := c.r.Next()
		if errors.Is(err, io.EOF) {
			c.eof = true
			break
		}
		if err != nil {
			return Entry{}, false, err
		}
		if c.currentOnly && !e.Current() {
			continue
		}
		c.cur, c.have = e, true
	}
	return c.cur, c.have, nil
}

func (c *manifestCursor) next() { c.have = false }

// seek returns the entry for key, skipping (and passing to skipped, when
// set) every entry before it; ok is false when the manifest has no entry
// for key. Keys must be asked in increasing order.
func (c *manifestCursor) seek(key string, skipped func(Entry)) (e Entry, ok bool, err error) {
	for {
		e, ok, err = c.peek()
		if err != nil || !ok || e.Key > key {
			return Entry{}, false, err
		}
		if e.Key == key {
			return e, true, nil
		}
		if skipped != nil {
			skipped(e)
		}
		c.next()
	}
}

// group returns every entry of the next key (nil at the end).
func (c *manifestCursor) group(buf []Entry) ([]Entry, error) {
	buf = buf[:0]
	for {
		e, ok, err := c.peek()
		if err != nil {
			return nil, err
		}
		if !ok || len(buf) > 0 && e.Key != buf[0].Key {
			return buf, nil
		}
		buf = append(buf, e)
		c.next()
	}
}

// rest drains the cursor, checking the manifest's trailer.
func (c *manifestCursor) rest(fn func(Entry)) error {
	for {
		e, ok, err := c.peek()
		if err != nil || !ok {
			return err
		}
		if fn != nil {
			fn(e)
		}
		c.next()
	}
}

// tee writes the source listing to SourceManifest on its way to the plan.
func (s *Syncer) tee(ctx context.Context, start time.Time, in <-chan []Object, out chan<- []Object) error {
	mw, err := NewManifestWriter(s.SourceManifest, ManifestHeader{Bucket: s.SrcBucket, TakenAt: start})
	if err != nil {
		return err
	}
	for {
		var page []Object
		var ok bool
		select {
		case page, ok = <-in:
		case <-ctx.Done():
			return ctx.Err()
		}
		if !ok {
			sum, err := mw.Close()
			if err != nil {
				return err
			}
			s.srcSum = sum
			close(out)
			return nil
		}
		for i := range page {
			if err := mw.Add(entryOf(&page[i])); err != nil {
				return err
			}
		}
		if !send(ctx, out, page) {
			return ctx.Err()
		}
	}
}
