package live

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"golang.org/x/sync/errgroup"
)

// DefaultHistoryCap is the most entries CountHistory counts by default, as
// the live reader's object cap.
const DefaultHistoryCap = 1_000_000

// HistoryCount is what a bucket's version listing counts.
type HistoryCount struct {
	// Current versions (each its key's newest entry) and their bytes.
	Current, CurrentBytes int64
	// Noncurrent versions (older than their key's newest entry, or under a
	// delete marker) and their bytes.
	Noncurrent, NoncurrentBytes int64
	// DeleteMarkers, current or not.
	DeleteMarkers int64
	// ArchivedNoncurrent counts the noncurrent versions in an archive
	// storage class (GLACIER, DEEP_ARCHIVE), which a copy of the history
	// can read only once restored.
	ArchivedNoncurrent int64
	// Truncated: the count stopped at its cap; the bucket has more.
	Truncated bool
}

// AtStake is the number of entries a copy of current objects alone would
// lose: noncurrent versions and delete markers.
func (c HistoryCount) AtStake() int64 { return c.Noncurrent + c.DeleteMarkers }

// Entries is the number of entries counted.
func (c HistoryCount) Entries() int64 { return c.Current + c.Noncurrent + c.DeleteMarkers }

// CountHistory counts bucket's versions and delete markers by listing them,
// streamed (one page per listing in flight), in parallel by top-level
// prefix like the live reader: a first listing with Delimiter "/" counts
// the entries at the root and starts one listing per top-level prefix, up
// to parallel at once (DefaultListParallel when 0). It stops once limit
// entries are counted (DefaultHistoryCap when 0) and sets Truncated. It
// never changes anything; the first failed listing is the error.
func CountHistory(ctx context.Context, api versionLister, bucket string, limit int64, parallel int) (HistoryCount, error) {
	if limit <= 0 {
		limit = DefaultHistoryCap
	}
	if parallel <= 0 {
		parallel = 8
	}
	c := &historyCounter{limit: limit}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(parallel)
	root := s3.NewListObjectVersionsPaginator(api, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Delimiter: aws.String("/")})
	var rootErr error
	for root.HasMorePages() && !c.stopped() {
		page, err := root.NextPage(gctx)
		if err != nil {
			rootErr = err
			cancel()
			break
		}
		c.add(page)
		for _, cp := range page.CommonPrefixes {
			prefix := aws.ToString(cp.Prefix)
			g.Go(func() error { return countPrefix(gctx, api, bucket, prefix, c) })
		}
	}
	werr := g.Wait()
	err := werr
	if rootErr != nil && (werr == nil || !errors.Is(rootErr, context.Canceled)) {
		err = rootErr
	}
	if err != nil {
		return HistoryCount{}, fmt.Errorf("count the versions of bucket %s: %w", bucket, err)
	}
	return c.n, nil
}

func countPrefix(ctx context.Context, api versionLister, bucket, prefix string, c *historyCounter) error {
	if c.stopped() {
		return nil
	}
	p := s3.NewListObjectVersionsPaginator(api, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), Prefix: aws.String(prefix)})
	for p.HasMorePages() && !c.stopped() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return err
		}
		c.add(page)
	}
	return nil
}

// historyCounter sums pages up to limit entries.
type historyCounter struct {
	limit int64
	mu    sync.Mutex
	n     HistoryCount
}

func (c *historyCounter) add(page *s3.ListObjectVersionsOutput) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, v := range page.Versions {
		if c.n.Entries() >= c.limit {
			c.n.Truncated = true
			return
		}
		if aws.ToBool(v.IsLatest) {
			c.n.Current++
			c.n.CurrentBytes += aws.ToInt64(v.Size)
		} else {
			c.n.Noncurrent++
			c.n.NoncurrentBytes += aws.ToInt64(v.Size)
			if Archived(string(v.StorageClass)) {
				c.n.ArchivedNoncurrent++
			}
		}
	}
	for range page.DeleteMarkers {
		if c.n.Entries() >= c.limit {
			c.n.Truncated = true
			return
		}
		c.n.DeleteMarkers++
	}
}

func (c *historyCounter) stopped() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n.Truncated
}

// versionLister lists a bucket's versions and delete markers.
type versionLister interface {
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
}
