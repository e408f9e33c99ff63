package bucket

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/executor/executortest"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/plan"
)

// keyShapes are the keys every copy must survive.
var keyShapes = []string{
	"plain.txt", "ünïcødé/日本語.txt", "with space.txt", "plus+sign", "per%cent", "question?mark",
	"hash#tag", "tilde~", "dir/", "dir/nested/deep.bin", "empty", strings.Repeat("k", 1024),
	"semi;colon&amp=eq", "emoji-🙂",
}

func mkBucket(t *testing.T, c *s3.Client, name string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		t.Fatal(err)
	}
}

func putObj(t *testing.T, c *s3.Client, bucket, key string, body []byte, mod func(*s3.PutObjectInput)) {
	t.Helper()
	in := &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: bytes.NewReader(body)}
	if mod != nil {
		mod(in)
	}
	if _, err := c.PutObject(context.Background(), in); err != nil {
		t.Fatalf("put %q: %v", key, err)
	}
}

// putMultipart uploads body in parts of partSize (moto wants 5 MiB parts).
func putMultipartMoto(t *testing.T, c *s3.Client, bucket, key string, body []byte, partSize int) {
	t.Helper()
	ctx := context.Background()
	up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), ContentType: aws.String("video/mp4"), Metadata: map[string]string{"camera": "a"}})
	if err != nil {
		t.Fatal(err)
	}
	var parts []types.CompletedPart
	for i, off := int32(1), 0; off < len(body); i, off = i+1, off+partSize {
		end := min(off+partSize, len(body))
		out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(i), Body: bytes.NewReader(body[off:end])})
		if err != nil {
			t.Fatal(err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(i), ETag: out.ETag})
	}
	if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: aws.String(bucket), Key: aws.String(key), UploadId: up.UploadId, MultipartUpload: &types.CompletedMultipartUpload{Parts: parts}}); err != nil {
		t.Fatal(err)
	}
}

func TestMotoKeyShapesMetadataAndMultipart(t *testing.T) {
	testaws.Reset(t)
	cfg := testaws.Config(t, nil)
	c := awsclient.NewS3(cfg, "")
	ctx := context.Background()
	mkBucket(t, c, "src")
	mkBucket(t, c, "dst")
	for _, k := range keyShapes {
		body := []byte("body of " + k)
		if k == "empty" || k == "dir/" {
			body = nil
		}
		putObj(t, c, "src", k, body, nil)
	}
	putObj(t, c, "src", "meta.html", []byte("<p>hi</p>"), func(in *s3.PutObjectInput) {
		in.ContentType = aws.String("text/html")
		in.CacheControl = aws.String("max-age=60")
		in.ContentEncoding = aws.String("identity")
		in.ContentDisposition = aws.String(`attachment; filename="a b.html"`)
		in.Metadata = map[string]string{"owner": "team-a"}
		in.Tagging = aws.String("env=prod&team=a%20b")
		in.StorageClass = types.StorageClassStandardIa
	})
	big := bytes.Repeat([]byte("0123456789abcdef"), (5<<20+4096)/16)
	putMultipartMoto(t, c, "src", "multi part.bin", big, 5<<20)
	putObj(t, c, "src", "single-above-threshold", big, nil)

	sy := &Syncer{Src: c, Dst: c, SrcBucket: "src", DstBucket: "dst", Delete: true, Concurrency: 8, MultipartThreshold: 1 << 20, PartSize: 5 << 20}
	res, err := sy.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(len(keyShapes) + 3)
	if res.Copied != total {
		t.Errorf("copied %d, want %d", res.Copied, total)
	}
	rep, err := Verify(ctx, c, c, "src", "dst", LevelETag)
	if err != nil {
		t.Fatal(err)
	}
	// A single-part source above the threshold is copied in parts: only its
	// content can prove it.
	want := []Difference{{Key: "single-above-threshold", Kind: DiffUnverifiable}}
	if diff := cmp.Diff(want, rep.Differences, cmpKindOnly); diff != "" || rep.Objects != total {
		t.Errorf("verify etag of %d objects (-want +got):\n%s", rep.Objects, diff)
	}
	rep, err = Verify(ctx, c, c, "src", "dst", LevelContent)
	if err != nil || !rep.OK() {
		t.Errorf("verify content = %v, %v", rep.Differences, err)
	}

	h, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("meta.html")})
	if err != nil {
		t.Fatal(err)
	}
	got := []string{aws.ToString(h.ContentType), aws.ToString(h.CacheControl), aws.ToString(h.ContentEncoding), aws.ToString(h.ContentDisposition), h.Metadata["owner"], string(h.StorageClass)}
	if diff := cmp.Diff([]string{"text/html", "max-age=60", "identity", `attachment; filename="a b.html"`, "team-a", "STANDARD_IA"}, got); diff != "" {
		t.Errorf("copied headers (-want +got):\n%s", diff)
	}
	tags, err := c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("dst"), Key: aws.String("meta.html")})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.TagSet) != 2 {
		t.Errorf("tags %v, want env and team", tags.TagSet)
	}
	mh, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("multi part.bin")})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(mh.ContentType) != "video/mp4" || mh.Metadata["camera"] != "a" {
		t.Errorf("multipart copy lost headers: %q %v", aws.ToString(mh.ContentType), mh.Metadata)
	}
	ups, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("dst")})
	if err != nil || len(ups.Uploads) != 0 {
		t.Errorf("unfinished uploads left: %v %v", ups, err)
	}

	// A re-sync copies only what a listing cannot prove equal.
	res, err = sy.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 1 || res.Skipped != total-1 {
		t.Errorf("re-sync copied %d, skipped %d; want only the threshold-split object again", res.Copied, res.Skipped)
	}
}

