package bucket

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// HistorySyncer makes a versioned destination hold the history of every
// key of a source: every version and delete marker, oldest to newest, in
// the source's order (see the package doc). Version IDs are new; each
// copy is a new version of the destination key.
//
// Run is incremental and resumable: for each key, the destination's
// history must be a prefix of the source's (entry kinds, sizes and
// identities at the same positions), and only the missing tail is copied.
// A run killed midway and run again copies the rest; a later run copies
// what the source gained since. A key whose destination history is not a
// prefix of the source's (it diverged) stops the run with a
// *DivergedError, or, with RewriteDiverged, has its destination history
// deleted and copied again.
//
// Concurrency: keys are copied in parallel, the entries of one key one
// after the other. The destination must be written by nothing else while
// Run runs.
type HistorySyncer struct {
	Src                  HistorySource
	Dst                  HistoryDest
	SrcBucket, DstBucket string

	// Until, when set, copies only the entries written at or before it
	// (whole seconds, see AsOf): the history as of that moment.
	Until time.Time

	// Concurrency is the most keys copied at once (DefaultConcurrency);
	// the adaptive limit of writes in flight stays between MinConcurrency
	// and it.
	Concurrency, MinConcurrency int
	// MultipartThreshold, PartSize and PartConcurrency: as the Syncer's.
	MultipartThreshold, PartSize int64
	PartConcurrency              int

	// RewriteDiverged deletes every version and delete marker of a
	// diverged key in the destination and copies its history again. Set
	// it only for a destination this run created.
	RewriteDiverged bool
	// CompareContent decides entries that neither the listings nor stored
	// checksums prove equal (SSE-KMS versions without checksums, layouts
	// that differ) by reading both bodies. Without it such an entry is a
	// divergence.
	CompareContent bool
	// IgnoreSourceEncryption saves one HEAD per single-request copy: the
	// copy is then encrypted by the destination bucket's default instead
	// of the source version's settings.
	IgnoreSourceEncryption bool
	// AbortStaleUploads aborts every unfinished multipart upload in the
	// destination first (set it when the run created the bucket).
	AbortStaleUploads bool
	// Progress receives the counters, counted in entries (versions and
	// delete markers); optional.
	Progress *Progress
	// ExpectedEntries helps the ETA before the listing ends (0 = unknown).
	ExpectedEntries int64

	lim     *limiter
	observe func(*s3.Options)
	copier  *versionCopier
	prover  prover
	n       historyCounts
}

// HistoryResult is what a HistorySyncer run did. Entries are versions and
// delete markers.
type HistoryResult struct {
	// Keys examined, and source entries examined.
	Keys, Scanned int64
	// Copied versions (and their bytes), Markers placed.
	Copied, CopiedBytes, Markers int64
	// Skipped entries already in the destination.
	Skipped, SkippedBytes int64
	// Rewritten keys whose diverged destination history was deleted
	// (Deleted entries) and copied again.
	Rewritten, Deleted int64
	// Vanished source entries deleted between the listing and their copy
	// (or a key whose entries did while it was compared); the next run
	// sees the new history.
	Vanished int64
	// Throttled is how many times the write concurrency was halved.
	Throttled int64
	Elapsed   time.Duration
	// UnencryptedDestination: as Result's.
	UnencryptedDestination bool
}

type historyCounts struct {
	keys, copied, copiedBytes, markers, skipped, skippedBytes atomic.Int64
	rewritten, deleted, vanished, scanned                     atomic.Int64
}

// DivergedError says a key's destination history is not a prefix of its
// source history. VersionEntry is the position (0 = oldest) of the first entry
// that differs.
type DivergedError struct {
	Src, Dst     string // buckets
	Key          string
	VersionEntry int
	Detail       string
}

func (e *DivergedError) Error() string {
	return fmt.Sprintf("history of %q in s3://%s is not an earlier copy of its history in s3://%s (entry %d, oldest first: %s): envmig only adds to a destination history that is a prefix of the source's; remove that key's versions from s3://%s, or let the run rewrite it if the run created that bucket",
		e.Key, e.Dst, e.Src, e.VersionEntry+1, e.Detail, e.Dst)
}

