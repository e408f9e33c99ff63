package bucket

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/live"
)

// motoS3 resets moto and returns a client of it.
func resetMotoS3(t *testing.T) *s3.Client {
	t.Helper()
	testaws.Reset(t)
	return awsclient.NewS3(testaws.Config(t, nil), "")
}

func mkVersioned(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	mkBucket(t, c, name)
	if _, err := c.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: aws.String(name),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
}

// written records, per key, what was written, oldest first: an ETag, or
// "DM" for a delete marker.
type written map[string][]string

func (w written) put(t *testing.T, c *s3.Client, bucket, key string, body []byte, mod func(*s3.PutObjectInput)) {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}
	if mod != nil {
		mod(in)
	}
	out, err := c.PutObject(context.Background(), in)
	if err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
	w[key] = append(w[key], unquote(aws.ToString(out.ETag)))
}

func (w written) del(t *testing.T, c *s3.Client, bucket, key string) {
	t.Helper()
	out, err := c.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil || !aws.ToBool(out.DeleteMarker) {
		t.Fatalf("delete %q: %v (marker %v)", key, err, aws.ToBool(out.DeleteMarker))
	}
	w[key] = append(w[key], "DM")
}

// walk lists bucket's versions one entry per request, which orders them
// exactly whatever their timestamps (independently of ListHistories), and
// returns them as written does, with the version IDs.
func walk(t *testing.T, c *s3.Client, bucket string) (written, map[string][]string) {
	t.Helper()
	got, ids := written{}, map[string][]string{}
	p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket), MaxKeys: aws.Int32(1)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if n := len(page.Versions) + len(page.DeleteMarkers); n > 1 {
			t.Fatalf("a page of one holds %d entries", n)
		}
		for _, v := range page.Versions {
			k := aws.ToString(v.Key)
			got[k] = append([]string{unquote(aws.ToString(v.ETag))}, got[k]...)
			ids[k] = append([]string{aws.ToString(v.VersionId)}, ids[k]...)
		}
		for _, m := range page.DeleteMarkers {
			k := aws.ToString(m.Key)
			got[k] = append([]string{"DM"}, got[k]...)
			ids[k] = append([]string{aws.ToString(m.VersionId)}, ids[k]...)
		}
	}
	return got, ids
}

var historyKeys = []string{"with space.txt", "ünïcødé/日本語.txt", "plus+sign", "per%cent", "tab\tkey", "question?mark&amp=1"}

// writeRichHistory writes versions and delete markers of every shape into
// a versioned bucket, quickly enough that many share a second.
func writeRichHistory(t *testing.T, c *s3.Client, bucket string, multipart bool) written {
	w := written{}
	w.put(t, c, bucket, "plain.txt", []byte("v1"), nil)
	w.put(t, c, bucket, "plain.txt", []byte("v2 with headers"), func(in *s3.PutObjectInput) {
		in.ContentType = aws.String("text/plain")
		in.Metadata = map[string]string{"owner": "team-a"}
		in.Tagging = aws.String("env=old")
	})
	w.put(t, c, bucket, "plain.txt", []byte("v3"), func(in *s3.PutObjectInput) { in.Tagging = aws.String("env=new") })
	w.put(t, c, bucket, "deleted-mid", []byte("1"), nil)
	w.del(t, c, bucket, "deleted-mid")
	w.put(t, c, bucket, "deleted-mid", []byte("2"), nil)
	w.put(t, c, bucket, "deleted-latest", []byte("1"), nil)
	w.put(t, c, bucket, "deleted-latest", []byte("22"), nil)
	w.del(t, c, bucket, "deleted-latest")
	w.put(t, c, bucket, "stacked", []byte("s"), nil)
	w.del(t, c, bucket, "stacked")
	w.del(t, c, bucket, "stacked")
	// A delete marker as a key's oldest entry is covered by the stub
	// tests: moto creates no marker for a key that has no version.
	w.put(t, c, bucket, "cold", []byte("ia"), func(in *s3.PutObjectInput) { in.StorageClass = types.StorageClassStandardIa })
	w.put(t, c, bucket, "cold", []byte("std"), nil)
	w.put(t, c, bucket, "empty", nil, nil)
	for i, k := range historyKeys {
		w.put(t, c, bucket, k, []byte("first "+k), nil)
		w.del(t, c, bucket, k)
		w.put(t, c, bucket, k, []byte(strings.Repeat("x", i)+" second"), nil)
	}
	if multipart {
		big := bytes.Repeat([]byte("0123456789abcdef"), (5<<20+4096)/16)
		putMultipartMoto(t, c, bucket, "multi part.bin", big, 5<<20)
		h, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String("multi part.bin")})
		if err != nil {
			t.Fatal(err)
		}
		w["multi part.bin"] = append(w["multi part.bin"], unquote(aws.ToString(h.ETag)))
		w.put(t, c, bucket, "multi part.bin", []byte("small on top"), nil)
	}
	return w
}

