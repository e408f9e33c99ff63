package s3settings_test

import (
	"context"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// apiError is an error as the SDK returns it for an HTTP error response.
func apiError(op string, status int, code string) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: op, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "stub says " + code},
		},
	}}
}

// stub answers every read "not configured", unless fail holds an error for
// the operation.
type stub struct {
	fail  map[string]error
	calls []string
}

func (s *stub) call(op string) error {
	s.calls = append(s.calls, op)
	return s.fail[op]
}

func (s *stub) GetBucketPolicy(_ context.Context, _ *s3.GetBucketPolicyInput, _ ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error) {
	if err := s.call("GetBucketPolicy"); err != nil {
		return nil, err
	}
	return nil, apiError("GetBucketPolicy", 404, "NoSuchBucketPolicy")
}

func (s *stub) GetPublicAccessBlock(_ context.Context, _ *s3.GetPublicAccessBlockInput, _ ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error) {
	if err := s.call("GetPublicAccessBlock"); err != nil {
		return nil, err
	}
	return nil, apiError("GetPublicAccessBlock", 404, "NoSuchPublicAccessBlockConfiguration")
}

func (s *stub) GetBucketOwnershipControls(_ context.Context, _ *s3.GetBucketOwnershipControlsInput, _ ...func(*s3.Options)) (*s3.GetBucketOwnershipControlsOutput, error) {
	if err := s.call("GetBucketOwnershipControls"); err != nil {
		return nil, err
	}
	return nil, apiError("GetBucketOwnershipControls", 404, "OwnershipControlsNotFoundError")
}

func (s *stub) GetBucketEncryption(_ context.Context, _ *s3.GetBucketEncryptionInput, _ ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error) {
	if err := s.call("GetBucketEncryption"); err != nil {
		return nil, err
	}
	return nil, apiError("GetBucketEncryption", 404, "ServerSideEncryptionConfigurationNotFoundError")
}

func (s *stub) GetBucketLifecycleConfiguration(_ context.Context, _ *s3.GetBucketLifecycleConfigurationInput, _ ...func(*s3.Options)) (*s3.GetBucketLifecycleConfigurationOutput, error) {
	if err := s.call("GetBucketLifecycleConfiguration"); err != nil {
		return nil, err
	}
	return nil, apiError("GetBucketLifecycleConfiguration", 404, "NoSuchLifecycleConfiguration")
}

func (s *stub) GetBucketCors(_ context.Context, _ *s3.GetBucketCorsInput, _ ...func(*s3.Options)) (*s3.GetBucketCorsOutput, error) {
	if err := s.call("GetBucketCors"); err != nil {
		return nil, err
	}
	return nil, apiError("GetBucketCors", 404, "NoSuchCORSConfiguration")
}

func (s *stub) GetBucketNotificationConfiguration(_ context.Context, _ *s3.GetBucketNotificationConfigurationInput, _ ...func(*s3.Options)) (*s3.GetBucketNotificationConfigurationOutput, error) {
	if err := s.call("GetBucketNotificationConfiguration"); err != nil {
		return nil, err
	}
	return &s3.GetBucketNotificationConfigurationOutput{}, nil
}

func (s *stub) GetBucketLogging(_ context.Context, _ *s3.GetBucketLoggingInput, _ ...func(*s3.Options)) (*s3.GetBucketLoggingOutput, error) {
	if err := s.call("GetBucketLogging"); err != nil {
		return nil, err
	}
	return &s3.GetBucketLoggingOutput{}, nil
}

func (s *stub) GetBucketWebsite(_ context.Context, _ *s3.GetBucketWebsiteInput, _ ...func(*s3.Options)) (*s3.GetBucketWebsiteOutput, error) {
	if err := s.call("GetBucketWebsite"); err != nil {
		return nil, err
	}
	return nil, apiError("GetBucketWebsite", 404, "NoSuchWebsiteConfiguration")
}

func (s *stub) GetBucketRequestPayment(_ context.Context, _ *s3.GetBucketRequestPaymentInput, _ ...func(*s3.Options)) (*s3.GetBucketRequestPaymentOutput, error) {
	if err := s.call("GetBucketRequestPayment"); err != nil {
		return nil, err
	}
	return &s3.GetBucketRequestPaymentOutput{Payer: types.PayerBucketOwner}, nil
}

func (s *stub) GetBucketTagging(_ context.Context, _ *s3.GetBucketTaggingInput, _ ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error) {
	if err := s.call("GetBucketTagging"); err != nil {
		return nil, err
	}
	return &s3.GetBucketTaggingOutput{TagSet: []types.Tag{{Key: aws.String("envmig:run"), Value: aws.String("r")}, {Key: aws.String("aws:cloudformation:stack-name"), Value: aws.String("s")}}}, nil
}

func (s *stub) GetObjectLockConfiguration(_ context.Context, _ *s3.GetObjectLockConfigurationInput, _ ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error) {
	if err := s.call("GetObjectLockConfiguration"); err != nil {
		return nil, err
	}
	return nil, apiError("GetObjectLockConfiguration", 404, "ObjectLockConfigurationNotFoundError")
}

func (s *stub) GetBucketReplication(_ context.Context, _ *s3.GetBucketReplicationInput, _ ...func(*s3.Options)) (*s3.GetBucketReplicationOutput, error) {
	if err := s.call("GetBucketReplication"); err != nil {
		return nil, err
	}
	return nil, apiError("GetBucketReplication", 404, "ReplicationConfigurationNotFoundError")
}

func (s *stub) GetBucketAccelerateConfiguration(_ context.Context, _ *s3.GetBucketAccelerateConfigurationInput, _ ...func(*s3.Options)) (*s3.GetBucketAccelerateConfigurationOutput, error) {
	if err := s.call("GetBucketAccelerateConfiguration"); err != nil {
		return nil, err
	}
	return &s3.GetBucketAccelerateConfigurationOutput{}, nil
}
