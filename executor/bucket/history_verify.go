package bucket

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
)

// DiffHistory is a key whose histories differ in their number of entries
// or in the kind (version or delete marker) of an entry.
const DiffHistory = "history"

// HistoryReader is what verifying histories needs of either bucket.
type HistoryReader interface {
	VersionLister
	Header
	Getter
}

// HistoryReport is a history verification's outcome. Report.Objects and
// Report.Bytes count the source's entries and the bytes of its versions;
// a key has at most one difference found by listing, plus one per entry
// that a HEAD or a read found different.
type HistoryReport struct {
	Report
	// Keys, Versions and DeleteMarkers are the source's.
	Keys, Versions, DeleteMarkers int64
}

// VerifyHistory compares the histories of every key of two versioned
// buckets at level (LevelCount ... LevelContent, as Verify's): the same
// keys, and for each key the same sequence of entries, oldest first, of the
// same kinds and sizes and, from LevelETag on, the same identity (ETags of
// one layout by listing; from LevelChecksum, stored checksums of each
// version by HEAD where both carry one algorithm; at LevelContent, both
// bodies where nothing else decides: SSE-KMS versions without checksums,
// whose ETags differ per copy). Version IDs and times are not compared.
// With upTo set, only the source's entries written at or before it are
// expected (a history copied as of that moment). It never changes
// anything.
func VerifyHistory(ctx context.Context, src, dst HistoryReader, srcBucket, dstBucket, level string, upTo time.Time) (HistoryReport, error) {
	if err := checkLevel(dstBucket, level); err != nil {
		return HistoryReport{}, err
	}
	v := newPairVerifier(src, dst, level)
	var rep HistoryReport
	err := v.run(ctx, func(ctx context.Context, checks chan<- versionPair) error {
		srcPages := make(chan []History, pageBuffer)
		dstPages := make(chan []History, pageBuffer)
		g, gctx := errgroup.WithContext(ctx)
		g.Go(func() error { return ListHistories(gctx, src, srcBucket, srcPages) })
		g.Go(func() error { return ListHistories(gctx, dst, dstBucket, dstPages) })
		g.Go(func() error {
			return joinByKey(gctx, srcPages, dstPages, historyKey, historyKey, func(sh, dh *History) error {
				var se, de []VersionEntry
				key := ""
				if sh != nil {
					key, se = sh.Key, until(sh.Entries, upTo)
				}
				if dh != nil {
					key, de = dh.Key, dh.Entries
				}
				if len(se) > 0 {
					rep.Keys++
				}
				for _, e := range se {
					rep.Objects++
					if e.DeleteMarker {
						rep.DeleteMarkers++
						continue
					}
					rep.Versions++
					rep.Bytes += e.Size
				}
				for _, p := range v.compareHistories(srcBucket, dstBucket, key, se, de) {
					if !send(gctx, checks, p) {
						return gctx.Err()
					}
				}
				return nil
			})
		})
		return g.Wait()
	})
	if err != nil {
		return HistoryReport{}, fmt.Errorf("verify the history of s3://%s against s3://%s: %w", dstBucket, srcBucket, err)
	}
	v.rep.Objects, v.rep.Bytes = rep.Objects, rep.Bytes
	rep.Report = v.report()
	return rep, nil
}

// compareHistories records what the listings decide of one key and returns
// the pairs a HEAD or a read must decide.
func (v *pairVerifier) compareHistories(srcBucket, dstBucket, key string, se, de []VersionEntry) []versionPair {
	switch {
	case len(se) == 0 && len(de) == 0:
		return nil
	case len(de) == 0:
		v.add(Difference{Key: key, Kind: DiffMissing, Detail: fmt.Sprintf("%d entries", len(se))})
		return nil
	case len(se) == 0:
		v.add(Difference{Key: key, Kind: DiffExtra, Detail: fmt.Sprintf("%d entries", len(de))})
		return nil
	}
	var checks []versionPair
	for i := range min(len(se), len(de)) {
		a, b := se[i], de[i]
		label := fmt.Sprintf("entry %d of %d", i+1, len(se))
		if a.DeleteMarker != b.DeleteMarker {
			v.add(Difference{Key: key, Kind: DiffHistory, Detail: fmt.Sprintf("%s: a %s, copy has a %s", label, a.kind(), b.kind())})
			return nil
		}
		if a.DeleteMarker {
			continue
		}
		p := versionPair{
			s: versionRef{srcBucket, key, a.VersionID}, d: versionRef{dstBucket, key, b.VersionID},
			so: a.object(key), do: b.object(key), label: label,
		}
		kind, detail, check := judgeVersions(v.level, p.so, p.do)
		if kind != "" {
			v.add(Difference{Key: key, Kind: kind, Detail: label + ": " + detail})
			return nil
		}
		if check {
			checks = append(checks, p)
		}
	}
	if len(se) != len(de) {
		v.add(Difference{Key: key, Kind: DiffHistory, Detail: fmt.Sprintf("%d entries, copy has %d", len(se), len(de))})
		return nil
	}
	return checks
}

