package live

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// recentWindow is how far before ReadAt a modification counts as recent.
const recentWindow = 24 * time.Hour

// countObjects counts b's current objects in parallel by top-level prefix,
// up to the reader's cap (see the package documentation).
func (o *observation) countObjects(ctx context.Context, c S3API, b *Bucket, modifiedSince time.Time) error {
	cnt := &counter{limit: o.r.objectCap(), since: o.readAt.Add(-recentWindow), modifiedSince: modifiedSince}
	lister := limitedLister{api: c, slots: o.lists}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(o.r.concurrency())
	root := s3.NewListObjectsV2Paginator(lister, &s3.ListObjectsV2Input{
		Bucket:    aws.String(b.Name),
		Delimiter: aws.String("/"),
	})
	var rootErr error
	for root.HasMorePages() && !cnt.stopped() {
		page, err := root.NextPage(gctx)
		if err != nil {
			rootErr = err
			cancel()
			break
		}
		cnt.add(page.Contents)
		for _, cp := range page.CommonPrefixes {
			prefix := aws.ToString(cp.Prefix)
			g.Go(func() error { return listPrefix(gctx, lister, b.Name, prefix, cnt) })
		}
	}
	werr := g.Wait()
	switch {
	case rootErr != nil && !errors.Is(rootErr, context.Canceled):
		return rootErr // the root listing failed on its own
	case werr != nil:
		return werr
	case rootErr != nil:
		return rootErr
	}
	b.Objects, b.Bytes = cnt.objects, cnt.bytes
	b.RecentObjects, b.RecentBytes = cnt.recentObjects, cnt.recentBytes
	b.Truncated = cnt.truncated
	b.ModifiedAfter, b.ModifiedKeys = cnt.modified, cnt.modifiedKeys
	b.ArchivedObjects, b.ArchivedKeys = cnt.archived, cnt.archivedKeys
	return nil
}

// listPrefix counts every object under prefix.
func listPrefix(ctx context.Context, l limitedLister, bucket, prefix string, cnt *counter) error {
	// A common prefix stands for at least one object: once the cap is
	// reached, it proves the bucket has more.
	if cnt.full() {
		cnt.truncate()
		return nil
	}
	p := s3.NewListObjectsV2Paginator(l, &s3.ListObjectsV2Input{
		Bucket: aws.String(bucket),
		Prefix: aws.String(prefix),
	})
	for p.HasMorePages() && !cnt.stopped() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		cnt.add(page.Contents)
	}
	return nil
}

// counter sums the objects of one bucket's listings, up to limit objects.
type counter struct {
	limit int64
	since time.Time
	// modifiedSince, when set, counts the objects modified after it.
	modifiedSince time.Time
	modified      int64
	modifiedKeys  []string
	// archived counts the objects in an archive storage class.
	archived     int64
	archivedKeys []string

	mu                         sync.Mutex
	objects, bytes             int64
	recentObjects, recentBytes int64
	// truncated is set when an object beyond the limit was seen (or is
	// known to exist); the listings stop then.
	truncated bool
}

// add counts objs until the limit; one object past it sets truncated.
func (c *counter) add(objs []s3types.Object) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, obj := range objs {
		if c.objects >= c.limit {
			c.truncated = true
			return
		}
		size := aws.ToInt64(obj.Size)
		c.objects++
		c.bytes += size
		if !c.modifiedSince.IsZero() && obj.LastModified != nil && obj.LastModified.After(c.modifiedSince) {
			c.modified++
			if len(c.modifiedKeys) < 5 {
				c.modifiedKeys = append(c.modifiedKeys, aws.ToString(obj.Key))
			}
		}
		if Archived(string(obj.StorageClass)) {
			c.archived++
			if len(c.archivedKeys) < 5 {
				c.archivedKeys = append(c.archivedKeys, aws.ToString(obj.Key))
			}
		}
		if obj.LastModified != nil && !obj.LastModified.Before(c.since) {
			c.recentObjects++
			c.recentBytes += size
		}
	}
}

// full reports whether limit objects have been counted.
func (c *counter) full() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.objects >= c.limit
}

func (c *counter) truncate() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.truncated = true
}

// stopped reports whether the listings should stop.
func (c *counter) stopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.truncated
}

// limitedLister takes a slot for every ListObjectsV2 request, so that at
// most cap(slots) are in flight across every bucket of an observation.
type limitedLister struct {
	api   S3API
	slots chan struct{}
}

func (l limitedLister) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.slots }()
	return l.api.ListObjectsV2(ctx, in, opts...)
}

var _ s3.ListObjectsV2APIClient = limitedLister{}

func (l limitedLister) ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, opts ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
	select {
	case l.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	defer func() { <-l.slots }()
	return l.api.ListObjectVersions(ctx, in, opts...)
}

// Archived reports whether an object or version in storage class is
// archived: S3 copies it only while a restored copy of it is available.
func Archived(class string) bool { return class == "GLACIER" || class == "DEEP_ARCHIVE" }
