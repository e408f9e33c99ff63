package testaws

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/envmig/envmig/internal/awsclient"
)

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestEmulatorReachableAndRecorded(t *testing.T) {
	Reset(t)
	cfg := Config(t, nil)
	rec := Record(&cfg)
	ctx := context.Background()
	id, err := sts.NewFromConfig(cfg).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(id.Account); got != Account {
		t.Fatalf("account = %q, want %q", got, Account)
	}
	s3c := awsclient.NewS3(cfg, "")
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("probe")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("probe")}); err != nil {
		t.Fatal(err)
	}
	Reset(t)
	if _, err := s3c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("probe")}); err == nil {
		t.Fatal("bucket survived Reset")
	}
	want := []string{"sts:GetCallerIdentity", "s3:CreateBucket", "s3:HeadBucket", "s3:HeadBucket"}
	calls := rec.Calls()
	if len(calls) != len(want) {
		t.Fatalf("recorded %v, want %v", calls, want)
	}
	for i, c := range calls {
		if c.IAMAction() != want[i] {
			t.Errorf("call %d = %s, want %s", i, c.IAMAction(), want[i])
		}
	}
	if m := rec.Mutating(); len(m) != 1 || m[0].Operation != "CreateBucket" {
		t.Errorf("mutating = %v, want only CreateBucket", m)
	}
}

// S3 deletes a bucket's tags with it: a bucket created again under the name
// has none (moto alone kept them).
func TestBucketCreatedAgainHasNoTags(t *testing.T) {
	Reset(t)
	ctx := context.Background()
	s3c := awsclient.NewS3(Config(t, nil), "")
	name := aws.String("tagged-then-deleted")
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: name}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: name,
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String("owner"), Value: aws.String("platform")}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: name}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: name}); err != nil {
		t.Fatal(err)
	}
	out, err := s3c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: name})
	if err == nil && len(out.TagSet) > 0 {
		t.Fatalf("the bucket created again has the deleted one's tags: %v", out.TagSet)
	}
}
