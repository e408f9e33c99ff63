package bucket

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// bucketHeader looks up a bucket.
type bucketHeader interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
}

// exists reports whether bucket exists and is reachable with api.
func exists(ctx context.Context, api bucketHeader, bucket string) (bool, error) {
	_, err := api.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)})
	if err == nil {
		return true, nil
	}
	if isNotFound(err) || httpStatus(err) == 404 {
		return false, nil
	}
	return false, fmt.Errorf("look up bucket %s: %w", bucket, err)
}

// bucketTags returns the bucket's tags (empty when it has none).
func bucketTags(ctx context.Context, api BucketAPI, bucket string) (map[string]string, error) {
	out, err := api.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: aws.String(bucket)})
	if err != nil {
		if errorCode(err) == "NoSuchTagSet" || errorCode(err) == "NoSuchTagSetError" {
			return map[string]string{}, nil
		}
		return nil, fmt.Errorf("read tags of bucket %s: %w", bucket, err)
	}
	tags := make(map[string]string, len(out.TagSet))
	for _, t := range out.TagSet {
		tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return tags, nil
}

// deleteBucket empties bucket of everything and deletes it (DeleteBucket
// without a manifest); a missing bucket is done. It returns the number of
// versions and delete markers deleted.
func deleteBucket(ctx context.Context, api EmptyAPI, bucket string) (int64, error) {
	res, err := DeleteBucket(ctx, api, bucket, EmptyOptions{})
	return res.Deleted, err
}

// setVersioning enables versioning, or suspends it when it was enabled.
func setVersioning(ctx context.Context, api BucketAPI, bucket string, enable bool) error {
	cur, err := api.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String(bucket)})
	if err != nil {
		return fmt.Errorf("read versioning of %s: %w", bucket, err)
	}
	want := types.BucketVersioningStatusEnabled
	if !enable {
		if cur.Status != types.BucketVersioningStatusEnabled {
			return nil // never enabled, or already suspended
		}
		want = types.BucketVersioningStatusSuspended
	} else if cur.Status == want {
		return nil
	}
	if _, err := api.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket), VersioningConfiguration: &types.VersioningConfiguration{Status: want}}); err != nil {
		return fmt.Errorf("set versioning of %s to %s: %w", bucket, want, err)
	}
	return nil
}

// putTags replaces the bucket's tags (removes them all when tags is empty).
func putTags(ctx context.Context, api BucketAPI, bucket string, tags map[string]string) error {
	if len(tags) == 0 {
		if _, err := api.DeleteBucketTagging(ctx, &s3.DeleteBucketTaggingInput{Bucket: aws.String(bucket)}); err != nil {
			return fmt.Errorf("remove tags of bucket %s: %w", bucket, err)
		}
		return nil
	}
	set := make([]types.Tag, 0, len(tags))
	for _, k := range sortedKeys(tags) {
		set = append(set, types.Tag{Key: aws.String(k), Value: aws.String(tags[k])})
	}
	if _, err := api.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(bucket), Tagging: &types.Tagging{TagSet: set}}); err != nil {
		return fmt.Errorf("tag bucket %s: %w", bucket, err)
	}
	return nil
}
