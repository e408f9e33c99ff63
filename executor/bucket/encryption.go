package bucket

import (
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
