package bucket

import (
	"context"
	"fmt"
	"net/url"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// abortTimeout bounds the abort of a failed upload, which runs on a fresh
// context so that a cancelled copy still cleans up.
const abortTimeout = 30 * time.Second

// copyMultipart copies one object by UploadPartCopy. A multipart source is
// copied with its own part boundaries (HEAD PartNumber=i gives part i's
// size), so the copy's ETag equals the source's; a single-part source is
// cut into PartSize parts. Metadata, content headers, tags, storage class
// and encryption settings are carried explicitly. Every part reads the
// version the listing saw (CopySourceIfMatch). On any failure the upload is
// aborted.
func (s *Syncer) copyMultipart(ctx context.Context, t task) error {
	o := t.src
	head, sizes, err := s.partLayout(ctx, o)
	if err != nil {
		return err
	}
	tags, err := s.Src.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(s.SrcBucket), Key: aws.String(o.Key)}, s.observe)
	if err != nil {
		return fmt.Errorf("read tags of %s: %w", o.Key, err)
	}
	// An earlier attempt's upload of this key is ours to abort, unless
	// the destination is protected: there it may be a user's.
	if !t.guarded {
		if _, err := abortUploads(ctx, s.Dst, s.DstBucket, o.Key); err != nil {
			return err
		}
	}
	enc, err := s.encryptionOf(head)
	if err != nil {
		return fmt.Errorf("copy %s: %w", o.Key, err)
	}
	in := &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.DstBucket), Key: aws.String(o.Key),
		ContentType: head.ContentType, CacheControl: head.CacheControl,
		ContentDisposition: head.ContentDisposition, ContentEncoding: head.ContentEncoding,
		ContentLanguage: head.ContentLanguage, Expires: head.Expires,
		WebsiteRedirectLocation: head.WebsiteRedirectLocation,
		Metadata:                head.Metadata,
		ServerSideEncryption:    enc.algorithm, SSEKMSKeyId: enc.kmsKeyID, BucketKeyEnabled: enc.bucketKey,
	}
	if head.StorageClass != "" && head.StorageClass != types.StorageClassStandard {
		in.StorageClass = head.StorageClass
	}
	if len(tags.TagSet) > 0 {
		v := url.Values{}
		for _, t := range tags.TagSet {
			v.Set(aws.ToString(t.Key), aws.ToString(t.Value))
		}
		in.Tagging = aws.String(v.Encode())
	}
	up, err := s.Dst.CreateMultipartUpload(ctx, in, s.observe)
	if err != nil {
		return fmt.Errorf("start multipart copy of %s: %w", o.Key, err)
	}
	done := false
	defer func() {
		if done {
			return
		}
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), abortTimeout)
		defer cancel()
		_, _ = s.Dst.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(s.DstBucket), Key: aws.String(o.Key), UploadId: up.UploadId})
	}()
	// Every part reads the version the listing saw.
	ifMatch := aws.String(`"` + o.ETag + `"`)
	parts := make([]types.CompletedPart, len(sizes))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.PartConcurrency)
	var off int64
	for i, size := range sizes {
		first := off
		off += size
		g.Go(func() error {
			out, err := s.Dst.UploadPartCopy(gctx, &s3.UploadPartCopyInput{
				Bucket: aws.String(s.DstBucket), Key: aws.String(o.Key), UploadId: up.UploadId,
				PartNumber:        aws.Int32(int32(i + 1)),
				CopySource:        aws.String(copySource(s.SrcBucket, o.Key)),
				CopySourceRange:   aws.String(fmt.Sprintf("bytes=%d-%d", first, first+size-1)),
				CopySourceIfMatch: ifMatch,
			}, s.observe)
			if err != nil {
				return fmt.Errorf("copy part %d of %s: %w", i+1, o.Key, err)
			}
			parts[i] = types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.CopyPartResult.ETag}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	complete := &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.DstBucket), Key: aws.String(o.Key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	}
	if t.guarded { // S3 completes only over the object the guard allowed
		if t.dst.Key != "" {
			complete.IfMatch = aws.String(`"` + t.dst.ETag + `"`)
		} else {
			complete.IfNoneMatch = aws.String("*")
		}
	}
	if _, err := s.Dst.CompleteMultipartUpload(ctx, complete, s.observe); err != nil {
		if t.guarded && (errorCode(err) == "PreconditionFailed" || isNotFound(err) && errorCode(err) != "NoSuchUpload") {
			return errKept
		}
		return fmt.Errorf("finish multipart copy of %s: %w", o.Key, err)
	}
	done = true
	return nil
}

// partLayout returns the source's headers and the part sizes to copy.
func (s *Syncer) partLayout(ctx context.Context, o Object) (*s3.HeadObjectOutput, []int64, error) {
	headPart := func(ctx context.Context, n int32) (*s3.HeadObjectOutput, error) {
		in := &s3.HeadObjectInput{Bucket: aws.String(s.SrcBucket), Key: aws.String(o.Key)}
		if n > 0 {
			in.PartNumber = aws.Int32(n)
		}
		h, err := s.Src.HeadObject(ctx, in, s.observe)
		if err != nil {
			return nil, fmt.Errorf("read %s (part %d): %w", o.Key, n, err)
		}
		return h, nil
	}
	// The whole object's HEAD carries its headers (a part's HEAD may not:
	// moto's does not).
	head, err := headPart(ctx, 0)
	if err != nil {
		return nil, nil, err
	}
	if o.Parts() == 0 {
		size := aws.ToInt64(head.ContentLength)
		var sizes []int64
		for off := int64(0); off < size; off += s.PartSize {
			sizes = append(sizes, min(s.PartSize, size-off))
		}
		if len(sizes) == 0 {
			sizes = []int64{0} // never: empty objects take CopyObject
		}
		return head, sizes, nil
	}
	n := o.Parts()
	sizes := make([]int64, n)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(s.PartConcurrency)
	for i := 1; i <= n; i++ {
		g.Go(func() error {
			h, err := headPart(gctx, int32(i))
			if err != nil {
				return err
			}
			// AWS answers a part's HEAD with the object's ETag, moto with
			// the part's MD5: a change shows in the count or the sizes.
			if aws.ToInt32(h.PartsCount) != int32(n) {
				return fmt.Errorf("read %s: %d parts, its listed ETag says %d: it changed while being copied", o.Key, aws.ToInt32(h.PartsCount), n)
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
	if total != o.Size {
		return nil, nil, fmt.Errorf("read %s: parts add up to %d bytes, the listing says %d: it changed while being copied", o.Key, total, o.Size)
	}
	return head, sizes, nil
}

// uploadAborter lists and aborts unfinished multipart uploads.
type uploadAborter interface {
	ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, optFns ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

// abortUploads aborts the unfinished multipart uploads in bucket: those of
// key exactly when key is set, else all of them. It returns how many.
func abortUploads(ctx context.Context, api uploadAborter, bucket, key string) (int64, error) {
	var n int64
	p := s3.NewListMultipartUploadsPaginator(api, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: nonEmpty(key)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("list unfinished uploads in %s: %w", bucket, err)
		}
		for _, u := range page.Uploads {
			if key != "" && aws.ToString(u.Key) != key {
				continue
			}
			if _, err := api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String(bucket), Key: u.Key, UploadId: u.UploadId}); err != nil && !isNotFound(err) {
				return n, fmt.Errorf("abort unfinished upload of %s in %s: %w", aws.ToString(u.Key), bucket, err)
			}
			n++
		}
	}
	return n, nil
}
