package bucket

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"
	"pgregory.net/rapid"

	"github.com/envmig/envmig/internal/testaws"
)

func TestMain(m *testing.M) { os.Exit(testaws.Main(m)) }

func fill(s *stubS3, bucket string, n int) {
	for i := range n {
		s.put(bucket, fmt.Sprintf("k/%04d", i), []byte(fmt.Sprintf("content %d", i)))
	}
}

func TestSyncCopiesSkipsAndDeletes(t *testing.T) {
	s := newStub("src", "dst")
	fill(s, "src", 250)
	s.put("dst", "k/0001", []byte("content 1"))    // same: skipped
	s.put("dst", "k/0002", []byte("stale"))        // different size: copied
	s.put("dst", "k/0003", []byte("content X"))    // same size, other ETag: copied
	s.put("dst", "zz/extra", []byte("not in src")) // deleted
	s.pageSize = 7                                 // many pages
	sy := &Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Delete: true, Concurrency: 8}
	res, err := sy.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 249 || res.Skipped != 1 || res.Deleted != 1 || res.Scanned != 250 {
		t.Errorf("result = %+v, want 249 copied, 1 skipped, 1 deleted of 250", res)
	}
	if diff := cmp.Diff(s.manifest("src"), s.manifest("dst")); diff != "" {
		t.Errorf("destination differs (-src +dst):\n%s", diff)
	}
	before := s.count("CopyObject")
	res, err = sy.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 0 || s.count("CopyObject") != before || res.Skipped != 250 {
		t.Errorf("re-sync copied %d (%d calls), want none", res.Copied, s.count("CopyObject")-before)
	}
}

func TestSyncResumesAfterCancel(t *testing.T) {
	s := newStub("src", "dst")
	fill(s, "src", 300)
	ctx, cancel := context.WithCancel(context.Background())
	var once sync.Once
	s.fault = func(op, key string) error {
		if op == "CopyObject" && s.count("CopyObject") >= 100 {
			once.Do(cancel)
			return context.Canceled
		}
		return nil
	}
	sy := &Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Delete: true, Concurrency: 16}
	if _, err := sy.Run(ctx); err == nil {
		t.Fatal("the cancelled run reported success")
	}
	done := len(s.manifest("dst"))
	if done == 0 || done >= 300 {
		t.Fatalf("after the kill %d objects were copied; the test needs a partial copy", done)
	}
	s.fault = nil
	calls := s.count("CopyObject")
	res, err := (&Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Delete: true, Concurrency: 16}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.count("CopyObject")-calls, 300-done; got != want || res.Copied != int64(want) {
		t.Errorf("resumed run made %d copies (result %d), want only the %d missing", got, res.Copied, want)
	}
	if diff := cmp.Diff(s.manifest("src"), s.manifest("dst")); diff != "" {
		t.Errorf("destination differs:\n%s", diff)
	}
}

// TestSourceChangedUnderneath: an object deleted from a live source
// between its listing and its copy is counted, not fatal.
func TestSourceChangedUnderneath(t *testing.T) {
	s := newStub("src", "dst")
	fill(s, "src", 20)
	s.fault = func(op, key string) error {
		if op == "CopyObject" && key == "k/0007" {
			return apiErr("NoSuchKey")
		}
		return nil
	}
	res, err := (&Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst"}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Vanished != 1 || res.Copied != 19 {
		t.Errorf("vanished %d, copied %d; want 1 and 19", res.Vanished, res.Copied)
	}
}

