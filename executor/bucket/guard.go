package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// changedKey prefixes the step value a guard records when it finds an
// original changed: the next attempt of the step (an operator's resume)
// then copies the difference before it checks again.
const changedKey = "changed."

// ResumedAfterChange reports whether an earlier attempt of sc's step found
// bucket changed: this attempt is the operator's resume after that finding,
// which accepts what was written (the guard copies it).
func ResumedAfterChange(sc *executor.StepContext, bucket string) bool {
	return sc.Value(changedKey+bucket) != ""
}

// Guard checks an original bucket against the manifest its copy recorded
// (plan.BucketGuard). Nothing changed: nil. Something did (an object
// added, removed, rewritten, a version or delete marker added): the
// change is recorded in the step's values and returned as an
// *executor.ChangedError, which stops the run before anything is
// destroyed — unless this step already found changes on an earlier
// attempt, which means the operator stopped the writers and resumed: then
// the difference is copied into the guard's copy, the copy is verified
// against the original, a new manifest replaces the old one, and the
// original is checked once more.
func (d *deps) Guard(ctx context.Context, sc *executor.StepContext, g plan.BucketGuard) error {
	key := changedKey + g.Bucket
	if sc.Value(key) != "" && g.Copy != "" {
		if err := d.catchUp(ctx, sc, g); err != nil {
			return err
		}
	}
	ch, err := d.changes(ctx, sc, g)
	if err != nil {
		return err
	}
	if ch.None() {
		if sc.Value(key) != "" {
			return sc.Record(key, "")
		}
		return nil
	}
	if err := sc.Record(key, ch.String()); err != nil {
		return err
	}
	return &executor.ChangedError{Changes: []string{ch.String()}}
}

// changes compares the original with its recorded manifest.
func (d *deps) changes(ctx context.Context, sc *executor.StepContext, g plan.BucketGuard) (Changes, error) {
	r, err := openManifest(ctx, sc, g)
	if err != nil {
		return Changes{}, err
	}
	defer r.Close()
	sc.Report(executor.Progress{Message: fmt.Sprintf("checking that s3://%s still matches what was copied", g.Bucket), Percent: -1})
	return ChangesSince(ctx, d.clients(g.Region), g.Bucket, r)
}

// catchUp copies what changed in the original into the guard's copy,
// verifies the copy and records the original's new manifest. The copy
// must be this run's.
func (d *deps) catchUp(ctx context.Context, sc *executor.StepContext, g plan.BucketGuard) error {
	src, dst := d.clients(g.Region), d.clients(g.CopyRegion)
	tags, err := bucketTags(ctx, dst, g.Copy)
	if err != nil {
		return err
	}
	if tags[executor.RunTagKey] != sc.Lineage() {
		return fmt.Errorf("copy the changes of %s into %s: %s is not this run's bucket (no %s=%s tag)", g.Bucket, g.Copy, g.Copy, executor.RunTagKey, sc.Lineage())
	}
	sc.Report(executor.Progress{Line: fmt.Sprintf("copying what changed in s3://%s since its copy was taken into s3://%s", g.Bucket, g.Copy)})
	m := manifestSpec{bucket: g.Bucket, name: g.Manifest}
	if g.History {
		s := &HistorySyncer{Src: src, Dst: dst, SrcBucket: g.Bucket, DstBucket: g.Copy, RewriteDiverged: true, AbortStaleUploads: true,
			MultipartThreshold: d.opts.MultipartThreshold, PartSize: d.opts.PartSize, Concurrency: d.opts.Concurrency}
		if _, err := RunHistoryStep(ctx, sc, s, d.opts.reportEvery()); err != nil {
			return err
		}
		if err := d.recordManifest(ctx, sc, src, m, nil); err != nil {
			return err
		}
		return VerifyHistoryStep(ctx, sc, src, dst, g.Bucket, g.Copy, g.Objects, time.Time{})
	}
	s := &Syncer{Src: src, Dst: dst, SrcBucket: g.Bucket, DstBucket: g.Copy, Delete: true, AbortStaleUploads: true,
		Concurrency: d.opts.Concurrency, ListParallel: d.opts.ListParallel, MultipartThreshold: d.opts.MultipartThreshold, PartSize: d.opts.PartSize}
	if err := d.recordManifest(ctx, sc, src, m, s); err != nil {
		return err
	}
	return d.verify(ctx, sc, g.Bucket, g.Copy, g.Region, g.CopyRegion, g.Objects, nil)
}

