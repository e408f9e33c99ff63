package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// EmptyAPI is what emptying and deleting a bucket needs; *s3.Client has it.
type EmptyAPI interface {
	Lister
	VersionLister
	VersioningReader
	DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error)
	ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, optFns ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, optFns ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, optFns ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	DeleteBucket(ctx context.Context, in *s3.DeleteBucketInput, optFns ...func(*s3.Options)) (*s3.DeleteBucketOutput, error)
}

var _ EmptyAPI = (*s3.Client)(nil)

// DefaultEmptyConcurrency is how many DeleteObjects requests (of up to
// 1,000 entries each) an emptying keeps in flight.
const DefaultEmptyConcurrency = 8

// EmptyOptions tune EmptyBucket and DeleteBucket.
type EmptyOptions struct {
	// Only, when set, is a manifest of the bucket (TakeManifest): only
	// what it lists is deleted. A manifest of versions deletes exactly its
	// versions and delete markers, by version ID; a manifest of current
	// objects (of a bucket whose versioning was never enabled) deletes a
	// key only while its live ETag and size equal the manifest's, and the
	// delete carries the ETag so that S3 refuses it if the object changed
	// in between. Anything else stays, unfinished uploads included, and
	// the emptying ends with a *NotEmptyError naming it.
	Only io.Reader
	// Concurrency is the number of delete requests in flight
	// (DefaultEmptyConcurrency).
	Concurrency int
}

// Emptied is what an emptying did.
type Emptied struct {
	// Deleted counts the object versions, delete markers and (in a bucket
	// without versions) objects deleted.
	Deleted int64
	// Aborted counts the unfinished multipart uploads aborted.
	Aborted int64
}

// NotEmptyError says a guarded emptying (EmptyOptions.Only) left objects
// that its manifest does not list, or that changed since it was taken:
// writes made after the manifest. The bucket must not be deleted.
type NotEmptyError struct {
	Bucket string
	// Left counts the versions, delete markers and objects left; Keys
	// names the first MaxChangedKeys of their keys, in key order.
	Left int64
	Keys []string
	// Uploads counts the unfinished multipart uploads left.
	Uploads int64
}

func (e *NotEmptyError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "bucket %s still holds %d object versions or delete markers", e.Bucket, e.Left)
	if e.Uploads > 0 {
		fmt.Fprintf(&b, " and %d unfinished uploads", e.Uploads)
	}
	b.WriteString(" that its manifest does not list or that changed since it was taken: written after it was verified, they were kept")
	if len(e.Keys) > 0 {
		b.WriteString(" (")
		for i, k := range e.Keys {
			if i == 5 {
				b.WriteString(", ...")
				break
			}
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%q", k)
		}
		b.WriteString(")")
	}
	return b.String()
}

// EmptyBucket deletes the contents of bucket: everything (every version,
// delete marker and unfinished upload), or with opts.Only only what a
// manifest lists. It never deletes from a listing it is still paginating
// (a server may then skip entries after a deleted page marker): it lists
// a batch of pages, stops, deletes the batch with Concurrency requests in
// flight, and lists again from the start until a fresh listing is empty.
// It is idempotent: run again after a failure it deletes what is left.
// Objects under object lock, or a missing permission, fail it.
func EmptyBucket(ctx context.Context, api EmptyAPI, bucket string, opts EmptyOptions) (Emptied, error) {
	if opts.Concurrency <= 0 {
		opts.Concurrency = DefaultEmptyConcurrency
	}
	var res Emptied
	var err error
	if opts.Only != nil {
		res, err = emptyGuarded(ctx, api, bucket, opts)
	} else {
		res, err = emptyAll(ctx, api, bucket, opts.Concurrency)
	}
	if err != nil {
		var ne *NotEmptyError
		if !errors.As(err, &ne) {
			err = fmt.Errorf("empty bucket %s: %w", bucket, err)
		}
	}
	return res, err
}

// DeleteBucket empties bucket (EmptyBucket) and deletes it; a missing
// bucket is done. When a guarded emptying left anything it returns the
// *NotEmptyError and keeps the bucket.
func DeleteBucket(ctx context.Context, api EmptyAPI, bucket string, opts EmptyOptions) (Emptied, error) {
	ok, err := exists(ctx, api, bucket)
	if err != nil || !ok {
		return Emptied{}, err
	}
	res, err := EmptyBucket(ctx, api, bucket, opts)
	if err != nil {
		return res, err
	}
	if _, err := api.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String(bucket)}); err != nil && !isNotFound(err) {
		return res, fmt.Errorf("delete bucket %s: %w", bucket, err)
	}
	return res, nil
}

