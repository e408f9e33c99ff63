package bucket

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/envmig/envmig/planner/live"
)

// listedIDs lists bucket's histories as version IDs, oldest first.
func listedIDs(t interface {
	Helper()
	Fatal(...any)
	Fatalf(string, ...any)
}, api VersionLister, bucket string) map[string][]string {
	t.Helper()
	out := make(chan []History, 1)
	errc := make(chan error, 1)
	go func() { errc <- ListHistories(context.Background(), api, bucket, out) }()
	got := map[string][]string{}
	last := ""
	for batch := range out {
		for _, h := range batch {
			if h.Key <= last && last != "" {
				t.Fatalf("history of %q sent after %q", h.Key, last)
			}
			last = h.Key
			for _, e := range h.Entries {
				got[h.Key] = append(got[h.Key], e.VersionID)
			}
		}
	}
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	return got
}

func (s *versionedStub) ids(bucket string) map[string][]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string][]string{}
	for k, es := range s.buckets[bucket].keys {
		for _, e := range es {
			out[k] = append(out[k], e.id)
		}
	}
	return out
}

// TestListHistoriesOrderProperty: whatever the writes, their timing within
// one second and the page size, ListHistories gives every key's entries
// in the order they were written.
func TestListHistoriesOrderProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := newVersionedStub("b")
		s.pageSize = rapid.IntRange(1, 6).Draw(rt, "page")
		keys := rapid.SliceOfNDistinct(rapid.StringMatching(`[ab/é]{1,3}`), 1, 4, rapid.ID[string]).Draw(rt, "keys")
		writes := rapid.IntRange(1, 25).Draw(rt, "writes")
		for i := range writes {
			k := rapid.SampledFrom(keys).Draw(rt, fmt.Sprint("key", i))
			s.now = s.now.Add(rapid.SampledFrom([]time.Duration{0, 0, 300 * time.Millisecond, time.Second}).Draw(rt, fmt.Sprint("gap", i)))
			if rapid.Bool().Draw(rt, fmt.Sprint("marker", i)) {
				s.del("b", k)
			} else {
				s.put("b", k, []byte(fmt.Sprint(i)))
			}
		}
		if diff := cmp.Diff(s.ids("b"), listedIDs(rt, s, "b")); diff != "" {
			rt.Fatalf("histories (-written +listed):\n%s", diff)
		}
	})
}

// TestSameSecondTieAtTheTopNeedsNoQuery: a version and the delete marker
// that followed it within one second are ordered by IsLatest alone.
func TestSameSecondTieAtTheTopNeedsNoQuery(t *testing.T) {
	s := newVersionedStub("b")
	v := s.put("b", "k", []byte("x"))
	m := s.del("b", "k")
	if diff := cmp.Diff(map[string][]string{"k": {v, m}}, listedIDs(t, s, "b")); diff != "" {
		t.Error(diff)
	}
	if n := s.count("ListObjectVersions"); n != 1 {
		t.Errorf("%d listings, want the page alone", n)
	}
}

// TestSameSecondTieInTheMiddleAsksTheServer: a marker between two versions
// of one second is placed by one listing that starts after it.
func TestSameSecondTieInTheMiddleAsksTheServer(t *testing.T) {
	s := newVersionedStub("b")
	v1 := s.put("b", "k", []byte("1"))
	m := s.del("b", "k")
	v2 := s.put("b", "k", []byte("2"))
	v3 := s.put("b", "k", []byte("3"))
	if diff := cmp.Diff(map[string][]string{"k": {v1, m, v2, v3}}, listedIDs(t, s, "b")); diff != "" {
		t.Error(diff)
	}
	if n := s.count("ListObjectVersions"); n != 2 {
		t.Errorf("%d listings, want the page and one query", n)
	}
}

