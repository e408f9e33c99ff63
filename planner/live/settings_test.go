package live_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/s3settings/s3settingstest"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/live"
)

// settingOps maps each bucket setting to the S3 operation that reads it and
// the IAM action it needs.
var settingOps = map[string][2]string{
	live.SettingPolicy:            {"GetBucketPolicy", "s3:GetBucketPolicy"},
	live.SettingPublicAccessBlock: {"GetPublicAccessBlock", "s3:GetBucketPublicAccessBlock"},
	live.SettingOwnership:         {"GetBucketOwnershipControls", "s3:GetBucketOwnershipControls"},
	live.SettingEncryption:        {"GetBucketEncryption", "s3:GetEncryptionConfiguration"},
	live.SettingLifecycle:         {"GetBucketLifecycleConfiguration", "s3:GetLifecycleConfiguration"},
	live.SettingCORS:              {"GetBucketCors", "s3:GetBucketCORS"},
	live.SettingNotifications:     {"GetBucketNotificationConfiguration", "s3:GetBucketNotification"},
	live.SettingLogging:           {"GetBucketLogging", "s3:GetBucketLogging"},
	live.SettingWebsite:           {"GetBucketWebsite", "s3:GetBucketWebsite"},
	live.SettingRequestPayment:    {"GetBucketRequestPayment", "s3:GetBucketRequestPayment"},
	live.SettingTags:              {"GetBucketTagging", "s3:GetBucketTagging"},
	live.SettingObjectLock:        {"GetObjectLockConfiguration", "s3:GetBucketObjectLockConfiguration"},
	live.SettingReplication:       {"GetBucketReplication", "s3:GetReplicationConfiguration"},
	live.SettingAccelerate:        {"GetBucketAccelerateConfiguration", "s3:GetAccelerateConfiguration"},
}

// TestSettingNotImplementedIsObserved: an S3-compatible endpoint that
// answers 501 NotImplemented to a setting's read (versitygw's
// GetBucketEncryption) is observed as "not supported by this endpoint" and
// the observation goes on: never an error.
func TestSettingNotImplementedIsObserved(t *testing.T) {
	if len(settingOps) != len(live.BucketSettingNames()) {
		t.Fatalf("the test knows %d settings, the reader %d", len(settingOps), len(live.BucketSettingNames()))
	}
	for name, op := range settingOps {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.addObjects("bucket", "a/", 3, 1, time.Now())
			f.fail[op[0]] = awsError(op[0], 501, "NotImplemented")
			obs, err := f.reader().Observe(context.Background(), live.Request{Buckets: []string{"bucket"}, CountObjects: true})
			if err != nil {
				t.Fatalf("Observe = %v, want no error", err)
			}
			b := obs.Buckets["bucket"]
			if got := b.Setting(name); got.State != live.SettingUnsupported || got.Digest != "unsupported" || !strings.HasSuffix(got.Summary, ": not supported by this endpoint") {
				t.Errorf("%s observed as %+v, want unsupported", name, got)
			}
			if !b.Exists || b.Objects != 3 {
				t.Errorf("the rest of the bucket was not observed: %+v", b)
			}
		})
	}
}

// TestSettingReadErrorsNameTheAction: a denied (or failed) setting read is
// a *ReadError naming the bucket and the IAM action, never "not configured".
func TestSettingReadErrorsNameTheAction(t *testing.T) {
	for name, op := range settingOps {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.addObjects("bucket", "a/", 1, 1, time.Now())
			f.fail[op[0]] = awsError(op[0], 403, "AccessDenied")
			obs, err := f.reader().Observe(context.Background(), live.Request{Buckets: []string{"bucket"}})
			var re *live.ReadError
			if !errors.As(err, &re) || obs != nil {
				t.Fatalf("Observe = %v, %v; want a *ReadError", obs, err)
			}
			if re.Resource != `bucket "bucket"` || re.Action != op[1] || !re.AccessDenied() {
				t.Errorf("ReadError{%q, %q, denied %v}, want bucket \"bucket\", %s, denied", re.Resource, re.Action, re.AccessDenied(), op[1])
			}
		})
	}
}

// TestObserveEverySettingMoto: a bucket with every setting configured is
// observed with each one present, a summary for the plan, a digest, and
// the details the planner's analysis needs.
func TestObserveEverySettingMoto(t *testing.T) {
	testaws.Reset(t)
	cfg := testaws.Config(t, nil)
	s3settingstest.Everything(t, awsclient.NewS3(cfg, ""), "full")
	obs, err := newReader(cfg, nil).Observe(context.Background(), live.Request{Buckets: []string{"full"}})
	if err != nil {
		t.Fatal(err)
	}
	b := obs.Buckets["full"]
	digests := map[string]bool{}
	for _, n := range live.BucketSettingNames() {
		s := b.Setting(n)
		want := live.SettingPresent
		if n == live.SettingRequestPayment { // moto does not implement it
			want = live.SettingAbsent
		}
		if s.State != want || s.Summary == "" {
			t.Errorf("%s observed as %+v, want %s", n, s, want)
		}
		if want == live.SettingPresent {
			if len(s.Digest) != 16 || digests[s.Digest] {
				t.Errorf("%s digest %q: want 16 hex digits, distinct from the others", n, s.Digest)
			}
			digests[s.Digest] = true
		}
	}
	type details struct {
		Encryption, EncryptionKMSKey, LoggingTarget, ReplicationRole, ObjectLockRetention        string
		EncryptionBucketKey, HasPolicy, PolicyHasConditions, ObjectLock, NotificationEventBridge bool
		PolicyNameMentions                                                                       int
		NotificationTargets, ReplicationDestinations                                             []string
	}
	got := details{b.Encryption, b.EncryptionKMSKey, b.LoggingTarget, b.ReplicationRole, b.ObjectLockRetention,
		b.EncryptionBucketKey, b.HasPolicy, b.PolicyHasConditions, b.ObjectLock, b.NotificationEventBridge,
		b.PolicyNameMentions, b.NotificationTargets, b.ReplicationDestinations}
	want := details{"aws:kms", s3settingstest.KMSKey, "full", s3settingstest.ReplicaRole, "GOVERNANCE 1 day",
		true, true, true, true, false,
		1, []string{s3settingstest.Lambda, s3settingstest.Queue}, []string{s3settingstest.ReplicaBucket}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("details (-want +got):\n%s", diff)
	}
	if b.Tags["envmig:run"] != "an-old-run" || b.Tags["owner"] != "platform" {
		t.Errorf("tags %v: every tag is kept in Tags", b.Tags)
	}
}
