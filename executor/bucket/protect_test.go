package bucket

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/testaws"
)

// contents returns a bucket's current objects as key → body.
func contents(t *testing.T, c *s3.Client, bucket string) map[string]string {
	t.Helper()
	ctx := context.Background()
	m := map[string]string{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(out.Body)
			out.Body.Close()
			m[aws.ToString(o.Key)] = string(b)
		}
	}
	return m
}

// cloneSwapBuckets sets up finding 1's buckets: the original "shop" with
// its objects, copied into the temporary "shop-envmig" by a copy that
// records the original's manifest (what was verified). The temporary then
// differs from the original the way a migration may make it differ: one
// object changed, one added, one removed.
func cloneSwapBuckets(t *testing.T, c *s3.Client, orig, tmp string) []byte {
	t.Helper()
	ctx := context.Background()
	mkBucket(t, c, orig)
	mkBucket(t, c, tmp)
	for i := range 30 {
		putObj(t, c, orig, fmt.Sprintf("img/%d.png", i), []byte(fmt.Sprintf("image %d", i)), nil)
	}
	putObj(t, c, orig, "orders/index.json", []byte(`{"orders":[]}`), nil)
	var manifest bytes.Buffer
	res, err := (&Syncer{Src: c, Dst: c, SrcBucket: orig, DstBucket: tmp, Delete: true, Concurrency: 8, SourceManifest: &manifest}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.SourceManifest.Objects != 31 || res.SourceManifest.Bucket != orig {
		t.Fatalf("the copy's source manifest: %+v, want 31 objects of %s", res.SourceManifest, orig)
	}
	rep, err := Verify(ctx, c, c, orig, tmp, LevelETag)
	if err != nil || !rep.OK() {
		t.Fatalf("verify: %v %v", rep.Differences, err)
	}
	putObj(t, c, tmp, "img/3.png", []byte("image 3, converted"), nil)
	putObj(t, c, tmp, "img/new.png", []byte("added by the migration"), nil)
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(tmp), Key: aws.String("img/4.png")}); err != nil {
		t.Fatal(err)
	}
	return manifest.Bytes()
}

