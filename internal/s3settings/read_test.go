package s3settings_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/envmig/envmig/internal/s3settings"
)

// ops maps each setting to the operation that reads it.
var ops = map[s3settings.Name]string{
	s3settings.Policy: "GetBucketPolicy", s3settings.PublicAccessBlock: "GetPublicAccessBlock",
	s3settings.Ownership: "GetBucketOwnershipControls", s3settings.Encryption: "GetBucketEncryption",
	s3settings.Lifecycle: "GetBucketLifecycleConfiguration", s3settings.CORS: "GetBucketCors",
	s3settings.Notifications: "GetBucketNotificationConfiguration", s3settings.Logging: "GetBucketLogging",
	s3settings.Website: "GetBucketWebsite", s3settings.RequestPayment: "GetBucketRequestPayment",
	s3settings.Tags: "GetBucketTagging", s3settings.ObjectLock: "GetObjectLockConfiguration",
	s3settings.Replication: "GetBucketReplication", s3settings.Accelerate: "GetBucketAccelerateConfiguration",
}

// TestNotImplementedIsAnObservation: an endpoint that answers 501
// NotImplemented to a setting's read (versitygw's GetBucketEncryption) makes
// that setting Unsupported; the other settings are still read.
func TestNotImplementedIsAnObservation(t *testing.T) {
	for _, n := range s3settings.All {
		t.Run(string(n), func(t *testing.T) {
			s := &stub{fail: map[string]error{ops[n]: apiError(ops[n], 501, "NotImplemented")}}
			cfg, err := s3settings.Read(context.Background(), s, "b")
			if err != nil {
				t.Fatalf("Read = %v, want no error", err)
			}
			if cfg.State(n) != s3settings.Unsupported || cfg.Digest(n) != s3settings.DigestUnsupported {
				t.Errorf("%s: state %s, digest %s; want unsupported", n, cfg.State(n), cfg.Digest(n))
			}
			if got, want := cfg.Summary(n), s3settings.Label(n)+": not supported by this endpoint"; got != want {
				t.Errorf("summary %q, want %q", got, want)
			}
			for _, o := range s3settings.All {
				if o != n && cfg.State(o) != s3settings.Absent {
					t.Errorf("%s: state %s, want absent", o, cfg.State(o))
				}
			}
		})
	}
}

// TestReadErrorsNameTheAction: access denied (or any other failure) is an
// error naming the setting and the IAM action, never "absent".
func TestReadErrorsNameTheAction(t *testing.T) {
	actions := map[s3settings.Name]string{
		s3settings.Policy: "s3:GetBucketPolicy", s3settings.PublicAccessBlock: "s3:GetBucketPublicAccessBlock",
		s3settings.Ownership: "s3:GetBucketOwnershipControls", s3settings.Encryption: "s3:GetEncryptionConfiguration",
		s3settings.Lifecycle: "s3:GetLifecycleConfiguration", s3settings.CORS: "s3:GetBucketCORS",
		s3settings.Notifications: "s3:GetBucketNotification", s3settings.Logging: "s3:GetBucketLogging",
		s3settings.Website: "s3:GetBucketWebsite", s3settings.RequestPayment: "s3:GetBucketRequestPayment",
		s3settings.Tags: "s3:GetBucketTagging", s3settings.ObjectLock: "s3:GetBucketObjectLockConfiguration",
		s3settings.Replication: "s3:GetReplicationConfiguration", s3settings.Accelerate: "s3:GetAccelerateConfiguration",
	}
	for _, n := range s3settings.All {
		for _, fail := range []struct {
			status int
			code   string
		}{{403, "AccessDenied"}, {503, "ServiceUnavailable"}} {
			s := &stub{fail: map[string]error{ops[n]: apiError(ops[n], fail.status, fail.code)}}
			cfg, err := s3settings.Read(context.Background(), s, "b")
			var re *s3settings.ReadError
			if !errors.As(err, &re) || cfg != nil {
				t.Fatalf("%s %s: Read = %v, %v; want a *ReadError", n, fail.code, cfg, err)
			}
			if re.Setting != n || re.Action != actions[n] || s3settings.ReadAction(n) != actions[n] {
				t.Errorf("%s %s: ReadError{Setting: %s, Action: %s}, want %s, %s", n, fail.code, re.Setting, re.Action, n, actions[n])
			}
			if !strings.Contains(err.Error(), actions[n]) {
				t.Errorf("%s: message %q does not name %s", n, err, actions[n])
			}
		}
	}
}

// TestReadOnlyWhatIsAsked: Read with names makes one request per named
// setting and no other; an unknown name is refused before any request.
func TestReadOnlyWhatIsAsked(t *testing.T) {
	s := &stub{}
	cfg, err := s3settings.Read(context.Background(), s, "b", s3settings.Tags, s3settings.Encryption)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"GetBucketEncryption", "GetBucketTagging"}; !slices.Equal(s.calls, want) {
		t.Errorf("calls %v, want %v", s.calls, want)
	}
	// envmig's and AWS's own tags are not the bucket's settings.
	if cfg.State(s3settings.Tags) != s3settings.Absent || len(cfg.Tags) != 2 {
		t.Errorf("tags: state %s, tags %v; want absent, with both tags kept in Tags", cfg.State(s3settings.Tags), cfg.Tags)
	}
	if _, ok := cfg.States[s3settings.Policy]; ok {
		t.Errorf("policy was not asked for but has a state")
	}
	s = &stub{}
	if _, err := s3settings.Read(context.Background(), s, "b", "acl"); err == nil || len(s.calls) != 0 {
		t.Errorf("Read(acl) = %v after %d calls; want an error and no call", err, len(s.calls))
	}
}
