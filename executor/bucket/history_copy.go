package bucket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// versionSource is the x-amz-copy-source value of one version of key.
func versionSource(bucket, key, versionID string) string {
	s := copySource(bucket, key)
	if versionID == "" {
		return s
	}
	return s + "?versionId=" + url.QueryEscape(versionID)
}

// versionCopier copies given versions of source keys into a destination,
// server-side, the way the Syncer copies current objects: one CopyObject up
// to the threshold with the source version's metadata and tags, else
// UploadPartCopy with the version's own part boundaries.
type versionCopier struct {
	src                  HistorySource
	dst                  Copier
	srcBucket, dstBucket string
	threshold, partSize  int64
	partConcurrency      int
	// keepEncryption HEADs each source version for its server-side
	// encryption settings (SSE-KMS key, bucket key) and asks for them.
	keepEncryption bool
	observe        func(*s3.Options)
}

// copy writes version e of key as a new version (or the object) of key in
// the destination. A failed multipart copy is aborted.
func (c *versionCopier) copy(ctx context.Context, key string, e VersionEntry) error {
	if e.object(key).Parts() > 0 || e.Size > c.threshold {
		return c.copyMultipart(ctx, key, e)
	}
	in := &s3.CopyObjectInput{
		Bucket:            aws.String(c.dstBucket),
		Key:               aws.String(key),
		CopySource:        aws.String(versionSource(c.srcBucket, key, e.VersionID)),
		MetadataDirective: types.MetadataDirectiveCopy,
		TaggingDirective:  types.TaggingDirectiveCopy,
	}
	if e.StorageClass != "" {
		in.StorageClass = types.StorageClass(e.StorageClass)
	}
	if c.keepEncryption {
		h, err := c.src.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(c.srcBucket), Key: aws.String(key), VersionId: nonEmpty(e.VersionID)}, c.observe)
		if err != nil {
			return fmt.Errorf("read %s version %s: %w", key, e.VersionID, err)
		}
		in.ServerSideEncryption, in.SSEKMSKeyId, in.BucketKeyEnabled = h.ServerSideEncryption, h.SSEKMSKeyId, h.BucketKeyEnabled
	}
	if _, err := c.dst.CopyObject(ctx, in, c.observe); err != nil {
		return fmt.Errorf("copy %s version %s: %w", key, e.VersionID, err)
	}
	return nil
}

