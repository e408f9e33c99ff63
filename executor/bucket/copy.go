package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"
)

// Defaults of a Syncer's zero fields.
const (
	DefaultConcurrency        = 64
	DefaultMinConcurrency     = 4
	DefaultListParallel       = 8
	DefaultMultipartThreshold = 5 << 30 // CopyObject's limit
	DefaultPartSize           = 512 << 20
	DefaultPartConcurrency    = 8
	maxDeleteBatch            = 1000
)

// Syncer makes DstBucket hold what SrcBucket holds (see the package doc).
// Run may be called again after a failure or a cancellation: it copies only
// what is still missing or different.
type Syncer struct {
	Src                  SourceAPI
	Dst                  DestAPI
	SrcBucket, DstBucket string

	// Concurrency is the most copies in flight (DefaultConcurrency); the
	// adaptive limit stays between MinConcurrency and it.
	Concurrency, MinConcurrency int
	// ListParallel is how many prefixes of one bucket are listed at once.
	ListParallel int
	// MultipartThreshold: single-part objects larger than this are copied
	// in PartSize parts; PartConcurrency parts of one object at a time.
	MultipartThreshold, PartSize int64
	PartConcurrency              int
	// Delete removes destination objects the source lacks.
	Delete bool
	// SourceManifest, when set, receives the manifest of the source's
	// current objects as this run lists them: a tee of the listing the
	// copy makes anyway. It is complete (it has its trailer) only when Run
	// returns nil; Result.SourceManifest summarizes it.
	SourceManifest io.Writer
	// Protect, when set, is a manifest of the destination bucket itself
	// (TakeManifest, or the SourceManifest of a copy from it) taken when it
	// was verified: the sync into a bucket users own. A destination object
	// is then overwritten or deleted only while it still equals its
	// manifest entry; an object written after the manifest, or rewritten
	// since, is neither overwritten nor deleted, and a key deleted since
	// is not created again. Each such object is counted in Result.Kept.
	// Right before replacing or creating an object the copy HEADs the
	// destination again, multipart copies complete with If-Match or
	// If-None-Match, and deletes carry the manifest's ETag (S3 deletes
	// nothing that changed); CopyObject itself cannot be made conditional
	// on S3, so a write in the instant between that HEAD and the copy is
	// the one that protection cannot see. With Protect, unfinished uploads
	// in the destination are never aborted (AbortStaleUploads is
	// ignored): they may be a user's writes. Protect is read once, as a
	// stream; it must never be a manifest of a bucket that was deleted and
	// created again under the same name (that bucket lacks every key, and
	// none would be copied).
	Protect io.Reader
	// CompareChecksums decides objects whose ETags differ (SSE-KMS objects'
	// ETags are not MD5s and differ per copy) by HEADing both objects'
	// stored checksums when both listings show the same algorithm.
	CompareChecksums bool
	// PreserveEncryption is ignored: every copy carries its source
	// object's server-side encryption (see the package doc).
	//
	// Deprecated: encryption is always preserved.
	PreserveEncryption bool
	// MapKMSKey, when set, names the key an SSE-KMS copy is encrypted with
	// for the source object's key (its ARN or ID as HEAD reports it): KMS
	// keys belong to a region, so a copy into another region needs a key
	// there. nil keeps the source's key.
	MapKMSKey func(sourceKeyID string) (string, error)
	// AbortStaleUploads aborts every unfinished multipart upload in the
	// destination before copying (set it when the run created the bucket).
	AbortStaleUploads bool
	// Progress receives the counters (optional).
	Progress *Progress
	// ExpectedObjects helps the ETA before the listing ends (0 = unknown).
	ExpectedObjects int64

	lim     *limiter
	observe func(*s3.Options)
	// keepEncryption: the destination keeps server-side encryption, so
	// each copy reads its source's (see keepsEncryption).
	keepEncryption bool
	guard          *guard
	kept           *keptKeys
	srcSum         ManifestSummary
}

// Result is what a Run did.
type Result struct {
	Scanned, Copied, Skipped, Deleted int64
	CopiedBytes, SkippedBytes         int64
	// Vanished counts objects deleted or rewritten in the source between
	// the listing and their copy; the next sync handles them.
	Vanished int64
	// Throttled is how many times the copy concurrency was halved.
	Throttled int64
	Elapsed   time.Duration
	// Kept counts the destination objects Protect kept from being
	// overwritten, deleted or created again; KeptKeys names the first
	// MaxKeptKeys of them in key order.
	Kept     int64
	KeptKeys []string
	// SourceManifest summarizes what was written to Syncer.SourceManifest.
	SourceManifest ManifestSummary
	// UnencryptedDestination: the destination's server keeps no
	// server-side encryption, so no source object's was read.
	UnencryptedDestination bool
}