func testPlan() *plan.Plan {
	return &plan.Plan{Lineage: "run-1", Region: testaws.Region}
}

func handlers(t *testing.T) (map[plan.StepAction]executor.Handler, *s3.Client) {
	cfg := testaws.Config(t, nil)
	c := awsclient.NewS3(cfg, "")
	return Handlers(func(string) S3API { return c }, Options{Concurrency: 8, VisibleWithin: 50 * time.Millisecond}), c
}

func TestMotoBucketCreateAdoptsOnlyItsOwn(t *testing.T) {
	testaws.Reset(t)
	hs, c := handlers(t)
	ctx := context.Background()
	step := plan.Step{ID: "bucket.create.u", Action: plan.BucketCreate, Params: plan.BucketCreateParams{Bucket: "new-b", Region: testaws.Region, Versioning: true, Tags: map[string]string{"team": "a"}}}
	sc := executor.NewStepContext(testPlan(), step, "apply", nil)
	for range 2 { // the second Apply adopts
		if err := hs[plan.BucketCreate].Apply(ctx, sc); err != nil {
			t.Fatal(err)
		}
	}
	tags, err := bucketTags(ctx, c, "new-b")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{executor.RunTagKey: "run-1", "team": "a"}, tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	v, _ := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("new-b")})
	if v.Status != types.BucketVersioningStatusEnabled {
		t.Errorf("versioning %q", v.Status)
	}

	// Someone else's bucket under the name: refused, and Revert leaves it.
	mkBucket(t, c, "theirs")
	putObj(t, c, "theirs", "precious", []byte("x"), nil)
	other := plan.Step{ID: "bucket.create.t", Action: plan.BucketCreate, Params: plan.BucketCreateParams{Bucket: "theirs", Region: testaws.Region}}
	osc := executor.NewStepContext(testPlan(), other, "apply", nil)
	if err := hs[plan.BucketCreate].Apply(ctx, osc); err == nil || !strings.Contains(err.Error(), "not created by this run") {
		t.Fatalf("adopting a foreign bucket: %v", err)
	}
	if err := hs[plan.BucketCreate].Revert(ctx, executor.NewStepContext(testPlan(), other, "revert", map[string]string{"create_sent": "true"})); err != nil {
		t.Fatal(err)
	}
	if ok, _ := exists(ctx, c, "theirs"); !ok {
		t.Fatal("Revert deleted a bucket the run does not own")
	}
	// Another run's bucket is refused too.
	otherRun := &plan.Plan{Lineage: "run-2", Region: testaws.Region}
	if err := hs[plan.BucketCreate].Revert(ctx, executor.NewStepContext(otherRun, step, "revert", nil)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := exists(ctx, c, "new-b"); !ok {
		t.Fatal("another run's Revert deleted this run's bucket")
	}

	// Its own bucket, versioned and holding versions: emptied and deleted.
	putObj(t, c, "new-b", "a", []byte("1"), nil)
	putObj(t, c, "new-b", "a", []byte("2"), nil)
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("new-b"), Key: aws.String("a")}); err != nil {
		t.Fatal(err)
	}
	rsc := executor.NewStepContext(testPlan(), step, "revert", sc.Values())
	for range 2 { // idempotent
		if err := hs[plan.BucketCreate].Revert(ctx, rsc); err != nil {
			t.Fatal(err)
		}
	}
	if ok, _ := exists(ctx, c, "new-b"); ok {
		t.Error("Revert left the run's bucket")
	}
}

