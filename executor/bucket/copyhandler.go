package bucket

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// CopyHandler runs BucketCopy: a Syncer from source to destination that
// deletes what the source lacks. Running it again copies only what is
// missing or different, so it is idempotent and resumable by nature.
type CopyHandler struct{ *deps }

func (h *CopyHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.BucketCopyParams](sc)
	if err == nil {
		err = required(sc, "source", p.Source, "destination", p.Destination)
	}
	if err != nil {
		return err
	}
	src, dst := p.Source, p.Destination
	srcAPI := h.clients(h.region(ctx, sc, src))
	dstAPI := h.clients(h.region(ctx, sc, dst))
	// Only a bucket this run created may have stale uploads of ours, and
	// only there may all of them be aborted.
	tags, err := bucketTags(ctx, dstAPI, dst)
	if err != nil {
		return err
	}
	expected, _ := strconv.ParseInt(observedAttr(sc, src, "objects"), 10, 64)
	prog := &Progress{}
	prog.Start(sc.Now(), expected)
	s := &Syncer{
		Src: srcAPI, Dst: dstAPI, SrcBucket: src, DstBucket: dst,
		Concurrency: h.opts.Concurrency, ListParallel: h.opts.ListParallel,
		MultipartThreshold: h.opts.MultipartThreshold, PartSize: h.opts.PartSize,
		PreserveEncryption: h.opts.PreserveEncryption,
		Delete:             true,
		CompareChecksums:   strings.HasPrefix(observedAttr(sc, src, "encryption"), "aws:kms"),
		AbortStaleUploads:  tags[executor.RunTagKey] == sc.Lineage(),
		Progress:           prog,
		ExpectedObjects:    expected,
	}
	every := h.opts.ReportEvery
	if every <= 0 {
		every = time.Second
	}
	// The reporter is the only goroutine that touches sc while the copy
	// runs; workers only count.
	stop := make(chan struct{})
	reported := make(chan bool)
	go func() {
		accepted := false
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				reported <- accepted
				return
			case <-t.C:
				snap := prog.Snapshot(sc.Now())
				if !accepted && snap.Copied > 0 {
					sc.Accepted()
					accepted = true
				}
				sc.Report(progressOf(src, dst, snap))
			}
		}
	}()
	res, err := s.Run(ctx)
	close(stop)
	accepted := <-reported
	if !accepted && res.Copied > 0 {
		sc.Accepted()
	}
	sc.Report(progressOf(src, dst, prog.Snapshot(sc.Now())))
	if rerr := recordResult(sc, res); err == nil {
		err = rerr
	}
	return err
}

func (h *CopyHandler) Revert(context.Context, *executor.StepContext) error { return nil }

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
	return nil
}

// progressOf renders a snapshot for the executor's reporter.
func progressOf(src, dst string, s Snapshot) executor.Progress {
	p := executor.Progress{
		Objects: s.Copied + s.Skipped, ObjectsTotal: s.Total,
		Bytes: s.CopiedBytes + s.SkippedBytes, Percent: -1,
	}
	if s.Total > 0 {
		p.Percent = min(100, 100*float64(p.Objects)/float64(s.Total))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "copying s3://%s to s3://%s: %s objects examined", src, dst, humanize.Comma(p.Objects))
	if s.Total > 0 {
		fmt.Fprintf(&b, " of %s", humanize.Comma(s.Total))
	}
	fmt.Fprintf(&b, ", %s copied (%s), %.0f objects/s, %.1f MiB/s",
		humanize.Comma(s.Copied), humanize.IBytes(uint64(s.CopiedBytes)), s.ObjectsPerSec, s.MiBPerSec)
	if s.Deleted > 0 {
		fmt.Fprintf(&b, ", %s deleted", humanize.Comma(s.Deleted))
	}
	if s.ETA >= 0 {
		fmt.Fprintf(&b, ", ETA %s", s.ETA.Round(time.Second))
	}
	p.Message = b.String()
	return p
}