// copyMultipart copies version e of key by UploadPartCopy: a multipart
// version with its own part boundaries (the copy's ETag is the source's),
// a single-part one in partSize parts. Headers, metadata, tags, storage
// class and encryption settings of the version are carried explicitly.
func (c *versionCopier) copyMultipart(ctx context.Context, key string, e VersionEntry) error {
	head, sizes, err := c.partLayout(ctx, key, e)
	if err != nil {
		return err
	}
	tags, err := c.src.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(c.srcBucket), Key: aws.String(key), VersionId: nonEmpty(e.VersionID)}, c.observe)
	if err != nil {
		return fmt.Errorf("read tags of %s version %s: %w", key, e.VersionID, err)
	}
	if _, err := abortUploads(ctx, c.dst, c.dstBucket, key); err != nil {
		return err
	}
	in := &s3.CreateMultipartUploadInput{
		Bucket: aws.String(c.dstBucket), Key: aws.String(key),
		ContentType: head.ContentType, CacheControl: head.CacheControl,
		ContentDisposition: head.ContentDisposition, ContentEncoding: head.ContentEncoding,
		ContentLanguage: head.ContentLanguage, Expires: head.Expires,
		WebsiteRedirectLocation: head.WebsiteRedirectLocation,
		Metadata:                head.Metadata,
	}
	if c.keepEncryption {
		in.ServerSideEncryption, in.SSEKMSKeyId, in.BucketKeyEnabled = head.ServerSideEncryption, head.SSEKMSKeyId, head.BucketKeyEnabled
	}
	if e.StorageClass != "" {
		in.StorageClass = types.StorageClass(e.StorageClass)
	}
	if len(tags.TagSet) > 0 {
		v := url.Values{}
		for _, t := range tags.TagSet {
			v.Set(aws.ToString(t.Key), aws.ToString(t.Value))
		}
		in.Tagging = aws.String(v.Encode())
	}
	up, err := c.dst.CreateMultipartUpload(ctx, in, c.observe)
	if err != nil {
		return fmt.Errorf("start multipart copy of %s version %s: %w", key, e.VersionID, err)
	}
	done := false
	defer func() {
		if done {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		_, _ = c.dst.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(c.dstBucket), Key: aws.String(key), UploadId: up.UploadId})
	}()
	source := aws.String(versionSource(c.srcBucket, key, e.VersionID))
	parts := make([]types.CompletedPart, len(sizes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.partConcurrency)
	var off int64
	for i, size := range sizes {
		first := off
		off += size
		g.Go(func() error {
			out, err := c.dst.UploadPartCopy(gctx, &s3.UploadPartCopyInput{
				Bucket: aws.String(c.dstBucket), Key: aws.String(key), UploadId: up.UploadId,
				PartNumber:      aws.Int32(int32(i + 1)),
				CopySource:      source,
				CopySourceRange: aws.String(fmt.Sprintf("bytes=%d-%d", first, first+size-1)),
			}, c.observe)
			if err != nil {
				return fmt.Errorf("copy part %d of %s version %s: %w", i+1, key, e.VersionID, err)
			}
			parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.CopyPartResult.ETag}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	if _, err := c.dst.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(c.dstBucket), Key: aws.String(key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}, c.observe); err != nil {
		return fmt.Errorf("finish multipart copy of %s version %s: %w", key, e.VersionID, err)
	}
	done = true
	return nil
}

// partLayout returns the version's headers and the part sizes to copy:
// its own parts (HEAD PartNumber=i) when it was uploaded in parts, else
// partSize slices.
func (c *versionCopier) partLayout(ctx context.Context, key string, e VersionEntry) (*s3.HeadObjectOutput, []int64, error) {
	headPart := func(ctx context.Context, n int32) (*s3.HeadObjectOutput, error) {
		in := &s3.HeadObjectInput{Bucket: aws.String(c.srcBucket), Key: aws.String(key), VersionId: nonEmpty(e.VersionID)}
		if n > 0 {
			in.PartNumber = aws.Int32(n)
		}
		h, err := c.src.HeadObject(ctx, in, c.observe)
		if err != nil {
			return nil, fmt.Errorf("read %s version %s (part %d): %w", key, e.VersionID, n, err)
		}
		return h, nil
	}
	head, err := headPart(ctx, 0)
	if err != nil {
		return nil, nil, err
	}
	n := e.object(key).Parts()
	if n == 0 {
		var sizes []int64
		for off := int64(0); off < e.Size; off += c.partSize {
			sizes = append(sizes, min(c.partSize, e.Size-off))
		}
		return head, sizes, nil
	}
	sizes := make([]int64, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(c.partConcurrency)
	for i := 1; i <= n; i++ {
		g.Go(func() error {
			h, err := headPart(gctx, int32(i))
			if err != nil {
				return err
			}
			if aws.ToInt32(h.PartsCount) != int32(n) {
				return fmt.Errorf("read %s version %s: %d parts, its listed ETag says %d", key, e.VersionID, aws.ToInt32(h.PartsCount), n)
			}
			sizes[i-1] = aws.ToInt64(h.ContentLength)
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, nil, err
	}
	var total int64
	for _, sz := range sizes {
		total += sz
	}
	if total != e.Size {
		return nil, nil, fmt.Errorf("read %s version %s: parts add up to %d bytes, the listing says %d", key, e.VersionID, total, e.Size)
	}
	return head, sizes, nil
}

// versionGone reports an error saying a source version no longer exists
// (deleted since it was listed): CopyObject's NoSuchVersion or NoSuchKey,
// a HEAD's 404.
func versionGone(err error) bool {
	switch errorCode(err) {
	case "NoSuchVersion", "NoSuchKey", "NotFound":
		return true
	}
	return false
}

// versionRef names one version of an object ("" = the current one).
type versionRef struct {
	bucket, key, versionID string
}

func (r versionRef) String() string {
	if r.versionID == "" {
		return fmt.Sprintf("s3://%s/%s", r.bucket, r.key)
	}
	return fmt.Sprintf("s3://%s/%s (version %s)", r.bucket, r.key, r.versionID)
}

// versionChecksum returns the stored checksum of a version as
// "ALGO:TYPE:value", or "" when it has none.
func versionChecksum(ctx context.Context, api Header, r versionRef, optFns ...func(*s3.Options)) (string, error) {
	h, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(r.key), VersionId: nonEmpty(r.versionID), ChecksumMode: types.ChecksumModeEnabled}, optFns...)
	if err != nil {
		return "", fmt.Errorf("read checksum of %s: %w", r, err)
	}
	for _, c := range []struct {
		algo string
		v    *string
	}{{"CRC64NVME", h.ChecksumCRC64NVME}, {"CRC32", h.ChecksumCRC32}, {"CRC32C", h.ChecksumCRC32C}, {"SHA1", h.ChecksumSHA1}, {"SHA256", h.ChecksumSHA256}} {
		if c.v != nil && *c.v != "" {
			return c.algo + ":" + string(h.ChecksumType) + ":" + *c.v, nil
		}
	}
	return "", nil
}

// versionHash streams a version's body through SHA-256.
func versionHash(ctx context.Context, api Getter, r versionRef, optFns ...func(*s3.Options)) (string, error) {
	out, err := api.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(r.bucket), Key: aws.String(r.key), VersionId: nonEmpty(r.versionID)}, optFns...)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", r, err)
	}
	defer out.Body.Close()
	h := sha256.New()
	if _, err := io.Copy(h, out.Body); err != nil {
		return "", fmt.Errorf("read %s: %w", r, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// prover decides whether two versions the listings could not prove equal
// hold the same content: by stored checksums when both carry one of the
// same algorithm, else (when content is set) by reading both bodies.
type prover struct {
	src, dst interface {
		Header
		Getter
	}
	content bool
	observe func(*s3.Options)
}

// prove returns Same or Different with a reason, or Undecided when neither
// checksums nor (without content) anything else can decide.
func (p prover) prove(ctx context.Context, s, d versionRef, so, do Object) (Identity, string, error) {
	if sameChecksumAlgorithm(so, do) {
		a, err := versionChecksum(ctx, p.src, s, p.observe)
		if err != nil {
			return Undecided, "", err
		}
		b, err := versionChecksum(ctx, p.dst, d, p.observe)
		if err != nil {
			return Undecided, "", err
		}
		if a != "" && b != "" {
			if a == b {
				return Same, "", nil
			}
			return Different, fmt.Sprintf("checksum %s, copy has %s", a, b), nil
		}
	}
	if !p.content {
		return Undecided, fmt.Sprintf("ETag %s, copy has %s, and no stored checksums of one algorithm", so.ETag, do.ETag), nil
	}
	a, err := versionHash(ctx, p.src, s, p.observe)
	if err != nil {
		return Undecided, "", err
	}
	b, err := versionHash(ctx, p.dst, d, p.observe)
	if err != nil {
		return Undecided, "", err
	}
	if a != b {
		return Different, "content differs", nil
	}
	return Same, "", nil
}
