package s3state

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/statefile"
)

// Client is every S3 operation the backend makes; *s3.Client satisfies it.
type Client interface {
	GetObject(ctx context.Context, in *s3.GetObjectInput, opts ...func(*s3.Options)) (*s3.GetObjectOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, opts ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, opts ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
	GetBucketEncryption(ctx context.Context, in *s3.GetBucketEncryptionInput, opts ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error)
	GetPublicAccessBlock(ctx context.Context, in *s3.GetPublicAccessBlockInput, opts ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

var _ Client = (*s3.Client)(nil)

// Defaults of Options.
const (
	DefaultLease       = 2 * time.Minute
	DefaultCallTimeout = time.Minute
	DefaultPartSize    = 8 << 20
	// MinPartSize is S3's smallest multipart part (but the last).
	MinPartSize = 5 << 20
)

// Options configure the S3 backend. Only Bucket is required.
type Options struct {
	Bucket string
	// Prefix is put before every key ("envmig/"); a missing final '/' is
	// added, a leading one removed.
	Prefix string
	// Region is the bucket's region ("" = Config's).
	Region string
	// Config builds the client when Client is nil.
	Config aws.Config
	// Client, when set, makes every call (tests, fault injection).
	Client Client
	// ExpectedOwner, when set, is the account that must own the bucket:
	// every call passes it as ExpectedBucketOwner, and S3 refuses the call
	// (403) if another account owns the bucket.
	ExpectedOwner string

	// Lease is how long a lock holds without renewal (default 2 minutes):
	// the longest a dead holder keeps others waiting.
	Lease time.Duration
	// RenewEvery is how often the holder renews its lease (default
	// Lease/4).
	RenewEvery time.Duration
	// RetryEvery is how often a waiting Lock, and a failed renewal, try
	// again (default min(Lease/4, 1s)).
	RetryEvery time.Duration
	// CallTimeout bounds each state call (Load, Save, LockInfo, ...), which
	// take no context (default 1 minute).
	CallTimeout time.Duration
	// PartSize is the size of the parts a blob is uploaded in (default 8
	// MiB, at least MinPartSize); blobs are streamed, holding one part in
	// memory.
	PartSize int64
}

// Backend is the journals under one prefix of one S3 bucket. It is safe for
// concurrent use.
type Backend struct {
	o      Options
	client Client

	// renewGate, when set, is received from before each renewal (tests:
	// a holder that stalls).
	renewGate chan struct{}
}

var _ statefile.Backend = (*Backend)(nil)

// Open checks the bucket and returns the backend. It refuses, with a
// *BucketError saying how to fix it, a bucket that does not exist, is not
// versioned (every version of a journal must stay recoverable), has no
// default encryption, or whose Public Access Block is not fully on (all
// four settings): the journal steers production, so nobody outside the
// account may read or write it. The account-level Public Access Block is
// not consulted: the bucket's own must be on, so the guarantee does not
// depend on account settings envmig cannot see with bucket permissions.
func Open(ctx context.Context, o Options) (*Backend, error) {
	if o.Bucket == "" {
		return nil, errors.New("the S3 state backend needs a bucket")
	}
	o.Prefix = strings.TrimLeft(o.Prefix, "/")
	if o.Prefix != "" && !strings.HasSuffix(o.Prefix, "/") {
		o.Prefix += "/"
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	if o.RenewEvery <= 0 {
		o.RenewEvery = o.Lease / 4
	}
	if o.RetryEvery <= 0 {
		o.RetryEvery = min(o.Lease/4, time.Second)
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.PartSize <= 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < MinPartSize {
		return nil, fmt.Errorf("the S3 state backend's part size %d is below S3's minimum %d", o.PartSize, MinPartSize)
	}
	if o.RenewEvery >= o.Lease {
		return nil, fmt.Errorf("the state lock's renewal interval %s must be shorter than its lease %s", o.RenewEvery, o.Lease)
	}
	b := &Backend{o: o, client: o.Client}
	if b.client == nil {
		b.client = awsclient.NewS3(o.Config, o.Region)
	}
	if err := b.check(ctx); err != nil {
		return nil, err
	}
	return b, nil
}

// Bucket is the state bucket (the lead checks that the spec never migrates it).
func (b *Backend) Bucket() string { return b.o.Bucket }

// Location is s3://bucket/prefix.
func (b *Backend) Location() string { return "s3://" + b.o.Bucket + "/" + b.o.Prefix }

// Kind is "s3".
func (b *Backend) Kind() string { return "s3" }

// Journal returns the journal name; it touches nothing.
func (b *Backend) Journal(name string) statefile.Journal { return b.journal(name) }

func (b *Backend) journal(name string) *Journal {
	return &Journal{b: b, name: name}
}

// Journals lists the journals under the prefix that hold a state.
func (b *Backend) Journals(ctx context.Context) ([]string, error) {
	p := s3.NewListObjectsV2Paginator(b.client, &s3.ListObjectsV2Input{
		Bucket: &b.o.Bucket, Prefix: aws.String(b.o.Prefix), Delimiter: aws.String("/"), ExpectedBucketOwner: b.owner(),
	})
	var names []string
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list journals in %s: %w", b.Location(), err)
		}
		for _, o := range page.Contents {
			name, ok := strings.CutSuffix(strings.TrimPrefix(aws.ToString(o.Key), b.o.Prefix), ".state.json")
			if ok && statefile.ValidName(name) {
				names = append(names, name)
			}
		}
	}
	sort.Strings(names)
	return names, nil
}

// owner is the ExpectedBucketOwner of every call (nil when unset).
func (b *Backend) owner() *string {
	if b.o.ExpectedOwner == "" {
		return nil
	}
	return aws.String(b.o.ExpectedOwner)
}

// call bounds one state call.
func (b *Backend) call() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), b.o.CallTimeout)
}

