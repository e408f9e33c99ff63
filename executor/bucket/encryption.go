package bucket

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// encryption is an object's server-side encryption as a copy of it must
// request it: S3 otherwise encrypts a copy with the destination bucket's
// default, whatever the source object had.
type encryption struct {
	algorithm types.ServerSideEncryption
	kmsKeyID  *string
	bucketKey *bool
}

// encryptionOf reads the encryption of a source object from its HEAD. An
// SSE-KMS object's copy names its key and its bucket-key setting, false
// included (a destination bucket's default may turn bucket keys on).
// DSSE-KMS has no bucket keys. An object without encryption headers (some
// S3-compatible servers) is copied without them.
func encryptionOf(h *s3.HeadObjectOutput) encryption {
	e := encryption{algorithm: h.ServerSideEncryption}
	switch h.ServerSideEncryption {
	case types.ServerSideEncryptionAwsKms:
		e.kmsKeyID = h.SSEKMSKeyId
		e.bucketKey = aws.Bool(aws.ToBool(h.BucketKeyEnabled))
	case types.ServerSideEncryptionAwsKmsDsse:
		e.kmsKeyID = h.SSEKMSKeyId
	}
	return e
}

// encryptionOf is what a copy of the object HEAD described must request:
// its encryption, with the key Syncer.MapKMSKey maps its KMS key to.
func (s *Syncer) encryptionOf(h *s3.HeadObjectOutput) (encryption, error) {
	e := encryptionOf(h)
	if e.kmsKeyID == nil || s.MapKMSKey == nil {
		return e, nil
	}
	k, err := s.MapKMSKey(*e.kmsKeyID)
	if err != nil {
		return e, fmt.Errorf("choose the KMS key for a copy of an object encrypted with %s: %w", *e.kmsKeyID, err)
	}
	e.kmsKeyID = aws.String(k)
	return e, nil
}

// encryptionProbeKey is the key of the multipart upload keepsEncryption
// starts and aborts in a destination bucket.
const encryptionProbeKey = ".envmig-encryption-probe"

// prepareOwn readies a destination bucket the run created for a copy: it
// aborts the unfinished multipart uploads an earlier attempt left (the
// probe's among them), then tells whether the bucket's server keeps the
// server-side encryption a write asks for (see keepsEncryption).
func prepareOwn(ctx context.Context, api Copier, bucket string, optFns ...func(*s3.Options)) (bool, error) {
	if _, err := abortUploads(ctx, api, bucket, ""); err != nil {
		return false, err
	}
	return keepsEncryption(ctx, api, bucket, optFns...)
}

// keepsEncryption asks bucket's server whether it keeps server-side
// encryption: it starts a multipart upload that asks for SSE-S3, reads the
// answer and aborts the upload at once. No object is made; an upload a
// crash leaves is aborted with the stale ones by the next attempt, or by
// the bucket's deletion. S3, and every server that implements server-side
// encryption, names in its answer the encryption the upload will have. A
// server that answers without one stores what it is given unencrypted,
// whatever the request says: a copy into it cannot keep its source's
// encryption, and the HEAD that reads that encryption is saved. A refused
// probe (a bucket policy, a server that refuses encryption headers) keeps
// the HEADs: only an answer proves anything.
func keepsEncryption(ctx context.Context, api Copier, bucket string, optFns ...func(*s3.Options)) (bool, error) {
	out, err := api.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(encryptionProbeKey),
		ServerSideEncryption: types.ServerSideEncryptionAes256,
	}, optFns...)
	if err != nil {
		return true, ctx.Err()
	}
	if _, err := api.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(bucket), Key: aws.String(encryptionProbeKey), UploadId: out.UploadId,
	}, optFns...); err != nil && !isNotFound(err) {
		return true, fmt.Errorf("abort the upload that asked s3://%s whether it keeps server-side encryption: %w", bucket, err)
	}
	return out.ServerSideEncryption != "", nil
}