// emptyAll deletes everything, in rounds: list up to conc pages of
// versions from the start of the bucket, delete them, repeat.
func emptyAll(ctx context.Context, api EmptyAPI, bucket string, conc int) (Emptied, error) {
	var res Emptied
	n, err := abortUploads(ctx, api, bucket, "")
	res.Aborted += n
	if err != nil {
		return res, err
	}
	var last map[emptyRef]bool
	for {
		batches, err := listRound(ctx, api, bucket, conc)
		if err != nil {
			return res, err
		}
		if len(batches) == 0 {
			break
		}
		round := make(map[emptyRef]bool)
		for _, b := range batches {
			for _, id := range b {
				ref := emptyRef{aws.ToString(id.Key), aws.ToString(id.VersionId)}
				if last[ref] {
					return res, fmt.Errorf("%q (version %s) is still listed after its delete succeeded", ref.key, ref.version)
				}
				round[ref] = true
			}
		}
		last = round
		n, err := deleteBatches(ctx, api, bucket, batches, conc)
		res.Deleted += n
		if err != nil {
			return res, err
		}
	}
	// Uploads started while the objects went (a straggler) go too.
	n, err = abortUploads(ctx, api, bucket, "")
	res.Aborted += n
	return res, err
}

type emptyRef struct{ key, version string }

// listRound lists up to pages pages of versions and delete markers from
// the start of the bucket, as DeleteObjects batches.
func listRound(ctx context.Context, api VersionLister, bucket string, pages int) ([][]types.ObjectIdentifier, error) {
	var batches [][]types.ObjectIdentifier
	p := s3.NewListObjectVersionsPaginator(api, &s3.ListObjectVersionsInput{Bucket: aws.String(bucket)})
	for i := 0; i < pages && p.HasMorePages(); i++ {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list object versions of %s: %w", bucket, err)
		}
		ids := make([]types.ObjectIdentifier, 0, len(page.Versions)+len(page.DeleteMarkers))
		for _, v := range page.Versions {
			ids = append(ids, types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
		}
		for _, m := range page.DeleteMarkers {
			ids = append(ids, types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
		}
		for len(ids) > 0 {
			b := ids[:min(len(ids), maxDeleteBatch)]
			ids = ids[len(b):]
			batches = append(batches, b)
		}
	}
	return batches, nil
}

// deleteBatches sends the batches, conc at a time, and returns how many
// entries were deleted. Per-entry errors fail it, except those skip
// allows (they are counted as not deleted).
func deleteBatches(ctx context.Context, api EmptyAPI, bucket string, batches [][]types.ObjectIdentifier, conc int) (int64, error) {
	return deleteBatchesSkipping(ctx, api, bucket, batches, conc, nil)
}

func deleteBatchesSkipping(ctx context.Context, api EmptyAPI, bucket string, batches [][]types.ObjectIdentifier, conc int, skip func(types.Error) bool) (int64, error) {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(conc)
	counts := make([]int64, len(batches))
	for i, batch := range batches {
		g.Go(func() error {
			out, err := api.DeleteObjects(gctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: batch, Quiet: aws.Bool(true)}})
			if err != nil {
				return fmt.Errorf("delete %d object versions from %s: %w", len(batch), bucket, err)
			}
			counts[i] = int64(len(batch) - len(out.Errors))
			for _, e := range out.Errors {
				if skip == nil || !skip(e) {
					return fmt.Errorf("delete %s (version %s) from %s: %s: %s", aws.ToString(e.Key), aws.ToString(e.VersionId), bucket, aws.ToString(e.Code), aws.ToString(e.Message))
				}
			}
			return nil
		})
	}
	err := g.Wait()
	var n int64
	for _, c := range counts {
		n += c
	}
	return n, err
}

// countUploads counts the unfinished multipart uploads in bucket.
func countUploads(ctx context.Context, api EmptyAPI, bucket string) (int64, error) {
	var n int64
	p := s3.NewListMultipartUploadsPaginator(api, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return n, fmt.Errorf("list unfinished uploads in %s: %w", bucket, err)
		}
		n += int64(len(page.Uploads))
	}
	return n, nil
}