func (b *Backend) url(key string) string { return "s3://" + b.o.Bucket + "/" + key }

// BucketError reports a state bucket envmig refuses to keep journals in.
type BucketError struct {
	Bucket string
	// Problem is "missing", "versioning", "encryption" or "public-access".
	Problem string
	Reason  string // what is wrong, after "it"
	Fix     string // the command that fixes it
}

func (e *BucketError) Error() string {
	return fmt.Sprintf("refusing the state bucket %q: it %s; %s", e.Bucket, e.Reason, e.Fix)
}

// check refuses a bucket that is missing, unversioned, unencrypted or not
// fully blocked from public access.
func (b *Backend) check(ctx context.Context) error {
	bucket := b.o.Bucket
	v, err := b.client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: &bucket, ExpectedBucketOwner: b.owner()})
	if errorCode(err) == "NoSuchBucket" {
		return &BucketError{Bucket: bucket, Problem: "missing", Reason: "does not exist",
			Fix: "create it (versioned, encrypted, public access blocked) before using it for envmig's state; envmig never creates its state bucket"}
	}
	if err != nil {
		return fmt.Errorf("check the state bucket %q (s3:GetBucketVersioning): %w", bucket, err)
	}
	if v.Status != types.BucketVersioningStatusEnabled {
		status := "never enabled"
		if v.Status != "" {
			status = "suspended"
		}
		return &BucketError{Bucket: bucket, Problem: "versioning",
			Reason: "is not versioned (versioning " + status + "), so an overwritten journal could not be recovered",
			Fix:    "enable versioning: aws s3api put-bucket-versioning --bucket " + bucket + " --versioning-configuration Status=Enabled"}
	}
	enc, err := b.client.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: &bucket, ExpectedBucketOwner: b.owner()})
	encFix := "enable default encryption: aws s3api put-bucket-encryption --bucket " + bucket +
		` --server-side-encryption-configuration '{"Rules":[{"ApplyServerSideEncryptionByDefault":{"SSEAlgorithm":"aws:kms"}}]}'` + " (or AES256)"
	switch {
	case errorCode(err) == "ServerSideEncryptionConfigurationNotFoundError":
		return &BucketError{Bucket: bucket, Problem: "encryption", Reason: "has no default encryption", Fix: encFix}
	case err != nil:
		return fmt.Errorf("check the state bucket %q (s3:GetEncryptionConfiguration): %w", bucket, err)
	case enc.ServerSideEncryptionConfiguration == nil || len(enc.ServerSideEncryptionConfiguration.Rules) == 0:
		return &BucketError{Bucket: bucket, Problem: "encryption", Reason: "has no default encryption rule", Fix: encFix}
	}
	pab, err := b.client.GetPublicAccessBlock(ctx, &s3.GetPublicAccessBlockInput{Bucket: &bucket, ExpectedBucketOwner: b.owner()})
	pabFix := "block all public access: aws s3api put-public-access-block --bucket " + bucket +
		" --public-access-block-configuration BlockPublicAcls=true,IgnorePublicAcls=true,BlockPublicPolicy=true,RestrictPublicBuckets=true"
	switch {
	case errorCode(err) == "NoSuchPublicAccessBlockConfiguration":
		return &BucketError{Bucket: bucket, Problem: "public-access", Reason: "has no Public Access Block, so a policy or ACL could make the journal public", Fix: pabFix}
	case err != nil:
		return fmt.Errorf("check the state bucket %q (s3:GetBucketPublicAccessBlock): %w", bucket, err)
	}
	c := pab.PublicAccessBlockConfiguration
	if c == nil || !aws.ToBool(c.BlockPublicAcls) || !aws.ToBool(c.IgnorePublicAcls) || !aws.ToBool(c.BlockPublicPolicy) || !aws.ToBool(c.RestrictPublicBuckets) {
		return &BucketError{Bucket: bucket, Problem: "public-access",
			Reason: "does not block all public access (its Public Access Block has a setting off), so a policy or ACL could make the journal public", Fix: pabFix}
	}
	return nil
}

// errorCode is the AWS error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func httpStatus(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

// notFound reports a missing key (GetObject's NoSuchKey, a HEAD's 404, or
// If-Match on an object that no longer exists).
func notFound(err error) bool {
	var nk *types.NoSuchKey
	switch {
	case errors.As(err, &nk):
		return true
	case err == nil:
		return false
	}
	code := errorCode(err)
	return code == "NoSuchKey" || code == "NotFound" || (code == "" && httpStatus(err) == 404)
}

// preconditionFailed reports a conditional write or delete refused because
// the object is not as the condition said (412), or gone (404 for If-Match).
func preconditionFailed(err error) bool {
	return errorCode(err) == "PreconditionFailed" || httpStatus(err) == 412 || notFound(err)
}

// conditionalConflict reports S3's 409 ConditionalRequestConflict: another
// conditional write to the key was in progress; trying again settles it.
func conditionalConflict(err error) bool {
	return errorCode(err) == "ConditionalRequestConflict"
}
