package bucket

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// CopyHandler runs BucketCopy. A copy into a bucket of the run syncs the
// source into it (deleting what the source lacks); with History it copies
// every version and delete marker. With Manifest it records the source's
// manifest as the copy saw it: what the freeze checks compare the original
// with. A copy into an original (CopyFinal with a Guard) first checks the
// original against its manifest, then never overwrites, deletes or
// re-creates an object that changed since: such objects are kept, counted
// and named. A copy into a bucket the run re-created under an original's
// name deletes nothing. Running it again copies only what is still missing
// or different: it is idempotent and resumable by nature.
type CopyHandler struct{ *deps }

func (h *CopyHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.BucketCopyParams](sc)
	if err == nil {
		err = required(sc, "source", p.Source, "destination", p.Destination)
	}
	if err != nil {
		return err
	}
	srcAPI := h.clients(h.region(ctx, sc, p.Source))
	dstAPI := brokenCopy(h.clients(h.region(ctx, sc, p.Destination)))
	if p.Guard != nil {
		if p.Guard.Bucket != p.Destination {
			return fmt.Errorf("step %s guards %s but copies into %s: the plan is malformed", sc.Step.ID, p.Guard.Bucket, p.Destination)
		}
		if err := h.Guard(ctx, sc, *p.Guard); err != nil {
			return err
		}
	}
	// Only into a bucket this run created may stale uploads be aborted and
	// a diverged history be rewritten.
	tags, err := bucketTags(ctx, dstAPI, p.Destination)
	if err != nil {
		return err
	}
	own := tags[executor.RunTagKey] == sc.Lineage() && p.Mode != plan.CopyFinal
	m := manifestSpec{bucket: p.Source, name: plan.ManifestName(p.Source)}
	if p.AsOfStep != "" {
		at, err := asOfTime(sc, p.AsOfStep)
		if err != nil {
			return err
		}
		expected, _ := strconv.ParseInt(observedAttr(sc, p.Source, "objects"), 10, 64)
		s := &AsOfSyncer{Src: srcAPI, Dst: dstAPI, SrcBucket: p.Source, DstBucket: p.Destination, At: at,
			Concurrency: h.opts.Concurrency, ListParallel: h.opts.ListParallel,
			MultipartThreshold: h.opts.MultipartThreshold, PartSize: h.opts.PartSize,
			Delete: own, AbortStaleUploads: own, ExpectedObjects: expected}
		_, err = RunAsOfStep(ctx, sc, s, h.opts.reportEvery())
		return err
	}
	if p.History {
		s := &HistorySyncer{Src: srcAPI, Dst: dstAPI, SrcBucket: p.Source, DstBucket: p.Destination,
			RewriteDiverged: own, AbortStaleUploads: own,
			Concurrency: h.opts.Concurrency, MultipartThreshold: h.opts.MultipartThreshold, PartSize: h.opts.PartSize}
		if _, err := RunHistoryStep(ctx, sc, s, h.opts.reportEvery()); err != nil {
			return err
		}
		if p.Manifest {
			return h.recordManifest(ctx, sc, srcAPI, m, nil)
		}
		return nil
	}
	expected, _ := strconv.ParseInt(observedAttr(sc, p.Source, "objects"), 10, 64)
	s := &Syncer{
		Src: srcAPI, Dst: dstAPI, SrcBucket: p.Source, DstBucket: p.Destination,
		Concurrency: h.opts.Concurrency, ListParallel: h.opts.ListParallel,
		MultipartThreshold: h.opts.MultipartThreshold, PartSize: h.opts.PartSize,
		// A bucket re-created under an original's name holds only what
		// this copy puts there, and perhaps a straggler's write: never
		// delete in it.
		Delete:            p.Mode != plan.CopyFinal || p.Guard != nil,
		CompareChecksums:  strings.HasPrefix(observedAttr(sc, p.Source, "encryption"), "aws:kms"),
		AbortStaleUploads: own,
		ExpectedObjects:   expected,
	}
	if p.Guard != nil {
		r, err := openManifest(ctx, sc, *p.Guard)
		if err != nil {
			return err
		}
		defer r.Close()
		s.Protect = r
	}
	if p.Manifest {
		return h.recordManifest(ctx, sc, srcAPI, m, s)
	}
	_, err = h.runSync(ctx, sc, s)
	return err
}