func (s *Syncer) defaults() {
	if s.Concurrency <= 0 {
		s.Concurrency = DefaultConcurrency
	}
	if s.MinConcurrency <= 0 {
		s.MinConcurrency = min(DefaultMinConcurrency, s.Concurrency)
	}
	if s.ListParallel <= 0 {
		s.ListParallel = DefaultListParallel
	}
	if s.MultipartThreshold <= 0 {
		s.MultipartThreshold = DefaultMultipartThreshold
	}
	if s.PartSize <= 0 {
		s.PartSize = min(int64(DefaultPartSize), s.MultipartThreshold)
	}
	if s.PartConcurrency <= 0 {
		s.PartConcurrency = DefaultPartConcurrency
	}
	if s.Progress == nil {
		s.Progress = &Progress{}
	}
}

// task is one key the workers must act on.
type task struct {
	src Object
	dst Object
	// check: sizes equal but the listing could not decide; compare stored
	// checksums before copying.
	check bool
	// guarded: Protect allowed the copy; the destination must still be as
	// listed (dst, or absent when dst.Key is "") when it is made.
	guarded bool
}

// Run syncs once. It returns the first error; what was copied before it
// stays copied.
func (s *Syncer) Run(ctx context.Context) (Result, error) {
	if s.SrcBucket == s.DstBucket {
		return Result{}, fmt.Errorf("copy %s: source and destination are the same bucket", s.SrcBucket)
	}
	s.defaults()
	start := time.Now()
	p := s.Progress
	if p.start.Load() == 0 {
		p.Start(start, s.ExpectedObjects)
	}
	s.lim = newLimiter(s.MinConcurrency, s.Concurrency, func(n int) { p.concurrency.Store(int64(n)) })
	s.observe = observeThrottling(s.lim.throttled)

	before := s.Progress.Snapshot(start)
	s.guard, s.kept, s.srcSum = nil, &keptKeys{}, ManifestSummary{}
	if s.Protect != nil {
		g, err := newGuard(s.Protect, s.DstBucket)
		if err != nil {
			return Result{}, fmt.Errorf("copy s3://%s to s3://%s: %w", s.SrcBucket, s.DstBucket, err)
		}
		s.guard = g
	}
	s.keepEncryption = true
	if s.AbortStaleUploads && s.guard == nil {
		keeps, err := prepareOwn(ctx, s.Dst, s.DstBucket, s.observe)
		if err != nil {
			return Result{}, err
		}
		s.keepEncryption = keeps
	}
	g, gctx := errgroup.WithContext(ctx)
	srcPages := make(chan []Object, pageBuffer)
	dstPages := make(chan []Object, pageBuffer)
	tasks := make(chan task, 2*s.Concurrency)
	deletes := make(chan []Object, 2)
	if s.SourceManifest != nil {
		listed := make(chan []Object, pageBuffer)
		g.Go(func() error { return List(gctx, s.Src, s.SrcBucket, s.ListParallel, listed) })
		g.Go(func() error { return s.tee(gctx, start, listed, srcPages) })
	} else {
		g.Go(func() error { return List(gctx, s.Src, s.SrcBucket, s.ListParallel, srcPages) })
	}
	g.Go(func() error { return List(gctx, s.Dst, s.DstBucket, s.ListParallel, dstPages) })
	g.Go(func() error {
		defer close(tasks)
		defer close(deletes)
		return s.plan(gctx, srcPages, dstPages, tasks, deletes)
	})
	for range s.Concurrency {
		g.Go(func() error { return s.work(gctx, tasks) })
	}
	g.Go(func() error {
		for objs := range deletes {
			kept, err := deleteObjects(gctx, s.Dst, s.DstBucket, objs, s.guard != nil)
			if err != nil {
				return err
			}
			for _, k := range kept {
				s.kept.add(k)
			}
			p.kept.Add(int64(len(kept)))
			p.deleted.Add(int64(len(objs) - len(kept)))
		}
		return nil
	})
	err := g.Wait()
	after := p.Snapshot(time.Now())
	res := Result{
		Scanned: after.Scanned - before.Scanned,
		Copied:  after.Copied - before.Copied, CopiedBytes: after.CopiedBytes - before.CopiedBytes,
		Skipped: after.Skipped - before.Skipped, SkippedBytes: after.SkippedBytes - before.SkippedBytes,
		Deleted:   after.Deleted - before.Deleted,
		Vanished:  after.Vanished - before.Vanished,
		Throttled: s.lim.cuts.Load(),
		Elapsed:   time.Since(start),
	}
	res.Kept, res.KeptKeys = s.kept.result()
	res.UnencryptedDestination = !s.keepEncryption
	if err == nil {
		res.SourceManifest = s.srcSum
	}
	if err != nil {
		return res, explainArchived(fmt.Errorf("copy s3://%s to s3://%s: %w", s.SrcBucket, s.DstBucket, err))
	}
	return res, nil
}

