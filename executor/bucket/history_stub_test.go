package bucket

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// versionedStub is an in-memory versioned S3 for the history tests: it
// lists versions and delete markers in S3's order (keys ascending, each
// key newest first) with one-second LastModified, in two slices as the SDK
// returns them, and honours KeyMarker, VersionIdMarker, Prefix and MaxKeys.
type versionedStub struct {
	mu      sync.Mutex
	buckets map[string]*vbucket
	uploads map[string]*stubUpload
	nextID  int
	calls   map[string]int
	// now is the clock of new entries; each entry advances it by tick.
	now  time.Time
	tick time.Duration
	// pageSize of listings (default 1000).
	pageSize int
	// keepsSSE: the server keeps server-side encryption, and a multipart
	// upload's start names the encryption asked for (S3 names one always).
	keepsSSE bool
	// fault, when set, is asked before every call.
	fault func(op, key string) error
}

type vbucket struct {
	versioned bool
	keys      map[string][]*vent // oldest first
}

type vent struct {
	id     string
	marker bool
	data   []byte
	etag   string
	parts  []int64
	meta   map[string]string
	ctype  string
	tags   map[string]string
	class  string
	mod    time.Time
}

var _ HistorySource = (*versionedStub)(nil)
var _ HistoryDest = (*versionedStub)(nil)

func newVersionedStub(buckets ...string) *versionedStub {
	s := &versionedStub{buckets: map[string]*vbucket{}, uploads: map[string]*stubUpload{}, calls: map[string]int{},
		now: time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)}
	for _, b := range buckets {
		s.buckets[b] = &vbucket{versioned: true, keys: map[string][]*vent{}}
	}
	return s
}

func (s *versionedStub) enter(op, key string) error {
	s.mu.Lock()
	s.calls[op]++
	f := s.fault
	s.mu.Unlock()
	if f != nil {
		return f(op, key)
	}
	return nil
}

func (s *versionedStub) count(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// add appends an entry to key (the lock held).
func (s *versionedStub) add(bucket, key string, e *vent) *vent {
	b := s.buckets[bucket]
	s.nextID++
	e.id = fmt.Sprintf("v%04d", s.nextID)
	e.mod = s.now
	s.now = s.now.Add(s.tick)
	if !b.versioned {
		e.id = "null"
		b.keys[key] = nil
	}
	b.keys[key] = append(b.keys[key], e)
	return e
}

func (s *versionedStub) put(bucket, key string, data []byte) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(bucket, key, &vent{data: data, etag: md5hex(data)}).id
}

func (s *versionedStub) putMultipart(bucket, key string, data []byte, sizes ...int64) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(bucket, key, &vent{data: data, etag: multipartETag(data, sizes), parts: sizes}).id
}

func (s *versionedStub) del(bucket, key string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.add(bucket, key, &vent{marker: true}).id
}

// history renders a bucket's histories as "key: kind/etag ..." lines,
// oldest first, without version IDs.
func (s *versionedStub) history(bucket string) map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]string{}
	for k, es := range s.buckets[bucket].keys {
		var parts []string
		for _, e := range es {
			if e.marker {
				parts = append(parts, "DM")
			} else {
				parts = append(parts, e.etag)
			}
		}
		if len(parts) > 0 {
			out[k] = strings.Join(parts, " ")
		}
	}
	return out
}

func (s *versionedStub) find(bucket, key, id string) (*vent, error) {
	b, ok := s.buckets[bucket]
	if !ok {
		return nil, apiErr("NoSuchBucket")
	}
	es := b.keys[key]
	if id == "" {
		if len(es) == 0 || es[len(es)-1].marker {
			return nil, apiErr("NoSuchKey")
		}
		return es[len(es)-1], nil
	}
	for _, e := range es {
		if e.id == id {
			return e, nil
		}
	}
	return nil, apiErr("NoSuchVersion")
}