// manifestSpec names the bucket a manifest is of and its blob.
type manifestSpec struct{ bucket, name string }

// recordManifest writes the manifest of m.bucket into its blob. With a
// Syncer, the sync runs and its own listing of the source is the manifest
// (for a bucket that never had versioning: current objects); otherwise, or
// for a bucket with versions, the bucket is listed again (every version and
// delete marker) once the sync is done. The blob replaces the previous one
// only when the manifest is complete.
func (d *deps) recordManifest(ctx context.Context, sc *executor.StepContext, api ManifestAPI, m manifestSpec, s *Syncer) error {
	versions, err := HasVersions(ctx, api, m.bucket)
	if err != nil {
		return err
	}
	w, err := sc.CreateBlob(ctx, m.name)
	if err != nil {
		return fmt.Errorf("record the manifest of %s: %w", m.bucket, err)
	}
	var sum ManifestSummary
	switch {
	case s != nil && !versions:
		s.SourceManifest = w
		var res Result
		res, err = d.runSync(ctx, sc, s)
		sum = res.SourceManifest
	case s != nil:
		if _, err = d.runSync(ctx, sc, s); err == nil {
			sum, err = TakeManifest(ctx, api, m.bucket, w)
		}
	default:
		sum, err = TakeManifest(ctx, api, m.bucket, w)
	}
	if err != nil {
		_ = w.Abort()
		return err
	}
	if err := w.Close(); err != nil {
		return fmt.Errorf("record the manifest of %s: %w", m.bucket, err)
	}
	return errors.Join(
		sc.Record("manifest_sha256", sum.SHA256),
		sc.Record("manifest_entries", fmt.Sprint(sum.Entries)),
	)
}

// openManifest opens a guard's manifest for a copy or an emptying that
// must not destroy what changed since.
func openManifest(ctx context.Context, sc *executor.StepContext, g plan.BucketGuard) (io.ReadCloser, error) {
	r, err := sc.OpenBlob(ctx, g.Run, g.Manifest)
	if err != nil {
		return nil, fmt.Errorf("read the manifest of %s recorded when it was copied: %w", g.Bucket, err)
	}
	return r, nil
}

// Guards checks originals against the manifests their copies recorded,
// for steps outside this package (verify.frozen, the point of no return).
type Guards struct{ *deps }

// NewGuards returns the guards over clients.
func NewGuards(clients Clients, opts Options) Guards {
	return Guards{&deps{clients: clients, opts: opts}}
}

// WrittenSince reads a guard's manifest and counts its entries modified at
// or after t (S3 times objects to the second): objects written after the
// standby began but before the copy listed them. The copy holds them, but
// their writer was not switched off.
func WrittenSince(ctx context.Context, sc *executor.StepContext, g plan.BucketGuard, t time.Time) (n int64, first []string, err error) {
	r, err := openManifest(ctx, sc, g)
	if err != nil {
		return 0, nil, err
	}
	defer r.Close()
	m, err := OpenManifest(r)
	if err != nil {
		return 0, nil, fmt.Errorf("read the manifest of %s: %w", g.Bucket, err)
	}
	for {
		e, err := m.Next()
		if errors.Is(err, io.EOF) {
			return n, first, nil
		}
		if err != nil {
			return n, first, fmt.Errorf("read the manifest of %s: %w", g.Bucket, err)
		}
		if !e.LastModified.Before(t) {
			n++
			if len(first) < 5 {
				first = append(first, e.Key)
			}
		}
	}
}
