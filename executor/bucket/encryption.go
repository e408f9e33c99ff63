package bucket

import (
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
