package bucket

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/envmig/envmig/executor"
)

// skipOne is the deliberately broken copy that executor.BreakEnv
// ("bucket.copy", test builds only) installs: the first key the process is
// asked to copy is never copied, every time, and the copy reports
// success. The suites must catch it.
type skipOne struct{ S3API }

var skipped struct {
	sync.Mutex
	key string
}

func (s skipOne) CopyObject(ctx context.Context, in *s3.CopyObjectInput, optFns ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	skipped.Lock()
	if skipped.key == "" {
		skipped.key = aws.ToString(in.Key)
	}
	skip := skipped.key == aws.ToString(in.Key)
	skipped.Unlock()
	if skip {
		return &s3.CopyObjectOutput{}, nil
	}
	return s.S3API.CopyObject(ctx, in, optFns...)
}

// brokenCopy returns api, or in a test build that BreakEnv tells to break
// the bucket copy, api skipping one key.
func brokenCopy(api S3API) S3API {
	if executor.Broken("bucket.copy") {
		return skipOne{api}
	}
	return api
}
