package live

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
)

// kmsKey describes the key ref names (key ID, key ARN, alias name or alias
// ARN). A key that does not exist, or that the caller may not describe, is
// an observation: Readable false, with the error code in Error. Throttling,
// server and network failures are errors.
func (r *Reader) kmsKey(ctx context.Context, ref string) (*KMSKey, error) {
	out, err := r.KMS.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
	switch {
	case err == nil:
	case isObservableFault(err):
		return &KMSKey{Ref: ref, Error: errorCode(err)}, nil
	default:
		return nil, readError(fmt.Sprintf("KMS key %q", ref), "kms:DescribeKey", err)
	}
	k := &KMSKey{Ref: ref, Readable: true}
	if m := out.KeyMetadata; m != nil {
		k.ARN = aws.ToString(m.Arn)
		k.Enabled = m.Enabled
	}
	return k, nil
}
