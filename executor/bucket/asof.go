package bucket

import (
	"context"
	"fmt"
	"time"

	"golang.org/x/sync/errgroup"
)

// AsOfSyncer makes a destination hold a versioned source's objects as they
// were at a moment At: for each key, the version current at At (AsOf: its
// newest entry written at or before At, in whole seconds). A key whose
// entry then is a delete marker, or that had no entry yet, is not copied.
// Versions written after At are never read. This is what a clone needs to
// be consistent with a database snapshot taken at At.
//
// The copy is server-side and keeps each version's metadata, tags,
// storage class and (unless IgnoreSourceEncryption) encryption settings,
// like the Syncer. Run is incremental: a destination object equal to the
// chosen version (size and ETag of one layout, or stored checksums) is
// skipped, so a run again after a failure copies only the rest. With
// Delete, destination objects that are not in the view are deleted (set
// it only for a destination this run created).
type AsOfSyncer struct {
	Src                  HistorySource
	Dst                  DestAPI
	SrcBucket, DstBucket string
	At                   time.Time

	// Concurrency, MinConcurrency, ListParallel (of the destination's
	// listing), MultipartThreshold, PartSize, PartConcurrency: as the
	// Syncer's.
	Concurrency, MinConcurrency, ListParallel int
	MultipartThreshold, PartSize              int64
	PartConcurrency                           int

	Delete                 bool
	IgnoreSourceEncryption bool
	AbortStaleUploads      bool
	Progress               *Progress
	ExpectedObjects        int64
}

// asOfTask is one key to copy (or to check, then copy).
type asOfTask struct {
	key   string
	e     VersionEntry
	dst   Object
	check bool
}

// Run copies once. Result counts objects of the view (Scanned) and what
// was done with them; Vanished counts versions deleted from the source
// since the listing.
func (s *AsOfSyncer) Run(ctx context.Context) (Result, error) {
	if s.SrcBucket == s.DstBucket {
		return Result{}, fmt.Errorf("copy %s as of %s: source and destination are the same bucket", s.SrcBucket, s.At.UTC().Format(time.RFC3339))
	}
	if s.At.IsZero() {
		return Result{}, fmt.Errorf("copy %s as of a moment: no moment given", s.SrcBucket)
	}
	sy := &Syncer{Concurrency: s.Concurrency, MinConcurrency: s.MinConcurrency, ListParallel: s.ListParallel,
		MultipartThreshold: s.MultipartThreshold, PartSize: s.PartSize, PartConcurrency: s.PartConcurrency, Progress: s.Progress}
	sy.defaults()
	s.Progress = sy.Progress
	start := time.Now()
	p := sy.Progress
	if p.start.Load() == 0 {
		p.Start(start, s.ExpectedObjects)
	}
	before := p.Snapshot(start)
	lim := newLimiter(sy.MinConcurrency, sy.Concurrency, func(n int) { p.concurrency.Store(int64(n)) })
	observe := observeThrottling(lim.throttled)
	cp := &versionCopier{src: s.Src, dst: s.Dst, srcBucket: s.SrcBucket, dstBucket: s.DstBucket,
		threshold: sy.MultipartThreshold, partSize: sy.PartSize, partConcurrency: sy.PartConcurrency,
		keepEncryption: !s.IgnoreSourceEncryption, observe: observe}
	pr := prover{src: s.Src, dst: s.Dst, observe: observe}

	err := func() error {
		if s.AbortStaleUploads {
			keeps, err := prepareOwn(ctx, s.Dst, s.DstBucket, observe)
			if err != nil {
				return err
			}
			cp.keepEncryption = cp.keepEncryption && keeps
		}
		g, gctx := errgroup.WithContext(ctx)
		srcPages := make(chan []History, pageBuffer)
		dstPages := make(chan []Object, pageBuffer)
		tasks := make(chan asOfTask, 2*sy.Concurrency)
		deletes := make(chan []string, 2)
		g.Go(func() error { return ListHistories(gctx, s.Src, s.SrcBucket, srcPages) })
		g.Go(func() error { return List(gctx, s.Dst, s.DstBucket, sy.ListParallel, dstPages) })
		g.Go(func() error {
			defer close(tasks)
			defer close(deletes)
			return s.plan(gctx, srcPages, dstPages, tasks, deletes)
		})
		for range sy.Concurrency {
			g.Go(func() error {
				for {
					var t asOfTask
					select {
					case t0, ok := <-tasks:
						if !ok {
							return nil
						}
						t = t0
					case <-gctx.Done():
						return gctx.Err()
					}
					if err := lim.acquire(gctx); err != nil {
						return err
					}
					copied, err := s.one(gctx, cp, pr, t)
					lim.release()
					switch {
					case err != nil && versionGone(err):
						p.vanished.Add(1)
					case err != nil:
						if isThrottle(err) {
							lim.throttled()
						}
						return err
					case copied:
						p.copied.Add(1)
						p.copiedBytes.Add(t.e.Size)
					default:
						p.skipped.Add(1)
						p.skippedBytes.Add(t.e.Size)
					}
				}
			})
		}
		g.Go(func() error {
			for keys := range deletes {
				objs := make([]Object, len(keys))
				for i, k := range keys {
					objs[i].Key = k
				}
				if _, err := deleteObjects(gctx, s.Dst, s.DstBucket, objs, false); err != nil {
					return err
				}
				p.deleted.Add(int64(len(keys)))
			}
			return nil
		})
		return g.Wait()
	}()
	after := p.Snapshot(time.Now())
	res := Result{
		Scanned: after.Scanned - before.Scanned,
		Copied:  after.Copied - before.Copied, CopiedBytes: after.CopiedBytes - before.CopiedBytes,
		Skipped: after.Skipped - before.Skipped, SkippedBytes: after.SkippedBytes - before.SkippedBytes,
		Deleted: after.Deleted - before.Deleted, Vanished: after.Vanished - before.Vanished,
		Throttled: lim.cuts.Load(), Elapsed: time.Since(start),
		UnencryptedDestination: !s.IgnoreSourceEncryption && !cp.keepEncryption,
	}
	if err != nil {
		return res, explainArchived(fmt.Errorf("copy s3://%s as of %s to s3://%s: %w", s.SrcBucket, s.At.UTC().Format(time.RFC3339), s.DstBucket, err))
	}
	return res, nil
}

