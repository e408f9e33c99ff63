package s3state

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

func TestMain(m *testing.M) { os.Exit(testaws.Main(m)) }

const bucket = "envmig-state-test"

var t0 = time.Date(2025, 3, 14, 9, 26, 53, 0, time.UTC)

// Test leases: short, with renewals frequent enough to hold on a loaded
// machine (a renewal may take up to 2.7 s). An expired lease is taken over
// 4-5 s after its last renewal (S3's whole seconds plus the margin).
const (
	testLease = 3 * time.Second
	testRenew = 300 * time.Millisecond
	testRetry = 100 * time.Millisecond
)

// safeBucket creates the state bucket as Open wants it: versioned,
// encrypted, public access blocked.
func safeBucket(t *testing.T, cl atomicS3, name string) {
	t.Helper()
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name}))
	must(cl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &name,
		VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}))
	must(cl.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: &name, ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{
		Rules: []types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}}))
	must(cl.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &name, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
		BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}}))
}

// s3Client is a client of the emulator whose conditional writes are atomic.
func s3Client(t *testing.T) atomicS3 { return atomicS3{testaws.Clients(t).S3} }

// atomicS3 restores what moto lacks and S3 guarantees: a conditional write
// is one atomic step. moto (5.2.1, s3/responses.py put_object) checks
// If-None-Match / If-Match, then writes, on a threaded server without a
// lock, so two racing conditional PUTs can both succeed (shown with plain
// boto3: 1 in 300 trials of 8 racing writers). Serialising the conditional
// requests of the test process makes the race tests test envmig, not the
// emulator; the conditions themselves are still moto's.
type atomicS3 struct{ *s3.Client }

var conditionalWrites sync.Mutex

func (a atomicS3) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if in.IfMatch != nil || in.IfNoneMatch != nil {
		conditionalWrites.Lock()
		defer conditionalWrites.Unlock()
	}
	return a.Client.PutObject(ctx, in, opts...)
}

func (a atomicS3) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	if in.IfMatch != nil {
		conditionalWrites.Lock()
		defer conditionalWrites.Unlock()
	}
	return a.Client.DeleteObject(ctx, in, opts...)
}

// setup resets the emulator and creates the state bucket.
func setup(t *testing.T) atomicS3 {
	t.Helper()
	testaws.Reset(t)
	cl := s3Client(t)
	safeBucket(t, cl, bucket)
	return cl
}

// open opens the backend on the test bucket with test leases; client may be
// nil (the emulator's).
func open(t *testing.T, client Client) *Backend {
	t.Helper()
	if client == nil {
		client = s3Client(t)
	}
	b, err := Open(t.Context(), Options{Bucket: bucket, Prefix: "envmig/", Client: client,
		Lease: testLease, RenewEvery: testRenew, RetryEvery: testRetry, CallTimeout: 20 * time.Second, PartSize: MinPartSize})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// testPlan is a plan of n steps of env with the gate in the middle.
func testPlan(env string, n int) *plan.Plan {
	p := &plan.Plan{FormatVersion: plan.FormatVersion, Lineage: "3fa2c1d0-run", CreatedAt: t0, Tool: "test",
		Environment: env, Account: "123456789012", Region: "eu-west-1", Strategy: "snapshot-restore"}
	for i := range n {
		ph := plan.PhasePrepare
		switch {
		case i == n/2:
			ph = plan.PhaseGate
		case i > n/2:
			ph = plan.PhaseCommit
		}
		p.Steps = append(p.Steps, plan.Step{ID: fmt.Sprintf("step.%02d", i), Phase: ph, Action: plan.DBSnapshot,
			Resource: "database.main", Description: fmt.Sprintf("step %d", i),
			Params: plan.DBSnapshotParams{Identifier: "orders-db", Snapshot: fmt.Sprintf("envmig-3fa2-%d", i)}})
	}
	plan.Seal(p)
	return p
}

func holderInfo(op string) statefile.LockInfo {
	return statefile.LockInfo{Operation: op, Run: "3fa2c1d0-run", Who: "ci", CI: "https://github.com/acme/infra/actions/runs/42"}
}

// faultClient wraps the emulator's client: it counts the calls that change
// the bucket and can make one of them fail, and can cut the lock object
// off (a holder that cannot reach S3).
type faultClient struct {
	atomicS3

	mu        sync.Mutex
	mutations int
	failAt    int  // this mutation fails (0: none)
	cutLocks  bool // every write of a lock object fails
	puts      map[string]int
}

var errInjected = &injectedError{}

type injectedError struct{}

func (*injectedError) Error() string { return "injected fault: connection reset" }
func (*injectedError) Unwrap() error { return syscall.ECONNRESET }

func newFaultClient(t *testing.T) *faultClient {
	return &faultClient{atomicS3: s3Client(t), puts: map[string]int{}}
}

func (f *faultClient) mutation(key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.mutations++
	f.puts[key]++
	if f.cutLocks && strings.HasSuffix(key, ".lock.json") {
		return errInjected
	}
	if f.mutations == f.failAt {
		return errInjected
	}
	return nil
}

func (f *faultClient) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.mutations
}

func (f *faultClient) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	if err := f.mutation(aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	return f.atomicS3.PutObject(ctx, in, opts...)
}

func (f *faultClient) DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error) {
	if err := f.mutation(aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	return f.atomicS3.DeleteObject(ctx, in, opts...)
}

func (f *faultClient) UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error) {
	if err := f.mutation(aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	return f.atomicS3.UploadPart(ctx, in, opts...)
}

func (f *faultClient) CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error) {
	if err := f.mutation(aws.ToString(in.Key)); err != nil {
		return nil, err
	}
	return f.atomicS3.CompleteMultipartUpload(ctx, in, opts...)
}

// isLockError requires a *LockError naming want.
func isLockError(t *testing.T, err error, want statefile.LockInfo) {
	t.Helper()
	var le *statefile.LockError
	if !errors.As(err, &le) {
		t.Fatalf("%v (%T), want *statefile.LockError", err, err)
	}
	if le.Info.ID != want.ID || le.Info.PID != want.PID || le.Info.Host != want.Host || le.Info.Operation != want.Operation || le.Info.CI != want.CI {
		t.Errorf("LockError names %+v, want %+v", le.Info, want)
	}
	for _, w := range []string{fmt.Sprintf("pid %d", want.PID), want.Operation, "CI job " + want.CI, want.ID} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message does not say %q: %v", w, err)
		}
	}
}
