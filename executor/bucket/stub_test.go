package bucket

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/hex"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
)

// stubS3 is an in-memory S3 for the engine's tests: sorted listings with
// pages, copies, multipart copies, deletes, and hooks to inject faults.
// It satisfies S3API's object half (bucket calls panic).
type stubS3 struct {
	S3API // nil: bucket management calls are not stubbed

	mu      sync.Mutex
	buckets map[string]map[string]*stubObj
	uploads map[string]*stubUpload
	nextID  int
	calls   map[string]int
	// keepsSSE: the server keeps server-side encryption, and a multipart
	// upload's start names the encryption asked for (S3 names one always).
	keepsSSE bool
	// fault, when set, is asked before every call; a non-nil error fails it.
	fault func(op, key string) error
	// pageSize of listings (default 1000).
	pageSize int
	// misorder swaps two keys of every listing page (an out-of-order server).
	misorder bool
}

type stubObj struct {
	data  []byte
	etag  string
	parts []int64 // part sizes of a multipart object
	meta  map[string]string
	ctype string
	tags  map[string]string
	// sse is the server-side encryption HEAD reports.
	sse types.ServerSideEncryption
	// crc32, when set, is the stored CRC32 checksum: listings name the
	// algorithm, a HEAD with checksum mode returns it.
	crc32 string
}

type stubUpload struct {
	bucket, key string
	parts       map[int32][]byte
	meta        map[string]string
	ctype       string
	tags        map[string]string
}

func newStub(buckets ...string) *stubS3 {
	s := &stubS3{buckets: map[string]map[string]*stubObj{}, uploads: map[string]*stubUpload{}, calls: map[string]int{}}
	for _, b := range buckets {
		s.buckets[b] = map[string]*stubObj{}
	}
	return s
}

func md5hex(b []byte) string { h := md5.Sum(b); return hex.EncodeToString(h[:]) }

// put stores a single-part object.
func (s *stubS3) put(bucket, key string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buckets[bucket][key] = &stubObj{data: data, etag: md5hex(data)}
}

// putMultipart stores an object uploaded in parts of the given sizes.
func (s *stubS3) putMultipart(bucket, key string, data []byte, sizes ...int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.buckets[bucket][key] = &stubObj{data: data, etag: multipartETag(data, sizes), parts: sizes}
}

func multipartETag(data []byte, sizes []int64) string {
	var sums []byte
	off := int64(0)
	for _, n := range sizes {
		h := md5.Sum(data[off : off+n])
		sums = append(sums, h[:]...)
		off += n
	}
	return md5hex(sums) + "-" + strconv.Itoa(len(sizes))
}

func (s *stubS3) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

func (s *stubS3) enter(op, key string) error {
	s.mu.Lock()
	s.calls[op]++
	f := s.fault
	s.mu.Unlock()
	if f != nil {
		return f(op, key)
	}
	return nil
}

func apiErr(code string) error { return &smithy.GenericAPIError{Code: code, Message: code} }

func (s *stubS3) bucket(name string) (map[string]*stubObj, error) {
	b, ok := s.buckets[name]
	if !ok {
		return nil, apiErr("NoSuchBucket")
	}
	return b, nil
}

func (s *stubS3) ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	if err := s.enter("ListObjectsV2", aws.ToString(in.Prefix)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(aws.ToString(in.Bucket))
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(b))
	for k := range b {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	after := aws.ToString(in.StartAfter)
	if t := aws.ToString(in.ContinuationToken); t != "" {
		after = t
	}
	prefix, delim := aws.ToString(in.Prefix), aws.ToString(in.Delimiter)
	limit := s.pageSize
	if limit == 0 {
		limit = 1000
	}
	out := &s3.ListObjectsV2Output{}
	seen := map[string]bool{}
	last := ""
	for _, k := range keys {
		if k <= after || !strings.HasPrefix(k, prefix) {
			continue
		}
		if len(out.Contents)+len(out.CommonPrefixes) == limit {
			out.IsTruncated = aws.Bool(true)
			out.NextContinuationToken = aws.String(last)
			break
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if !seen[cp] {
					seen[cp] = true
					out.CommonPrefixes = append(out.CommonPrefixes, types.CommonPrefix{Prefix: aws.String(cp)})
				}
				last = cp + "\xff"
				continue
			}
		}
		o := b[k]
		obj := types.Object{Key: aws.String(k), Size: aws.Int64(int64(len(o.data))), ETag: aws.String(`"` + o.etag + `"`)}
		if o.crc32 != "" {
			obj.ChecksumAlgorithm = []types.ChecksumAlgorithm{types.ChecksumAlgorithmCrc32}
		}
		out.Contents = append(out.Contents, obj)
		last = k
	}
	if s.misorder && len(out.Contents) > 2 {
		out.Contents[0], out.Contents[1] = out.Contents[1], out.Contents[0]
	}
	return out, nil
}

