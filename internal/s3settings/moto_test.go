package s3settings_test

import (
	"context"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/s3settings"
	"github.com/envmig/envmig/internal/s3settings/s3settingstest"
	"github.com/envmig/envmig/internal/testaws"
)

func TestMain(m *testing.M) { os.Exit(testaws.Main(m)) }

// TestReadEverythingMoto: every setting the emulator implements is read as
// present, with its summary; request payment (which the emulator does not
// implement) reads as the default; the read survives a journal round trip
// with the same digests; a bucket without settings reads all absent.
func TestReadEverythingMoto(t *testing.T) {
	testaws.Reset(t)
	c := awsclient.NewS3(testaws.Config(t, nil), "")
	s3settingstest.Everything(t, c, "src")
	mkEmpty := func(name string) {
		if _, err := c.CreateBucket(context.Background(), s3CreateInput(name)); err != nil {
			t.Fatal(err)
		}
	}
	mkEmpty("bare")
	cfg, err := s3settings.Read(context.Background(), c, "src")
	if err != nil {
		t.Fatal(err)
	}
	got := map[s3settings.Name]string{}
	for _, n := range s3settings.All {
		got[n] = cfg.Summary(n)
	}
	want := map[s3settings.Name]string{
		s3settings.Policy:            "policy: 4 statements, with conditions",
		s3settings.PublicAccessBlock: "public access block: BlockPublicAcls, IgnorePublicAcls",
		s3settings.Ownership:         "object ownership: BucketOwnerPreferred",
		s3settings.Encryption:        "default encryption: SSE-KMS with key " + s3settingstest.KMSKey + ", bucket key on",
		s3settings.Lifecycle:         "lifecycle: 2 rules",
		s3settings.CORS:              "CORS: 1 rule",
		s3settings.Notifications:     "notifications: 2 (Lambda, SQS)",
		s3settings.Logging:           "access logging: to s3://src/logs/",
		s3settings.Website:           "website: index document index.html, error document error.html",
		s3settings.RequestPayment:    "request payment: none",
		s3settings.Tags:              "tags: 2 (cost-center, owner)",
		s3settings.ObjectLock:        "object lock: enabled, default retention GOVERNANCE 1 day",
		s3settings.Replication:       "replication: 1 rule to arn:aws:s3:::replica-bucket (role " + s3settingstest.ReplicaRole + ")",
		s3settings.Accelerate:        "transfer acceleration: enabled",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("summaries (-want +got):\n%s", diff)
	}
	enc, err := cfg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := s3settings.Decode(enc)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range s3settings.All {
		if cfg.Digest(n) != back.Digest(n) || !cfg.Equal(back, n) {
			t.Errorf("%s: digest %s after a journal round trip, %s before", n, back.Digest(n), cfg.Digest(n))
		}
	}
	// A second read gives the same digests: they identify content.
	again, err := s3settings.Read(context.Background(), c, "src")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range s3settings.All {
		if cfg.Digest(n) != again.Digest(n) {
			t.Errorf("%s: digest %s on a second read, %s on the first", n, again.Digest(n), cfg.Digest(n))
		}
	}

	bare, err := s3settings.Read(context.Background(), c, "bare")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range s3settings.All {
		if bare.State(n) != s3settings.Absent || bare.Digest(n) != s3settings.DigestAbsent {
			t.Errorf("bare bucket: %s is %s (%s), want absent", n, bare.State(n), bare.Digest(n))
		}
	}
}
