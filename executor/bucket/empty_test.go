package bucket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/testaws"
)

// smallPages is the real client with listings cut into pages of n entries
// (S3 and moto honour MaxKeys), so that a few thousand versions span many
// pages.
type smallPages struct {
	*s3.Client
	n int32
}

func (c smallPages) ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, optFns ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
	cp := *in
	if cp.MaxKeys == nil {
		cp.MaxKeys = aws.Int32(c.n)
	}
	return c.Client.ListObjectVersions(ctx, &cp, optFns...)
}

func (c smallPages) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	cp := *in
	if cp.MaxKeys == nil {
		cp.MaxKeys = aws.Int32(c.n)
	}
	return c.Client.ListObjectsV2(ctx, &cp, optFns...)
}

func motoS3(t *testing.T) *s3.Client {
	t.Helper()
	return awsclient.NewS3(testaws.Config(t, nil), "")
}

func enableVersioning(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	if _, err := c.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{Bucket: aws.String(bucket),
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
}

// fillVersions writes versions versions of each of keys keys (16 at a
// time), then puts a delete marker on every third key.
func fillVersions(t *testing.T, c *s3.Client, bucket string, keys, versions int) (entries int) {
	t.Helper()
	ctx := context.Background()
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for k := range keys {
		g.Go(func() error {
			for v := range versions {
				if _, err := c.PutObject(gctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(fmt.Sprintf("k/%05d", k)),
					Body: strings.NewReader(fmt.Sprintf("version %d of %d", v, k))}); err != nil {
					return err
				}
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}
	var ids []types.ObjectIdentifier
	for k := 0; k < keys; k += 3 {
		ids = append(ids, types.ObjectIdentifier{Key: aws.String(fmt.Sprintf("k/%05d", k))})
	}
	for len(ids) > 0 {
		batch := ids[:min(len(ids), 1000)]
		ids = ids[len(batch):]
		if _, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: batch}}); err != nil {
			t.Fatal(err)
		}
	}
	return keys*versions + (keys+2)/3
}

func countVersions(t *testing.T, c *s3.Client, bucket string) int {
	t.Helper()
	n := 0
	p := s3.NewListObjectVersionsPaginator(c, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		n += len(page.Versions) + len(page.DeleteMarkers)
	}
	return n
}

// TestEmptyVersionedBucketSmallPages is finding 5 of the data-safety issue:
// emptying deleted versions while it was still paginating the same
// listing; the page markers then named deleted entries, the server skipped
// what followed them, and DeleteBucket failed with BucketNotEmpty (make
// demo failed 2 runs in 3). Several thousand versions and delete markers
// listed 50 at a time must all go, and the bucket with them.
func TestEmptyVersionedBucketSmallPages(t *testing.T) {
	testaws.Reset(t)
	c := motoS3(t)
	ctx := context.Background()
	mkBucket(t, c, "legacy")
	enableVersioning(t, c, "legacy")
	t0 := time.Now()
	want := fillVersions(t, c, "legacy", 700, 3)
	t.Logf("fill %s", time.Since(t0))
	if got := countVersions(t, c, "legacy"); got != want || got < 2000 {
		t.Fatalf("the bucket holds %d versions and markers, want %d (at least 2000)", got, want)
	}
	// An unfinished upload must go too.
	if _, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("legacy"), Key: aws.String("half")}); err != nil {
		t.Fatal(err)
	}
	t0 = time.Now()
	n, err := deleteBucket(ctx, smallPages{c, 50}, "legacy")
	t.Logf("delete %s", time.Since(t0))
	if err != nil {
		t.Fatalf("delete bucket after emptying %d of %d entries: %v", n, want, err)
	}
	if n != int64(want) {
		t.Errorf("deleted %d versions and markers, want %d", n, want)
	}
	if ok, err := exists(ctx, c, "legacy"); ok || err != nil {
		t.Errorf("the bucket is still there (%v)", err)
	}
}

func notEmpty(t *testing.T, err error) *NotEmptyError {
	t.Helper()
	var ne *NotEmptyError
	if !errors.As(err, &ne) {
		t.Fatalf("err = %v, want a *NotEmptyError", err)
	}
	return ne
}

// TestGuardedDeleteKeepsLateVersions: a guarded delete of a versioned
// original deletes exactly the versions its manifest lists; a version, a
// key and a delete marker written after the manifest stay, the bucket
// stays, and the error names them. Run again, it deletes nothing more.
func TestGuardedDeleteKeepsLateVersions(t *testing.T) {
	testaws.Reset(t)
	c := motoS3(t)
	ctx := context.Background()
	mkBucket(t, c, "orig")
	enableVersioning(t, c, "orig")
	fillVersions(t, c, "orig", 40, 2)
	manifest, sum := takeManifest(t, c, "orig")
	// After the manifest:
	putObj(t, c, "orig", "k/00001", []byte("late version"), nil)
	putObj(t, c, "orig", "late/order-123.json", []byte("late key"), nil)
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("orig"), Key: aws.String("k/00002")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("orig"), Key: aws.String("late/upload")}); err != nil {
		t.Fatal(err)
	}
	for run := range 2 {
		res, err := DeleteBucket(ctx, smallPages{c, 10}, "orig", EmptyOptions{Only: bytes.NewReader(manifest)})
		ne := notEmpty(t, err)
		if ne.Left != 3 || ne.Uploads != 1 || !cmp.Equal(ne.Keys, []string{"k/00001", "k/00002", "late/order-123.json"}) {
			t.Errorf("run %d: left %d %v and %d uploads; want the 3 late entries and the upload", run, ne.Left, ne.Keys, ne.Uploads)
		}
		if run == 0 && res.Deleted != sum.Entries {
			t.Errorf("deleted %d, want the manifest's %d entries", res.Deleted, sum.Entries)
		}
		if !strings.Contains(err.Error(), "late/order-123.json") {
			t.Errorf("the error does not name the late key: %v", err)
		}
	}
	if ok, _ := exists(ctx, c, "orig"); !ok {
		t.Fatal("the bucket holding late writes was deleted")
	}
	if got := contents(t, c, "orig"); !cmp.Equal(got, map[string]string{"k/00001": "late version", "late/order-123.json": "late key"}) {
		t.Errorf("current objects left: %v", got)
	}
}