func TestMotoCopyVerifyDeleteHandlers(t *testing.T) {
	testaws.Reset(t)
	hs, c := handlers(t)
	ctx := context.Background()
	mkBucket(t, c, "orig")
	for _, k := range keyShapes {
		putObj(t, c, "orig", k, []byte("v1 "+k), nil)
	}
	p := testPlan()
	create := plan.Step{ID: "bucket.create.tmp", Action: plan.BucketCreate, Params: plan.BucketCreateParams{Bucket: "orig-envmig", Region: testaws.Region}}
	cp := plan.Step{ID: "bucket.copy.u.precopy", Action: plan.BucketCopy, Params: plan.BucketCopyParams{Source: "orig", Destination: "orig-envmig", Mode: plan.CopyPrecopy}}
	vf := plan.Step{ID: "verify.bucket.u", Action: plan.VerifyBucket, Params: plan.VerifyBucketParams{Source: "orig", Destination: "orig-envmig", Objects: "etag"}}
	p.Steps = []plan.Step{create, cp, vf}
	if err := hs[plan.BucketCreate].Apply(ctx, executor.NewStepContext(p, create, "apply", nil)); err != nil {
		t.Fatal(err)
	}
	csc := executor.NewStepContext(p, cp, "apply", nil)
	var reports []executor.Progress
	accepted := 0
	csc.TestHooks(nil, func(point string) {
		if point == executor.PointAccepted {
			accepted++
		}
	}, func(pr executor.Progress) { reports = append(reports, pr) })
	if err := hs[plan.BucketCopy].Apply(ctx, csc); err != nil {
		t.Fatal(err)
	}
	if csc.Value("copied") != "14" || accepted != 1 || len(reports) == 0 {
		t.Errorf("copied %q, accepted %d times, %d reports", csc.Value("copied"), accepted, len(reports))
	}
	last := reports[len(reports)-1]
	if last.Objects != int64(len(keyShapes)) || !strings.Contains(last.Message, "objects/s") {
		t.Errorf("last progress %+v", last)
	}
	vsc := executor.NewStepContext(p, vf, "apply", nil)
	if err := hs[plan.VerifyBucket].Apply(ctx, vsc); err != nil {
		t.Fatalf("verify after copy: %v", err)
	}
	// A change after the copy is named by key.
	putObj(t, c, "orig", "with space.txt", []byte("v2, longer"), nil)
	err := hs[plan.VerifyBucket].Apply(ctx, executor.NewStepContext(p, vf, "apply", nil))
	if err == nil || !strings.Contains(err.Error(), "size: with space.txt") || !strings.Contains(err.Error(), "1 of 14") {
		t.Fatalf("verify after a change: %v", err)
	}
	// The delta copy moves just that object.
	dsc := executor.NewStepContext(p, cp, "apply", nil)
	if err := hs[plan.BucketCopy].Apply(ctx, dsc); err != nil {
		t.Fatal(err)
	}
	if dsc.Value("copied") != "1" {
		t.Errorf("delta copied %s objects, want 1", dsc.Value("copied"))
	}
	del := plan.Step{ID: "bucket.delete.u", Action: plan.BucketDelete, Params: plan.BucketDeleteParams{Bucket: "orig", Region: testaws.Region}}
	// A delete acts only on a bucket the plan observed as the spec's.
	if err := hs[plan.BucketDelete].Apply(ctx, executor.NewStepContext(p, del, "apply", nil)); err == nil || !strings.Contains(err.Error(), "never observed") {
		t.Fatalf("delete of an unobserved bucket: %v", err)
	}
	p.Observations = append(p.Observations, plan.Observation{Address: "bucket.u", Kind: plan.KindBucket, ID: "orig", Exists: true})
	for i := range 2 {
		dsc := executor.NewStepContext(p, del, "apply", nil)
		accepted := 0
		dsc.TestHooks(nil, func(point string) {
			if point == executor.PointAccepted {
				accepted++
			}
		}, nil)
		if err := hs[plan.BucketDelete].Apply(ctx, dsc); err != nil {
			t.Fatal(err)
		}
		// The emptying and the bucket's delete are crash points (the
		// crash suite kills a half-emptied original); a second attempt
		// finds nothing to delete.
		if want := []int{2, 0}[i]; accepted != want {
			t.Errorf("attempt %d: accepted %d times, want %d (one batch of deletes, then the bucket)", i+1, accepted, want)
		}
	}
	if ok, _ := exists(ctx, c, "orig"); ok {
		t.Error("BucketDelete left the bucket")
	}
}

