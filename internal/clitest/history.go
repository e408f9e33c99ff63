package clitest

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/envmig/envmig/internal/awsclient"
)

// AddHistoryAndSettings gives a seeded (versioned) bucket what a move
// between regions must carry: a second version of its first object, a
// deleted object (a delete marker over a version), a lifecycle rule and a
// CORS rule.
func AddHistoryAndSettings(t testing.TB, cl *awsclient.Clients, bucket string) {
	t.Helper()
	ctx := context.Background()
	key := strings.Fields(BucketObjects(t, cl, bucket)[0])[0]
	Put(t, cl, bucket, key, "second version")
	Put(t, cl, bucket, "drafts/old.txt", "once")
	if _, err := cl.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String("drafts/old.txt")}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.S3.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String(bucket),
		LifecycleConfiguration: &s3types.BucketLifecycleConfiguration{Rules: []s3types.LifecycleRule{{
			ID: aws.String("expire-tmp"), Status: s3types.ExpirationStatusEnabled,
			Filter:     &s3types.LifecycleRuleFilter{Prefix: aws.String("tmp/")},
			Expiration: &s3types.LifecycleExpiration{Days: aws.Int32(7)}}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.S3.PutBucketCors(ctx, &s3.PutBucketCorsInput{Bucket: aws.String(bucket), CORSConfiguration: &s3types.CORSConfiguration{
		CORSRules: []s3types.CORSRule{{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{"https://shop.example"}}}}}); err != nil {
		t.Fatal(err)
	}
}

// Put writes one object.
func Put(t testing.TB, cl *awsclient.Clients, bucket, key, body string) {
	t.Helper()
	if _, err := cl.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

// Versions lists a bucket's history as S3 returns it, without version IDs
// (they change in a copy): key, newest first, with sizes and delete markers.
func Versions(t testing.TB, cl *awsclient.Clients, bucket string) []string {
	t.Helper()
	var out []string
	pg := s3.NewListObjectVersionsPaginator(cl.S3, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Versions {
			out = append(out, fmt.Sprintf("%s size=%d etag=%s latest=%t", aws.ToString(v.Key), aws.ToInt64(v.Size), aws.ToString(v.ETag), aws.ToBool(v.IsLatest)))
		}
		for _, m := range page.DeleteMarkers {
			out = append(out, fmt.Sprintf("%s delete-marker latest=%t", aws.ToString(m.Key), aws.ToBool(m.IsLatest)))
		}
	}
	slices.Sort(out)
	return out
}

// BucketSettings lists a bucket's lifecycle and CORS rules, tags (but the
// envmig: ones, the record of the run that made the bucket), versioning
// and region.
func BucketSettings(t testing.TB, cl *awsclient.Clients, bucket string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	lc, err := cl.S3.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range lc.Rules {
		out = append(out, fmt.Sprintf("lifecycle %s %s days=%d", aws.ToString(r.ID), r.Status, aws.ToInt32(r.Expiration.Days)))
	}
	cors, err := cl.S3.GetBucketCors(ctx, &s3.GetBucketCorsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range cors.CORSRules {
		out = append(out, fmt.Sprintf("cors %v %v", r.AllowedMethods, r.AllowedOrigins))
	}
	tags, err := cl.S3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tags.TagSet {
		if strings.HasPrefix(aws.ToString(tg.Key), "envmig:") {
			continue
		}
		out = append(out, "tag "+aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
	}
	ver, err := cl.S3.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, "versioning "+string(ver.Status))
	slices.Sort(out)
	return out
}

// BucketRegion is where a bucket lives ("us-east-1" for S3's empty
// location constraint).
func BucketRegion(t testing.TB, cl *awsclient.Clients, bucket string) string {
	t.Helper()
	loc, err := cl.S3.GetBucketLocation(context.Background(), &s3.GetBucketLocationInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	if loc.LocationConstraint == "" {
		return "us-east-1"
	}
	return string(loc.LocationConstraint)
}
