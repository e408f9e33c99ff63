package bucket

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/testaws"
)

// headerLog records the request headers of every multipart upload start
// (moto drops the bucket-key header there: see TestSinglePartCopyKeepsKMSKey).
type headerLog struct {
	mu     sync.Mutex
	starts []http.Header
}

// attach makes every client built from cfg report to l.
func (l *headerLog) attach(cfg *aws.Config) {
	cfg.APIOptions = append(cfg.APIOptions, func(stack *middleware.Stack) error {
		return stack.Finalize.Add(middleware.FinalizeMiddlewareFunc("headerLog",
			func(ctx context.Context, in middleware.FinalizeInput, next middleware.FinalizeHandler) (middleware.FinalizeOutput, middleware.Metadata, error) {
				if req, ok := in.Request.(*smithyhttp.Request); ok && awsmiddleware.GetOperationName(ctx) == "CreateMultipartUpload" {
					l.mu.Lock()
					l.starts = append(l.starts, req.Header.Clone())
					l.mu.Unlock()
				}
				return next.HandleFinalize(ctx, in)
			}), middleware.After)
	})
}

func newKMSKey(t *testing.T, c *kms.Client, desc string) string {
	t.Helper()
	out, err := c.CreateKey(context.Background(), &kms.CreateKeyInput{Description: aws.String(desc)})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.KeyMetadata.Arn)
}

type sseState struct {
	Algorithm string
	KeyID     string
	BucketKey bool
}

func sseOfObject(t *testing.T, c *s3.Client, bucket, key string) sseState {
	t.Helper()
	h, err := c.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("head s3://%s/%s: %v", bucket, key, err)
	}
	return sseState{string(h.ServerSideEncryption), aws.ToString(h.SSEKMSKeyId), aws.ToBool(h.BucketKeyEnabled)}
}

// TestSinglePartCopyKeepsKMSKey is finding 6 of the data-safety issue: a
// single-part copy (one CopyObject) dropped the source's SSE-KMS key and
// bucket-key setting, because only a caller that set PreserveEncryption
// got them; a multipart copy kept them. Every copy keeps them now, with no
// option to forget: small objects (CopyObject) and objects above the
// multipart threshold (UploadPartCopy), with a non-default key, into a
// destination whose own default is another key.
func TestSinglePartCopyKeepsKMSKey(t *testing.T) {
	testaws.Reset(t)
	log := &headerLog{}
	cfg := testaws.Config(t, nil)
	log.attach(&cfg)
	c := awsclient.NewS3(cfg, "")
	km := kms.NewFromConfig(cfg)
	ctx := context.Background()
	srcKey := newKMSKey(t, km, "the source objects' key")
	dstDefault := newKMSKey(t, km, "the destination bucket's default key")
	mkBucket(t, c, "src")
	mkBucket(t, c, "dst")
	if _, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("dst"), ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
		Rules: []types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(dstDefault)}}},
	}}); err != nil {
		t.Fatal(err)
	}
	kmsObj := func(in *s3.PutObjectInput) {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(srcKey)
		in.BucketKeyEnabled = aws.Bool(true)
	}
	aes := func(in *s3.PutObjectInput) { in.ServerSideEncryption = types.ServerSideEncryptionAes256 }
	putObj(t, c, "src", "small.json", []byte(`{"order":1}`), kmsObj)
	putObj(t, c, "src", "small-aes.json", []byte(`{"order":2}`), aes)
	big := bytes.Repeat([]byte("kms "), (5<<20+1024)/4)
	putObj(t, c, "src", "large.bin", big, kmsObj)

	sy := &Syncer{Src: c, Dst: c, SrcBucket: "src", DstBucket: "dst", Concurrency: 4, MultipartThreshold: 1 << 20, PartSize: 5 << 20}
	res, err := sy.Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Copied != 3 {
		t.Fatalf("copied %d objects, want 3", res.Copied)
	}
	want := sseState{"aws:kms", srcKey, true}
	if diff := cmp.Diff(want, sseOfObject(t, c, "dst", "small.json")); diff != "" {
		t.Errorf("single-part copy's encryption (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(sseState{Algorithm: "AES256"}, sseOfObject(t, c, "dst", "small-aes.json")); diff != "" {
		t.Errorf("single-part SSE-S3 copy's encryption (-want +got):\n%s", diff)
	}
	// moto stores no bucket-key setting for multipart uploads (a moto
	// quirk); the request must carry it, and the key must arrive.
	got := sseOfObject(t, c, "dst", "large.bin")
	if got.Algorithm != "aws:kms" || got.KeyID != srcKey {
		t.Errorf("multipart copy's encryption = %+v, want aws:kms with the source's key", got)
	}
	log.mu.Lock()
	starts := log.starts
	log.mu.Unlock()
	if len(starts) != 1 || starts[0].Get("X-Amz-Server-Side-Encryption-Bucket-Key-Enabled") != "true" ||
		!strings.HasSuffix(starts[0].Get("X-Amz-Server-Side-Encryption-Aws-Kms-Key-Id"), srcKey) {
		t.Errorf("multipart copy started with headers %v, want the source's key and bucket key on", starts)
	}
	// Verification passes on the KMS copies.
	rep, err := Verify(ctx, c, c, "src", "dst", LevelChecksum)
	if err != nil {
		t.Fatal(err)
	}
	if want := []Difference{{Key: "large.bin", Kind: DiffUnverifiable}}; !cmp.Equal(want, rep.Differences, cmpKindOnly) {
		t.Errorf("checksum verification of KMS copies: %v, want only the threshold-split object unverifiable", rep.Differences)
	}
	if rep, err := Verify(ctx, c, c, "src", "dst", LevelContent); err != nil || !rep.OK() {
		t.Errorf("content verification of KMS copies: %v, %v", rep.Differences, err)
	}
}