func parseSource(src string) (bucket, key string) {
	b, k, _ := strings.Cut(src, "/")
	k, err := url.PathUnescape(k)
	if err != nil {
		panic(err)
	}
	return b, k
}

func (s *stubS3) CopyObject(ctx context.Context, in *s3.CopyObjectInput, _ ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	if err := s.enter("CopyObject", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	sb, sk := parseSource(aws.ToString(in.CopySource))
	s.mu.Lock()
	defer s.mu.Unlock()
	src, err := s.bucket(sb)
	if err != nil {
		return nil, err
	}
	o, ok := src[sk]
	if !ok {
		return nil, apiErr("NoSuchKey")
	}
	if m := aws.ToString(in.CopySourceIfMatch); m != "" && m != `"`+o.etag+`"` {
		return nil, apiErr("PreconditionFailed")
	}
	dst, err := s.bucket(aws.ToString(in.Bucket))
	if err != nil {
		return nil, err
	}
	// Like S3: a copy is single-part, its ETag the MD5 of the content.
	dst[aws.ToString(in.Key)] = &stubObj{data: o.data, etag: md5hex(o.data), meta: o.meta, ctype: o.ctype, tags: o.tags}
	return &s3.CopyObjectOutput{}, nil
}

func (s *stubS3) HeadObject(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	if err := s.enter("HeadObject", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, err := s.bucket(aws.ToString(in.Bucket))
	if err != nil {
		return nil, err
	}
	o, ok := b[aws.ToString(in.Key)]
	if !ok {
		return nil, apiErr("NotFound")
	}
	if m := aws.ToString(in.IfMatch); m != "" && m != `"`+o.etag+`"` {
		return nil, apiErr("PreconditionFailed")
	}
	out := &s3.HeadObjectOutput{ETag: aws.String(`"` + o.etag + `"`), ContentLength: aws.Int64(int64(len(o.data))), Metadata: o.meta, ContentType: nonEmpty(o.ctype), ServerSideEncryption: o.sse}
	if o.crc32 != "" && in.ChecksumMode == types.ChecksumModeEnabled {
		out.ChecksumCRC32 = aws.String(o.crc32)
	}
	if n := aws.ToInt32(in.PartNumber); n > 0 {
		if len(o.parts) == 0 {
			return out, nil
		}
		out.PartsCount = aws.Int32(int32(len(o.parts)))
		out.ContentLength = aws.Int64(o.parts[n-1])
	}
	return out, nil
}

func (s *stubS3) GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, _ ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error) {
	if err := s.enter("GetObjectTagging", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.buckets[aws.ToString(in.Bucket)][aws.ToString(in.Key)]
	out := &s3.GetObjectTaggingOutput{}
	if o != nil {
		for _, k := range sortedKeys(o.tags) {
			out.TagSet = append(out.TagSet, types.Tag{Key: aws.String(k), Value: aws.String(o.tags[k])})
		}
	}
	return out, nil
}

func (s *stubS3) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if err := s.enter("GetObject", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.buckets[aws.ToString(in.Bucket)][aws.ToString(in.Key)]
	if !ok {
		return nil, apiErr("NoSuchKey")
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(o.data))}, nil
}

func (s *stubS3) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
	if err := s.enter("CreateMultipartUpload", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextID++
	id := fmt.Sprintf("up-%d", s.nextID)
	tags := map[string]string{}
	if t := aws.ToString(in.Tagging); t != "" {
		v, _ := url.ParseQuery(t)
		for k := range v {
			tags[k] = v.Get(k)
		}
	}
	s.uploads[id] = &stubUpload{bucket: aws.ToString(in.Bucket), key: aws.ToString(in.Key), parts: map[int32][]byte{}, meta: in.Metadata, ctype: aws.ToString(in.ContentType), tags: tags}
	out := &s3.CreateMultipartUploadOutput{UploadId: aws.String(id)}
	if s.keepsSSE {
		out.ServerSideEncryption = in.ServerSideEncryption
	}
	return out, nil
}

func (s *stubS3) UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, _ ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error) {
	if err := s.enter("UploadPartCopy", aws.ToString(in.Key)+"#"+strconv.Itoa(int(aws.ToInt32(in.PartNumber)))); err != nil {
		return nil, err
	}
	sb, sk := parseSource(aws.ToString(in.CopySource))
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok := s.buckets[sb][sk]
	if !ok {
		return nil, apiErr("NoSuchKey")
	}
	if m := aws.ToString(in.CopySourceIfMatch); m != "" && m != `"`+o.etag+`"` {
		return nil, apiErr("PreconditionFailed")
	}
	u, ok := s.uploads[aws.ToString(in.UploadId)]
	if !ok {
		return nil, apiErr("NoSuchUpload")
	}
	var a, b int64
	if _, err := fmt.Sscanf(aws.ToString(in.CopySourceRange), "bytes=%d-%d", &a, &b); err != nil {
		return nil, err
	}
	part := o.data[a : b+1]
	u.parts[aws.ToInt32(in.PartNumber)] = part
	return &s3.UploadPartCopyOutput{CopyPartResult: &types.CopyPartResult{ETag: aws.String(`"` + md5hex(part) + `"`)}}, nil
}

