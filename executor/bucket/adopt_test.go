package bucket

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/plan"
)

// undecidedS3 answers every tag read with an error that decides nothing
// about whose the bucket is (throttling, a denied read, a reset).
type undecidedS3 struct {
	S3API
	err error
}

func (u undecidedS3) GetBucketTagging(context.Context, *s3.GetBucketTaggingInput, ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error) {
	return nil, u.err
}

// Finding 4 of the data-safety review: CreateHandler.Revert took any error
// of its ownership check for "not ours" and reported the step undone,
// leaving a full bucket behind a rollback that said it was complete.
func TestUndoThatCannotDecideOwnershipFailsResumably(t *testing.T) {
	testaws.Reset(t)
	ctx := context.Background()
	real := awsclient.NewS3(testaws.Config(t, nil), "")
	mkBucket(t, real, "half-made")
	putObj(t, real, "half-made", "k", []byte("copied data"), nil)
	if err := putTags(ctx, real, "half-made", map[string]string{executor.RunTagKey: "run-1"}); err != nil {
		t.Fatal(err)
	}
	step := plan.Step{ID: "bucket.create.tmp", Action: plan.BucketCreate, Params: plan.BucketCreateParams{Bucket: "half-made", Region: testaws.Region}}
	for name, fault := range map[string]error{
		"throttled":     &smithy.GenericAPIError{Code: "SlowDown", Message: "Please reduce your request rate."},
		"access denied": &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied"},
		"reset":         errors.New("read tcp 127.0.0.1:1234: connection reset by peer"),
	} {
		t.Run(name, func(t *testing.T) {
			hs := Handlers(func(string) S3API { return undecidedS3{S3API: real, err: fault} }, Options{VisibleWithin: 50 * time.Millisecond})
			err := hs[plan.BucketCreate].Revert(ctx, executor.NewStepContext(testPlan(), step, "revert", map[string]string{"create_sent": "true", "region": testaws.Region}))
			if err == nil || !strings.Contains(err.Error(), "cannot tell whether it is this run's") {
				t.Fatalf("undo = %v, want a resumable failure that says it could not decide", err)
			}
			if ok, _ := exists(ctx, real, "half-made"); !ok {
				t.Fatal("the bucket is gone")
			}
		})
	}
	// With the answers back, the same undo removes the run's bucket.
	hs := Handlers(func(string) S3API { return real }, Options{VisibleWithin: 50 * time.Millisecond})
	if err := hs[plan.BucketCreate].Revert(ctx, executor.NewStepContext(testPlan(), step, "revert", map[string]string{"create_sent": "true", "region": testaws.Region})); err != nil {
		t.Fatal(err)
	}
	if ok, _ := exists(ctx, real, "half-made"); ok {
		t.Fatal("the run's own bucket was left")
	}
}

// A bucket that carries the run's tag but was created before the run
// began was made by someone who read the plan (the lineage is in it): it
// is refused, never filled with production data, and never emptied.
func TestSquattersBucketWithTheRunsTagIsRefused(t *testing.T) {
	testaws.Reset(t)
	ctx := context.Background()
	real := awsclient.NewS3(testaws.Config(t, nil), "")
	mkBucket(t, real, "shop-prod-uploads-envmig")
	putObj(t, real, "shop-prod-uploads-envmig", "bait", []byte("x"), nil)
	if err := putTags(ctx, real, "shop-prod-uploads-envmig", map[string]string{executor.RunTagKey: "run-1"}); err != nil {
		t.Fatal(err)
	}
	hs := Handlers(func(string) S3API { return real }, Options{VisibleWithin: 50 * time.Millisecond})
	step := plan.Step{ID: "bucket.create.tmp", Action: plan.BucketCreate, Params: plan.BucketCreateParams{Bucket: "shop-prod-uploads-envmig", Region: testaws.Region}}
	sc := executor.NewStepContext(testPlan(), step, "apply", nil)
	sc.TestStarted(time.Now().Add(time.Hour)) // the run began well after the bucket was made
	err := hs[plan.BucketCreate].Apply(ctx, sc)
	var not *NotThisRunError
	if !errors.As(err, &not) || !strings.Contains(err.Error(), "before the run began") {
		t.Fatalf("apply = %v, want a refusal that says it predates the run", err)
	}
	rsc := executor.NewStepContext(testPlan(), step, "revert", nil)
	rsc.TestStarted(time.Now().Add(time.Hour))
	if err := hs[plan.BucketCreate].Revert(ctx, rsc); err != nil {
		t.Fatal(err)
	}
	out, err := real.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("shop-prod-uploads-envmig")})
	if err != nil || len(out.Contents) != 1 {
		t.Fatalf("the squatter's bucket was touched: %v %v", out, err)
	}
}