func entries(w written) int64 {
	var n int64
	for _, es := range w {
		n += int64(len(es))
	}
	return n
}

func TestMotoHistoryCopyKeepsEveryVersionInOrder(t *testing.T) {
	c := resetMotoS3(t)
	ctx := context.Background()
	mkVersioned(t, c, "hist-src")
	mkVersioned(t, c, "hist-dst")
	want := writeRichHistory(t, c, "hist-src", true)
	total := entries(want)
	sy := &HistorySyncer{Src: c, Dst: c, SrcBucket: "hist-src", DstBucket: "hist-dst", Concurrency: 8, MultipartThreshold: 1 << 20, PartSize: 5 << 20}
	res, err := sy.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied+res.Markers != total || res.Skipped != 0 {
		t.Errorf("first run %+v; want all %d entries written", res, total)
	}
	got, ids := walk(t, c, "hist-dst")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("destination histories (-source +destination):\n%s", diff)
	}
	for _, level := range []string{LevelETag, LevelChecksum} {
		rep, err := VerifyHistory(ctx, c, c, "hist-src", "hist-dst", level, time.Time{})
		if err != nil || !rep.OK() || rep.Objects != total {
			t.Errorf("verify %s = %+v, %v", level, rep, err)
		}
	}

	// The noncurrent version kept its own headers, metadata and tags.
	v2 := ids["plain.txt"][1]
	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("hist-dst"), Key: aws.String("plain.txt"), VersionId: aws.String(v2)})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(h.ContentType) != "text/plain" || h.Metadata["owner"] != "team-a" {
		t.Errorf("noncurrent version copied with type %q, metadata %v", aws.ToString(h.ContentType), h.Metadata)
	}
	tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("hist-dst"), Key: aws.String("plain.txt"), VersionId: aws.String(v2)})
	if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Value) != "old" {
		t.Errorf("noncurrent version's tags %v, %v; want env=old", tags, err)
	}
	cold, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("hist-dst"), Key: aws.String("cold"), VersionId: aws.String(ids["cold"][0])})
	if err != nil || cold.StorageClass != types.StorageClassStandardIa {
		t.Errorf("noncurrent STANDARD_IA version copied as %q, %v", cold.StorageClass, err)
	}

	// Run again: nothing to copy.
	res, err = sy.Run(ctx)
	if err != nil || res.Copied+res.Markers != 0 || res.Skipped != total {
		t.Fatalf("second run %+v, %v; want all %d skipped", res, err, total)
	}
	// A new version and a delete: exactly those are copied.
	want.put(t, c, "hist-src", "plain.txt", []byte("v4"), nil)
	want.del(t, c, "hist-src", "with space.txt")
	res, err = sy.Run(ctx)
	if err != nil || res.Copied != 1 || res.Markers != 1 || res.Skipped != total {
		t.Fatalf("delta run %+v, %v; want one version and one marker", res, err)
	}
	if got, _ := walk(t, c, "hist-dst"); !cmp.Equal(want, got) {
		t.Errorf("after the delta (-source +destination):\n%s", cmp.Diff(want, got))
	}
}

// writeCounter cancels its context after n writes into the destination
// succeeded: a run killed midway.
type writeCounter struct {
	*s3.Client
	n, after int64
	cancel   context.CancelFunc
}

func (w *writeCounter) wrote() {
	if atomic.AddInt64(&w.n, 1) == w.after {
		w.cancel()
	}
}

func (w *writeCounter) CopyObject(ctx context.Context, in *s3.CopyObjectInput, optFns ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	out, err := w.Client.CopyObject(ctx, in, optFns...)
	if err == nil {
		w.wrote()
	}
	return out, err
}

func (w *writeCounter) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	out, err := w.Client.DeleteObject(ctx, in, optFns...)
	if err == nil {
		w.wrote()
	}
	return out, err
}