func TestMultipartCopyKeepsPartsAndETag(t *testing.T) {
	s := newStub("src", "dst")
	data := []byte(strings.Repeat("abcdefghij", 12)) // 120 bytes
	s.putMultipart("src", "mp", data, 50, 50, 20)
	s.put("src", "big-single", data) // above the threshold: threshold-sized parts
	s.mu.Lock()
	s.buckets["src"]["mp"].meta = map[string]string{"owner": "x"}
	s.buckets["src"]["mp"].ctype = "text/plain"
	s.buckets["src"]["mp"].tags = map[string]string{"t": "v w"}
	s.mu.Unlock()
	sy := &Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", MultipartThreshold: 100, PartSize: 40}
	if _, err := sy.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := s.buckets["dst"]["mp"]
	if got.etag != s.buckets["src"]["mp"].etag {
		t.Errorf("multipart copy ETag %s, want the source's %s", got.etag, s.buckets["src"]["mp"].etag)
	}
	if diff := cmp.Diff(map[string]string{"owner": "x"}, got.meta); diff != "" || got.ctype != "text/plain" || got.tags["t"] != "v w" {
		t.Errorf("metadata %v, type %q, tags %v not carried", got.meta, got.ctype, got.tags)
	}
	if p := s.buckets["dst"]["big-single"].parts; !cmp.Equal(p, []int64{40, 40, 40}) {
		t.Errorf("single-part source above the threshold copied in parts %v, want 40,40,40", p)
	}
	rep, err := Verify(context.Background(), s, s, "src", "dst", LevelETag)
	if err != nil {
		t.Fatal(err)
	}
	want := []Difference{{Key: "big-single", Kind: DiffUnverifiable}}
	if diff := cmp.Diff(want, rep.Differences, cmpKindOnly); diff != "" {
		t.Errorf("etag verification (-want +got):\n%s", diff)
	}
	rep, err = Verify(context.Background(), s, s, "src", "dst", LevelContent)
	if err != nil || !rep.OK() || rep.Checked != 1 {
		t.Errorf("content verification = %+v, %v; want OK after reading one pair", rep, err)
	}
}

var cmpKindOnly = cmp.Comparer(func(a, b Difference) bool { return a.Key == b.Key && a.Kind == b.Kind })

func TestMultipartFailureAborts(t *testing.T) {
	s := newStub("src", "dst")
	data := []byte(strings.Repeat("x", 90))
	s.putMultipart("src", "mp", data, 30, 30, 30)
	boom := errors.New("connection reset")
	s.fault = func(op, key string) error {
		if op == "UploadPartCopy" && key == "mp#2" {
			return boom
		}
		return nil
	}
	_, err := (&Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst"}).Run(context.Background())
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the part's failure", err)
	}
	if n := s.openUploads(); n != 0 || s.count("AbortMultipartUpload") != 1 {
		t.Errorf("%d uploads left open, %d aborts; want 0 and 1", n, s.count("AbortMultipartUpload"))
	}
	if _, ok := s.manifest("dst")["mp"]; ok {
		t.Error("a failed multipart copy left an object")
	}
}

func TestStaleUploadsAbortedOnResume(t *testing.T) {
	s := newStub("src", "dst")
	s.putMultipart("src", "mp", []byte(strings.Repeat("y", 20)), 10, 10)
	// An earlier, killed attempt left an upload of the same key.
	if _, err := s.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: ptr("dst"), Key: ptr("mp")}); err != nil {
		t.Fatal(err)
	}
	if _, err := (&Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst"}).Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := s.openUploads(); n != 0 {
		t.Errorf("%d stale uploads left", n)
	}
}

func ptr(s string) *string { return &s }

func TestOutOfOrderListingRefusedBeforeDeleting(t *testing.T) {
	s := newStub("src", "dst")
	fill(s, "src", 20)
	fill(s, "dst", 20)
	s.put("dst", "zz", []byte("extra"))
	s.misorder = true
	_, err := (&Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Delete: true}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "out of key order") {
		t.Fatalf("err = %v, want an out-of-order refusal", err)
	}
	if s.count("DeleteObjects") != 0 {
		t.Error("objects were deleted on an out-of-order listing")
	}
}

func TestListFailureNeverDeletes(t *testing.T) {
	s := newStub("src", "dst")
	fill(s, "src", 50)
	fill(s, "dst", 50)
	s.pageSize = 10
	s.fault = func(op, key string) error {
		if op == "ListObjectsV2" && s.count("ListObjectsV2") > 3 {
			return apiErr("InternalError")
		}
		return nil
	}
	if _, err := (&Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Delete: true, ListParallel: 1}).Run(context.Background()); err == nil {
		t.Fatal("a failed listing reported success")
	}
	if s.count("DeleteObjects") != 0 || len(s.manifest("dst")) != 50 {
		t.Error("a failed source listing made the sync delete destination objects")
	}
}

