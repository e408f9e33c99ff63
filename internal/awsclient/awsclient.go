// Package awsclient builds the AWS SDK clients envmig uses, from the SDK's
// default credential chain only (profiles, SSO, roles, environment). No
// secret ever comes from a flag.
//
// AWS_ENDPOINT_URL and the per-service AWS_ENDPOINT_URL_<SERVICE> variables
// are honoured by the SDK itself; when an endpoint is overridden S3 switches
// to path-style addressing, which local emulators need.
package awsclient

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

// Options select the account and transport.
type Options struct {
	Region  string // "" = the SDK's default chain
	Profile string // "" = the SDK's default chain
	// HTTPClient, when set, carries every request (fault injection,
	// recording in tests).
	HTTPClient aws.HTTPClient
	// MaxAttempts overrides the attempts per call (0: AWS_MAX_ATTEMPTS, or
	// DefaultMaxAttempts).
	MaxAttempts int
}

// DefaultMaxAttempts is how many times envmig tries one AWS call: more than
// the SDK's 3, because a migration makes hundreds of calls over hours and
// must ride out throttling bursts and 5xx spells.
const DefaultMaxAttempts = 10

// Retryer is the SDK's standard retryer (exponential backoff with jitter,
// retrying throttling, 5xx, resets and timeouts) with maxAttempts attempts
// per call and without the client-side retry quota: the quota makes a
// long-running client stop retrying after about a hundred retries in all,
// which would fail a migration late for faults that are over. The backoff
// is capped at 20 s, or ENVMIG_MAX_BACKOFF (a Go duration).
func Retryer(maxAttempts int) aws.Retryer {
	if maxAttempts <= 0 {
		maxAttempts = DefaultMaxAttempts
		if n, err := strconv.Atoi(os.Getenv("AWS_MAX_ATTEMPTS")); err == nil && n > 0 {
			maxAttempts = n
		}
	}
	backoff := retry.DefaultMaxBackoff
	if d, err := time.ParseDuration(os.Getenv("ENVMIG_MAX_BACKOFF")); err == nil && d > 0 {
		backoff = d
	}
	return retry.NewStandard(func(o *retry.StandardOptions) {
		o.MaxAttempts = maxAttempts
		o.MaxBackoff = backoff
		o.Backoff = retry.NewExponentialJitterBackoff(backoff)
		o.RateLimiter = ratelimit.None
	})
}

// Connections is how many idle connections per host the clients keep: a
// bucket copy keeps 64 requests in flight, and the SDK's default of 10
// would make most of them open a new connection.
const Connections = 64

// HTTPClient is the SDK's HTTP client keeping conns idle connections per
// host.
func HTTPClient(conns int) aws.HTTPClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(t *http.Transport) {
		t.MaxIdleConns = max(t.MaxIdleConns, 2*conns)
		t.MaxIdleConnsPerHost = conns
	})
}

// Clients are the service clients of one account and region.
type Clients struct {
	Config aws.Config
	// Account is the caller's account, when the maker of the clients read
	// it ("" otherwise).
	Account        string
	STS            *sts.Client
	RDS            *rds.Client
	S3             *s3.Client
	AutoScaling    *autoscaling.Client
	CloudFormation *cloudformation.Client
	KMS            *kms.Client
	// The availability switches' services.
	EC2            *ec2.Client
	ELBv2          *elasticloadbalancingv2.Client
	ELB            *elasticloadbalancing.Client
	EventBridge    *eventbridge.Client
	Scheduler      *scheduler.Client
	ECS            *ecs.Client
	AppAutoScaling *applicationautoscaling.Client
	Lambda         *lambda.Client
}

// Load resolves credentials and region through the SDK's default chain.
func Load(ctx context.Context, o Options) (aws.Config, error) {
	var opts []func(*awsconfig.LoadOptions) error
	if o.Region != "" {
		opts = append(opts, awsconfig.WithRegion(o.Region))
	}
	if o.Profile != "" {
		opts = append(opts, awsconfig.WithSharedConfigProfile(o.Profile))
	}
	httpClient := o.HTTPClient
	if httpClient == nil {
		httpClient = HTTPClient(Connections)
	}
	opts = append(opts, awsconfig.WithHTTPClient(httpClient))
	opts = append(opts, awsconfig.WithRetryer(func() aws.Retryer { return Retryer(o.MaxAttempts) }))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("load AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return aws.Config{}, fmt.Errorf("no AWS region: set aws { region = ... } in the spec, or AWS_REGION")
	}
	return cfg, nil
}

// New builds every client from cfg.
func New(cfg aws.Config) *Clients {
	return &Clients{
		Config:         cfg,
		STS:            sts.NewFromConfig(cfg),
		RDS:            rds.NewFromConfig(cfg),
		S3:             NewS3(cfg, ""),
		AutoScaling:    autoscaling.NewFromConfig(cfg),
		CloudFormation: cloudformation.NewFromConfig(cfg),
		KMS:            kms.NewFromConfig(cfg),
		EC2:            ec2.NewFromConfig(cfg),
		ELBv2:          elasticloadbalancingv2.NewFromConfig(cfg),
		ELB:            elasticloadbalancing.NewFromConfig(cfg),
		EventBridge:    eventbridge.NewFromConfig(cfg),
		Scheduler:      scheduler.NewFromConfig(cfg),
		ECS:            ecs.NewFromConfig(cfg),
		AppAutoScaling: applicationautoscaling.NewFromConfig(cfg),
		Lambda:         lambda.NewFromConfig(cfg),
	}
}

// NewS3 builds an S3 client for region ("" = cfg's region). Checksums are
// computed and validated only where S3 requires them: a server-side copy
// moves no payload, so hashing would only cost CPU.
func NewS3(cfg aws.Config, region string) *s3.Client {
	return s3.NewFromConfig(cfg, func(o *s3.Options) {
		if region != "" {
			o.Region = region
		}
		o.UsePathStyle = EndpointOverridden(cfg)
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
}

// EndpointOverridden reports whether requests go to a custom endpoint (a
// local emulator) rather than AWS.
func EndpointOverridden(cfg aws.Config) bool {
	return cfg.BaseEndpoint != nil || os.Getenv("AWS_ENDPOINT_URL") != "" || os.Getenv("AWS_ENDPOINT_URL_S3") != ""
}
