package bucket

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/testaws"
)

func takeManifest(t *testing.T, api ManifestAPI, bucket string) ([]byte, ManifestSummary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := TakeManifest(context.Background(), api, bucket, &buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

// TestCopyRecordsTheSourceManifest: the manifest a copy tees from its own
// listing is the one a separate listing takes (same digest), and the
// source still matches it.
func TestCopyRecordsTheSourceManifest(t *testing.T) {
	testaws.Reset(t)
	c := motoS3(t)
	ctx := context.Background()
	mkBucket(t, c, "src")
	mkBucket(t, c, "dst")
	for i, k := range keyShapes {
		putObj(t, c, "src", k, []byte(strings.Repeat("x", i)), nil)
	}
	for i := range 40 {
		putObj(t, c, "src", fmt.Sprintf("p%d/obj", i), []byte("y"), nil)
	}
	var tee bytes.Buffer
	res, err := (&Syncer{Src: smallPages{c, 7}, Dst: c, SrcBucket: "src", DstBucket: "dst", Concurrency: 8, SourceManifest: &tee}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	_, taken := takeManifest(t, c, "src")
	if res.SourceManifest != taken || taken.Objects != int64(len(keyShapes)+40) || taken.Versions {
		t.Errorf("teed manifest %+v, taken %+v", res.SourceManifest, taken)
	}
	ch, err := ChangesSince(ctx, c, "src", bytes.NewReader(tee.Bytes()))
	if err != nil || !ch.None() || ch.Keys != taken.Objects {
		t.Errorf("the unchanged source: %v (%+v), %v", ch, ch, err)
	}
	// A manifest of another bucket is refused.
	if _, err := ChangesSince(ctx, c, "dst", bytes.NewReader(tee.Bytes())); err == nil || !strings.Contains(err.Error(), "of bucket src") {
		t.Errorf("comparing dst with src's manifest: %v", err)
	}
	// A failed copy leaves no complete manifest: its writer has no trailer.
	var broken bytes.Buffer
	s := newStub("src", "dst")
	fill(s, "src", 30)
	s.pageSize = 5
	s.fault = func(op, _ string) error {
		if op == "ListObjectsV2" && s.count("ListObjectsV2") > 3 {
			return apiErr("InternalError")
		}
		return nil
	}
	if _, err := (&Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", ListParallel: 1, SourceManifest: &broken}).Run(ctx); err == nil {
		t.Fatal("a failed listing reported success")
	}
	if _, err := CheckManifest(bytes.NewReader(broken.Bytes())); err == nil {
		t.Error("the manifest of a failed listing reads as complete")
	}
}

// TestFreezeProofSeesVersionChanges: a manifest of versions catches every
// change to a versioned bucket, noncurrent ones included, across listing
// pages; an unchanged bucket matches it.
func TestFreezeProofSeesVersionChanges(t *testing.T) {
	testaws.Reset(t)
	c := motoS3(t)
	ctx := context.Background()
	mkBucket(t, c, "hist")
	enableVersioning(t, c, "hist")
	var versionOf = map[string]string{}
	for i := range 12 {
		for v := range 3 {
			out, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("hist"), Key: aws.String(fmt.Sprintf("k%02d", i)), Body: strings.NewReader(fmt.Sprintf("%d.%d", i, v))})
			if err != nil {
				t.Fatal(err)
			}
			if v == 0 {
				versionOf[fmt.Sprintf("k%02d", i)] = aws.ToString(out.VersionId)
			}
		}
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("hist"), Key: aws.String("k11")}); err != nil {
		t.Fatal(err)
	}
	api := smallPages{c, 5} // a key's versions span pages
	manifest, sum := takeManifest(t, api, "hist")
	if !sum.Versions || sum.Entries != 37 || sum.Objects != 11 {
		t.Fatalf("manifest %+v: want 36 versions and 1 marker, 11 current objects", sum)
	}
	if _, again := takeManifest(t, c, "hist"); again.SHA256 != sum.SHA256 {
		t.Error("two manifests of an unchanged bucket, listed in other pages, differ")
	}
	ch, err := ChangesSince(ctx, api, "hist", bytes.NewReader(manifest))
	if err != nil || !ch.None() {
		t.Fatalf("unchanged bucket: %v, %v", ch, err)
	}

	putObj(t, c, "hist", "k00", []byte("new version"), nil) // changed
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("hist"), Key: aws.String("k01")}); err != nil {
		t.Fatal(err) // removed: a delete marker on top
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("hist"), Key: aws.String("k02"), VersionId: aws.String(versionOf["k02"])}); err != nil {
		t.Fatal(err) // changed: a noncurrent version deleted
	}
	putObj(t, c, "hist", "k05.new", []byte("x"), nil) // added
	putObj(t, c, "hist", "k11", []byte("back"), nil)  // added: it had only a marker on top
	ch, err = ChangesSince(ctx, api, "hist", bytes.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	want := Changes{Bucket: "hist", Versions: true, Keys: 13,
		Added: 2, AddedKeys: []string{"k05.new", "k11"}, Removed: 1, RemovedKeys: []string{"k01"},
		Changed: 2, ChangedKeys: []string{"k00", "k02"}}
	if diff := cmp.Diff(want, ch); diff != "" {
		t.Errorf("changes (-want +got):\n%s", diff)
	}
	if s := ch.String(); !strings.Contains(s, `2 added ("k05.new", "k11")`) || !strings.Contains(s, `1 removed ("k01")`) {
		t.Errorf("message %q", s)
	}
}