// asOfView returns the version of h current at t, if any.
func asOfView(h *History, t time.Time) (VersionEntry, bool) {
	if h == nil {
		return VersionEntry{}, false
	}
	e, ok := AsOf(*h, t)
	if !ok || e.DeleteMarker {
		return VersionEntry{}, false
	}
	return e, true
}

func (s *AsOfSyncer) plan(ctx context.Context, srcPages <-chan []History, dstPages <-chan []Object, tasks chan<- asOfTask, deletes chan<- []string) error {
	p := s.Progress
	var batch []string
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		ok := send(ctx, deletes, batch)
		batch = nil
		return ok
	}
	err := joinByKey(ctx, srcPages, dstPages, historyKey, func(o *Object) string { return o.Key }, func(h *History, d *Object) error {
		e, ok := asOfView(h, s.At)
		if !ok {
			if d != nil && s.Delete {
				batch = append(batch, d.Key)
				if len(batch) == maxDeleteBatch && !flush() {
					return ctx.Err()
				}
			}
			return nil
		}
		p.scanned.Add(1)
		p.scannedBytes.Add(e.Size)
		t := asOfTask{key: h.Key, e: e}
		if d != nil {
			so := e.object(h.Key)
			switch Compare(so, *d) {
			case Same:
				p.skipped.Add(1)
				p.skippedBytes.Add(e.Size)
				return nil
			default:
				t.check = so.Size == d.Size && sameChecksumAlgorithm(so, *d)
			}
			t.dst = *d
		}
		if !send(ctx, tasks, t) {
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !flush() {
		return ctx.Err()
	}
	p.listed.Store(true)
	return nil
}

// one copies the chosen version of one key unless stored checksums prove
// the destination's object equal to it.
func (s *AsOfSyncer) one(ctx context.Context, cp *versionCopier, pr prover, t asOfTask) (bool, error) {
	if t.check {
		id, _, err := pr.prove(ctx, versionRef{s.SrcBucket, t.key, t.e.VersionID}, versionRef{s.DstBucket, t.key, ""}, t.e.object(t.key), t.dst)
		if err != nil && !isNotFound(err) {
			return false, err
		}
		if err == nil && id == Same {
			return false, nil
		}
	}
	return true, cp.copy(ctx, t.key, t.e)
}

// VerifyAsOf compares dstBucket with srcBucket as it was at at (see
// AsOfSyncer) by manifest at level, like Verify: the keys of the view, and
// for each the size and identity of the chosen version against the
// destination's current object. Report.Objects and Bytes are the view's.
// It never changes anything.
func VerifyAsOf(ctx context.Context, src HistoryReader, dst interface {
	Lister
	Header
	Getter
}, srcBucket, dstBucket string, at time.Time, level string) (Report, error) {
	if err := checkLevel(dstBucket, level); err != nil {
		return Report{}, err
	}
	v := newPairVerifier(src, dst, level)
	var objects, bytes int64
	err := v.run(ctx, func(ctx context.Context, checks chan<- versionPair) error {
		srcPages := make(chan []History, pageBuffer)
		dstPages := make(chan []Object, pageBuffer)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return ListHistories(gctx, src, srcBucket, srcPages) })
		g.Go(func() error { return List(gctx, dst, dstBucket, DefaultListParallel, dstPages) })
		g.Go(func() error {
			return joinByKey(gctx, srcPages, dstPages, historyKey, func(o *Object) string { return o.Key }, func(h *History, d *Object) error {
				e, ok := asOfView(h, at)
				switch {
				case !ok && d == nil:
					return nil
				case !ok:
					v.add(Difference{Key: d.Key, Kind: DiffExtra})
					return nil
				}
				objects++
				bytes += e.Size
				if d == nil {
					v.add(Difference{Key: h.Key, Kind: DiffMissing, Detail: "version " + e.VersionID})
					return nil
				}
				p := versionPair{s: versionRef{srcBucket, h.Key, e.VersionID}, d: versionRef{dstBucket, d.Key, ""}, so: e.object(h.Key), do: *d}
				kind, detail, check := judgeVersions(level, p.so, p.do)
				if kind != "" {
					v.add(Difference{Key: h.Key, Kind: kind, Detail: detail})
					return nil
				}
				if check && !send(gctx, checks, p) {
					return gctx.Err()
				}
				return nil
			})
		})
		return g.Wait()
	})
	if err != nil {
		return Report{}, fmt.Errorf("verify s3://%s against s3://%s as of %s: %w", dstBucket, srcBucket, at.UTC().Format(time.RFC3339), err)
	}
	v.rep.Objects, v.rep.Bytes = objects, bytes
	return v.report(), nil
}