func TestHistoryListingRefusesTimeGoingForward(t *testing.T) {
	s := newVersionedStub("b")
	s.put("b", "k", []byte("1"))
	s.now = s.now.Add(-time.Hour) // a clock that goes back: listed older first
	s.put("b", "k", []byte("2"))
	out := make(chan []History, 4)
	err := ListHistories(context.Background(), s, "b", out)
	if err == nil || !strings.Contains(err.Error(), "refusing to order") {
		t.Fatalf("err = %v, want a refusal", err)
	}
}

// richSource fills bucket "src" with several keys' histories.
func richSource(s *versionedStub) {
	s.tick = 400 * time.Millisecond
	s.put("src", "a", []byte("a1"))
	s.put("src", "a", []byte("a2 longer"))
	s.del("src", "a") // deleted, latest
	s.put("src", "b", []byte("b1"))
	s.del("src", "b")
	s.put("src", "b", []byte("b2")) // marker in the middle
	s.del("src", "c")               // a lone marker
	s.put("src", "d d+%", []byte("d1"))
	s.putMultipart("src", "mp", []byte(strings.Repeat("m", 50)), 20, 20, 10)
	s.put("src", "mp", []byte("small now"))
}

func TestHistorySyncCopiesHistoryThenOnlyTheTail(t *testing.T) {
	s := newVersionedStub("src", "dst")
	richSource(s)
	sy := &HistorySyncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Concurrency: 4, MultipartThreshold: 30, PartSize: 30}
	res, err := sy.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.history("src"), s.history("dst")); diff != "" {
		t.Fatalf("histories (-src +dst):\n%s", diff)
	}
	if res.Copied != 7 || res.Markers != 3 || res.Keys != 5 || res.Scanned != 10 {
		t.Errorf("result %+v, want 7 versions and 3 markers of 5 keys", res)
	}
	if s.openUploads() != 0 {
		t.Error("unfinished uploads left")
	}
	writes := func() int {
		return s.count("CopyObject") + s.count("DeleteObject") + s.count("CompleteMultipartUpload")
	}
	before := writes()
	res, err = sy.Run(context.Background())
	if err != nil || writes() != before || res.Skipped != 10 {
		t.Fatalf("second run: %+v, %v, %d writes; want nothing copied", res, err, writes()-before)
	}
	s.put("src", "a", []byte("a3"))
	s.del("src", "d d+%")
	res, err = sy.Run(context.Background())
	if err != nil || res.Copied != 1 || res.Markers != 1 || writes()-before != 2 {
		t.Fatalf("delta run: %+v, %v, %d writes; want exactly the new version and marker", res, err, writes()-before)
	}
	if diff := cmp.Diff(s.history("src"), s.history("dst")); diff != "" {
		t.Errorf("histories after the delta (-src +dst):\n%s", diff)
	}
	rep, err := VerifyHistory(context.Background(), s, s, "src", "dst", LevelETag, time.Time{})
	if err != nil || !rep.OK() || rep.Keys != 5 || rep.Objects != 12 || rep.DeleteMarkers != 4 {
		t.Errorf("verify = %+v, %v", rep, err)
	}
}