// TestListOrderProperty: whatever the keys, a parallel listing by prefix
// emits exactly the bucket's keys in byte order.
func TestListOrderProperty(t *testing.T) {
	rapid.Check(t, func(rt *rapid.T) {
		s := newStub("b")
		s.pageSize = rapid.IntRange(1, 5).Draw(rt, "page")
		keys := rapid.SliceOfDistinct(rapid.StringMatching(`[ab/\-.0é]{1,6}`), rapid.ID[string]).Draw(rt, "keys")
		for _, k := range keys {
			s.put("b", k, nil)
		}
		out := make(chan []Object, 1)
		errc := make(chan error, 1)
		parallel := rapid.IntRange(1, 4).Draw(rt, "parallel")
		go func() { errc <- List(context.Background(), s, "b", parallel, out) }()
		var got []string
		for page := range out {
			for _, o := range page {
				got = append(got, o.Key)
			}
		}
		if err := <-errc; err != nil {
			rt.Fatal(err)
		}
		want := append([]string(nil), keys...)
		sort.Strings(want)
		if len(want) == 0 {
			want = nil
		}
		if diff := cmp.Diff(want, got); diff != "" {
			rt.Fatalf("listing (-want +got):\n%s", diff)
		}
	})
}

// TestFlatBucketListedWhole is the reproducer of a bug the property test
// found: a bucket without prefixes whose delimiter page was truncated was
// listed as empty by the parallel lister (a sync would then have deleted
// the whole destination).
func TestFlatBucketListedWhole(t *testing.T) {
	s := newStub("src", "dst")
	for i := range 30 {
		s.put("src", fmt.Sprintf("flat-%03d", i), []byte("x"))
		s.put("dst", fmt.Sprintf("flat-%03d", i), []byte("x"))
	}
	s.pageSize = 10
	res, err := (&Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Delete: true, ListParallel: 4}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Scanned != 30 || res.Deleted != 0 || len(s.manifest("dst")) != 30 {
		t.Errorf("scanned %d, deleted %d, %d left; want 30 scanned, none deleted", res.Scanned, res.Deleted, len(s.manifest("dst")))
	}
}

func TestVerifyReportsEveryKind(t *testing.T) {
	s := newStub("src", "dst")
	s.put("src", "same", []byte("a"))
	s.put("dst", "same", []byte("a"))
	s.put("src", "missing", []byte("a"))
	s.put("dst", "extra", []byte("a"))
	s.put("src", "size", []byte("a"))
	s.put("dst", "size", []byte("ab"))
	s.put("src", "identity", []byte("a"))
	s.put("dst", "identity", []byte("b"))
	s.putMultipart("src", "layout", []byte("abcd"), 2, 2)
	s.put("dst", "layout", []byte("abcd"))
	want := map[string][]Difference{
		LevelCount: {{Key: "extra", Kind: DiffExtra}, {Key: "missing", Kind: DiffMissing}, {Key: "size", Kind: DiffSize}},
		LevelETag: {{Key: "extra", Kind: DiffExtra}, {Key: "identity", Kind: DiffIdentity},
			{Key: "layout", Kind: DiffUnverifiable}, {Key: "missing", Kind: DiffMissing}, {Key: "size", Kind: DiffSize}},
		LevelContent: {{Key: "extra", Kind: DiffExtra}, {Key: "identity", Kind: DiffIdentity},
			{Key: "missing", Kind: DiffMissing}, {Key: "size", Kind: DiffSize}},
	}
	for level, w := range want {
		t.Run(level, func(t *testing.T) {
			rep, err := Verify(context.Background(), s, s, "src", "dst", level)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(w, rep.Differences, cmpKindOnly); diff != "" {
				t.Errorf("differences (-want +got):\n%s", diff)
			}
			if rep.Count != int64(len(w)) || rep.Objects != 5 {
				t.Errorf("count %d of %d objects, want %d of 5", rep.Count, rep.Objects, len(w))
			}
		})
	}
	if s.count("GetObject") != 2 {
		t.Errorf("content level read %d bodies, want only the undecidable pair (2)", s.count("GetObject"))
	}
}