// TestGuardedDeleteUnversioned: in a bucket without versions a guarded
// delete removes the keys whose ETag and size still equal the manifest's,
// keeps a rewritten key and a new one, and deletes the bucket when
// nothing was written after the manifest.
func TestGuardedDeleteUnversioned(t *testing.T) {
	testaws.Reset(t)
	c := motoS3(t)
	ctx := context.Background()
	for _, b := range []string{"flat", "quiet"} {
		mkBucket(t, c, b)
		for i := range 60 {
			putObj(t, c, b, fmt.Sprintf("o/%03d", i), []byte(fmt.Sprintf("object %d", i)), nil)
		}
	}
	manifest, _ := takeManifest(t, c, "flat")
	putObj(t, c, "flat", "o/010", []byte("rewritten after the manifest"), nil)
	putObj(t, c, "flat", "o/0105", []byte("new after the manifest"), nil)
	res, err := DeleteBucket(ctx, smallPages{c, 7}, "flat", EmptyOptions{Only: bytes.NewReader(manifest), Concurrency: 2})
	ne := notEmpty(t, err)
	if res.Deleted != 59 || ne.Left != 2 || !cmp.Equal(ne.Keys, []string{"o/010", "o/0105"}) {
		t.Errorf("deleted %d, left %d %v; want 59 deleted, the 2 late keys left", res.Deleted, ne.Left, ne.Keys)
	}

	quiet, _ := takeManifest(t, c, "quiet")
	res, err = DeleteBucket(ctx, c, "quiet", EmptyOptions{Only: bytes.NewReader(quiet)})
	if err != nil || res.Deleted != 60 {
		t.Fatalf("guarded delete of an unchanged bucket: %+v, %v", res, err)
	}
	if ok, _ := exists(ctx, c, "quiet"); ok {
		t.Error("the unchanged bucket was not deleted")
	}
}

// TestGuardedDeleteRefusesWrongManifests: a manifest of another bucket, or
// of current objects for a bucket with versions, deletes nothing.
func TestGuardedDeleteRefusesWrongManifests(t *testing.T) {
	testaws.Reset(t)
	c := motoS3(t)
	ctx := context.Background()
	mkBucket(t, c, "mine")
	mkBucket(t, c, "theirs")
	putObj(t, c, "mine", "a", []byte("a"), nil)
	putObj(t, c, "theirs", "a", []byte("a"), nil)
	mine, _ := takeManifest(t, c, "mine")
	if _, err := DeleteBucket(ctx, c, "theirs", EmptyOptions{Only: bytes.NewReader(mine)}); err == nil || !strings.Contains(err.Error(), "of bucket mine") {
		t.Errorf("another bucket's manifest: %v", err)
	}
	enableVersioning(t, c, "mine")
	if _, err := DeleteBucket(ctx, c, "mine", EmptyOptions{Only: bytes.NewReader(mine)}); err == nil || !strings.Contains(err.Error(), "versioning") {
		t.Errorf("a manifest of current objects for a versioned bucket: %v", err)
	}
	truncated := mine[:len(mine)-10]
	if _, err := DeleteBucket(ctx, c, "theirs", EmptyOptions{Only: bytes.NewReader(truncated)}); err == nil {
		t.Error("a truncated manifest was used")
	}
	for _, b := range []string{"mine", "theirs"} {
		if got := contents(t, c, b); len(got) != 1 {
			t.Errorf("%s holds %v after refused deletes", b, got)
		}
	}
}

// failDeletes fails every DeleteObjects after the first `after` calls.
type failDeletes struct {
	smallPages
	mu    sync.Mutex
	calls int
	after int
}

func (f *failDeletes) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	f.mu.Lock()
	f.calls++
	fail := f.calls > f.after
	f.mu.Unlock()
	if fail {
		return nil, apiErr("InternalError")
	}
	return f.smallPages.DeleteObjects(ctx, in, optFns...)
}

// TestEmptyResumesAfterFailure: an emptying that fails midway (a delete
// request refused) leaves a bucket that the next attempt empties and
// deletes, counting only what it deleted itself.
func TestEmptyResumesAfterFailure(t *testing.T) {
	testaws.Reset(t)
	c := motoS3(t)
	ctx := context.Background()
	mkBucket(t, c, "half")
	enableVersioning(t, c, "half")
	total := fillVersions(t, c, "half", 60, 2)
	first, err := DeleteBucket(ctx, &failDeletes{smallPages: smallPages{c, 10}, after: 3}, "half", EmptyOptions{Concurrency: 1})
	if err == nil {
		t.Fatal("the failing emptying reported success")
	}
	if left := countVersions(t, c, "half"); left == 0 || left == total || int64(left) != int64(total)-first.Deleted {
		t.Fatalf("after the failure %d of %d entries are left, %d reported deleted", left, total, first.Deleted)
	}
	second, err := DeleteBucket(ctx, smallPages{c, 10}, "half", EmptyOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if first.Deleted+second.Deleted != int64(total) {
		t.Errorf("deleted %d then %d, want %d in all", first.Deleted, second.Deleted, total)
	}
	if ok, _ := exists(ctx, c, "half"); ok {
		t.Error("the bucket is still there")
	}
}