func TestHistorySyncResumesAfterCancel(t *testing.T) {
	s := newVersionedStub("src", "dst")
	for i := range 40 {
		k := fmt.Sprintf("k%02d", i%8)
		if i%5 == 4 {
			s.del("src", k)
		} else {
			s.put("src", k, []byte(fmt.Sprint("body ", i)))
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	s.fault = func(op, key string) error {
		if (op == "CopyObject" || op == "DeleteObject") && s.count("CopyObject")+s.count("DeleteObject") > 15 {
			once.Do(cancel)
			return context.Canceled
		}
		return nil
	}
	if _, err := (&HistorySyncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Concurrency: 4}).Run(ctx); err == nil {
		t.Fatal("the cancelled run reported success")
	}
	copied := len(strings.Fields(strings.Join(values(s.history("dst")), " ")))
	if copied == 0 || copied >= 40 {
		t.Fatalf("%d entries copied before the kill; the test needs a partial copy", copied)
	}
	s.fault = nil
	res, err := (&HistorySyncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Concurrency: 4}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got := res.Copied + res.Markers; got != int64(40-copied) || res.Skipped != int64(copied) {
		t.Errorf("resumed run wrote %d and skipped %d; want %d and %d", got, res.Skipped, 40-copied, copied)
	}
	if diff := cmp.Diff(s.history("src"), s.history("dst")); diff != "" {
		t.Errorf("histories (-src +dst):\n%s", diff)
	}
}

func values(m map[string]string) []string {
	var out []string
	for _, v := range m {
		out = append(out, v)
	}
	return out
}

func TestHistoryDivergedRefusedUnlessRewriting(t *testing.T) {
	s := newVersionedStub("src", "dst")
	s.put("src", "k", []byte("1"))
	s.put("src", "k", []byte("2"))
	s.put("src", "other", []byte("o"))
	s.put("dst", "k", []byte("1"))
	s.put("dst", "k", []byte("someone else's"))
	s.put("dst", "only-in-dst", []byte("x"))
	before := s.history("dst")
	sy := &HistorySyncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Concurrency: 1}
	_, err := sy.Run(context.Background())
	var de *DivergedError
	if !errors.As(err, &de) || de.Key != "k" || de.VersionEntry != 1 || !strings.Contains(err.Error(), `"k"`) {
		t.Fatalf("err = %v, want a divergence of k at its second entry", err)
	}
	if got := s.history("dst"); got["k"] != before["k"] || got["only-in-dst"] != before["only-in-dst"] {
		t.Fatalf("a refused run changed the destination: %v", got)
	}
	sy.RewriteDiverged = true
	res, err := sy.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s.history("src"), s.history("dst")); diff != "" {
		t.Errorf("histories after the rewrite (-src +dst):\n%s", diff)
	}
	if res.Rewritten != 2 || res.Deleted != 3 {
		t.Errorf("rewrote %d keys, deleted %d entries; want 2 and 3", res.Rewritten, res.Deleted)
	}
}

func TestHistoryMultipartVersionKeepsItsParts(t *testing.T) {
	s := newVersionedStub("src", "dst")
	data := []byte(strings.Repeat("abcdefghij", 12))
	s.putMultipart("src", "mp", data, 50, 50, 20)
	s.mu.Lock()
	old := s.buckets["src"].keys["mp"][0]
	old.meta, old.ctype, old.tags = map[string]string{"owner": "x"}, "text/plain", map[string]string{"t": "v w"}
	s.mu.Unlock()
	s.put("src", "mp", []byte("newer"))
	if _, err := (&HistorySyncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", MultipartThreshold: 100, PartSize: 40}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := s.buckets["dst"].keys["mp"][0]
	if got.etag != old.etag || got.meta["owner"] != "x" || got.ctype != "text/plain" || got.tags["t"] != "v w" {
		t.Errorf("noncurrent multipart version copied as %+v", got)
	}
}

func TestHistoryVersionVanishedIsCounted(t *testing.T) {
	s := newVersionedStub("src", "dst")
	s.put("src", "k", []byte("1"))
	s.put("src", "k", []byte("2"))
	s.put("src", "k", []byte("3"))
	s.fault = func(op, key string) error {
		if op == "CopyObject" && s.count("CopyObject") == 2 {
			return apiErr("NoSuchVersion")
		}
		return nil
	}
	res, err := (&HistorySyncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", IgnoreSourceEncryption: true}).Run(context.Background())
	if err != nil || res.Vanished != 1 || res.Copied != 2 {
		t.Fatalf("result %+v, %v; want one vanished, two copied", res, err)
	}
}

func TestHistoryRefusesAnUnversionedDestination(t *testing.T) {
	s := newVersionedStub("src", "dst")
	s.buckets["dst"].versioned = false
	s.put("src", "k", []byte("1"))
	_, err := (&HistorySyncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst"}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "versioning enabled") || s.count("CopyObject") != 0 {
		t.Fatalf("err = %v, %d copies; want a refusal before any copy", err, s.count("CopyObject"))
	}
}

func TestHistoryUntilCopiesTheHistoryAsOfAMoment(t *testing.T) {
	s := newVersionedStub("src", "dst")
	s.tick = time.Second
	s.put("src", "k", []byte("1"))
	at := s.now.Add(300 * time.Millisecond) // within the second of the next write
	s.del("src", "k")
	s.put("src", "k", []byte("2")) // a second later: after
	s.put("src", "late", []byte("x"))
	res, err := (&HistorySyncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Until: at}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"k": md5hex([]byte("1")) + " DM"}, s.history("dst")); diff != "" || res.Keys != 1 {
		t.Errorf("history as of the moment (-want +got):\n%s", diff)
	}
	rep, err := VerifyHistory(context.Background(), s, s, "src", "dst", LevelETag, at)
	if err != nil || !rep.OK() {
		t.Errorf("verify until = %+v, %v", rep, err)
	}
}