func TestMotoHistoryResumesAfterAKill(t *testing.T) {
	c := resetMotoS3(t)
	mkVersioned(t, c, "hist-src")
	mkVersioned(t, c, "hist-dst")
	want := writeRichHistory(t, c, "hist-src", false)
	total := entries(want)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wc := &writeCounter{Client: c, after: 12, cancel: cancel}
	if _, err := (&HistorySyncer{Src: c, Dst: wc, SrcBucket: "hist-src", DstBucket: "hist-dst", Concurrency: 4}).Run(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("the killed run: %v", err)
	}
	partial, _ := walk(t, c, "hist-dst")
	done := entries(partial)
	if done < 12 || done >= total {
		t.Fatalf("%d of %d entries copied before the kill; the test needs a partial copy", done, total)
	}
	res, err := (&HistorySyncer{Src: c, Dst: c, SrcBucket: "hist-src", DstBucket: "hist-dst", Concurrency: 4}).Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Skipped != done || res.Copied+res.Markers != total-done {
		t.Errorf("resumed run %+v; want %d skipped and %d written", res, done, total-done)
	}
	if got, _ := walk(t, c, "hist-dst"); !cmp.Equal(want, got) {
		t.Errorf("after the resume, duplicates or gaps (-source +destination):\n%s", cmp.Diff(want, got))
	}
}

func TestMotoHistoryDivergedRefusedThenRewritten(t *testing.T) {
	c := resetMotoS3(t)
	ctx := context.Background()
	mkVersioned(t, c, "hist-src")
	mkVersioned(t, c, "hist-dst")
	want := written{}
	want.put(t, c, "hist-src", "k", []byte("1"), nil)
	want.put(t, c, "hist-src", "k", []byte("2"), nil)
	want.put(t, c, "hist-src", "fine", []byte("f"), nil)
	theirs := written{}
	theirs.put(t, c, "hist-dst", "k", []byte("1"), nil)
	theirs.put(t, c, "hist-dst", "k", []byte("written by someone else"), nil)
	sy := &HistorySyncer{Src: c, Dst: c, SrcBucket: "hist-src", DstBucket: "hist-dst", Concurrency: 1}
	_, err := sy.Run(ctx)
	var de *DivergedError
	if !errors.As(err, &de) || de.Key != "k" || de.VersionEntry != 1 || !strings.Contains(err.Error(), `"k"`) {
		t.Fatalf("err = %v, want key k named as diverged at its second entry", err)
	}
	if got, _ := walk(t, c, "hist-dst"); !cmp.Equal(theirs["k"], got["k"]) {
		t.Fatalf("a refused run changed the diverged key: %v", got["k"])
	}
	sy.RewriteDiverged = true
	res, err := sy.Run(ctx)
	if err != nil || res.Rewritten != 1 || res.Deleted != 2 {
		t.Fatalf("rewrite run %+v, %v", res, err)
	}
	if got, _ := walk(t, c, "hist-dst"); !cmp.Equal(want, got) {
		t.Errorf("after the rewrite (-source +destination):\n%s", cmp.Diff(want, got))
	}
	if rep, err := VerifyHistory(ctx, c, c, "hist-src", "hist-dst", LevelETag, time.Time{}); err != nil || !rep.OK() {
		t.Errorf("verify = %+v, %v", rep, err)
	}
}

// current lists a bucket's current objects as key → ETag.
func current(t *testing.T, c *s3.Client, bucket string) map[string]string {
	t.Helper()
	got := map[string]string{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			got[aws.ToString(o.Key)] = unquote(aws.ToString(o.ETag))
		}
	}
	return got
}

