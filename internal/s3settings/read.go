package s3settings

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// Name names one bucket setting. The values are stable: plans, journals and
// diagnostics use them.
type Name string

const (
	Policy            Name = "policy"
	PublicAccessBlock Name = "public_access_block"
	Ownership         Name = "ownership_controls"
	Encryption        Name = "encryption"
	Lifecycle         Name = "lifecycle"
	CORS              Name = "cors"
	Notifications     Name = "notifications"
	Logging           Name = "logging"
	Website           Name = "website"
	RequestPayment    Name = "request_payment"
	Tags              Name = "tags"
	ObjectLock        Name = "object_lock"
	Replication       Name = "replication"
	Accelerate        Name = "accelerate"
)

// All lists every setting, in the order plans show them.
var All = []Name{Policy, PublicAccessBlock, Ownership, Encryption, Lifecycle, CORS, Notifications,
	Logging, Website, RequestPayment, Tags, ObjectLock, Replication, Accelerate}

// Known reports whether n is one of All.
func Known(n Name) bool {
	_, ok := readers[n]
	return ok
}

// State is what a read found of one setting.
type State string

const (
	Present     State = "present"
	Absent      State = "absent"      // not configured
	Unsupported State = "unsupported" // the endpoint does not implement the read
)

// API is every read this package makes; *s3.Client satisfies it.
type API interface {
	GetBucketPolicy(ctx context.Context, in *s3.GetBucketPolicyInput, opts ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
	GetPublicAccessBlock(ctx context.Context, in *s3.GetPublicAccessBlockInput, opts ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error)
	GetBucketOwnershipControls(ctx context.Context, in *s3.GetBucketOwnershipControlsInput, opts ...func(*s3.Options)) (*s3.GetBucketOwnershipControlsOutput, error)
	GetBucketEncryption(ctx context.Context, in *s3.GetBucketEncryptionInput, opts ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error)
	GetBucketLifecycleConfiguration(ctx context.Context, in *s3.GetBucketLifecycleConfigurationInput, opts ...func(*s3.Options)) (*s3.GetBucketLifecycleConfigurationOutput, error)
	GetBucketCors(ctx context.Context, in *s3.GetBucketCorsInput, opts ...func(*s3.Options)) (*s3.GetBucketCorsOutput, error)
	GetBucketNotificationConfiguration(ctx context.Context, in *s3.GetBucketNotificationConfigurationInput, opts ...func(*s3.Options)) (*s3.GetBucketNotificationConfigurationOutput, error)
	GetBucketLogging(ctx context.Context, in *s3.GetBucketLoggingInput, opts ...func(*s3.Options)) (*s3.GetBucketLoggingOutput, error)
	GetBucketWebsite(ctx context.Context, in *s3.GetBucketWebsiteInput, opts ...func(*s3.Options)) (*s3.GetBucketWebsiteOutput, error)
	GetBucketRequestPayment(ctx context.Context, in *s3.GetBucketRequestPaymentInput, opts ...func(*s3.Options)) (*s3.GetBucketRequestPaymentOutput, error)
	GetBucketTagging(ctx context.Context, in *s3.GetBucketTaggingInput, opts ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error)
	GetObjectLockConfiguration(ctx context.Context, in *s3.GetObjectLockConfigurationInput, opts ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error)
	GetBucketReplication(ctx context.Context, in *s3.GetBucketReplicationInput, opts ...func(*s3.Options)) (*s3.GetBucketReplicationOutput, error)
	GetBucketAccelerateConfiguration(ctx context.Context, in *s3.GetBucketAccelerateConfigurationInput, opts ...func(*s3.Options)) (*s3.GetBucketAccelerateConfigurationOutput, error)
}

var _ API = (*s3.Client)(nil)

// Config is what was read of one bucket's settings. A field is meaningful
// only when its setting's state is Present.
type Config struct {
	Bucket string `json:"bucket"`
	// States has an entry for every setting that was read.
	States map[Name]State `json:"states"`

	// Policy is the policy document as S3 returned it.
	Policy            string                                   `json:"policy,omitempty"`
	PublicAccessBlock *types.PublicAccessBlockConfiguration    `json:"public_access_block,omitempty"`
	Ownership         *types.OwnershipControls                 `json:"ownership_controls,omitempty"`
	Encryption        *types.ServerSideEncryptionConfiguration `json:"encryption,omitempty"`
	Lifecycle         *LifecycleConfig                         `json:"lifecycle,omitempty"`
	CORS              []types.CORSRule                         `json:"cors,omitempty"`
	Notifications     *types.NotificationConfiguration         `json:"notifications,omitempty"`
	Logging           *types.LoggingEnabled                    `json:"logging,omitempty"`
	Website           *types.WebsiteConfiguration              `json:"website,omitempty"`
	RequestPayer      types.Payer                              `json:"request_payer,omitempty"`
	// Tags are all the bucket's tags, envmig's and AWS's included; see
	// CarriedTags.
	Tags        map[string]string               `json:"tags,omitempty"`
	ObjectLock  *types.ObjectLockConfiguration  `json:"object_lock,omitempty"`
	Replication *types.ReplicationConfiguration `json:"replication,omitempty"`
	Accelerate  types.BucketAccelerateStatus    `json:"accelerate,omitempty"`
}

// LifecycleConfig is a bucket's lifecycle configuration: its rules and the
// default minimum object size of transitions.
type LifecycleConfig struct {
	Rules                              []types.LifecycleRule                    `json:"rules"`
	TransitionDefaultMinimumObjectSize types.TransitionDefaultMinimumObjectSize `json:"transition_default_minimum_object_size,omitempty"`
}

// State returns what was read of setting n ("" when it was not read).
func (c *Config) State(n Name) State { return c.States[n] }

// ReadError is a setting read that failed for another reason than the
// setting being absent or unsupported.
type ReadError struct {
	Bucket  string
	Setting Name
	// Action is the IAM action the read needs: "s3:GetLifecycleConfiguration".
	Action string
	Err    error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("read the %s of bucket %s (%s): %v", e.Setting, e.Bucket, e.Action, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// ReadAction is the IAM action the read of setting n needs.
func ReadAction(n Name) string { return readers[n].action }

// Read reads the named settings of bucket (every setting when names is
// empty), one request each, in the order of All. It stops at the first
// *ReadError. c must be a client of the bucket's region.
func Read(ctx context.Context, c API, bucket string, names ...Name) (*Config, error) {
	if len(names) == 0 {
		names = All
	}
	for _, n := range names {
		if !Known(n) {
			return nil, fmt.Errorf("read the settings of bucket %s: unknown setting %q", bucket, n)
		}
	}
	cfg := &Config{Bucket: bucket, States: map[Name]State{}}
	for _, n := range All {
		if !contains(names, n) {
			continue
		}
		r := readers[n]
		present, err := r.read(ctx, c, aws.String(bucket), cfg)
		switch {
		case err == nil && present:
			cfg.States[n] = Present
		case err == nil || r.absent(err):
			cfg.States[n] = Absent
		case NotImplemented(err):
			cfg.States[n] = Unsupported
		default:
			return nil, &ReadError{Bucket: bucket, Setting: n, Action: r.action, Err: err}
		}
	}
	return cfg, nil
}

func contains(names []Name, n Name) bool {
	for _, x := range names {
		if x == n {
			return true
		}
	}
	return false
}

// NotImplemented reports an endpoint's answer that it does not implement an
// operation: the NotImplemented error code, or HTTP 501.
func NotImplemented(err error) bool {
	if err == nil {
		return false
	}
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NotImplemented" {
		return true
	}
	var re interface{ HTTPStatusCode() int }
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotImplemented
}

// errorCode is the AWS error code of err, "" when err is not an API error.
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

// reader reads one setting into a Config and reports whether it is present.
type reader struct {
	action string
	// notFound are the error codes S3 answers when the setting is absent.
	notFound []string
	read     func(ctx context.Context, c API, bucket *string, cfg *Config) (bool, error)
}

func (r reader) absent(err error) bool {
	code := errorCode(err)
	for _, nf := range r.notFound {
		if code == nf {
			return true
		}
	}
	return false
}

var readers = map[Name]reader{
	Policy: {"s3:GetBucketPolicy", []string{"NoSuchBucketPolicy"}, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: b})
		if err != nil {
			return false, err
		}
		cfg.Policy = aws.ToString(out.Policy)
		return cfg.Policy != "", nil
	}},
	PublicAccessBlock: {"s3:GetBucketPublicAccessBlock", []string{"NoSuchPublicAccessBlockConfiguration"}, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: b})
		if err != nil {
			return false, err
		}
		cfg.PublicAccessBlock = out.PublicAccessBlockConfiguration
		return cfg.PublicAccessBlock != nil, nil
	}},
	Ownership: {"s3:GetBucketOwnershipControls", []string{"OwnershipControlsNotFoundError"}, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetBucketOwnershipControls(ctx, &s3.GetBucketOwnershipControlsInput{Bucket: b})
		if err != nil {
			return false, err
		}
		cfg.Ownership = out.OwnershipControls
		return cfg.Ownership != nil && len(cfg.Ownership.Rules) > 0, nil
	}},
	Encryption: {"s3:GetEncryptionConfiguration", []string{"ServerSideEncryptionConfigurationNotFoundError"}, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: b})
		if err != nil {
			return false, err
		}
		cfg.Encryption = out.ServerSideEncryptionConfiguration
		return cfg.Encryption != nil && len(cfg.Encryption.Rules) > 0, nil
	}},
	Lifecycle: {"s3:GetLifecycleConfiguration", []string{"NoSuchLifecycleConfiguration"}, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: b})
		if err != nil {
			return false, err
		}
		if len(out.Rules) == 0 {
			return false, nil
		}
		cfg.Lifecycle = &LifecycleConfig{Rules: out.Rules, TransitionDefaultMinimumObjectSize: out.TransitionDefaultMinimumObjectSize}
		return true, nil
	}},
	CORS: {"s3:GetBucketCORS", []string{"NoSuchCORSConfiguration"}, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: b})
		if err != nil {
			return false, err
		}
		cfg.CORS = out.CORSRules
		return len(cfg.CORS) > 0, nil
	}},
	Notifications: {"s3:GetBucketNotification", nil, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetBucketNotificationConfiguration(ctx, &s3.GetBucketNotificationConfigurationInput{Bucket: b})
		if err != nil {
			return false, err
		}
		n := &types.NotificationConfiguration{
			EventBridgeConfiguration:     out.EventBridgeConfiguration,
			LambdaFunctionConfigurations: out.LambdaFunctionConfigurations,
			QueueConfigurations:          out.QueueConfigurations,
			TopicConfigurations:          out.TopicConfigurations,
		}
		if n.EventBridgeConfiguration == nil && len(n.LambdaFunctionConfigurations)+len(n.QueueConfigurations)+len(n.TopicConfigurations) == 0 {
			return false, nil
		}
		cfg.Notifications = n
		return true, nil
	}},
	Logging: {"s3:GetBucketLogging", nil, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetBucketLogging(ctx, &s3.GetBucketLoggingInput{Bucket: b})
		if err != nil {
			return false, err
		}
		cfg.Logging = out.LoggingEnabled
		return cfg.Logging != nil && aws.ToString(cfg.Logging.TargetBucket) != "", nil
	}},
	Website: {"s3:GetBucketWebsite", []string{"NoSuchWebsiteConfiguration"}, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetBucketWebsite(ctx, &s3.GetBucketWebsiteInput{Bucket: b})
		if err != nil {
			return false, err
		}
		w := &types.WebsiteConfiguration{ErrorDocument: out.ErrorDocument, IndexDocument: out.IndexDocument,
			RedirectAllRequestsTo: out.RedirectAllRequestsTo, RoutingRules: out.RoutingRules}
		if w.ErrorDocument == nil && w.IndexDocument == nil && w.RedirectAllRequestsTo == nil && len(w.RoutingRules) == 0 {
			return false, nil
		}
		cfg.Website = w
		return true, nil
	}},
	RequestPayment: {"s3:GetBucketRequestPayment", nil, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetBucketRequestPayment(ctx, &s3.GetBucketRequestPaymentInput{Bucket: b})
		if err != nil {
			return false, err
		}
		// The bucket owner pays unless the bucket says otherwise; an
		// answer without a Payer is the default.
		cfg.RequestPayer = out.Payer
		return out.Payer == types.PayerRequester, nil
	}},
	Tags: {"s3:GetBucketTagging", []string{"NoSuchTagSet", "NoSuchTagSetError"}, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b})
		if err != nil {
			return false, err
		}
		cfg.Tags = make(map[string]string, len(out.TagSet))
		for _, t := range out.TagSet {
			cfg.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
		return len(cfg.CarriedTags()) > 0, nil
	}},
	ObjectLock: {"s3:GetBucketObjectLockConfiguration", []string{"ObjectLockConfigurationNotFoundError"}, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: b})
		if err != nil {
			return false, err
		}
		cfg.ObjectLock = out.ObjectLockConfiguration
		return cfg.ObjectLock != nil && cfg.ObjectLock.ObjectLockEnabled == types.ObjectLockEnabledEnabled, nil
	}},
	Replication: {"s3:GetReplicationConfiguration", []string{"ReplicationConfigurationNotFoundError"}, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetBucketReplication(ctx, &s3.GetBucketReplicationInput{Bucket: b})
		if err != nil {
			return false, err
		}
		cfg.Replication = out.ReplicationConfiguration
		return cfg.Replication != nil && len(cfg.Replication.Rules) > 0, nil
	}},
	Accelerate: {"s3:GetAccelerateConfiguration", nil, func(ctx context.Context, c API, b *string, cfg *Config) (bool, error) {
		out, err := c.GetBucketAccelerateConfiguration(ctx, &s3.GetBucketAccelerateConfigurationInput{Bucket: b})
		if err != nil {
			return false, err
		}
		// Suspended acts as never enabled.
		cfg.Accelerate = out.Status
		return out.Status == types.BucketAccelerateStatusEnabled, nil
	}},
}