type throttlingVersions struct {
	*versionedStub
	n, signals atomic.Int64
}

func (th *throttlingVersions) CopyObject(ctx context.Context, in *s3.CopyObjectInput, optFns ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	if th.n.Add(1)%4 == 0 {
		o := s3.Options{Retryer: retry.NewStandard()}
		for _, f := range optFns {
			f(&o)
		}
		if o.Retryer.IsErrorRetryable(apiErr("SlowDown")) {
			th.signals.Add(1)
		}
	}
	return th.versionedStub.CopyObject(ctx, in, optFns...)
}

// TestHistoryThrottlingCutsConcurrency: SlowDown seen by the SDK's retryer
// halves the writes in flight, and every entry is still copied once.
func TestHistoryThrottlingCutsConcurrency(t *testing.T) {
	s := newVersionedStub("src", "dst")
	for i := range 120 {
		s.put("src", fmt.Sprintf("k%03d", i%40), []byte(fmt.Sprint(i)))
	}
	th := &throttlingVersions{versionedStub: s}
	res, err := (&HistorySyncer{Src: s, Dst: th, SrcBucket: "src", DstBucket: "dst", Concurrency: 16, IgnoreSourceEncryption: true}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Throttled == 0 || res.Copied != 120 || th.signals.Load() == 0 {
		t.Errorf("throttled %d, copied %d, signals %d", res.Throttled, res.Copied, th.signals.Load())
	}
}

func TestVerifyHistoryReportsEveryKind(t *testing.T) {
	s := newVersionedStub("src", "dst")
	put := func(key string, src, dst []string) {
		for _, b := range []struct {
			name string
			es   []string
		}{{"src", src}, {"dst", dst}} {
			for _, e := range b.es {
				if e == "DM" {
					s.del(b.name, key)
				} else {
					s.put(b.name, key, []byte(e))
				}
			}
		}
	}
	put("same", []string{"a", "DM", "b"}, []string{"a", "DM", "b"})
	put("missing", []string{"a"}, nil)
	put("extra", nil, []string{"a"})
	put("shorter", []string{"a", "b"}, []string{"a"})
	put("kind", []string{"a", "DM"}, []string{"a", "b"})
	put("size", []string{"a", "bb"}, []string{"a", "b"})
	put("identity", []string{"a", "b"}, []string{"a", "c"})
	s.putMultipart("src", "layout", []byte("abcd"), 2, 2)
	s.put("dst", "layout", []byte("abcd"))
	want := map[string][]Difference{
		LevelCount: {{Key: "extra", Kind: DiffExtra}, {Key: "kind", Kind: DiffHistory},
			{Key: "missing", Kind: DiffMissing}, {Key: "shorter", Kind: DiffHistory}, {Key: "size", Kind: DiffSize}},
		LevelETag: {{Key: "extra", Kind: DiffExtra}, {Key: "identity", Kind: DiffIdentity}, {Key: "kind", Kind: DiffHistory},
			{Key: "layout", Kind: DiffUnverifiable}, {Key: "missing", Kind: DiffMissing}, {Key: "shorter", Kind: DiffHistory}, {Key: "size", Kind: DiffSize}},
		LevelContent: {{Key: "extra", Kind: DiffExtra}, {Key: "identity", Kind: DiffIdentity}, {Key: "kind", Kind: DiffHistory},
			{Key: "missing", Kind: DiffMissing}, {Key: "shorter", Kind: DiffHistory}, {Key: "size", Kind: DiffSize}},
	}
	for level, w := range want {
		t.Run(level, func(t *testing.T) {
			rep, err := VerifyHistory(context.Background(), s, s, "src", "dst", level, time.Time{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(w, rep.Differences, cmpKindOnly); diff != "" {
				t.Errorf("differences (-want +got):\n%s", diff)
			}
			if rep.Count != int64(len(w)) || rep.Keys != 7 || rep.Objects != 13 {
				t.Errorf("count %d, keys %d, entries %d", rep.Count, rep.Keys, rep.Objects)
			}
		})
	}
}

func TestAsOfChoosesTheEntryCurrentThen(t *testing.T) {
	t0 := time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)
	v := func(id string, at time.Duration) VersionEntry {
		return VersionEntry{VersionID: id, LastModified: t0.Add(at)}
	}
	m := func(id string, at time.Duration) VersionEntry { e := v(id, at); e.DeleteMarker = true; return e }
	h := History{Key: "k", Entries: []VersionEntry{v("1", 0), m("2", 2*time.Second), v("3", 4*time.Second)}}
	cases := map[string]struct {
		at     time.Duration
		want   string
		marker bool
		ok     bool
	}{
		"before anything":           {-time.Second, "", false, false},
		"the first second":          {0, "1", false, true},
		"within the first second":   {999 * time.Millisecond, "1", false, true},
		"between":                   {1500 * time.Millisecond, "1", false, true},
		"deleted":                   {2 * time.Second, "2", true, true},
		"a write within T's second": {4*time.Second + 10*time.Millisecond, "3", false, true},
		"just before that second":   {4*time.Second - time.Millisecond, "2", true, true},
	}
	for name, c := range cases {
		e, ok := AsOf(h, t0.Add(c.at))
		if ok != c.ok || e.VersionID != c.want || e.DeleteMarker != c.marker {
			t.Errorf("%s: AsOf = %+v, %v; want %q (marker %v), %v", name, e, ok, c.want, c.marker, c.ok)
		}
	}
}

func TestCountHistoryCountsAndCaps(t *testing.T) {
	s := newVersionedStub("b")
	s.pageSize = 3
	for i := range 4 {
		for _, p := range []string{"x/", "y/", ""} {
			s.put("b", fmt.Sprintf("%sk%d", p, i), []byte("12345"))
			s.put("b", fmt.Sprintf("%sk%d", p, i), []byte("123"))
		}
	}
	s.del("b", "x/k0")
	s.del("b", "k1")
	c, err := live.CountHistory(context.Background(), s, "b", 0, 2)
	if err != nil {
		t.Fatal(err)
	}
	want := live.HistoryCount{Current: 10, CurrentBytes: 30, Noncurrent: 14, NoncurrentBytes: 66, DeleteMarkers: 2}
	if diff := cmp.Diff(want, c); diff != "" || c.AtStake() != 16 {
		t.Errorf("count (-want +got):\n%s", diff)
	}
	c, err = live.CountHistory(context.Background(), s, "b", 10, 2)
	if err != nil || !c.Truncated || c.Entries() != 10 {
		t.Errorf("capped count = %+v, %v; want 10 entries, truncated", c, err)
	}
}