func checkLevel(bucket, level string) error {
	switch level {
	case LevelCount, LevelETag, LevelChecksum, LevelContent:
		return nil
	}
	return fmt.Errorf("verify %s: unknown level %q (count, etag, checksum or content)", bucket, level)
}

// judgeVersions decides a pair of versions by listing at level: a
// difference (kind and detail), or check when a HEAD or a read must
// decide, or neither when they match.
func judgeVersions(level string, so, do Object) (kind, detail string, check bool) {
	if so.Size != do.Size {
		return DiffSize, fmt.Sprintf("%d bytes, copy has %d", so.Size, do.Size), false
	}
	if level == LevelCount {
		return "", "", false
	}
	// A HEAD decides what the ETags cannot: stored checksums of one
	// algorithm, or (content) both bodies.
	byHead := level == LevelContent || (level == LevelChecksum && sameChecksumAlgorithm(so, do))
	switch Compare(so, do) {
	case Same:
		return "", "", false
	case Different:
		if byHead {
			return "", "", true // SSE-KMS ETags differ per copy
		}
		return DiffIdentity, fmt.Sprintf("ETag %s, copy has %s", so.ETag, do.ETag), false
	}
	if byHead {
		return "", "", true
	}
	return DiffUnverifiable, fmt.Sprintf("ETag %s, copy has %s: part layouts differ and no stored checksums; verify with objects = \"content\"", so.ETag, do.ETag), false
}

// versionPair is one source version and the destination version (or
// current object) that must match it.
type versionPair struct {
	s, d   versionRef
	so, do Object
	label  string // where in the history, or ""
}

// pairVerifier collects differences and decides pairs by HEAD or read,
// verifyConcurrency at a time.
type pairVerifier struct {
	prover  prover
	level   string
	mu      sync.Mutex
	rep     Report
	checked atomic.Int64
}

func newPairVerifier(src, dst interface {
	Header
	Getter
}, level string) *pairVerifier {
	return &pairVerifier{prover: prover{src: src, dst: dst, content: level == LevelContent}, level: level, rep: Report{Level: level}}
}

func (v *pairVerifier) add(d Difference) {
	v.mu.Lock()
	v.rep.Count++
	if len(v.rep.Differences) < MaxDifferences {
		v.rep.Differences = append(v.rep.Differences, d)
	}
	v.mu.Unlock()
}

// run calls produce, which sends the pairs to decide, and decides them.
func (v *pairVerifier) run(ctx context.Context, produce func(context.Context, chan<- versionPair) error) error {
	g, gctx := errgroup.WithContext(ctx)
	checks := make(chan versionPair, verifyConcurrency)
	g.Go(func() error {
		defer close(checks)
		return produce(gctx, checks)
	})
	for range verifyConcurrency {
		g.Go(func() error {
			for p := range checks {
				if err := v.check(gctx, p); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func (v *pairVerifier) check(ctx context.Context, p versionPair) error {
	v.checked.Add(1)
	id, why, err := v.prover.prove(ctx, p.s, p.d, p.so, p.do)
	if err != nil {
		return err
	}
	label := ""
	if p.label != "" {
		label = p.label + ": "
	}
	switch {
	case id == Same, id == Undecided && Compare(p.so, p.do) == Same:
	case id == Different:
		v.add(Difference{Key: p.s.key, Kind: DiffIdentity, Detail: label + why})
	default:
		v.add(Difference{Key: p.s.key, Kind: DiffUnverifiable, Detail: label + why + "; verify with objects = \"content\""})
	}
	return nil
}

// report returns the differences sorted by key.
func (v *pairVerifier) report() Report {
	v.rep.Checked = v.checked.Load()
	sort.SliceStable(v.rep.Differences, func(i, j int) bool { return v.rep.Differences[i].Key < v.rep.Differences[j].Key })
	return v.rep
}
