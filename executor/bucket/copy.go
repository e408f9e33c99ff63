package bucket

import (
	"context"
	"fmt"
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
	// CompareChecksums decides objects whose ETags differ (SSE-KMS objects'
	// ETags are not MD5s and differ per copy) by HEADing both objects'
	// stored checksums when both listings show the same algorithm.
	CompareChecksums bool
	// PreserveEncryption HEADs every source object to copy its server-side
	// encryption settings (SSE-KMS key) too; without it a single-request
	// copy is encrypted by the destination bucket's default.
	PreserveEncryption bool
	// AbortStaleUploads aborts every unfinished multipart upload in the
	// destination before copying (set it when the run created the bucket).
	AbortStaleUploads bool
	// Progress receives the counters (optional).
	Progress *Progress
	// ExpectedObjects helps the ETA before the listing ends (0 = unknown).
	ExpectedObjects int64

	lim     *limiter
	observe func(*s3.Options)
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
	if s.AbortStaleUploads {
		if err := abortUploads(ctx, s.Dst, s.DstBucket, ""); err != nil {
			return Result{}, err
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	srcPages := make(chan []Object, pageBuffer)
	dstPages := make(chan []Object, pageBuffer)
	tasks := make(chan task, 2*s.Concurrency)
	deletes := make(chan []string, 2)
	g.Go(func() error { return List(gctx, s.Src, s.SrcBucket, s.ListParallel, srcPages) })
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
		for keys := range deletes {
			if err := deleteKeys(gctx, s.Dst, s.DstBucket, keys); err != nil {
				return err
			}
			p.deleted.Add(int64(len(keys)))
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
	if err != nil {
		return res, fmt.Errorf("copy s3://%s to s3://%s: %w", s.SrcBucket, s.DstBucket, err)
	}
	return res, nil
}

// plan merge-joins the two listings into tasks and delete batches.
func (s *Syncer) plan(ctx context.Context, srcPages, dstPages <-chan []Object, tasks chan<- task, deletes chan<- []string) error {
	p := s.Progress
	var batch []string
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
			batch = append(batch, dst.Key)
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
		if !send(ctx, tasks, t) {
			return ctx.Err()
		}
		return nil
	})
	if err != nil {
		return err
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
	if t.src.Parts() > 0 || t.src.Size > s.MultipartThreshold {
		return true, s.copyMultipart(ctx, t.src)
	}
	in := &s3.CopyObjectInput{
		Bucket:            aws.String(s.DstBucket),
		Key:               aws.String(t.src.Key),
		CopySource:        aws.String(copySource(s.SrcBucket, t.src.Key)),
		MetadataDirective: types.MetadataDirectiveCopy,
		TaggingDirective:  types.TaggingDirectiveCopy,
	}
	if t.src.StorageClass != "" {
		in.StorageClass = types.StorageClass(t.src.StorageClass)
	}
	if s.PreserveEncryption {
		h, err := s.Src.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(s.SrcBucket), Key: aws.String(t.src.Key)}, s.observe)
		if err != nil {
			return false, fmt.Errorf("read %s: %w", t.src.Key, err)
		}
		in.ServerSideEncryption, in.SSEKMSKeyId, in.BucketKeyEnabled = h.ServerSideEncryption, h.SSEKMSKeyId, h.BucketKeyEnabled
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
	h, err := api.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), ChecksumMode: types.ChecksumModeEnabled}, optFns...)
	if err != nil {
		return "", fmt.Errorf("read checksum of s3://%s/%s: %w", bucket, key, err)
	}
	for algo, v := range map[string]*string{
		"CRC64NVME": h.ChecksumCRC64NVME, "CRC32": h.ChecksumCRC32, "CRC32C": h.ChecksumCRC32C,
		"SHA1": h.ChecksumSHA1, "SHA256": h.ChecksumSHA256,
	} {
		if v != nil && *v != "" {
			return algo + ":" + string(h.ChecksumType) + ":" + *v, nil
		}
	}
	return "", nil
}

// deleteKeys deletes up to 1000 keys in one request.
func deleteKeys(ctx context.Context, api Copier, bucket string, keys []string) error {
	ids := make([]types.ObjectIdentifier, len(keys))
	for i := range keys {
		ids[i].Key = &keys[i]
	}
	out, err := api.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(bucket), Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
	if err != nil {
		return fmt.Errorf("delete %d objects from %s: %w", len(keys), bucket, err)
	}
	if len(out.Errors) > 0 {
		e := out.Errors[0]
		return fmt.Errorf("delete %s from %s: %s: %s (and %d more)", aws.ToString(e.Key), bucket, aws.ToString(e.Code), aws.ToString(e.Message), len(out.Errors)-1)
	}
	return nil
}
