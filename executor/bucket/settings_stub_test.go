package bucket

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/s3settings"
)

// settingsStub is an in-memory S3 for bucket settings: what moto does not
// implement (request payment), endpoints without a feature (501), and
// reads that lag behind writes.
type settingsStub struct {
	mu sync.Mutex
	// payer and tags by bucket; every other setting is absent.
	payer map[string]types.Payer
	tags  map[string][]types.Tag
	// fail answers an operation with an error.
	fail map[string]error
	// lag is how many reads of request payment after a put still show the
	// old value.
	lag   int
	stale int
	puts  []string
}

func stubError(op string, status int, code string) error {
	return &smithy.OperationError{ServiceID: "S3", OperationName: op, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "stub says " + code},
		},
	}}
}

func newSettingsStub() *settingsStub {
	return &settingsStub{payer: map[string]types.Payer{}, tags: map[string][]types.Tag{}, fail: map[string]error{}}
}

func (s *settingsStub) op(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasPrefix(name, "Put") || strings.HasPrefix(name, "Delete") {
		s.puts = append(s.puts, name)
	}
	return s.fail[name]
}

func (s *settingsStub) absent(op, code string) error {
	if err := s.op(op); err != nil {
		return err
	}
	return stubError(op, 404, code)
}

func (s *settingsStub) GetBucketPolicy(context.Context, *s3.GetBucketPolicyInput, ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error) {
	return nil, s.absent("GetBucketPolicy", "NoSuchBucketPolicy")
}
func (s *settingsStub) GetPublicAccessBlock(context.Context, *s3.GetPublicAccessBlockInput, ...func(*s3.Options)) (*s3.GetPublicAccessBlockOutput, error) {
	return nil, s.absent("GetPublicAccessBlock", "NoSuchPublicAccessBlockConfiguration")
}
func (s *settingsStub) GetBucketOwnershipControls(context.Context, *s3.GetBucketOwnershipControlsInput, ...func(*s3.Options)) (*s3.GetBucketOwnershipControlsOutput, error) {
	return nil, s.absent("GetBucketOwnershipControls", "OwnershipControlsNotFoundError")
}
func (s *settingsStub) GetBucketEncryption(context.Context, *s3.GetBucketEncryptionInput, ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error) {
	return nil, s.absent("GetBucketEncryption", "ServerSideEncryptionConfigurationNotFoundError")
}
func (s *settingsStub) GetBucketLifecycleConfiguration(context.Context, *s3.GetBucketLifecycleConfigurationInput, ...func(*s3.Options)) (*s3.GetBucketLifecycleConfigurationOutput, error) {
	return nil, s.absent("GetBucketLifecycleConfiguration", "NoSuchLifecycleConfiguration")
}
func (s *settingsStub) GetBucketCors(context.Context, *s3.GetBucketCorsInput, ...func(*s3.Options)) (*s3.GetBucketCorsOutput, error) {
	return nil, s.absent("GetBucketCors", "NoSuchCORSConfiguration")
}
func (s *settingsStub) GetBucketNotificationConfiguration(context.Context, *s3.GetBucketNotificationConfigurationInput, ...func(*s3.Options)) (*s3.GetBucketNotificationConfigurationOutput, error) {
	return &s3.GetBucketNotificationConfigurationOutput{}, s.op("GetBucketNotificationConfiguration")
}
func (s *settingsStub) GetBucketLogging(context.Context, *s3.GetBucketLoggingInput, ...func(*s3.Options)) (*s3.GetBucketLoggingOutput, error) {
	return &s3.GetBucketLoggingOutput{}, s.op("GetBucketLogging")
}
func (s *settingsStub) GetBucketWebsite(context.Context, *s3.GetBucketWebsiteInput, ...func(*s3.Options)) (*s3.GetBucketWebsiteOutput, error) {
	return nil, s.absent("GetBucketWebsite", "NoSuchWebsiteConfiguration")
}
func (s *settingsStub) GetBucketRequestPayment(_ context.Context, in *s3.GetBucketRequestPaymentInput, _ ...func(*s3.Options)) (*s3.GetBucketRequestPaymentOutput, error) {
	if err := s.op("GetBucketRequestPayment"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stale > 0 {
		s.stale--
		return &s3.GetBucketRequestPaymentOutput{Payer: types.PayerBucketOwner}, nil
	}
	p := s.payer[aws.ToString(in.Bucket)]
	if p == "" {
		p = types.PayerBucketOwner
	}
	return &s3.GetBucketRequestPaymentOutput{Payer: p}, nil
}
func (s *settingsStub) GetBucketTagging(_ context.Context, in *s3.GetBucketTaggingInput, _ ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error) {
	if err := s.op("GetBucketTagging"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return &s3.GetBucketTaggingOutput{TagSet: s.tags[aws.ToString(in.Bucket)]}, nil
}
func (s *settingsStub) GetObjectLockConfiguration(context.Context, *s3.GetObjectLockConfigurationInput, ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error) {
	return nil, s.absent("GetObjectLockConfiguration", "ObjectLockConfigurationNotFoundError")
}
func (s *settingsStub) GetBucketReplication(context.Context, *s3.GetBucketReplicationInput, ...func(*s3.Options)) (*s3.GetBucketReplicationOutput, error) {
	return nil, s.absent("GetBucketReplication", "ReplicationConfigurationNotFoundError")
}
func (s *settingsStub) GetBucketAccelerateConfiguration(context.Context, *s3.GetBucketAccelerateConfigurationInput, ...func(*s3.Options)) (*s3.GetBucketAccelerateConfigurationOutput, error) {
	return &s3.GetBucketAccelerateConfigurationOutput{}, s.op("GetBucketAccelerateConfiguration")
}

func (s *settingsStub) PutBucketRequestPayment(_ context.Context, in *s3.PutBucketRequestPaymentInput, _ ...func(*s3.Options)) (*s3.PutBucketRequestPaymentOutput, error) {
	if err := s.op("PutBucketRequestPayment"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.payer[aws.ToString(in.Bucket)] = in.RequestPaymentConfiguration.Payer
	s.stale = s.lag
	return &s3.PutBucketRequestPaymentOutput{}, nil
}
func (s *settingsStub) PutBucketTagging(_ context.Context, in *s3.PutBucketTaggingInput, _ ...func(*s3.Options)) (*s3.PutBucketTaggingOutput, error) {
	if err := s.op("PutBucketTagging"); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tags[aws.ToString(in.Bucket)] = in.Tagging.TagSet
	return &s3.PutBucketTaggingOutput{}, nil
}

// The other writes only record the call (or fail).
func (s *settingsStub) PutBucketPolicy(context.Context, *s3.PutBucketPolicyInput, ...func(*s3.Options)) (*s3.PutBucketPolicyOutput, error) {
	return &s3.PutBucketPolicyOutput{}, s.op("PutBucketPolicy")
}
func (s *settingsStub) PutPublicAccessBlock(context.Context, *s3.PutPublicAccessBlockInput, ...func(*s3.Options)) (*s3.PutPublicAccessBlockOutput, error) {
	return &s3.PutPublicAccessBlockOutput{}, s.op("PutPublicAccessBlock")
}
func (s *settingsStub) DeletePublicAccessBlock(context.Context, *s3.DeletePublicAccessBlockInput, ...func(*s3.Options)) (*s3.DeletePublicAccessBlockOutput, error) {
	return &s3.DeletePublicAccessBlockOutput{}, s.op("DeletePublicAccessBlock")
}
func (s *settingsStub) PutBucketOwnershipControls(context.Context, *s3.PutBucketOwnershipControlsInput, ...func(*s3.Options)) (*s3.PutBucketOwnershipControlsOutput, error) {
	return &s3.PutBucketOwnershipControlsOutput{}, s.op("PutBucketOwnershipControls")
}
func (s *settingsStub) PutBucketEncryption(context.Context, *s3.PutBucketEncryptionInput, ...func(*s3.Options)) (*s3.PutBucketEncryptionOutput, error) {
	return &s3.PutBucketEncryptionOutput{}, s.op("PutBucketEncryption")
}
func (s *settingsStub) PutBucketLifecycleConfiguration(context.Context, *s3.PutBucketLifecycleConfigurationInput, ...func(*s3.Options)) (*s3.PutBucketLifecycleConfigurationOutput, error) {
	return &s3.PutBucketLifecycleConfigurationOutput{}, s.op("PutBucketLifecycleConfiguration")
}
func (s *settingsStub) PutBucketCors(context.Context, *s3.PutBucketCorsInput, ...func(*s3.Options)) (*s3.PutBucketCorsOutput, error) {
	return &s3.PutBucketCorsOutput{}, s.op("PutBucketCors")
}
func (s *settingsStub) PutBucketNotificationConfiguration(context.Context, *s3.PutBucketNotificationConfigurationInput, ...func(*s3.Options)) (*s3.PutBucketNotificationConfigurationOutput, error) {
	return &s3.PutBucketNotificationConfigurationOutput{}, s.op("PutBucketNotificationConfiguration")
}
func (s *settingsStub) PutBucketLogging(context.Context, *s3.PutBucketLoggingInput, ...func(*s3.Options)) (*s3.PutBucketLoggingOutput, error) {
	return &s3.PutBucketLoggingOutput{}, s.op("PutBucketLogging")
}
func (s *settingsStub) PutBucketWebsite(context.Context, *s3.PutBucketWebsiteInput, ...func(*s3.Options)) (*s3.PutBucketWebsiteOutput, error) {
	return &s3.PutBucketWebsiteOutput{}, s.op("PutBucketWebsite")
}
func (s *settingsStub) PutObjectLockConfiguration(context.Context, *s3.PutObjectLockConfigurationInput, ...func(*s3.Options)) (*s3.PutObjectLockConfigurationOutput, error) {
	return &s3.PutObjectLockConfigurationOutput{}, s.op("PutObjectLockConfiguration")
}
func (s *settingsStub) PutBucketReplication(context.Context, *s3.PutBucketReplicationInput, ...func(*s3.Options)) (*s3.PutBucketReplicationOutput, error) {
	return &s3.PutBucketReplicationOutput{}, s.op("PutBucketReplication")
}
func (s *settingsStub) PutBucketAccelerateConfiguration(context.Context, *s3.PutBucketAccelerateConfigurationInput, ...func(*s3.Options)) (*s3.PutBucketAccelerateConfigurationOutput, error) {
	return &s3.PutBucketAccelerateConfigurationOutput{}, s.op("PutBucketAccelerateConfiguration")
}

var _ SettingsAPI = (*settingsStub)(nil)

// requesterPays is a stub with a requester-pays source and a destination
// of this run.
func requesterPays() (*settingsStub, SettingsCarry) {
	s := newSettingsStub()
	s.payer["src"] = types.PayerRequester
	s.tags["dst"] = []types.Tag{{Key: aws.String(executor.RunTagKey), Value: aws.String(settingsRun)}}
	return s, SettingsCarry{Source: "src", Destination: "dst", Expected: map[string]string{"request_payment": requesterDigest(s)}}
}

func requesterDigest(s *settingsStub) string {
	cfg, err := s3settings.Read(context.Background(), s, "src", s3settings.RequestPayment)
	if err != nil {
		panic(err)
	}
	return cfg.Digest(s3settings.RequestPayment)
}

// TestCarryRequestPayment: requester pays (which moto does not implement)
// is put at creation and read back; a second run puts nothing.
func TestCarryRequestPayment(t *testing.T) {
	s, carry := requesterPays()
	cl := SettingsClients{Source: s, Destination: s, VisibleWithin: 50 * time.Millisecond}
	for range 2 {
		if err := ConfigureAtCreate(context.Background(), settingsStep("s"), cl, carry); err != nil {
			t.Fatal(err)
		}
	}
	if s.payer["dst"] != types.PayerRequester || len(s.puts) != 1 || s.puts[0] != "PutBucketRequestPayment" {
		t.Errorf("payer %q after puts %v; want Requester after one PutBucketRequestPayment", s.payer["dst"], s.puts)
	}
}

// TestCarryWaitsForReadBack: S3 bucket configuration is eventually
// consistent; a read-back that shows the old value is read again until the
// new one shows, and one that never does fails naming the setting.
func TestCarryWaitsForReadBack(t *testing.T) {
	s, carry := requesterPays()
	s.lag = 1
	cl := SettingsClients{Source: s, Destination: s, VisibleWithin: 5 * time.Second}
	var waits int
	sc := settingsStep("s")
	sc.TestHooks(nil, nil, func(p executor.Progress) {
		if strings.HasPrefix(p.Message, "waiting for") {
			waits++
		}
	})
	if err := ConfigureAtCreate(context.Background(), sc, cl, carry); err != nil {
		t.Fatal(err)
	}
	if waits != 1 {
		t.Errorf("waited %d times for the read-back, want 1", waits)
	}

	s, carry = requesterPays()
	s.lag = 1 << 30
	cl = SettingsClients{Source: s, Destination: s, VisibleWithin: 10 * time.Millisecond}
	err := ConfigureAtCreate(context.Background(), settingsStep("s"), cl, carry)
	if err == nil || !strings.Contains(err.Error(), "request payment") || !strings.Contains(err.Error(), "does not show") {
		t.Errorf("err = %v, want one saying the destination does not show request payment", err)
	}
}

// TestCarryUnsupportedWrite: an endpoint that does not implement a write
// fails the carry with an error naming the setting and the IAM action.
func TestCarryUnsupportedWrite(t *testing.T) {
	s, carry := requesterPays()
	s.fail["PutBucketRequestPayment"] = stubError("PutBucketRequestPayment", 501, "NotImplemented")
	cl := SettingsClients{Source: s, Destination: s, VisibleWithin: 10 * time.Millisecond}
	err := ConfigureAtCreate(context.Background(), settingsStep("s"), cl, carry)
	for _, want := range []string{"request payment", "s3:PutBucketRequestPayment", "does not support"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("err = %v, want it to say %q", err, want)
		}
	}
}

// TestCarryNeedsItsTag: without this run's tag on the destination (or a
// way to read tags at all), nothing is put.
func TestCarryNeedsItsTag(t *testing.T) {
	for name, mod := range map[string]func(*settingsStub){
		"untagged": func(s *settingsStub) { delete(s.tags, "dst") },
		"tags unsupported": func(s *settingsStub) {
			s.fail["GetBucketTagging"] = stubError("GetBucketTagging", 501, "NotImplemented")
		},
	} {
		t.Run(name, func(t *testing.T) {
			s, carry := requesterPays()
			mod(s)
			cl := SettingsClients{Source: s, Destination: s, VisibleWithin: 10 * time.Millisecond}
			err := ConfigureAtCreate(context.Background(), settingsStep("s"), cl, carry)
			if err == nil || !strings.Contains(err.Error(), "this run's tag") || len(s.puts) != 0 {
				t.Errorf("err = %v after puts %v; want a refusal and no put", err, s.puts)
			}
		})
	}
}

// TestCarryRefusesMalformedPlans: unknown settings are refused.
func TestCarryRefusesMalformedPlans(t *testing.T) {
	s, carry := requesterPays()
	carry.Expected["acl"] = "absent"
	cl := SettingsClients{Source: s, Destination: s}
	if err := ConfigureAfterCopy(context.Background(), settingsStep("s"), cl, carry); err == nil || !strings.Contains(err.Error(), `"acl"`) {
		t.Errorf("err = %v, want a refusal naming acl", err)
	}
}