// TestVerifyKMSCopiesAreNotReportedDifferent: on S3 an SSE-KMS object's
// ETag is no digest of its content and every copy gets another (moto
// gives MD5s, so the stub plays S3 here). Checksum verification must not
// call such copies different: it says it cannot decide without stored
// checksums, and content verification proves them equal; a plain object
// whose MD5 ETag differs is still a difference.
func TestVerifyKMSCopiesAreNotReportedDifferent(t *testing.T) {
	s := newStub("src", "dst")
	for _, b := range []string{"src", "dst"} {
		s.put(b, "kms.json", []byte(`{"a":1}`))
		s.put(b, "plain.json", []byte(`{"a":1}`))
		s.buckets[b]["kms.json"].sse = types.ServerSideEncryptionAwsKms
		s.buckets[b]["kms.json"].etag = md5hex([]byte(b)) // another per copy
	}
	s.put("dst", "plain.json", []byte(`{"a":2}`))
	rep, err := Verify(context.Background(), s, s, "src", "dst", LevelChecksum)
	if err != nil {
		t.Fatal(err)
	}
	want := []Difference{{Key: "kms.json", Kind: DiffUnverifiable}, {Key: "plain.json", Kind: DiffIdentity}}
	if diff := cmp.Diff(want, rep.Differences, cmpKindOnly); diff != "" {
		t.Errorf("checksum level (-want +got):\n%s", diff)
	}
	rep, err = Verify(context.Background(), s, s, "src", "dst", LevelContent)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Difference{{Key: "plain.json", Kind: DiffIdentity}}, rep.Differences, cmpKindOnly); diff != "" {
		t.Errorf("content level (-want +got):\n%s", diff)
	}
}

