package live_test

import (
	"context"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// The bucket-setting reads of the fake: every bucket has none of these
// settings; failures are injected per operation like the fake's others.

func (f *fake) GetPublicAccessBlock(_ context.Context, in *s3.GetPublicAccessBlockInput, _ ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error) {
	if _, err := f.bucket("GetPublicAccessBlock", in.Bucket); err != nil {
		return nil, err
	}
	return nil, awsError("GetPublicAccessBlock", 404, "NoSuchPublicAccessBlockConfiguration")
}

func (f *fake) GetBucketOwnershipControls(_ context.Context, in *s3.GetBucketOwnershipControlsInput, _ ...func(*s3.Options)) (*s3.GetBucketOwnershipControlsOutput, error) {
	if _, err := f.bucket("GetBucketOwnershipControls", in.Bucket); err != nil {
		return nil, err
	}
	return nil, awsError("GetBucketOwnershipControls", 404, "OwnershipControlsNotFoundError")
}

func (f *fake) GetBucketLifecycleConfiguration(_ context.Context, in *s3.GetBucketLifecycleConfigurationInput, _ ...func(*s3.Options)) (*s3.GetBucketLifecycleConfigurationOutput, error) {
	if _, err := f.bucket("GetBucketLifecycleConfiguration", in.Bucket); err != nil {
		return nil, err
	}
	return nil, awsError("GetBucketLifecycleConfiguration", 404, "NoSuchLifecycleConfiguration")
}

func (f *fake) GetBucketCors(_ context.Context, in *s3.GetBucketCorsInput, _ ...func(*s3.Options)) (*s3.GetBucketCorsOutput, error) {
	if _, err := f.bucket("GetBucketCors", in.Bucket); err != nil {
		return nil, err
	}
	return nil, awsError("GetBucketCors", 404, "NoSuchCORSConfiguration")
}

func (f *fake) GetBucketNotificationConfiguration(_ context.Context, in *s3.GetBucketNotificationConfigurationInput, _ ...func(*s3.Options)) (*s3.GetBucketNotificationConfigurationOutput, error) {
	if _, err := f.bucket("GetBucketNotificationConfiguration", in.Bucket); err != nil {
		return nil, err
	}
	return &s3.GetBucketNotificationConfigurationOutput{}, nil
}

func (f *fake) GetBucketLogging(_ context.Context, in *s3.GetBucketLoggingInput, _ ...func(*s3.Options)) (*s3.GetBucketLoggingOutput, error) {
	if _, err := f.bucket("GetBucketLogging", in.Bucket); err != nil {
		return nil, err
	}
	return &s3.GetBucketLoggingOutput{}, nil
}

func (f *fake) GetBucketWebsite(_ context.Context, in *s3.GetBucketWebsiteInput, _ ...func(*s3.Options)) (*s3.GetBucketWebsiteOutput, error) {
	if _, err := f.bucket("GetBucketWebsite", in.Bucket); err != nil {
		return nil, err
	}
	return nil, awsError("GetBucketWebsite", 404, "NoSuchWebsiteConfiguration")
}

func (f *fake) GetBucketRequestPayment(_ context.Context, in *s3.GetBucketRequestPaymentInput, _ ...func(*s3.Options)) (*s3.GetBucketRequestPaymentOutput, error) {
	if _, err := f.bucket("GetBucketRequestPayment", in.Bucket); err != nil {
		return nil, err
	}
	return &s3.GetBucketRequestPaymentOutput{Payer: "BucketOwner"}, nil
}

func (f *fake) GetBucketReplication(_ context.Context, in *s3.GetBucketReplicationInput, _ ...func(*s3.Options)) (*s3.GetBucketReplicationOutput, error) {
	if _, err := f.bucket("GetBucketReplication", in.Bucket); err != nil {
		return nil, err
	}
	return nil, awsError("GetBucketReplication", 404, "ReplicationConfigurationNotFoundError")
}

func (f *fake) GetBucketAccelerateConfiguration(_ context.Context, in *s3.GetBucketAccelerateConfigurationInput, _ ...func(*s3.Options)) (*s3.GetBucketAccelerateConfigurationOutput, error) {
	if _, err := f.bucket("GetBucketAccelerateConfiguration", in.Bucket); err != nil {
		return nil, err
	}
	return &s3.GetBucketAccelerateConfigurationOutput{}, nil
}
