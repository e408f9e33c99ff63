// Package s3settingstest configures S3 buckets with every setting
// s3settings reads, for tests against the local emulator.
package s3settingstest

import (
	"context"
	"fmt"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Fixed values Everything configures.
const (
	KMSKey        = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
	Lambda        = "arn:aws:lambda:us-east-1:123456789012:function:on-upload"
	Queue         = "arn:aws:sqs:us-east-1:123456789012:uploads"
	ReplicaRole   = "arn:aws:iam::123456789012:role/replication"
	ReplicaBucket = "arn:aws:s3:::replica-bucket"
	OtherBucket   = "arn:aws:s3:::shared-assets/*"
	LogPrefix     = "logs/"
)

// Policy is the policy Everything puts on bucket: its own ARNs, another
// bucket's, a wildcard after its name, a condition, and the grant the
// logging service needs to write the bucket's own access logs.
func Policy(bucket string) string {
	return fmt.Sprintf(`{"Version":"2012-10-17","Statement":[
{"Sid":"App","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app"},"Action":["s3:GetObject","s3:PutObject"],"Resource":["arn:aws:s3:::%[1]s/*","%[2]s"]},
{"Sid":"List","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/app"},"Action":"s3:ListBucket","Resource":"arn:aws:s3:::%[1]s","Condition":{"StringLike":{"s3:prefix":["public/*"]}}},
{"Sid":"Wild","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::123456789012:role/ops"},"Action":"s3:GetObject","Resource":"arn:aws:s3:::%[1]s*"},
{"Sid":"Logs","Effect":"Allow","Principal":{"Service":"logging.s3.amazonaws.com"},"Action":["s3:PutObject"],"Resource":"arn:aws:s3:::%[1]s/%[3]s*"}
]}`, bucket, OtherBucket, LogPrefix)
}

// Everything creates bucket (versioned, object lock enabled) with every
// setting s3settings reads, except request payment, which the emulator
// does not implement. Logging goes into the bucket itself (the emulator
// then writes log objects into it at every request).
func Everything(t testing.TB, c *s3.Client, bucket string) {
	t.Helper()
	ctx := context.Background()
	b := aws.String(bucket)
	must := func(what string, _ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("configure %s of %s: %v", what, bucket, err)
		}
	}
	out, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: b, ObjectLockEnabledForBucket: aws.Bool(true)})
	must("create", out, err)
	o1, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: b, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}})
	must("versioning", o1, err)
	// Before logging: the emulator writes access logs as objects, and
	// it sets object lock rules on empty buckets only.
	o12, err := c.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: b, ObjectLockConfiguration: &types.ObjectLockConfiguration{
		ObjectLockEnabled: types.ObjectLockEnabledEnabled, Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{
			Mode: types.ObjectLockRetentionModeGovernance, Days: aws.Int32(1)}}}})
	must("object lock", o12, err)
	o2, err := c.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: b, Policy: aws.String(Policy(bucket))})
	must("policy", o2, err)
	o3, err := c.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: b, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
		BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(false)}})
	must("public access block", o3, err)
	o4, err := c.PutBucketOwnershipControls(ctx, &s3.PutBucketOwnershipControlsInput{Bucket: b, OwnershipControls: &types.OwnershipControls{
		Rules: []types.OwnershipControlsRule{{ObjectOwnership: types.ObjectOwnershipBucketOwnerPreferred}}}})
	must("ownership", o4, err)
	o5, err := c.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: b, ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
		Rules: []types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{
			SSEAlgorithm: types.ServerSideEncryptionAwsKms, KMSMasterKeyID: aws.String(KMSKey)}, BucketKeyEnabled: aws.Bool(true)}}}})
	must("encryption", o5, err)
	o6, err := c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: b, LifecycleConfiguration: &types.BucketLifecycleConfiguration{
		Rules: []types.LifecycleRule{
			{ID: aws.String("expire-tmp"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
				Expiration: &types.LifecycleExpiration{Days: aws.Int32(7)}},
			{ID: aws.String("abort-uploads"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")},
				AbortIncompleteMultipartUpload: &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(3)}},
		}}})
	must("lifecycle", o6, err)
	o7, err := c.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: b, CORSConfiguration: &types.CORSConfiguration{CORSRules: []types.CORSRule{{
		ID: aws.String("web"), AllowedMethods: []string{"GET", "HEAD"}, AllowedOrigins: []string{"https://shop.example.com"},
		AllowedHeaders: []string{"*"}, MaxAgeSeconds: aws.Int32(300)}}}})
	must("cors", o7, err)
	o8, err := c.PutBucketNotificationConfiguration(ctx, &s3.PutBucketNotificationConfigurationInput{Bucket: b, NotificationConfiguration: &types.NotificationConfiguration{
		LambdaFunctionConfigurations: []types.LambdaFunctionConfiguration{{Id: aws.String("thumbs"), LambdaFunctionArn: aws.String(Lambda),
			Events: []types.Event{"s3:ObjectCreated:*"}}},
		QueueConfigurations: []types.QueueConfiguration{{Id: aws.String("index"), QueueArn: aws.String(Queue),
			Events: []types.Event{"s3:ObjectRemoved:*"}}},
	}})
	must("notifications", o8, err)
	o9, err := c.PutBucketLogging(ctx, &s3.PutBucketLoggingInput{Bucket: b, BucketLoggingStatus: &types.BucketLoggingStatus{LoggingEnabled: &types.LoggingEnabled{
		TargetBucket: b, TargetPrefix: aws.String(LogPrefix)}}})
	must("logging", o9, err)
	o10, err := c.PutBucketWebsite(ctx, &s3.PutBucketWebsiteInput{Bucket: b, WebsiteConfiguration: &types.WebsiteConfiguration{
		IndexDocument: &types.IndexDocument{Suffix: aws.String("index.html")}, ErrorDocument: &types.ErrorDocument{Key: aws.String("error.html")}}})
	must("website", o10, err)
	o11, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: b, Tagging: &types.Tagging{TagSet: []types.Tag{
		{Key: aws.String("owner"), Value: aws.String("platform")}, {Key: aws.String("cost-center"), Value: aws.String("42")},
		{Key: aws.String("envmig:run"), Value: aws.String("an-old-run")}}}})
	must("tags", o11, err)
	o13, err := c.PutBucketReplication(ctx, &s3.PutBucketReplicationInput{Bucket: b, ReplicationConfiguration: &types.ReplicationConfiguration{
		Role: aws.String(ReplicaRole), Rules: []types.ReplicationRule{{ID: aws.String("to-replica"), Priority: aws.Int32(1), Status: types.ReplicationRuleStatusEnabled,
			Filter: &types.ReplicationRuleFilter{Prefix: aws.String("")}, DeleteMarkerReplication: &types.DeleteMarkerReplication{Status: types.DeleteMarkerReplicationStatusDisabled},
			Destination: &types.Destination{Bucket: aws.String(ReplicaBucket)}}}}})
	must("replication", o13, err)
	o14, err := c.PutBucketAccelerateConfiguration(ctx, &s3.PutBucketAccelerateConfigurationInput{Bucket: b, AccelerateConfiguration: &types.AccelerateConfiguration{Status: types.BucketAccelerateStatusEnabled}})
	must("accelerate", o14, err)
}