func (s *versionedStub) ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, _ ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
	if err := s.enter("ListObjectVersions", aws.ToString(in.Prefix)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.buckets[aws.ToString(in.Bucket)]
	if !ok {
		return nil, apiErr("NoSuchBucket")
	}
	keys := make([]string, 0, len(b.keys))
	for k := range b.keys {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	limit := int(aws.ToInt32(in.MaxKeys))
	if limit == 0 {
		limit = s.pageSize
	}
	if limit == 0 {
		limit = 1000
	}
	prefix, delim := aws.ToString(in.Prefix), aws.ToString(in.Delimiter)
	km, vm := aws.ToString(in.KeyMarker), aws.ToString(in.VersionIdMarker)
	out := &s3.ListObjectVersionsOutput{}
	n := 0
	seen := map[string]bool{}
	for _, k := range keys {
		if !strings.HasPrefix(k, prefix) || k < km || k == km && vm == "" {
			continue
		}
		if delim != "" {
			if i := strings.Index(k[len(prefix):], delim); i >= 0 {
				cp := k[:len(prefix)+i+len(delim)]
				if !seen[cp] {
					seen[cp] = true
					out.CommonPrefixes = append(out.CommonPrefixes, types.CommonPrefix{Prefix: aws.String(cp)})
				}
				continue
			}
		}
		es := b.keys[k]
		skipping := k == km
		for i := len(es) - 1; i >= 0; i-- {
			e := es[i]
			if skipping {
				if e.id == vm {
					skipping = false
				}
				continue
			}
			if n == limit {
				out.IsTruncated = aws.Bool(true)
				return out, nil
			}
			n++
			out.NextKeyMarker, out.NextVersionIdMarker = aws.String(k), aws.String(e.id)
			mod := aws.Time(e.mod.Truncate(time.Second))
			latest := aws.Bool(i == len(es)-1)
			if e.marker {
				out.DeleteMarkers = append(out.DeleteMarkers, types.DeleteMarkerEntry{Key: aws.String(k), VersionId: aws.String(e.id), LastModified: mod, IsLatest: latest})
				continue
			}
			out.Versions = append(out.Versions, types.ObjectVersion{Key: aws.String(k), VersionId: aws.String(e.id), LastModified: mod, IsLatest: latest,
				Size: aws.Int64(int64(len(e.data))), ETag: aws.String(`"` + e.etag + `"`), StorageClass: types.ObjectVersionStorageClass(e.class)})
		}
	}
	out.NextKeyMarker, out.NextVersionIdMarker = nil, nil
	return out, nil
}

func parseVersionSource(src string) (bucket, key, id string) {
	path, query, _ := strings.Cut(src, "?")
	bucket, key = parseSource(path)
	q, _ := url.ParseQuery(query)
	return bucket, key, q.Get("versionId")
}

func (s *versionedStub) CopyObject(ctx context.Context, in *s3.CopyObjectInput, _ ...func(*s3.Options)) (*s3.CopyObjectOutput, error) {
	if err := s.enter("CopyObject", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	sb, sk, id := parseVersionSource(aws.ToString(in.CopySource))
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(sb, sk, id)
	if err != nil {
		return nil, err
	}
	if o.marker {
		return nil, apiErr("InvalidRequest")
	}
	if _, ok := s.buckets[aws.ToString(in.Bucket)]; !ok {
		return nil, apiErr("NoSuchBucket")
	}
	s.add(aws.ToString(in.Bucket), aws.ToString(in.Key), &vent{data: o.data, etag: md5hex(o.data), meta: o.meta, ctype: o.ctype, tags: o.tags, class: string(in.StorageClass)})
	return &s3.CopyObjectOutput{}, nil
}

func (s *versionedStub) HeadObject(ctx context.Context, in *s3.HeadObjectInput, _ ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	if err := s.enter("HeadObject", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(aws.ToString(in.Bucket), aws.ToString(in.Key), aws.ToString(in.VersionId))
	if err != nil || o.marker {
		return nil, apiErr("NotFound")
	}
	out := &s3.HeadObjectOutput{ETag: aws.String(`"` + o.etag + `"`), ContentLength: aws.Int64(int64(len(o.data))), Metadata: o.meta, ContentType: nonEmpty(o.ctype)}
	if n := aws.ToInt32(in.PartNumber); n > 0 && len(o.parts) > 0 {
		out.PartsCount = aws.Int32(int32(len(o.parts)))
		out.ContentLength = aws.Int64(o.parts[n-1])
	}
	return out, nil
}

func (s *versionedStub) GetObjectTagging(ctx context.Context, in *s3.GetObjectTaggingInput, _ ...func(*s3.Options)) (*s3.GetObjectTaggingOutput, error) {
	if err := s.enter("GetObjectTagging", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(aws.ToString(in.Bucket), aws.ToString(in.Key), aws.ToString(in.VersionId))
	if err != nil {
		return nil, err
	}
	out := &s3.GetObjectTaggingOutput{}
	for _, k := range sortedKeys(o.tags) {
		out.TagSet = append(out.TagSet, types.Tag{Key: aws.String(k), Value: aws.String(o.tags[k])})
	}
	return out, nil
}

func (s *versionedStub) GetObject(ctx context.Context, in *s3.GetObjectInput, _ ...func(*s3.Options)) (*s3.GetObjectOutput, error) {
	if err := s.enter("GetObject", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(aws.ToString(in.Bucket), aws.ToString(in.Key), aws.ToString(in.VersionId))
	if err != nil {
		return nil, err
	}
	return &s3.GetObjectOutput{Body: io.NopCloser(bytes.NewReader(o.data))}, nil
}

func (s *versionedStub) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, _ ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	if err := s.enter("DeleteObject", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[aws.ToString(in.Bucket)]
	if !b.versioned {
		delete(b.keys, aws.ToString(in.Key))
		return &s3.DeleteObjectOutput{}, nil
	}
	e := s.add(aws.ToString(in.Bucket), aws.ToString(in.Key), &vent{marker: true})
	return &s3.DeleteObjectOutput{DeleteMarker: aws.Bool(true), VersionId: aws.String(e.id)}, nil
}

func (s *versionedStub) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, _ ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	if err := s.enter("DeleteObjects", ""); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.buckets[aws.ToString(in.Bucket)]
	for _, o := range in.Delete.Objects {
		k, id := aws.ToString(o.Key), aws.ToString(o.VersionId)
		if id == "" {
			s.add(aws.ToString(in.Bucket), k, &vent{marker: true})
			continue
		}
		es := b.keys[k]
		for i, e := range es {
			if e.id == id {
				b.keys[k] = append(es[:i:i], es[i+1:]...)
				break
			}
		}
		if len(b.keys[k]) == 0 {
			delete(b.keys, k)
		}
	}
	return &s3.DeleteObjectsOutput{}, nil
}

func (s *versionedStub) GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, _ ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if b := s.buckets[aws.ToString(in.Bucket)]; b != nil && b.versioned {
		return &s3.GetBucketVersioningOutput{Status: types.BucketVersioningStatusEnabled}, nil
	}
	return &s3.GetBucketVersioningOutput{}, nil
}

func (s *versionedStub) CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error) {
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

func (s *versionedStub) UploadPartCopy(ctx context.Context, in *s3.UploadPartCopyInput, _ ...func(*s3.Options)) (*s3.UploadPartCopyOutput, error) {
	if err := s.enter("UploadPartCopy", aws.ToString(in.Key)+"#"+strconv.Itoa(int(aws.ToInt32(in.PartNumber)))); err != nil {
		return nil, err
	}
	sb, sk, vid := parseVersionSource(aws.ToString(in.CopySource))
	s.mu.Lock()
	defer s.mu.Unlock()
	o, err := s.find(sb, sk, vid)
	if err != nil {
		return nil, err
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

func (s *versionedStub) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, _ ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	if err := s.enter("CompleteMultipartUpload", aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.uploads[aws.ToString(in.UploadId)]
	if !ok {
		return nil, apiErr("NoSuchUpload")
	}
	var data []byte
	var sizes []int64
	for i := range in.MultipartUpload.Parts {
		part := u.parts[int32(i+1)]
		data = append(data, part...)
		sizes = append(sizes, int64(len(part)))
	}
	delete(s.uploads, aws.ToString(in.UploadId))
	s.add(u.bucket, u.key, &vent{data: data, etag: multipartETag(data, sizes), parts: sizes, meta: u.meta, ctype: u.ctype, tags: u.tags})
	return &s3.CompleteMultipartUploadOutput{}, nil
}

func (s *versionedStub) AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, _ ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error) {
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

func (s *versionedStub) ListMultipartUploads(ctx context.Context, in *s3.ListMultipartUploadsInput, _ ...func(*s3.Options)) (*s3.ListMultipartUploadsOutput, error) {
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

func (s *versionedStub) openUploads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.uploads)
}
