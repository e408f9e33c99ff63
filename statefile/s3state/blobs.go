package s3state

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/envmig/envmig/statefile"
)

func (j *Journal) blobPrefix() string { return j.b.o.Prefix + j.name + ".blobs/" }

func (j *Journal) blobKey(run, name string) (string, error) {
	if err := j.checkName(); err != nil {
		return "", err
	}
	if !statefile.ValidName(run) || !statefile.ValidName(name) {
		return "", fmt.Errorf("%w: blob %q of run %q: use letters, digits, '.', '-' and '_'", statefile.ErrInvalidName, name, run)
	}
	return j.blobPrefix() + run + "/" + name, nil
}

// lockLost returns why the lock taken through j was lost, or nil.
func (j *Journal) lockLost() error {
	j.mu.Lock()
	ls := j.held
	j.mu.Unlock()
	if ls == nil {
		return nil
	}
	return ls.check()
}

// CreateBlob streams a blob to <prefix><name>.blobs/<run>/<name>: up to
// PartSize bytes are sent in one PutObject at Close, more as a multipart
// upload of PartSize parts (one part in memory at a time), completed at
// Close. S3 shows the new blob only once it is complete. Abort, or an error,
// aborts the upload.
func (j *Journal) CreateBlob(ctx context.Context, run, name string) (statefile.BlobWriter, error) {
	key, err := j.blobKey(run, name)
	if err != nil {
		return nil, err
	}
	if err := j.lockLost(); err != nil {
		return nil, err
	}
	return &blob{j: j, ctx: ctx, key: key}, nil
}

type blob struct {
	j   *Journal
	ctx context.Context
	key string

	mu       sync.Mutex
	buf      bytes.Buffer
	uploadID string
	parts    []types.CompletedPart
	done     bool
}

var errBlobDone = errors.New("blob already closed or aborted")

func (b *blob) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, errBlobDone
	}
	n, _ := b.buf.Write(p) // bytes.Buffer.Write never fails
	for int64(b.buf.Len()) >= b.j.b.o.PartSize {
		if err := b.upload(b.buf.Next(int(b.j.b.o.PartSize))); err != nil {
			b.abort()
			return 0, err
		}
	}
	return n, nil
}

// upload sends one part, starting the multipart upload first if needed.
func (b *blob) upload(part []byte) error {
	o := b.j.b
	if b.uploadID == "" {
		out, err := o.client.CreateMultipartUpload(b.ctx, &s3.CreateMultipartUploadInput{Bucket: &o.o.Bucket, Key: &b.key, ExpectedBucketOwner: o.owner()})
		if err != nil {
			return fmt.Errorf("store blob %s: %w", o.url(b.key), err)
		}
		b.uploadID = aws.ToString(out.UploadId)
	}
	n := int32(len(b.parts) + 1)
	out, err := o.client.UploadPart(b.ctx, &s3.UploadPartInput{Bucket: &o.o.Bucket, Key: &b.key, UploadId: &b.uploadID,
		PartNumber: &n, Body: bytes.NewReader(part), ContentLength: aws.Int64(int64(len(part))), ExpectedBucketOwner: o.owner()})
	if err != nil {
		return fmt.Errorf("store blob %s (part %d): %w", o.url(b.key), n, err)
	}
	b.parts = append(b.parts, types.CompletedPart{ETag: out.ETag, PartNumber: &n})
	return nil
}

// Close stores the blob.
func (b *blob) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return errBlobDone
	}
	err := b.j.lockLost()
	if err == nil {
		err = b.ctx.Err()
	}
	if err != nil {
		b.abort()
		return err
	}
	o := b.j.b
	if b.uploadID == "" {
		b.done = true
		data := b.buf.Bytes()
		_, err := o.client.PutObject(b.ctx, &s3.PutObjectInput{Bucket: &o.o.Bucket, Key: &b.key, Body: bytes.NewReader(data),
			ContentLength: aws.Int64(int64(len(data))), ExpectedBucketOwner: o.owner()})
		if err != nil {
			return fmt.Errorf("store blob %s: %w", o.url(b.key), err)
		}
		return nil
	}
	if b.buf.Len() > 0 {
		if err := b.upload(b.buf.Bytes()); err != nil {
			b.abort()
			return err
		}
	}
	b.done = true
	_, err = o.client.CompleteMultipartUpload(b.ctx, &s3.CompleteMultipartUploadInput{Bucket: &o.o.Bucket, Key: &b.key, UploadId: &b.uploadID,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: b.parts}, ExpectedBucketOwner: o.owner()})
	if err != nil {
		b.abortUpload()
		return fmt.Errorf("store blob %s: %w", o.url(b.key), err)
	}
	return nil
}

// Abort discards the blob.
func (b *blob) Abort() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return errBlobDone
	}
	return b.abort()
}

func (b *blob) abort() error {
	b.done = true
	b.buf.Reset()
	return b.abortUpload()
}

// abortUpload abandons the multipart upload, if one was started, on a
// context of its own: the blob's may be what ended.
func (b *blob) abortUpload() error {
	if b.uploadID == "" {
		return nil
	}
	o := b.j.b
	ctx, cancel := o.call()
	defer cancel()
	_, err := o.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &o.o.Bucket, Key: &b.key, UploadId: &b.uploadID, ExpectedBucketOwner: o.owner()})
	if err != nil {
		return fmt.Errorf("abort the upload of blob %s: %w", o.url(b.key), err)
	}
	return nil
}

// OpenBlob streams a blob; the reader stays valid while ctx does.
func (j *Journal) OpenBlob(ctx context.Context, run, name string) (io.ReadCloser, error) {
	key, err := j.blobKey(run, name)
	if err != nil {
		return nil, err
	}
	out, err := j.b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &j.b.o.Bucket, Key: &key, ExpectedBucketOwner: j.b.owner()})
	if notFound(err) {
		return nil, &statefile.NotFoundError{Path: j.b.url(key)}
	}
	if err != nil {
		return nil, fmt.Errorf("open blob %s: %w", j.b.url(key), err)
	}
	return out.Body, nil
}

// Blobs lists the journal's blobs, sorted by run then name.
func (j *Journal) Blobs(ctx context.Context) ([]statefile.BlobInfo, error) {
	if err := j.checkName(); err != nil {
		return nil, err
	}
	prefix := j.blobPrefix()
	p := s3.NewListObjectsV2Paginator(j.b.client, &s3.ListObjectsV2Input{Bucket: &j.b.o.Bucket, Prefix: &prefix, ExpectedBucketOwner: j.b.owner()})
	var out []statefile.BlobInfo
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list blobs in %s: %w", j.b.url(prefix), err)
		}
		for _, o := range page.Contents {
			run, name, ok := strings.Cut(strings.TrimPrefix(aws.ToString(o.Key), prefix), "/")
			if ok && statefile.ValidName(run) && statefile.ValidName(name) {
				out = append(out, statefile.BlobInfo{Run: run, Name: name, Size: aws.ToInt64(o.Size)})
			}
		}
	}
	sort.Slice(out, func(a, b int) bool {
		if out[a].Run != out[b].Run {
			return out[a].Run < out[b].Run
		}
		return out[a].Name < out[b].Name
	})
	return out, nil
}
