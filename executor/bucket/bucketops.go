package bucket

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// bucketOps is what emptying and deleting a bucket needs.
type bucketOps interface {
	BucketAPI
	Copier
}

// exists reports whether bucket exists and is reachable with api.
func exists(ctx context.Context, api BucketAPI, bucket string) (bool, error) {
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

// emptyBucket deletes every object version, delete marker and unfinished
// multipart upload in bucket.
func emptyBucket(ctx context.Context, api bucketOps, bucket string) (int64, error) {
	if err := abortUploads(ctx, api, bucket, ""); err != nil {
		return 0, err
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	var n int64
	p := s3.NewListObjectVersionsPaginator(api, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(gctx)
		if err != nil {
			_ = g.Wait()
			return n, fmt.Errorf("list object versions of %s: %w", bucket, err)
		}
		ids := make([]types.ObjectIdentifier, 0, len(page.Versions)+len(page.DeleteMarkers))
		for _, v := range page.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		for len(ids) > 0 {
			batch := ids[:min(len(ids), maxDeleteBatch)]
			ids = ids[len(batch):]
			n += int64(len(batch))
			g.Go(func() error {
				out, err := api.DeleteObjects(gctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)}})
				if err != nil {
					return fmt.Errorf("delete %d object versions from %s: %w", len(batch), bucket, err)
				}
				if len(out.Errors) > 0 {
					e := out.Errors[0]
					return fmt.Errorf("delete %s from %s: %s: %s", aws.ToString(e.Key), bucket, aws.ToString(e.Code), aws.ToString(e.Message))
				}
				return nil
			})
		}
	}
	return n, g.Wait()
}

// deleteBucket empties bucket and deletes it; a missing bucket is done.
func deleteBucket(ctx context.Context, api bucketOps, bucket string) (int64, error) {
	ok, err := exists(ctx, api, bucket)
	if err != nil || !ok {
		return 0, err
	}
	n, err := emptyBucket(ctx, api, bucket)
	if err != nil {
		return n, err
	}
	if _, err := api.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil && !isNotFound(err) {
		return n, fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	return n, nil
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