func (s *HistorySyncer) defaults() {
	if s.Concurrency <= 0 {
		s.Concurrency = DefaultConcurrency
	}
	if s.MinConcurrency <= 0 {
		s.MinConcurrency = min(DefaultMinConcurrency, s.Concurrency)
	}
	if s.MultipartThreshold <= 0 {
		s.MultipartThreshold = DefaultMultipartThreshold
	}
	if s.PartSize <= 0 {
		s.PartSize = min(int64(DefaultPartSize), s.MultipartThreshold)
	}
	if s.PartConcurrency <= 0 {
		s.PartConcurrency = DefaultPartConcurrency
	}
	if s.Progress == nil {
		s.Progress = &Progress{}
	}
}

// historyTask is one key the workers must act on.
type historyTask struct {
	key      string
	src, dst []VersionEntry // oldest first
	// checks are positions (< len(dst), ascending) that only a HEAD or a
	// read can decide.
	checks []int
	// diverged is the first position the listings prove different, -1
	// when none.
	diverged int
	detail   string
}

// Run syncs once. It returns the first error (a *DivergedError for a
// diverged key without RewriteDiverged); what was copied before it stays
// copied, and a run again resumes from there.
func (s *HistorySyncer) Run(ctx context.Context) (HistoryResult, error) {
	if s.SrcBucket == s.DstBucket {
		return HistoryResult{}, fmt.Errorf("copy the history of %s: source and destination are the same bucket", s.SrcBucket)
	}
	s.defaults()
	start := time.Now()
	p := s.Progress
	if p.start.Load() == 0 {
		p.Start(start, s.ExpectedEntries)
	}
	s.n = historyCounts{}
	s.lim = newLimiter(s.MinConcurrency, s.Concurrency, func(n int) { p.concurrency.Store(int64(n)) })
	s.observe = observeThrottling(s.lim.throttled)
	s.copier = &versionCopier{src: s.Src, dst: s.Dst, srcBucket: s.SrcBucket, dstBucket: s.DstBucket,
		threshold: s.MultipartThreshold, partSize: s.PartSize, partConcurrency: s.PartConcurrency,
		keepEncryption: !s.IgnoreSourceEncryption, observe: s.observe}
	s.prover = prover{src: s.Src, dst: s.Dst, content: s.CompareContent, observe: s.observe}

	err := s.run(ctx)
	res := HistoryResult{
		Keys: s.n.keys.Load(), Scanned: s.n.scanned.Load(),
		Copied: s.n.copied.Load(), CopiedBytes: s.n.copiedBytes.Load(), Markers: s.n.markers.Load(),
		Skipped: s.n.skipped.Load(), SkippedBytes: s.n.skippedBytes.Load(),
		Rewritten: s.n.rewritten.Load(), Deleted: s.n.deleted.Load(), Vanished: s.n.vanished.Load(),
		Throttled: s.lim.cuts.Load(), Elapsed: time.Since(start),
		UnencryptedDestination: !s.IgnoreSourceEncryption && !s.copier.keepEncryption,
	}
	if err != nil {
		return res, explainArchived(fmt.Errorf("copy the history of s3://%s to s3://%s: %w", s.SrcBucket, s.DstBucket, err))
	}
	return res, nil
}

