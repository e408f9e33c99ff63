package bucket

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/s3settings"
)

// writeActions are the IAM actions each setting's write needs.
var writeActions = map[s3settings.Name]string{
	s3settings.Policy:            "s3:PutBucketPolicy",
	s3settings.PublicAccessBlock: "s3:PutBucketPublicAccessBlock",
	s3settings.Ownership:         "s3:PutBucketOwnershipControls",
	s3settings.Encryption:        "s3:PutEncryptionConfiguration",
	s3settings.Lifecycle:         "s3:PutLifecycleConfiguration",
	s3settings.CORS:              "s3:PutBucketCORS",
	s3settings.Notifications:     "s3:PutBucketNotification",
	s3settings.Logging:           "s3:PutBucketLogging",
	s3settings.Website:           "s3:PutBucketWebsite",
	s3settings.RequestPayment:    "s3:PutBucketRequestPayment",
	s3settings.Tags:              "s3:PutBucketTagging",
	s3settings.ObjectLock:        "s3:PutBucketObjectLockConfiguration",
	s3settings.Replication:       "s3:PutReplicationConfiguration and iam:PassRole on its role",
	s3settings.Accelerate:        "s3:PutAccelerateConfiguration",
}

// allBlocked is a public-access block that blocks all public access.
func allBlocked() *types.PublicAccessBlockConfiguration {
	return &types.PublicAccessBlockConfiguration{BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true),
		BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}
}

// target is what the destination must show: the source's settings with the
// name rewritten, and for a temporary bucket a public-access block that
// blocks everything.
func (c SettingsCarry) target(src *s3settings.Config, atCreate bool) *s3settings.Config {
	want := src.Rewrite(c.Source, c.Destination)
	if c.Temporary {
		want.PublicAccessBlock = allBlocked()
		want.States[s3settings.PublicAccessBlock] = s3settings.Present
	}
	if atCreate && want.State(s3settings.ObjectLock) == s3settings.Present {
		// Enabled only: the default retention waits for the verified copy.
		want.ObjectLock = &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled}
	}
	return want
}

// matches reports whether the destination shows setting n as want has it.
// At creation, object lock matches once it is enabled, whatever its default
// retention: phase 1 never removes a retention phase 2 set.
func matches(dest, want *s3settings.Config, n s3settings.Name, atCreate bool) bool {
	switch {
	case n == s3settings.ObjectLock && atCreate && want.State(n) == s3settings.Present:
		return dest.State(n) == s3settings.Present
	case n == s3settings.Tags:
		for k := range want.CarriedTags() {
			if _, ok := dest.Tags[k]; !ok {
				return false
			}
		}
		return true
	case want.State(n) == s3settings.Absent:
		return dest.State(n) == s3settings.Absent
	}
	return want.Equal(dest, n)
}

// apply puts every setting of todo that the destination does not show yet,
// in todo's order, except that a logging target that is the destination
// itself comes after the policy (which grants the logging service its
// writes).
func apply(ctx context.Context, sc *executor.StepContext, dst SettingsAPI, carry SettingsCarry, want *s3settings.Config, todo []s3settings.Name, atCreate bool) error {
	cur, err := s3settings.Read(ctx, dst, carry.Destination, todo...)
	if err != nil {
		return fmt.Errorf("read the settings of %s before carrying them: %w", carry.Destination, err)
	}
	order := slices.Clone(todo)
	if slices.Contains(order, s3settings.Logging) && slices.Contains(order, s3settings.Policy) && aws.ToString(want.Logging.TargetBucket) == carry.Destination {
		order = slices.DeleteFunc(order, func(n s3settings.Name) bool { return n == s3settings.Logging })
		order = append(order, s3settings.Logging)
	}
	for _, n := range order {
		if matches(cur, want, n, atCreate) {
			continue
		}
		if err := put(ctx, dst, carry.Destination, want, cur, n); err != nil {
			return carryError(carry, n, err)
		}
		sc.Accepted()
	}
	return nil
}

func carryError(carry SettingsCarry, n s3settings.Name, err error) error {
	hint := ""
	switch {
	case s3settings.NotImplemented(err):
		hint = "; the endpoint does not support this setting"
	case n == s3settings.Notifications && errorCode(err) == "InvalidArgument":
		hint = fmt.Sprintf("; S3 validates every notification target when the configuration is put: each SNS topic, SQS queue and Lambda function's resource policy must allow s3.amazonaws.com with aws:SourceArn arn:aws:s3:::%s, then resume", carry.Destination)
	case n == s3settings.Replication:
		hint = "; the replication role must exist, envmig's credentials need iam:PassRole on it, and the destination buckets must have versioning enabled"
	}
	return fmt.Errorf("carry the %s of %s to %s (%s): %w%s", s3settings.Label(n), carry.Source, carry.Destination, writeActions[n], err, hint)
}