func TestMotoAsOfCopyIsTheSourceAtThatMoment(t *testing.T) {
	c := resetMotoS3(t)
	ctx := context.Background()
	mkVersioned(t, c, "asof-src")
	mkBucket(t, c, "asof-dst")
	w := written{}
	w.put(t, c, "asof-src", "kept", []byte("kept"), nil)
	w.put(t, c, "asof-src", "changed-after", []byte("before"), func(in *s3.PutObjectInput) { in.Tagging = aws.String("t=before") })
	w.put(t, c, "asof-src", "deleted-before", []byte("gone"), nil)
	w.del(t, c, "asof-src", "deleted-before")
	w.put(t, c, "asof-src", "deleted-after", []byte("still there then"), nil)
	w.put(t, c, "asof-src", "two versions", []byte("one"), nil)
	w.put(t, c, "asof-src", "two versions", []byte("two"), nil)
	// T is a whole second; as of T includes every write listed within
	// its second. Time setup only: wait for the next second so that the
	// writes below are listed after T.
	at := time.Now().Truncate(time.Second)
	time.Sleep(time.Until(at.Add(time.Second)))
	w.put(t, c, "asof-src", "changed-after", []byte("after, longer"), nil)
	w.del(t, c, "asof-src", "deleted-after")
	w.put(t, c, "asof-src", "created-after", []byte("new"), nil)
	w.put(t, c, "asof-src", "deleted-before", []byte("back"), nil)

	want := map[string]string{
		"kept": w["kept"][0], "changed-after": w["changed-after"][0],
		"deleted-after": w["deleted-after"][0], "two versions": w["two versions"][1],
	}
	sy := &AsOfSyncer{Src: c, Dst: c, SrcBucket: "asof-src", DstBucket: "asof-dst", At: at, Concurrency: 4, Delete: true}
	sc, accepted, _ := historyStepContext("bucket.copy.clone")
	res, err := RunAsOfStep(ctx, sc, sy, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(want, current(t, c, "asof-dst")); diff != "" || res.Copied != 4 || sc.Value("copied") != "4" || *accepted != 1 {
		t.Fatalf("copied %d (recorded %v); destination as of T (-want +got):\n%s", res.Copied, sc.Values(), diff)
	}
	tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("asof-dst"), Key: aws.String("changed-after")})
	if err != nil || len(tags.TagSet) != 1 || aws.ToString(tags.TagSet[0].Value) != "before" {
		t.Errorf("tags of the as-of version: %v, %v", tags, err)
	}
	vsc, _, _ := historyStepContext("verify.bucket.clone")
	if err := VerifyAsOfStep(ctx, vsc, c, c, "asof-src", "asof-dst", at, LevelChecksum); err != nil || vsc.Value("objects") != "4" {
		t.Errorf("verify as of T: %v (recorded %v)", err, vsc.Values())
	}
	// Against the source as it is now, the same copy differs.
	rep, err := VerifyAsOf(ctx, c, c, "asof-src", "asof-dst", time.Now().Add(time.Second), LevelETag)
	wantNow := []Difference{{Key: "changed-after", Kind: DiffSize}, {Key: "created-after", Kind: DiffMissing},
		{Key: "deleted-after", Kind: DiffExtra}, {Key: "deleted-before", Kind: DiffMissing}}
	if err != nil || !cmp.Equal(wantNow, rep.Differences, cmpKindOnly) {
		t.Errorf("verify as of now: %v, %v", rep.Differences, err)
	}
	res, err = sy.Run(ctx)
	if err != nil || res.Copied != 0 || res.Skipped != 4 {
		t.Errorf("second run %+v, %v; want nothing copied", res, err)
	}
	// Something written into the copy that the view lacks is removed.
	putObj(t, c, "asof-dst", "stray", []byte("x"), nil)
	if res, err = sy.Run(ctx); err != nil || res.Deleted != 1 {
		t.Errorf("third run %+v, %v; want the stray object deleted", res, err)
	}
}

// TestRegionMoveKeepsHistory is the regression test of finding 2 of issue
// 10: a versioned bucket moved to another region under its name goes
// through a temporary and is re-created; the original is emptied of every
// version and deleted. Copying current objects only destroyed every
// noncurrent version and delete marker; the history copy keeps them, in
// order, through both copies.
func TestRegionMoveKeepsHistory(t *testing.T) {
	c := resetMotoS3(t)
	ctx := context.Background()
	mkVersioned(t, c, "shop-assets")
	want := writeRichHistory(t, c, "shop-assets", true)
	before, err := live.CountHistory(ctx, c, "shop-assets", 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if before.AtStake() == 0 || before.Entries() != entries(want) {
		t.Fatalf("count before the move: %+v, want %d entries and some at stake", before, entries(want))
	}
	sync := func(src, dst string) {
		t.Helper()
		if _, err := (&HistorySyncer{Src: c, Dst: c, SrcBucket: src, DstBucket: dst, Concurrency: 8, MultipartThreshold: 1 << 20, PartSize: 5 << 20, RewriteDiverged: true}).Run(ctx); err != nil {
			t.Fatal(err)
		}
		rep, err := VerifyHistory(ctx, c, c, src, dst, LevelETag, time.Time{})
		if err != nil || !rep.OK() {
			t.Fatalf("verify %s against %s: %+v, %v", dst, src, rep, err)
		}
	}
	mkVersioned(t, c, "shop-assets-envmig")
	sync("shop-assets", "shop-assets-envmig")
	if _, err := deleteBucket(ctx, c, "shop-assets"); err != nil {
		t.Fatal(err)
	}
	mkVersioned(t, c, "shop-assets")
	sync("shop-assets-envmig", "shop-assets")
	got, _ := walk(t, c, "shop-assets")
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("history after the move (-original +re-created):\n%s", diff)
	}
	after, err := live.CountHistory(ctx, c, "shop-assets", 0, 0)
	if err != nil || after != before {
		t.Errorf("count after the move %+v, before %+v (%v)", after, before, err)
	}
	capped, err := live.CountHistory(ctx, c, "shop-assets", 5, 2)
	if err != nil || !capped.Truncated || capped.Entries() != 5 {
		t.Errorf("capped count %+v, %v", capped, err)
	}
	t.Logf("kept %d entries, %d of them at stake", after.Entries(), after.AtStake())
}