func (h *CopyHandler) Revert(context.Context, *executor.StepContext) error { return nil }

// runSync runs s, reporting its progress, and records what it did; objects
// a protected copy kept are recorded and named.
func (d *deps) runSync(ctx context.Context, sc *executor.StepContext, s *Syncer) (Result, error) {
	if s.Progress == nil {
		s.Progress = &Progress{}
	}
	s.Progress.Start(sc.Now(), s.ExpectedObjects)
	title := fmt.Sprintf("copying s3://%s to s3://%s", s.SrcBucket, s.DstBucket)
	var res Result
	err := reportWhile(sc, s.Progress, d.opts.reportEvery(), title, "objects", func() error {
		var err error
		res, err = s.Run(ctx)
		return err
	})
	reportUnencrypted(sc, res.UnencryptedDestination, s.DstBucket)
	if rerr := recordResult(sc, res); err == nil {
		err = rerr
	}
	for i, k := range res.KeptKeys {
		if i == shownKept {
			sc.Report(executor.Progress{Line: fmt.Sprintf("... and %d more kept in s3://%s", res.Kept-shownKept, s.DstBucket)})
			break
		}
		sc.Report(executor.Progress{Line: fmt.Sprintf("kept s3://%s/%s: it changed after the copy was verified, so it was neither overwritten nor deleted", s.DstBucket, k)})
	}
	return res, err
}

// reportUnencrypted says, when a copy found that its destination's server
// keeps no server-side encryption, that its objects were copied without
// reading theirs.
func reportUnencrypted(sc *executor.StepContext, unencrypted bool, bucket string) {
	if unencrypted {
		sc.Report(executor.Progress{Line: fmt.Sprintf("s3://%s keeps no server-side encryption (its server answered a request for SSE-S3 without any): objects were copied without reading their encryption, which it could not keep", bucket)})
	}
}

// shownKept is how many kept objects a copy names in its output.
const shownKept = 10

// KeyKept and KeyKeptKeys are the values a protected copy records: how
// many objects it kept, and the first MaxKeptKeys of them, newline-joined.
const (
	KeyKept     = "kept"
	KeyKeptKeys = "kept_keys"
)

func recordResult(sc *executor.StepContext, r Result) error {
	for _, kv := range [][2]string{
		{"copied", strconv.FormatInt(r.Copied, 10)},
		{"copied_bytes", strconv.FormatInt(r.CopiedBytes, 10)},
		{"skipped", strconv.FormatInt(r.Skipped, 10)},
		{"deleted", strconv.FormatInt(r.Deleted, 10)},
		{"vanished", strconv.FormatInt(r.Vanished, 10)},
	} {
		if err := sc.Record(kv[0], kv[1]); err != nil {
			return err
		}
	}
	if r.Kept > 0 || sc.Value(KeyKept) != "" {
		if err := sc.Record(KeyKept, strconv.FormatInt(r.Kept, 10)); err != nil {
			return err
		}
		return sc.Record(KeyKeptKeys, strings.Join(r.KeptKeys, "\n"))
	}
	return nil
}

func (o Options) reportEvery() time.Duration {
	if o.ReportEvery > 0 {
		return o.ReportEvery
	}
	return time.Second
}

// asOfTime reads the moment a copy is made as of: the creation time the
// snapshot step recorded.
func asOfTime(sc *executor.StepContext, step string) (time.Time, error) {
	v := sc.StepValue(step, "snapshot_time")
	if v == "" {
		return time.Time{}, fmt.Errorf("step %s copies as of the snapshot of step %s, which recorded no snapshot time: run that step first (envmig resume)", sc.Step.ID, step)
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		return time.Time{}, fmt.Errorf("step %s: the snapshot time %q of step %s: %w", sc.Step.ID, v, step, err)
	}
	return t, nil
}