// TestCopyIntoAnotherRegionMapsTheKMSKey: a KMS key belongs to a region,
// so a copy into another region is encrypted with the key MapKMSKey names
// for the source's, keeping the algorithm and the bucket-key setting, at
// every size; a key it cannot map fails the copy instead of falling back
// to a default.
func TestCopyIntoAnotherRegionMapsTheKMSKey(t *testing.T) {
	testaws.Reset(t)
	cfg := testaws.Config(t, nil)
	c := awsclient.NewS3(cfg, "")
	km := kms.NewFromConfig(cfg)
	ctx := context.Background()
	srcKey, mapped, other := newKMSKey(t, km, "source"), newKMSKey(t, km, "its counterpart"), newKMSKey(t, km, "unmapped")
	mkBucket(t, c, "src")
	mkBucket(t, c, "dst")
	withKey := func(k string) func(*s3.PutObjectInput) {
		return func(in *s3.PutObjectInput) {
			in.ServerSideEncryption, in.SSEKMSKeyId, in.BucketKeyEnabled = types.ServerSideEncryptionAwsKms, aws.String(k), aws.Bool(true)
		}
	}
	putObj(t, c, "src", "small", []byte("s"), withKey(srcKey))
	putObj(t, c, "src", "large", bytes.Repeat([]byte("l"), 5<<20+10), withKey(srcKey))
	keys := func(k string) (string, error) {
		if k == srcKey {
			return mapped, nil
		}
		return "", fmt.Errorf("no counterpart for %s", k)
	}
	sy := &Syncer{Src: c, Dst: c, SrcBucket: "src", DstBucket: "dst", Concurrency: 2, MultipartThreshold: 1 << 20, PartSize: 5 << 20, MapKMSKey: keys}
	if _, err := sy.Run(ctx); err != nil {
		t.Fatal(err)
	}
	if got := sseOfObject(t, c, "dst", "small"); got != (sseState{"aws:kms", mapped, true}) {
		t.Errorf("single-part copy: %+v, want the mapped key with bucket key", got)
	}
	if got := sseOfObject(t, c, "dst", "large"); got.Algorithm != "aws:kms" || got.KeyID != mapped {
		t.Errorf("multipart copy: %+v, want the mapped key", got)
	}
	putObj(t, c, "src", "unmapped", []byte("u"), withKey(other))
	if _, err := sy.Run(ctx); err == nil || !strings.Contains(err.Error(), "no counterpart") {
		t.Errorf("an unmappable key: %v", err)
	}
	if _, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("dst"), Key: aws.String("unmapped")}); err == nil {
		t.Error("an object whose key could not be mapped was copied anyway")
	}
}

// TestChecksumLevelHeadsOnlyWhatAListingCannotDecide: at the default level
// a pair with one ETag of one layout is decided by the listings (a HEAD
// would read back the same digest), so verifying a bucket costs its
// listings; a pair of other part layouts is decided by its stored
// checksums, and a checksum that differs is a difference.
func TestChecksumLevelHeadsOnlyWhatAListingCannotDecide(t *testing.T) {
	s := newStub("src", "dst")
	data := bytes.Repeat([]byte("x"), 300)
	for i := range 50 {
		k := fmt.Sprintf("same/%02d", i)
		for _, b := range []string{"src", "dst"} {
			s.put(b, k, data)
			s.buckets[b][k].crc32 = "AAAAAA=="
		}
	}
	// Same content, other part layouts: only the stored checksums decide.
	s.putMultipart("src", "layout/equal", data, 200, 100)
	s.put("dst", "layout/equal", data)
	s.putMultipart("src", "layout/differs", data, 200, 100)
	s.put("dst", "layout/differs", bytes.Repeat([]byte("y"), 300))
	for b, sums := range map[string][2]string{"src": {"BBBBBB==", "CCCCCC=="}, "dst": {"BBBBBB==", "DDDDDD=="}} {
		s.buckets[b]["layout/equal"].crc32 = sums[0]
		s.buckets[b]["layout/differs"].crc32 = sums[1]
	}
	rep, err := Verify(context.Background(), s, s, "src", "dst", LevelChecksum)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Difference{{Key: "layout/differs", Kind: DiffIdentity}}, rep.Differences, cmpKindOnly); diff != "" {
		t.Errorf("checksum level (-want +got):\n%s", diff)
	}
	if got := s.count("HeadObject"); got != 4 {
		t.Errorf("%d HEADs, want 4: one per object of the two pairs a listing cannot decide", got)
	}
}