// Found by the crash suite: killed after CreateBucket was accepted and
// before the bucket was tagged, a run left an empty untagged bucket behind
// on rollback. Revert deletes what Apply would adopt: its own tag, or sent
// create + untagged + empty.
func TestMotoRevertRemovesTheBucketCreatedBeforeItWasTagged(t *testing.T) {
	testaws.Reset(t)
	hs, c := handlers(t)
	ctx := context.Background()
	step := plan.Step{ID: "bucket.create.u", Action: plan.BucketCreate, Params: plan.BucketCreateParams{Bucket: "half-made", Region: testaws.Region}}
	mkBucket(t, c, "half-made") // created, never tagged
	if err := hs[plan.BucketCreate].Revert(ctx, executor.NewStepContext(testPlan(), step, "revert", nil)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := exists(ctx, c, "half-made"); !ok {
		t.Fatal("an untagged bucket whose create this step never sent was deleted")
	}
	if err := hs[plan.BucketCreate].Revert(ctx, executor.NewStepContext(testPlan(), step, "revert", map[string]string{"create_sent": "true"})); err != nil {
		t.Fatal(err)
	}
	if ok, _ := exists(ctx, c, "half-made"); ok {
		t.Fatal("the bucket the step created before it could tag it was left behind")
	}
}

// Found by the crash suite (C-region): killed after S3 accepted a batch of
// deletes of a region move's original, past the point of no return, the
// resumed delete's guard took the half-emptied original for one that
// changed since its copy and stopped the run for good. Once the emptying
// began, the resumed step finishes it, still deleting only what the
// manifest lists.
func TestGuardedDeleteFinishesAnEmptyingItBegan(t *testing.T) {
	testaws.Reset(t)
	hs, c := handlers(t)
	ctx := context.Background()
	mkBucket(t, c, "orig")
	enableVersioning(t, c, "orig")
	fillVersions(t, c, "orig", 20, 2)
	manifest, _ := takeManifest(t, c, "orig")
	p := testPlan()
	p.Observations = append(p.Observations, plan.Observation{Address: "bucket.u", Kind: plan.KindBucket, ID: "orig", Exists: true})
	blobs := &executortest.MemBlobs{}
	run := executor.NewStepContext(p, plan.Step{ID: "x"}, "apply", nil).Lineage()
	del := plan.Step{ID: "bucket.delete.u", Action: plan.BucketDelete, Params: plan.BucketDeleteParams{Bucket: "orig", Region: testaws.Region,
		Guard: &plan.BucketGuard{Bucket: "orig", Region: testaws.Region, Manifest: plan.ManifestName("orig"), Run: run, History: true}}}
	sc := executor.NewStepContext(p, del, "apply", nil)
	sc.TestBlobs(blobs)
	w, err := sc.CreateBlob(ctx, plan.ManifestName("orig"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(manifest); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// The first batch of the killed attempt: the first key's versions.
	vs, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String("orig"), MaxKeys: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs.Versions {
		if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("orig"), Key: v.Key, VersionId: v.VersionId}); err != nil {
			t.Fatal(err)
		}
	}
	// Without the record that the emptying began, the guard sees a change.
	if err := hs[plan.BucketDelete].Apply(ctx, sc); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Fatalf("a guarded delete of a changed original: %v", err)
	}
	resumed := executor.NewStepContext(p, del, "apply", map[string]string{"emptying": "started"})
	resumed.TestBlobs(blobs)
	if err := hs[plan.BucketDelete].Apply(ctx, resumed); err != nil {
		t.Fatalf("the resumed emptying: %v", err)
	}
	if ok, _ := exists(ctx, c, "orig"); ok {
		t.Error("the resumed emptying left the bucket")
	}
}