// plan merge-joins the two listings into tasks and delete batches.
func (s *Syncer) plan(ctx context.Context, srcPages, dstPages <-chan []Object, tasks chan<- task, deletes chan<- []Object) error {
	p := s.Progress
	var batch []Object
	flush := func() bool {
		if len(batch) == 0 {
			return true
		}
		ok := send(ctx, deletes, batch)
		batch = nil
		return ok
	}
	err := MergeJoin(ctx, srcPages, dstPages, func(src, dst *Object) error {
		if src == nil {
			if !s.Delete {
				return nil
			}
			if ok, err := s.allowed(dst.Key, dst); !ok || err != nil {
				return err
			}
			batch = append(batch, *dst)
			if len(batch) == maxDeleteBatch && !flush() {
				return ctx.Err()
			}
			return nil
		}
		p.scanned.Add(1)
		p.scannedBytes.Add(src.Size)
		t := task{src: *src}
		if dst != nil {
			switch Compare(*src, *dst) {
			case Same:
				p.skipped.Add(1)
				p.skippedBytes.Add(src.Size)
				return nil
			case Undecided:
				t.check = sameChecksumAlgorithm(*src, *dst)
			case Different:
				t.check = s.CompareChecksums && sameChecksumAlgorithm(*src, *dst)
			}
			t.dst = *dst
		}
		if s.guard != nil {
			ok, err := s.allowed(src.Key, dst)
			if !ok || err != nil {
				return err
			}
			t.guarded = true
		}
		if !send(ctx, tasks, t) {
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return err
	}
	if s.guard != nil {
		if err := s.guard.finish(); err != nil {
			return err
		}
	}
	if !flush() {
		return ctx.Err()
	}
	p.listed.Store(true)
	return nil
}

// work copies tasks until the channel closes.
func (s *Syncer) work(ctx context.Context, tasks <-chan task) error {
	p := s.Progress
	for {
		var t task
		var ok bool
		select {
		case t, ok = <-tasks:
			if !ok {
				return nil
			}
		case <-ctx.Done():
			return ctx.Err()
		}
		if err := s.lim.acquire(ctx); err != nil {
			return err
		}
		copied, err := s.one(ctx, t)
		s.lim.release()
		if errors.Is(err, errKept) {
			s.kept.add(t.src.Key)
			p.kept.Add(1)
			continue
		}
		if err != nil && changedUnderneath(err) {
			// Deleted or rewritten since it was listed (a live bucket): the
			// next sync sees its new state; verification catches the rest.
			p.vanished.Add(1)
			continue
		}
		if err != nil {
			if isThrottle(err) {
				s.lim.throttled()
			}
			return err
		}
		if copied {
			p.copied.Add(1)
			p.copiedBytes.Add(t.src.Size)
		} else {
			p.skipped.Add(1)
			p.skippedBytes.Add(t.src.Size)
		}
	}
}

// one copies one object unless its stored checksums prove it unchanged.
func (s *Syncer) one(ctx context.Context, t task) (bool, error) {
	if t.check {
		same, err := s.sameChecksums(ctx, t.src.Key)
		if err != nil {
			return false, err
		}
		if same {
			return false, nil
		}
	}
	if t.guarded {
		if err := s.recheck(ctx, t); err != nil {
			return false, err
		}
	}
	if t.src.Parts() > 0 || t.src.Size > s.MultipartThreshold {
		return true, s.copyMultipart(ctx, t)
	}
	// The copy reads the version the listing saw, and carries its
	// encryption, which only a HEAD tells (see the package doc).
	var ifMatch *string
	if t.src.ETag != "" {
		ifMatch = aws.String(`"` + t.src.ETag + `"`)
	}
	in := &s3.CopyObjectInput{
		Bucket:            aws.String(s.DstBucket),
		Key:               aws.String(t.src.Key),
		CopySource:        aws.String(copySource(s.SrcBucket, t.src.Key)),
		CopySourceIfMatch: ifMatch,
		MetadataDirective: types.MetadataDirectiveCopy,
		TaggingDirective:  types.TaggingDirectiveCopy,
	}
	if t.src.StorageClass != "" {
		in.StorageClass = types.StorageClass(t.src.StorageClass)
	}
	if s.keepEncryption {
		h, err := s.Src.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.SrcBucket), Key: aws.String(t.src.Key), IfMatch: ifMatch}, s.observe)
		if err != nil {
			return false, fmt.Errorf("read %s: %w", t.src.Key, err)
		}
		enc, err := s.encryptionOf(h)
		if err != nil {
			return false, fmt.Errorf("copy %s: %w", t.src.Key, err)
		}
		in.ServerSideEncryption, in.SSEKMSKeyId, in.BucketKeyEnabled = enc.algorithm, enc.kmsKeyID, enc.bucketKey
	}
	if _, err := s.Dst.CopyObject(ctx, in, s.observe); err != nil {
		return false, fmt.Errorf("copy %s: %w", t.src.Key, err)
	}
	return true, nil
}