func (s *stubS3) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	if err := s.enter("CompleteMultipartUpload", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[aws.ToString(in.UploadId)]
	if !ok {
		return nil, apiErr("NoSuchUpload")
	}
	if cur, ok := s.buckets[u.bucket][u.key]; ok && aws.ToString(in.IfNoneMatch) == "*" ||
		in.IfMatch != nil && (!ok || aws.ToString(in.IfMatch) != `"`+cur.etag+`"`) {
		return nil, apiErr("PreconditionFailed")
	}
	var data []byte
	var sizes []int64
	for i, p := range in.MultipartUpload.Parts {
		if aws.ToInt32(p.PartNumber) != int32(i+1) {
			return nil, apiErr("InvalidPartOrder")
		}
		part := u.parts[int32(i+1)]
		data = append(data, part...)
		sizes = append(sizes, int64(len(part)))
	}
	delete(s.uploads, aws.ToString(in.UploadId))
	s.buckets[u.bucket][u.key] = &stubObj{data: data, etag: multipartETag(data, sizes), parts: sizes, meta: u.meta, ctype: u.ctype, tags: u.tags}
	return &s3.CompleteMultipartUploadOutput{}, nil
}

func (s *stubS3) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
	if err := s.enter("AbortMultipartUpload", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.uploads[aws.ToString(in.UploadId)]; !ok {
		return nil, apiErr("NoSuchUpload")
	}
	delete(s.uploads, aws.ToString(in.UploadId))
	return &s3.AbortMultipartUploadOutput{}, nil
}

func (s *stubS3) ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, _ ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
	if err := s.enter("ListMultipartUploads", aws.ToString(in.Prefix)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &s3.ListMultipartUploadsOutput{}
	for id, u := range s.uploads {
		if u.bucket == aws.ToString(in.Bucket) && strings.HasPrefix(u.key, aws.ToString(in.Prefix)) {
			out.Uploads = append(out.Uploads, types.MultipartUpload{Key: aws.String(u.key), UploadId: aws.String(id)})
		}
	}
	return out, nil
}

func (s *stubS3) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, _ ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	if err := s.enter("DeleteObjects", ""); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := &s3.DeleteObjectsOutput{}
	b := s.buckets[aws.ToString(in.Bucket)]
	for _, o := range in.Delete.Objects {
		// Like S3: a delete with an ETag deletes only that object.
		if cur, ok := b[aws.ToString(o.Key)]; ok && o.ETag != nil && aws.ToString(o.ETag) != `"`+cur.etag+`"` {
			out.Errors = append(out.Errors, types.Error{Key: o.Key, Code: aws.String("PreconditionFailed"), Message: aws.String("At least one of the pre-conditions you specified did not hold")})
			continue
		}
		delete(b, aws.ToString(o.Key))
	}
	return out, nil
}

// keys returns a bucket's keys with their ETags.
func (s *stubS3) manifest(bucket string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	m := map[string]string{}
	for k, o := range s.buckets[bucket] {
		m[k] = o.etag
	}
	return m
}

func (s *stubS3) openUploads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uploads)
}
