package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// checkFirst reads a whole manifest before it is used, when r can seek
// back (a file): a truncated or altered manifest then stops the work
// before anything is deleted, not at its end.
func checkFirst(r io.Reader) error {
	sk, ok := r.(io.Seeker)
	if !ok {
		return nil
	}
	start, err := sk.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil // not really seekable (a pipe)
	}
	if _, err := CheckManifest(r); err != nil {
		return err
	}
	_, err = sk.Seek(start, io.SeekStart)
	return err
}

// emptyGuarded deletes only what the manifest opts.Only lists, then lists
// the bucket afresh and reports anything left as a *NotEmptyError.
func emptyGuarded(ctx context.Context, api EmptyAPI, bucket string, opts EmptyOptions) (Emptied, error) {
	var res Emptied
	if err := checkFirst(opts.Only); err != nil {
		return res, err
	}
	m, err := OpenManifest(opts.Only)
	if err != nil {
		return res, err
	}
	if h := m.Header(); h.Bucket != bucket {
		return res, fmt.Errorf("the manifest is of bucket %s", h.Bucket)
	}
	if m.Header().Versions {
		res.Deleted, err = deleteListedVersions(ctx, api, bucket, m, opts.Concurrency)
	} else {
		var versions bool
		if versions, err = HasVersions(ctx, api, bucket); err == nil && versions {
			return res, fmt.Errorf("its versioning was enabled: only a manifest of its versions can say which of them to delete (deleting a key would only add a delete marker)")
		}
		if err == nil {
			res.Deleted, err = deleteListedObjects(ctx, api, bucket, &manifestCursor{r: m}, opts.Concurrency)
		}
	}
	if err != nil {
		return res, err
	}
	return res, leftOver(ctx, api, bucket)
}

// deleteListedVersions deletes every version and delete marker the
// manifest lists, by version ID: exactly what was recorded, whatever was
// written since. Versions already gone are no error.
func deleteListedVersions(ctx context.Context, api EmptyAPI, bucket string, m *ManifestReader, conc int) (int64, error) {
	g, gctx := errgroup.WithContext(ctx)
	batches := make(chan []types.ObjectIdentifier, conc)
	deleted := make([]int64, conc)
	for w := range conc {
		g.Go(func() error {
			for b := range batches {
				n, err := deleteBatchesSkipping(gctx, api, bucket, [][]types.ObjectIdentifier{b}, 1, func(e types.Error) bool {
					return aws.ToString(e.Code) == "NoSuchVersion"
				})
				deleted[w] += n
				if err != nil {
					return err
				}
			}
			return nil
		})
	}
	g.Go(func() error {
		defer close(batches)
		var batch []types.ObjectIdentifier
		for {
			e, err := m.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return err
			}
			batch = append(batch, types.ObjectIdentifier{Key: aws.String(e.Key), VersionId: aws.String(e.VersionID)})
			if len(batch) == maxDeleteBatch {
				if !send(gctx, batches, batch) {
					return gctx.Err()
				}
				batch = nil
			}
		}
		if len(batch) > 0 && !send(gctx, batches, batch) {
			return gctx.Err()
		}
		return nil
	})
	err := g.Wait()
	var n int64
	for _, d := range deleted {
		n += d
	}
	return n, err
}

// deleteListedObjects deletes, in a bucket without versions, the objects
// whose live size and ETag still equal the manifest's. It goes in rounds:
// list up to conc pages after the last key of the previous round (a fresh
// listing: a deleted key cannot disturb its start), delete what matched
// with the ETag as a condition, repeat until a round lists nothing.
func deleteListedObjects(ctx context.Context, api EmptyAPI, bucket string, mc *manifestCursor, conc int) (int64, error) {
	var total int64
	after := ""
	for {
		var batches [][]types.ObjectIdentifier
		var batch []types.ObjectIdentifier
		listed := false
		p := s3.NewListObjectsV2Paginator(api, &s3.ListObjectsV2Input{Bucket: aws.String(bucket), StartAfter: nonEmpty(after)})
		for i := 0; i < conc && p.HasMorePages(); i++ {
			page, err := p.NextPage(ctx)
			if err != nil {
				return total, fmt.Errorf("list bucket %s: %w", bucket, err)
			}
			for j := range page.Contents {
				o := objectFromListing(&page.Contents[j])
				if o.Key <= after {
					return total, fmt.Errorf("list bucket %s: the server listed %q after %q, out of key order", bucket, o.Key, after)
				}
				after, listed = o.Key, true
				e, ok, err := mc.seek(o.Key, nil)
				if err != nil {
					return total, err
				}
				if !ok {
					continue
				}
				mc.next()
				if e.Size != o.Size || e.ETag != o.ETag {
					continue // rewritten since the manifest: kept
				}
				batch = append(batch, types.ObjectIdentifier{Key: aws.String(o.Key), ETag: aws.String(`"` + o.ETag + `"`)})
				if len(batch) == maxDeleteBatch {
					batches, batch = append(batches, batch), nil
				}
			}
		}
		if len(batch) > 0 {
			batches = append(batches, batch)
		}
		if !listed {
			return total, mc.rest(nil)
		}
		n, err := deleteBatchesSkipping(ctx, api, bucket, batches, conc, func(e types.Error) bool {
			return aws.ToString(e.Code) == "PreconditionFailed" // changed in between: kept
		})
		total += n
		if err != nil {
			return total, err
		}
	}
}

// leftOver lists the bucket afresh and returns a *NotEmptyError when it
// holds anything: versions, delete markers or unfinished uploads.
func leftOver(ctx context.Context, api EmptyAPI, bucket string) error {
	ne := &NotEmptyError{Bucket: bucket}
	err := eachVersionGroup(ctx, api, bucket, func(group []Entry) error {
		ne.Left += int64(len(group))
		if len(ne.Keys) < MaxChangedKeys {
			ne.Keys = append(ne.Keys, group[0].Key)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if ne.Uploads, err = countUploads(ctx, api, bucket); err != nil {
		return err
	}
	if ne.Left > 0 || ne.Uploads > 0 {
		return ne
	}
	return nil
}
