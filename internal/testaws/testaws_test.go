package testaws

import (
	"context"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
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