func (s *HistorySyncer) run(ctx context.Context) error {
	v, err := s.Dst.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(s.DstBucket)})
	if err != nil {
		return fmt.Errorf("read versioning of %s: %w", s.DstBucket, err)
	}
	if v.Status != types.BucketVersioningStatusEnabled {
		return fmt.Errorf("s3://%s does not have versioning enabled: a history copied into it would keep only each key's last entry", s.DstBucket)
	}
	if s.AbortStaleUploads {
		keeps, err := prepareOwn(ctx, s.Dst, s.DstBucket, s.observe)
		if err != nil {
			return err
		}
		s.copier.keepEncryption = s.copier.keepEncryption && keeps
	}
	g, gctx := errgroup.WithContext(ctx)
	srcPages := make(chan []History, pageBuffer)
	dstPages := make(chan []History, pageBuffer)
	tasks := make(chan historyTask, 2*s.Concurrency)
	g.Go(func() error { return ListHistories(gctx, s.Src, s.SrcBucket, srcPages) })
	g.Go(func() error { return ListHistories(gctx, s.Dst, s.DstBucket, dstPages) })
	g.Go(func() error {
		defer close(tasks)
		return s.plan(gctx, srcPages, dstPages, tasks)
	})
	for range s.Concurrency {
		g.Go(func() error {
			for {
				select {
				case t, ok := <-tasks:
					if !ok {
						return nil
					}
					if err := s.syncKey(gctx, t); err != nil {
						return err
					}
				case <-gctx.Done():
					return gctx.Err()
				}
			}
		})
	}
	return g.Wait()
}