// TestVerifyManifestReadsEveryPage: a manifest of more than one page
// stands for the source's listing; a key written into the source after it
// is no difference, a key the copy lacks is.
func TestVerifyManifestReadsEveryPage(t *testing.T) {
	s := newStub("src", "dst")
	var entries []Entry
	for i := range 2500 {
		k := fmt.Sprintf("k/%05d", i)
		s.put("src", k, []byte(k))
		if i != 1700 {
			s.put("dst", k, []byte(k))
		}
		entries = append(entries, Entry{Key: k, Size: int64(len(k)), ETag: md5hex([]byte(k)), IsLatest: true})
	}
	manifest, _ := writeManifest(t, ManifestHeader{Bucket: "src"}, entries)
	s.put("src", "late/after-the-copy", []byte("late"))
	rep, err := VerifyManifest(context.Background(), s, s, "src", "dst", LevelETag, bytes.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Difference{{Key: "k/01700", Kind: DiffMissing}}, rep.Differences, cmpKindOnly); diff != "" || rep.Objects != 2500 {
		t.Errorf("%d objects; differences (-want +got):\n%s", rep.Objects, diff)
	}
}

// TestVerifyManifestDecidesEncryptedObjectsByStoredChecksums: SSE-KMS
// objects' ETags are no digests and differ on every copy, so a clone
// verified from its manifest decides them by the stored checksums a HEAD of
// each side shows, whether or not the manifest names the algorithm (older
// manifests do not). The source is read as the manifest listed it: an
// object rewritten since is unverifiable, never compared with its newer
// content.
func TestVerifyManifestDecidesEncryptedObjectsByStoredChecksums(t *testing.T) {
	s := newStub("src", "dst")
	var entries []Entry
	keys := []string{"kms/copy-differs", "kms/equal", "kms/old-format", "kms/rewritten"}
	for i, k := range keys {
		data := []byte(k)
		s.put("src", k, data)
		s.put("dst", k, data)
		src, dst := s.buckets["src"][k], s.buckets["dst"][k]
		src.etag, dst.etag = fmt.Sprintf("%032x", i+1), fmt.Sprintf("%032x", i+100)
		src.sse, dst.sse = types.ServerSideEncryptionAwsKms, types.ServerSideEncryptionAwsKms
		src.crc32, dst.crc32 = "AAAAAA==", "AAAAAA=="
		e := Entry{Key: k, Size: int64(len(data)), ETag: src.etag, IsLatest: true, Checksum: "CRC32"}
		if k == "kms/old-format" {
			e.Checksum = ""
		}
		entries = append(entries, e)
	}
	manifest, _ := writeManifest(t, ManifestHeader{Bucket: "src"}, entries)
	s.buckets["dst"]["kms/copy-differs"].crc32 = "BBBBBB=="
	// Rewritten after the copy, same size: its new checksum equals the
	// copy's, which proves nothing of the object the manifest listed.
	s.buckets["src"]["kms/rewritten"].etag = fmt.Sprintf("%032x", 999)
	rep, err := VerifyManifest(context.Background(), s, s, "src", "dst", LevelChecksum, bytes.NewReader(manifest))
	if err != nil {
		t.Fatal(err)
	}
	want := []Difference{{Key: "kms/copy-differs", Kind: DiffIdentity}, {Key: "kms/rewritten", Kind: DiffUnverifiable}}
	if diff := cmp.Diff(want, rep.Differences, cmpKindOnly); diff != "" || rep.Objects != int64(len(keys)) {
		t.Errorf("%d objects; differences (-want +got):\n%s", rep.Objects, diff)
	}
}