// put writes setting n of want to bucket; cur is what bucket shows now.
func put(ctx context.Context, c SettingsAPI, bucket string, want, cur *s3settings.Config, n s3settings.Name) error {
	b := aws.String(bucket)
	var err error
	switch n {
	case s3settings.Policy:
		_, err = c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(want.Policy)})
	case s3settings.PublicAccessBlock:
		if want.State(n) == s3settings.Absent {
			// As on the source: no block (S3 gives a new bucket one).
			_, err = c.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: b})
		} else {
			_, err = c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: want.PublicAccessBlock})
		}
	case s3settings.Ownership:
		_, err = c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: b, OwnershipControls: want.Ownership})
	case s3settings.Encryption:
		_, err = c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: want.Encryption})
	case s3settings.Lifecycle:
		_, err = c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b,
			LifecycleConfiguration:             &types.BucketLifecycleConfiguration{Rules: want.Lifecycle.Rules},
			TransitionDefaultMinimumObjectSize: want.Lifecycle.TransitionDefaultMinimumObjectSize})
	case s3settings.CORS:
		_, err = c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: want.CORS}})
	case s3settings.Notifications:
		_, err = c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: b, NotificationConfiguration: want.Notifications})
	case s3settings.Logging:
		_, err = c.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: b, BucketLoggingStatus: &types.BucketLoggingStatus{LoggingEnabled: want.Logging}})
	case s3settings.Website:
		_, err = c.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: b, WebsiteConfiguration: want.Website})
	case s3settings.RequestPayment:
		_, err = c.PutBucketRequestPayment(ctx, &s3.PutBucketRequestPaymentInput{Bucket: b, RequestPaymentConfiguration: &types.RequestPaymentConfiguration{Payer: want.RequestPayer}})
	case s3settings.Tags:
		tags := maps.Clone(cur.Tags)
		if tags == nil {
			tags = map[string]string{}
		}
		for k, v := range want.CarriedTags() {
			if _, ok := tags[k]; !ok {
				tags[k] = v
			}
		}
		set := make([]types.Tag, 0, len(tags))
		for _, k := range slices.Sorted(maps.Keys(tags)) {
			set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
		}
		_, err = c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: set}})
	case s3settings.ObjectLock:
		_, err = c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: b, ObjectLockConfiguration: want.ObjectLock})
	case s3settings.Replication:
		_, err = c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: b, ReplicationConfiguration: want.Replication})
	case s3settings.Accelerate:
		_, err = c.PutBucketAccelerateConfiguration(ctx, &s3.PutBucketAccelerateConfigurationInput{Bucket: b, AccelerateConfiguration: &types.AccelerateConfiguration{Status: want.Accelerate}})
	default:
		panic(fmt.Sprintf("bucket: no writer for setting %q", n))
	}
	return err
}

// verify reads the destination back until it shows every setting of todo
// as want has it, for at most cl.VisibleWithin.
func verify(ctx context.Context, sc *executor.StepContext, cl SettingsClients, carry SettingsCarry, want *s3settings.Config, todo []s3settings.Name, atCreate bool) error {
	var differ []string
	ok, err := executor.Eventually(ctx, sc, cl.visibleWithin(), "the settings of s3://"+carry.Destination, func() (bool, error) {
		got, err := s3settings.Read(ctx, cl.Destination, carry.Destination, todo...)
		if err != nil {
			return false, err
		}
		differ = differ[:0]
		for _, n := range todo {
			if !matches(got, want, n, atCreate) {
				differ = append(differ, fmt.Sprintf("%s (applied %s [%s], reads %s [%s])", s3settings.Label(n), want.Summary(n), want.Digest(n), got.Summary(n), got.Digest(n)))
			}
		}
		return len(differ) == 0, nil
	})
	if err != nil {
		return fmt.Errorf("verify the settings carried to %s: %w", carry.Destination, err)
	}
	if !ok {
		return fmt.Errorf("bucket %s does not show the settings carried from %s: %s", carry.Destination, carry.Source, strings.Join(differ, "; "))
	}
	return nil
}