// plan compares each key's histories by listing and sends the keys that
// need work.
func (s *HistorySyncer) plan(ctx context.Context, srcPages, dstPages <-chan []History, tasks chan<- historyTask) error {
	p := s.Progress
	err := joinByKey(ctx, srcPages, dstPages, historyKey, historyKey, func(sh, dh *History) error {
		t := historyTask{diverged: -1}
		if sh != nil {
			t.key, t.src = sh.Key, until(sh.Entries, s.Until)
		}
		if dh != nil {
			t.key, t.dst = dh.Key, dh.Entries
		}
		if len(t.src) == 0 && len(t.dst) == 0 {
			return nil
		}
		s.n.keys.Add(1)
		s.n.scanned.Add(int64(len(t.src)))
		p.scanned.Add(int64(len(t.src)))
		p.scannedBytes.Add(entryBytes(t.src))
		s.compare(&t)
		if t.diverged < 0 && len(t.checks) == 0 && len(t.src) == len(t.dst) {
			s.skip(t.dst)
			return nil
		}
		if !send(ctx, tasks, t) {
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return err
	}
	p.listed.Store(true)
	return nil
}

// compare decides by listing whether t.dst is a prefix of t.src, leaving
// to HEADs (or reads) the positions a listing cannot decide.
func (s *HistorySyncer) compare(t *historyTask) {
	if len(t.dst) > len(t.src) {
		t.diverged = len(t.src)
		t.detail = fmt.Sprintf("the destination has %d entries, the source %d", len(t.dst), len(t.src))
		if len(t.src) == 0 {
			t.diverged = 0
		}
		return
	}
	for i := range t.dst {
		a, b := t.src[i], t.dst[i]
		if a.DeleteMarker != b.DeleteMarker {
			t.diverged, t.detail = i, fmt.Sprintf("a %s, the destination has a %s", a.kind(), b.kind())
			return
		}
		if a.DeleteMarker {
			continue
		}
		so, do := a.object(t.key), b.object(t.key)
		switch Compare(so, do) {
		case Same:
			continue
		case Different:
			if so.Size == do.Size && (sameChecksumAlgorithm(so, do) || s.CompareContent) {
				t.checks = append(t.checks, i)
				continue
			}
		case Undecided:
			if sameChecksumAlgorithm(so, do) || s.CompareContent {
				t.checks = append(t.checks, i)
				continue
			}
		}
		t.diverged = i
		t.detail = fmt.Sprintf("%d bytes with ETag %s, the destination has %d bytes with ETag %s", so.Size, so.ETag, do.Size, do.ETag)
		return
	}
}

func (s *HistorySyncer) skip(entries []VersionEntry) {
	n, b := int64(len(entries)), entryBytes(entries)
	s.n.skipped.Add(n)
	s.n.skippedBytes.Add(b)
	s.Progress.skipped.Add(n)
	s.Progress.skippedBytes.Add(b)
}

// syncKey settles the undecided positions of one key, rewrites a diverged
// history when allowed, and copies the missing tail in order.
func (s *HistorySyncer) syncKey(ctx context.Context, t historyTask) error {
	p := s.Progress
	for _, i := range t.checks {
		if t.diverged >= 0 && i > t.diverged {
			break
		}
		sr := versionRef{s.SrcBucket, t.key, t.src[i].VersionID}
		dr := versionRef{s.DstBucket, t.key, t.dst[i].VersionID}
		id, why, err := s.prover.prove(ctx, sr, dr, t.src[i].object(t.key), t.dst[i].object(t.key))
		if err != nil && versionGone(err) {
			// The history changed since it was listed: the next run sees it.
			s.n.vanished.Add(1)
			p.vanished.Add(1)
			return nil
		}
		if err != nil {
			return err
		}
		if id != Same {
			t.diverged, t.detail = i, why
			break
		}
	}
	from := len(t.dst)
	if t.diverged >= 0 {
		if !s.RewriteDiverged {
			return &DivergedError{Src: s.SrcBucket, Dst: s.DstBucket, Key: t.key, VersionEntry: t.diverged, Detail: t.detail}
		}
		if err := s.deleteHistory(ctx, t.key, t.dst); err != nil {
			return err
		}
		s.n.rewritten.Add(1)
		s.n.deleted.Add(int64(len(t.dst)))
		p.deleted.Add(int64(len(t.dst)))
		from = 0
	} else {
		s.skip(t.dst)
	}
	for _, e := range t.src[from:] {
		if err := s.lim.acquire(ctx); err != nil {
			return err
		}
		err := s.write(ctx, t.key, e)
		s.lim.release()
		if err != nil && versionGone(err) {
			s.n.vanished.Add(1)
			p.vanished.Add(1)
			continue
		}
		if err != nil {
			if isThrottle(err) {
				s.lim.throttled()
			}
			return err
		}
		p.copied.Add(1)
		if e.DeleteMarker {
			s.n.markers.Add(1)
			continue
		}
		s.n.copied.Add(1)
		s.n.copiedBytes.Add(e.Size)
		p.copiedBytes.Add(e.Size)
	}
	return nil
}

// write appends entry e to key's destination history.
func (s *HistorySyncer) write(ctx context.Context, key string, e VersionEntry) error {
	if !e.DeleteMarker {
		return s.copier.copy(ctx, key, e)
	}
	out, err := s.Dst.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(s.DstBucket), Key: aws.String(key)}, s.observe)
	if err != nil {
		return fmt.Errorf("place the delete marker of %s: %w", key, err)
	}
	if !aws.ToBool(out.DeleteMarker) {
		return fmt.Errorf("place the delete marker of %s: s3://%s answered a delete without a marker; is its versioning still enabled?", key, s.DstBucket)
	}
	return nil
}

// deleteHistory deletes the listed versions and delete markers of key.
func (s *HistorySyncer) deleteHistory(ctx context.Context, key string, entries []VersionEntry) error {
	for len(entries) > 0 {
		batch := entries[:min(len(entries), maxDeleteBatch)]
		entries = entries[len(batch):]
		ids := make([]types.ObjectIdentifier, len(batch))
		for i, e := range batch {
			ids[i] = types.ObjectIdentifier{Key: aws.String(key), VersionId: aws.String(e.VersionID)}
		}
		if err := s.lim.acquire(ctx); err != nil {
			return err
		}
		out, err := s.Dst.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(s.DstBucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}}, s.observe)
		s.lim.release()
		if err != nil {
			return fmt.Errorf("delete the diverged history of %s in %s: %w", key, s.DstBucket, err)
		}
		if len(out.Errors) > 0 {
			e := out.Errors[0]
			return fmt.Errorf("delete the diverged history of %s in %s: version %s: %s: %s", key, s.DstBucket, aws.ToString(e.VersionId), aws.ToString(e.Code), aws.ToString(e.Message))
		}
	}
	return nil
}

func entryBytes(es []VersionEntry) int64 {
	var n int64
	for _, e := range es {
		n += e.Size
	}
	return n
}
