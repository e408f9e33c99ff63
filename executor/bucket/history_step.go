package bucket

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"

	"github.com/envmig/envmig/executor"
)

// The step cores below run the history and as-of engines for a bucket.copy
// or verify.bucket step: they report progress through sc, call
// sc.Accepted once something was written, and record what they did. They
// take the engine already configured (clients, buckets, options), so the
// step handlers only read the step's parameters. Each is as idempotent as
// its engine: run again, it copies only what is still missing.

// RunHistoryStep runs s, reporting progress every `every` (1s when 0),
// and records copied, copied_bytes, markers, skipped, rewritten, deleted
// and vanished.
func RunHistoryStep(ctx context.Context, sc *executor.StepContext, s *HistorySyncer, every time.Duration) (HistoryResult, error) {
	if s.Progress == nil {
		s.Progress = &Progress{}
	}
	s.Progress.Start(sc.Now(), s.ExpectedEntries)
	title := fmt.Sprintf("copying the history of s3://%s to s3://%s", s.SrcBucket, s.DstBucket)
	var res HistoryResult
	err := reportWhile(sc, s.Progress, every, title, "entries", func() error {
		var err error
		res, err = s.Run(ctx)
		return err
	})
	reportUnencrypted(sc, res.UnencryptedDestination, s.DstBucket)
	if rerr := recordCounts(sc, map[string]int64{
		"copied": res.Copied, "copied_bytes": res.CopiedBytes, "markers": res.Markers, "skipped": res.Skipped,
		"rewritten": res.Rewritten, "deleted": res.Deleted, "vanished": res.Vanished,
	}); err == nil {
		err = rerr
	}
	return res, err
}

// RunAsOfStep runs s, reporting progress every `every` (1s when 0), and
// records copied, copied_bytes, skipped, deleted and vanished.
func RunAsOfStep(ctx context.Context, sc *executor.StepContext, s *AsOfSyncer, every time.Duration) (Result, error) {
	if s.Progress == nil {
		s.Progress = &Progress{}
	}
	s.Progress.Start(sc.Now(), s.ExpectedObjects)
	title := fmt.Sprintf("copying s3://%s as of %s to s3://%s", s.SrcBucket, s.At.UTC().Format(time.RFC3339), s.DstBucket)
	var res Result
	err := reportWhile(sc, s.Progress, every, title, "objects", func() error {
		var err error
		res, err = s.Run(ctx)
		return err
	})
	reportUnencrypted(sc, res.UnencryptedDestination, s.DstBucket)
	if rerr := recordCounts(sc, map[string]int64{
		"copied": res.Copied, "copied_bytes": res.CopiedBytes, "skipped": res.Skipped,
		"deleted": res.Deleted, "vanished": res.Vanished,
	}); err == nil {
		err = rerr
	}
	return res, err
}

// VerifyHistoryStep runs VerifyHistory, records objects (source entries)
// and differences, and fails naming the first differences.
func VerifyHistoryStep(ctx context.Context, sc *executor.StepContext, src, dst HistoryReader, srcBucket, dstBucket, level string, upTo time.Time) error {
	sc.Report(executor.Progress{Message: fmt.Sprintf("comparing the history of s3://%s with s3://%s (%s)", dstBucket, srcBucket, level), Percent: -1})
	rep, err := VerifyHistory(ctx, src, dst, srcBucket, dstBucket, level, upTo)
	if err != nil {
		return err
	}
	return verdict(sc, rep.Report, fmt.Sprintf("the history of s3://%s does not match s3://%s's: %d differences in %d keys' %d entries (objects = %q)", dstBucket, srcBucket, rep.Count, rep.Keys, rep.Objects, level))
}

// VerifyAsOfStep runs VerifyAsOf, records objects and differences, and
// fails naming the first differences.
func VerifyAsOfStep(ctx context.Context, sc *executor.StepContext, src HistoryReader, dst DestAPI, srcBucket, dstBucket string, at time.Time, level string) error {
	when := at.UTC().Format(time.RFC3339)
	sc.Report(executor.Progress{Message: fmt.Sprintf("comparing s3://%s with s3://%s as of %s (%s)", dstBucket, srcBucket, when, level), Percent: -1})
	rep, err := VerifyAsOf(ctx, src, dst, srcBucket, dstBucket, at, level)
	if err != nil {
		return err
	}
	return verdict(sc, rep, fmt.Sprintf("s3://%s does not match s3://%s as of %s: %d of %d objects differ (objects = %q)", dstBucket, srcBucket, when, rep.Count, rep.Objects, level))
}

func verdict(sc *executor.StepContext, rep Report, headline string) error {
	if err := recordCounts(sc, map[string]int64{"objects": rep.Objects, "differences": rep.Count}); err != nil {
		return err
	}
	if rep.OK() {
		return nil
	}
	var b strings.Builder
	b.WriteString(headline)
	for i, d := range rep.Differences {
		if i == shownDifferences {
			fmt.Fprintf(&b, "\n  ... and %d more", rep.Count-shownDifferences)
			break
		}
		fmt.Fprintf(&b, "\n  %s", d)
	}
	return errors.New(b.String())
}

func recordCounts(sc *executor.StepContext, counts map[string]int64) error {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []error
	for _, k := range keys {
		errs = append(errs, sc.Record(k, strconv.FormatInt(counts[k], 10)))
	}
	return errors.Join(errs...)
}

// reportWhile runs run while one goroutine, the only one touching sc,
// reports prog every `every` and calls sc.Accepted once something was
// written (run's workers only count).
func reportWhile(sc *executor.StepContext, prog *Progress, every time.Duration, title, unit string, run func() error) error {
	if every <= 0 {
		every = time.Second
	}
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
				if !accepted && snap.Copied+snap.Deleted > 0 {
					sc.Accepted()
					accepted = true
				}
				sc.Report(copyProgress(title, unit, snap))
			}
		}
	}()
	err := run()
	close(stop)
	snap := prog.Snapshot(sc.Now())
	if accepted := <-reported; !accepted && snap.Copied+snap.Deleted > 0 {
		sc.Accepted()
	}
	sc.Report(copyProgress(title, unit, snap))
	return err
}

// copyProgress renders a snapshot for the executor's reporter.
func copyProgress(title, unit string, s Snapshot) executor.Progress {
	p := executor.Progress{
		Objects: s.Copied + s.Skipped, ObjectsTotal: s.Total,
		Bytes: s.CopiedBytes + s.SkippedBytes, Percent: -1,
	}
	if s.Total > 0 {
		p.Percent = min(100, 100*float64(p.Objects)/float64(s.Total))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s %s examined", title, humanize.Comma(s.Scanned), unit)
	if s.Total > 0 && !s.ListingDone {
		fmt.Fprintf(&b, " of ~%s", humanize.Comma(s.Total))
	}
	fmt.Fprintf(&b, ", %s copied (%s), %.0f %s/s", humanize.Comma(s.Copied), humanize.IBytes(uint64(s.CopiedBytes)), s.ObjectsPerSec, unit)
	if s.Deleted > 0 {
		fmt.Fprintf(&b, ", %s deleted", humanize.Comma(s.Deleted))
	}
	if s.ETA >= 0 {
		fmt.Fprintf(&b, ", ETA %s", s.ETA.Round(time.Second))
	}
	p.Message = b.String()
	return p
}