// sameChecksums HEADs key in both buckets and compares stored checksums.
func (s *Syncer) sameChecksums(ctx context.Context, key string) (bool, error) {
	a, err := headChecksum(ctx, s.Src, s.SrcBucket, key, s.observe)
	if err != nil {
		return false, err
	}
	b, err := headChecksum(ctx, s.Dst, s.DstBucket, key, s.observe)
	if isNotFound(err) {
		return false, nil // gone from the destination: copy it
	}
	if err != nil {
		return false, err
	}
	return a != "" && a == b, nil
}

// headChecksum returns the object's stored checksum as "ALGO:TYPE:value",
// or "" when it has none.
func headChecksum(ctx context.Context, api Header, bucket, key string, optFns ...func(*s3.Options)) (string, error) {
	id, err := headIdentity(ctx, api, bucket, key, "", optFns...)
	return id.checksum, err
}

// identity is what a HEAD says of an object's content.
type identity struct {
	// checksum is the stored checksum as "ALGO:TYPE:value", or "".
	checksum string
	// md5ETag: the ETag is a digest of the content (S3 makes it so unless
	// the object is encrypted with SSE-KMS, DSSE-KMS or SSE-C).
	md5ETag bool
}

// headIdentity HEADs key; with etag set, only as long as it has that ETag
// (a PreconditionFailed error otherwise).
func headIdentity(ctx context.Context, api Header, bucket, key, etag string, optFns ...func(*s3.Options)) (identity, error) {
	in := &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled}
	if etag != "" {
		in.IfMatch = aws.String(`"` + etag + `"`)
	}
	h, err := api.HeadObject(ctx, in, optFns...)
	if err != nil {
		return identity{}, fmt.Errorf("read checksum of s3://%s/%s: %w", bucket, key, err)
	}
	id := identity{md5ETag: aws.ToString(h.SSECustomerAlgorithm) == "" &&
		(h.ServerSideEncryption == "" || h.ServerSideEncryption == types.ServerSideEncryptionAes256)}
	for algo, v := range map[string]*string{
		"CRC64NVME": h.ChecksumCRC64NVME, "CRC32": h.ChecksumCRC32, "CRC32C": h.ChecksumCRC32C,
		"SHA1": h.ChecksumSHA1, "SHA256": h.ChecksumSHA256,
	} {
		if v != nil && *v != "" {
			id.checksum = algo + ":" + string(h.ChecksumType) + ":" + *v
			break
		}
	}
	return id, nil
}

// deleteObjects deletes up to 1000 current objects in one request. When
// conditional, each delete carries the listed ETag: S3 refuses (per
// object, PreconditionFailed) to delete an object that changed since, and
// such keys are returned as kept rather than failing.
func deleteObjects(ctx context.Context, api Copier, bucket string, objs []Object, conditional bool) (kept []string, err error) {
	ids := make([]types.ObjectIdentifier, len(objs))
	for i := range objs {
		ids[i].Key = &objs[i].Key
		if conditional {
			ids[i].ETag = aws.String(`"` + objs[i].ETag + `"`)
		}
	}
	out, err := api.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
	if err != nil {
		return nil, fmt.Errorf("delete %d objects from %s: %w", len(objs), bucket, err)
	}
	var failed []types.Error
	for _, e := range out.Errors {
		if conditional && aws.ToString(e.Code) == "PreconditionFailed" {
			kept = append(kept, aws.ToString(e.Key))
			continue
		}
		failed = append(failed, e)
	}
	if len(failed) > 0 {
		e := failed[0]
		return kept, fmt.Errorf("delete %s from %s: %s: %s (and %d more)", aws.ToString(e.Key), bucket, aws.ToString(e.Code), aws.ToString(e.Message), len(failed)-1)
	}
	return kept, nil
}