// TestLateWriteKeptByProtectedSync is finding 1 of the data-safety issue:
// after verification an application wrote late/order-123.json into the
// original and deleted img/7.png from it; the final copy from the
// temporary into the original, with delete on, destroyed the new object
// and brought the deleted one back. With Protect (the original's verified
// manifest) both stay as the application left them, an object the
// application rewrote is not overwritten, and all three are reported;
// what the migration changed still arrives.
func TestLateWriteKeptByProtectedSync(t *testing.T) {
	testaws.Reset(t)
	c := motoS3(t)
	ctx := context.Background()
	manifest := cloneSwapBuckets(t, c, "shop", "shop-envmig")

	// The application, after verification.
	putObj(t, c, "shop", "late/order-123.json", []byte(`{"order":123}`), nil)
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("shop"), Key: aws.String("img/7.png")}); err != nil {
		t.Fatal(err)
	}
	putObj(t, c, "shop", "orders/index.json", []byte(`{"orders":[123]}`), nil)

	// The freeze proof sees all three.
	ch, err := ChangesSince(ctx, c, "shop", bytes.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	want := Changes{Bucket: "shop", Keys: 32, Added: 1, AddedKeys: []string{"late/order-123.json"},
		Removed: 1, RemovedKeys: []string{"img/7.png"}, Changed: 1, ChangedKeys: []string{"orders/index.json"}}
	if diff := cmp.Diff(want, ch); diff != "" {
		t.Errorf("changes since the manifest (-want +got):\n%s", diff)
	}

	before := contents(t, c, "shop")
	res, err := (&Syncer{Src: c, Dst: c, SrcBucket: "shop-envmig", DstBucket: "shop", Delete: true, Concurrency: 8, Protect: bytes.NewReader(manifest)}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	after := contents(t, c, "shop")
	if after["late/order-123.json"] != `{"order":123}` {
		t.Error("the late object was destroyed")
	}
	if _, ok := after["img/7.png"]; ok {
		t.Error("the object deleted after verification was brought back")
	}
	if after["orders/index.json"] != `{"orders":[123]}` {
		t.Errorf("the object rewritten after verification was overwritten: %q", after["orders/index.json"])
	}
	// What the migration changed arrives.
	if after["img/3.png"] != "image 3, converted" || after["img/new.png"] != "added by the migration" {
		t.Error("the migration's changes did not arrive")
	}
	if _, ok := after["img/4.png"]; ok {
		t.Error("the object the migration removed is still there")
	}
	if res.Kept != 3 || !cmp.Equal(res.KeptKeys, []string{"img/7.png", "late/order-123.json", "orders/index.json"}) {
		t.Errorf("kept %d %v, want the three objects the application changed", res.Kept, res.KeptKeys)
	}
	if res.Copied != 2 || res.Deleted != 1 {
		t.Errorf("copied %d, deleted %d; want 2 and 1", res.Copied, res.Deleted)
	}
	// Nothing else moved.
	for k, v := range before {
		if k == "img/3.png" || k == "img/new.png" || k == "img/4.png" {
			continue
		}
		if after[k] != v {
			t.Errorf("%s changed from %q to %q", k, v, after[k])
		}
	}
	// Run again (a resume): it keeps the same objects and moves nothing.
	res, err = (&Syncer{Src: c, Dst: c, SrcBucket: "shop-envmig", DstBucket: "shop", Delete: true, Concurrency: 8, Protect: bytes.NewReader(manifest)}).Run(ctx)
	if err != nil || res.Copied != 0 || res.Deleted != 0 || res.Kept != 3 {
		t.Errorf("second protected sync: %+v, %v; want nothing copied or deleted, 3 kept", res, err)
	}
}

// TestProtectedSyncWithoutChangesDoesWhatSyncDid is the control: with no
// change after verification, a protected sync makes the same copies and
// deletes as an unprotected one, and keeps nothing.
func TestProtectedSyncWithoutChangesDoesWhatSyncDid(t *testing.T) {
	testaws.Reset(t)
	c := motoS3(t)
	ctx := context.Background()
	manifest := cloneSwapBuckets(t, c, "ctl-a", "ctl-a-envmig")
	cloneSwapBuckets(t, c, "ctl-b", "ctl-b-envmig")
	protected, err := (&Syncer{Src: c, Dst: c, SrcBucket: "ctl-a-envmig", DstBucket: "ctl-a", Delete: true, Concurrency: 8, Protect: bytes.NewReader(manifest)}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := (&Syncer{Src: c, Dst: c, SrcBucket: "ctl-b-envmig", DstBucket: "ctl-b", Delete: true, Concurrency: 8}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if protected.Kept != 0 || protected.Copied != plain.Copied || protected.Deleted != plain.Deleted || protected.Skipped != plain.Skipped || plain.Copied != 2 {
		t.Errorf("protected %+v, unprotected %+v: want the same work (2 copied, 1 deleted), nothing kept", protected, plain)
	}
	if diff := cmp.Diff(contents(t, c, "ctl-b"), contents(t, c, "ctl-a")); diff != "" {
		t.Errorf("protected result differs from the unprotected one (-plain +protected):\n%s", diff)
	}
	rep, err := Verify(ctx, c, c, "ctl-a-envmig", "ctl-a", LevelETag)
	if err != nil || !rep.OK() {
		t.Errorf("verify after the protected sync: %v %v", rep.Differences, err)
	}
}

// TestProtectRefusesAnotherBucketsManifest: a manifest of any bucket but
// the destination is refused before anything is listed or changed.
func TestProtectRefusesAnotherBucketsManifest(t *testing.T) {
	s := newStub("src", "dst", "other")
	fill(s, "src", 5)
	s.put("dst", "precious", []byte("x"))
	var buf bytes.Buffer
	w, _ := NewManifestWriter(&buf, ManifestHeader{Bucket: "other"})
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	_, err := (&Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Delete: true, Protect: &buf}).Run(context.Background())
	if err == nil || !strings.Contains(err.Error(), "not of the destination") {
		t.Fatalf("err = %v", err)
	}
	if s.count("ListObjectsV2")+s.count("CopyObject")+s.count("DeleteObjects") != 0 {
		t.Error("a sync with a foreign manifest touched the buckets")
	}
}

// TestProtectedSyncSeesChangesAfterItsListing: a destination object
// rewritten after the sync listed it, right before its overwrite or its
// delete, is kept (the HEAD before the copy, the ETag on the delete).
func TestProtectedSyncSeesChangesAfterItsListing(t *testing.T) {
	s := newStub("src", "dst")
	s.put("src", "k/overwrite", []byte("migrated"))
	s.put("dst", "k/overwrite", []byte("verified"))
	s.put("dst", "k/delete", []byte("verified"))
	s.put("src", "k/create", []byte("new"))
	var buf bytes.Buffer
	w, _ := NewManifestWriter(&buf, ManifestHeader{Bucket: "dst"})
	for _, k := range []string{"k/delete", "k/overwrite"} {
		if err := w.Add(Entry{Key: k, Size: int64(len("verified")), ETag: md5hex([]byte("verified"))}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The application writes right after the sync listed the
	// destination: before the first HEAD of each key (the recheck of the
	// destination comes before the source's HEAD) and before the delete.
	var mu sync.Mutex
	heads := map[string]int{}
	s.fault = func(op, key string) error {
		mu.Lock()
		defer mu.Unlock()
		switch op {
		case "HeadObject":
			heads[key]++
			if heads[key] == 1 {
				s.put("dst", key, []byte("late"))
			}
		case "DeleteObjects":
			s.put("dst", "k/delete", []byte("late"))
		}
		return nil
	}
	res, err := (&Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Delete: true, Concurrency: 1, Protect: &buf}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := s.manifest("dst")
	late := md5hex([]byte("late"))
	if got["k/overwrite"] != late || got["k/delete"] != late || got["k/create"] != late {
		t.Errorf("destination %v: every late write must survive", got)
	}
	if res.Kept != 3 || res.Copied != 0 || res.Deleted != 0 || !cmp.Equal(res.KeptKeys, []string{"k/create", "k/delete", "k/overwrite"}) {
		t.Errorf("result %+v: want 3 kept, nothing copied or deleted", res)
	}
}

// TestProtectedMultipartCopyCompletesOnlyOverWhatWasAllowed: a multipart
// copy into a protected destination completes with If-None-Match (key
// absent when allowed) or If-Match (the allowed ETag): an object written
// while the parts were copied is kept, and the upload is aborted.
func TestProtectedMultipartCopyCompletesOnlyOverWhatWasAllowed(t *testing.T) {
	s := newStub("src", "dst")
	data := []byte(strings.Repeat("p", 120))
	s.putMultipart("src", "mp-new", data, 60, 60)
	s.putMultipart("src", "mp-over", data, 60, 60)
	s.put("dst", "mp-over", []byte("verified"))
	var buf bytes.Buffer
	w, _ := NewManifestWriter(&buf, ManifestHeader{Bucket: "dst"})
	if err := w.Add(Entry{Key: "mp-over", Size: 8, ETag: md5hex([]byte("verified"))}); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Close(); err != nil {
		t.Fatal(err)
	}
	s.fault = func(op, key string) error {
		if op == "CompleteMultipartUpload" {
			s.put("dst", key, []byte("late"))
		}
		return nil
	}
	res, err := (&Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Concurrency: 2, Protect: &buf}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	late := md5hex([]byte("late"))
	if got := s.manifest("dst"); got["mp-new"] != late || got["mp-over"] != late {
		t.Errorf("destination %v: the late writes must survive", got)
	}
	if res.Kept != 2 || res.Copied != 0 || s.openUploads() != 0 {
		t.Errorf("result %+v with %d uploads open: want 2 kept, none copied, none open", res, s.openUploads())
	}
}