func TestLimiterAIMD(t *testing.T) {
	var seen []int
	l := newLimiter(2, 16, func(n int) { seen = append(seen, n) })
	l.throttled()
	l.throttled() // same window: counted once
	if got := l.current(); got != 8 {
		t.Fatalf("limit after a throttled burst = %d, want 8", got)
	}
	ctx := context.Background()
	for range 8 { // a window of completions
		if err := l.acquire(ctx); err != nil {
			t.Fatal(err)
		}
		l.release()
	}
	l.throttled()
	if got := l.current(); got != 4 {
		t.Fatalf("limit after the next window's throttle = %d, want 4", got)
	}
	for range 4 + 5 + 6 {
		_ = l.acquire(ctx)
		l.release()
	}
	if got := l.current(); got != 7 {
		t.Errorf("limit after 15 quiet completions = %d, want 7 (additive increase)", got)
	}
	l.throttled()
	l.throttled()
	l.throttled()
	for range 20 {
		l.throttled()
		for range 8 {
			_ = l.acquire(ctx)
			l.release()
		}
	}
	if got := l.current(); got < 2 {
		t.Errorf("limit fell to %d, below the minimum 2", got)
	}
	if seen[0] != 16 {
		t.Errorf("first reported limit %d, want 16", seen[0])
	}
}

func TestLimiterBlocksAtLimit(t *testing.T) {
	l := newLimiter(1, 2, nil)
	ctx := context.Background()
	_ = l.acquire(ctx)
	_ = l.acquire(ctx)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.acquire(cctx); err == nil {
		t.Fatal("a third request got a slot of two")
	}
	got := make(chan struct{})
	go func() { _ = l.acquire(ctx); close(got) }()
	l.release()
	<-got // a release wakes a waiter
}

// TestThrottlingSeenThroughRetryer: the SDK retries a SlowDown itself; the
// retryer the Syncer wraps reports it, and the copy concurrency is cut
// while every object is still copied once.
func TestThrottlingSeenThroughRetryer(t *testing.T) {
	s := newStub("src", "dst")
	fill(s, "src", 200)
	th := &throttlingStub{stubS3: s}
	res, err := (&Syncer{Src: s, Dst: th, SrcBucket: "src", DstBucket: "dst", Concurrency: 32}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Throttled == 0 || res.Copied != 200 {
		t.Errorf("throttled %d times, copied %d; want cuts and all 200 copied", res.Throttled, res.Copied)
	}
	if th.signals.Load() == 0 {
		t.Error("no throttling reached the retryer")
	}
}

// throttlingStub answers one CopyObject in five with SlowDown first, the way
// the SDK's retry loop sees it: the per-call options' retryer is asked
// whether the error is retryable, then the call is retried.
type throttlingStub struct {
	*stubS3
	n       atomic.Int64
	signals atomic.Int64
}

func (th *throttlingStub) CopyObject(ctx context.Context, in *s3.CopyObjectInput, optFns ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	if th.n.Add(1)%5 == 0 {
		o := s3.Options{Retryer: retry.NewStandard()}
		for _, f := range optFns {
			f(&o)
		}
		if o.Retryer.IsErrorRetryable(apiErr("SlowDown")) {
			th.signals.Add(1)
		}
	}
	return th.stubS3.CopyObject(ctx, in, optFns...)
}

func TestCopySourceEscaping(t *testing.T) {
	cases := map[string]string{
		"plain/key.txt":    "b/plain/key.txt",
		"a b+c%d?e#f~g":    "b/a%20b%2Bc%25d%3Fe%23f~g",
		"dir/":             "b/dir/",
		"ü/日本":             "b/%C3%BC/%E6%97%A5%E6%9C%AC",
		"semi;colon&amp=1": "b/semi%3Bcolon%26amp%3D1",
	}
	for key, want := range cases {
		if got := copySource("b", key); got != want {
			t.Errorf("copySource(%q) = %q, want %q", key, got, want)
		}
	}
}

func TestCompare(t *testing.T) {
	o := func(size int64, etag string) Object { return Object{Size: size, ETag: etag} }
	cases := map[string]struct {
		a, b Object
		want Identity
	}{
		"same plain":         {o(3, "aa"), o(3, "aa"), Same},
		"same multipart":     {o(3, "aa-2"), o(3, "aa-2"), Same},
		"size":               {o(3, "aa"), o(4, "aa"), Different},
		"plain differs":      {o(3, "aa"), o(3, "bb"), Different},
		"same parts differ":  {o(3, "aa-2"), o(3, "bb-2"), Different},
		"plain vs multipart": {o(3, "aa"), o(3, "bb-2"), Undecided},
		"part counts differ": {o(3, "aa-3"), o(3, "bb-2"), Undecided},
	}
	for name, c := range cases {
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("%s: Compare = %s, want %s", name, got, c.want)
		}
	}
}
