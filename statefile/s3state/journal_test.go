package s3state

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/statefile"
)

// A bucket that could lose or expose a journal is refused, saying how to
// fix it; a missing one too.
func TestOpenRefusesUnsafeBuckets(t *testing.T) {
	ctx := context.Background()
	cases := map[string]struct {
		spoil   func(t *testing.T, cl atomicS3, name string)
		problem string
		says    string
	}{
		"unversioned": {func(t *testing.T, cl atomicS3, name string) {
			cl.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &name})
		}, "versioning", "put-bucket-versioning --bucket " + bucket + " --versioning-configuration Status=Enabled"},
		"versioning suspended": {func(t *testing.T, cl atomicS3, name string) {
			safeBucket(t, cl, name)
			cl.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: &name, VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusSuspended}})
		}, "versioning", "suspended"},
		"unencrypted": {func(t *testing.T, cl atomicS3, name string) {
			safeBucket(t, cl, name)
			if _, err := cl.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: &name}); err != nil {
				t.Fatal(err)
			}
		}, "encryption", "put-bucket-encryption --bucket " + bucket},
		"no public access block": {func(t *testing.T, cl atomicS3, name string) {
			safeBucket(t, cl, name)
			if _, err := cl.DeletePublicAccessBlock(ctx, &s3.DeletePublicAccessBlockInput{Bucket: &name}); err != nil {
				t.Fatal(err)
			}
		}, "public-access", "put-public-access-block --bucket " + bucket},
		"public policies allowed": {func(t *testing.T, cl atomicS3, name string) {
			safeBucket(t, cl, name)
			cl.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: &name, PublicAccessBlockConfiguration: &types.PublicAccessBlockConfiguration{
				BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(false), RestrictPublicBuckets: aws.Bool(true)}})
		}, "public-access", "does not block all public access"},
		"missing": {func(t *testing.T, cl atomicS3, name string) {}, "missing", "does not exist"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			testaws.Reset(t)
			cl := s3Client(t)
			c.spoil(t, cl, bucket)
			_, err := Open(t.Context(), Options{Bucket: bucket, Client: cl})
			var be *BucketError
			if !errors.As(err, &be) || be.Problem != c.problem {
				t.Fatalf("Open: %v, want a *BucketError about %s", err, c.problem)
			}
			if !strings.Contains(err.Error(), c.says) {
				t.Errorf("message does not say %q: %v", c.says, err)
			}
		})
	}
	setup(t)
	if _, err := Open(t.Context(), Options{Bucket: bucket, Client: s3Client(t)}); err != nil {
		t.Errorf("Open of a safe bucket: %v", err)
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	setup(t)
	b := open(t, nil)
	j := b.Journal("production")
	if _, err := j.Load(); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Load of an empty journal: %v", err)
	}
	st := statefile.NewState(testPlan("production", 6), "apply", t0)
	st.Steps[0] = statefile.StepRecord{ID: st.Steps[0].ID, Status: statefile.StepDone, Attempts: 2, StartedAt: t0,
		Values: map[string]string{"min_size": "2", "note": "ünïcode \"quoted\""}}
	for range 3 {
		if err := j.Save(st); err != nil {
			t.Fatal(err)
		}
	}
	got, err := b.Journal("production").Load()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, got); diff != "" {
		t.Errorf("Load after Save (-saved +loaded):\n%s", diff)
	}
	if got.Serial != 3 {
		t.Errorf("serial %d, want 3", got.Serial)
	}
	if err := b.Journal("production.clone-exp1").Save(statefile.NewState(testPlan("production", 2), "clone", t0)); err != nil {
		t.Fatal(err)
	}
	names, err := b.Journals(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"production", "production.clone-exp1"}, names); diff != "" {
		t.Errorf("Journals (-want +got):\n%s", diff)
	}
	if j.Location() != "s3://"+bucket+"/envmig/production.state.json" || b.Location() != "s3://"+bucket+"/envmig/" {
		t.Errorf("locations %s, %s", j.Location(), b.Location())
	}
	if err := b.Journal("staging").Save(st); err == nil {
		t.Error("a production state was saved into the staging journal")
	}
}

// Two writers that read the same version: exactly one write lands, the
// other gets a *ConflictError naming what is there, and the object holds
// the winner's state.
func TestConditionalWriteConflict(t *testing.T) {
	setup(t)
	b := open(t, nil)
	first := b.Journal("production")
	if err := first.Save(statefile.NewState(testPlan("production", 4), "apply", t0)); err != nil {
		t.Fatal(err)
	}
	for round := range 5 {
		writers := []statefile.Journal{b.Journal("production"), b.Journal("production")}
		states := make([]*statefile.State, 2)
		for i, w := range writers {
			st, err := w.Load()
			if err != nil {
				t.Fatal(err)
			}
			st.Steps[0].Values = map[string]string{"writer": string(rune('A' + i))}
			states[i] = st
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				errs[i] = writers[i].Save(states[i])
			}()
		}
		close(start)
		wg.Wait()
		var ce *statefile.ConflictError
		winner := -1
		for i, err := range errs {
			switch {
			case err == nil:
				if winner >= 0 {
					t.Fatalf("round %d: both writers' saves landed", round)
				}
				winner = i
			case !errors.As(err, &ce):
				t.Fatalf("round %d: writer %d: %v, want *ConflictError", round, i, err)
			}
		}
		if winner < 0 {
			t.Fatalf("round %d: no save landed: %v", round, errs)
		}
		if ce.Found == nil || ce.Found.Steps[0].Values["writer"] != string(rune('A'+winner)) {
			t.Errorf("round %d: the conflict names %+v, not the winner's state", round, ce.Found)
		}
		got, err := b.Journal("production").Load()
		if err != nil || got.Steps[0].Values["writer"] != string(rune('A'+winner)) || got.Serial != states[winner].Serial {
			t.Errorf("round %d: the journal holds %v (%v), not the winner's state", round, got, err)
		}
	}
	// A journal that read nothing cannot overwrite one that exists.
	err := b.Journal("production").Save(statefile.NewState(testPlan("production", 4), "apply", t0))
	var ce *statefile.ConflictError
	if !errors.As(err, &ce) {
		t.Errorf("Save over an unread journal: %v, want *ConflictError", err)
	}
}

// A save whose request reached S3 but whose answer was lost is recognised
// by its content, whether the error surfaced (the next save goes on from
// it) or not.
func TestSaveWhoseAnswerWasLost(t *testing.T) {
	setup(t)
	fc := newFaultClient(t)
	b := open(t, &lostAnswer{faultClient: fc})
	j := b.Journal("production")
	st := statefile.NewState(testPlan("production", 4), "apply", t0)
	if err := j.Save(st); err != nil {
		t.Fatal(err)
	}
	b.client.(*lostAnswer).lose = 1
	st.Status = statefile.RunRollingBack
	if err := j.Save(st); !errors.Is(err, errInjected) {
		t.Fatalf("Save whose answer is lost: %v", err)
	}
	st.Status = statefile.RunRolledBack
	if err := j.Save(st); err != nil {
		t.Fatalf("Save after a lost answer: %v", err)
	}
	got, err := b.Journal("production").Load()
	if err != nil || got.Status != statefile.RunRolledBack || got.Serial != st.Serial {
		t.Errorf("journal after the lost answer: %+v, %v", got, err)
	}
}

// The same at the HTTP level: the SDK retries the request whose answer was
// lost, the retry's condition fails on the write itself (412), and the
// save is recognised as done.
func TestSaveRetriedByTheSDK(t *testing.T) {
	setup(t)
	b, drop := droppingBackend(t)
	j := b.Journal("production")
	st := statefile.NewState(testPlan("production", 4), "apply", t0)
	if err := j.Save(st); err != nil {
		t.Fatal(err)
	}
	drop.arm(".state.json")
	st.Status = statefile.RunApplied
	if err := j.Save(st); err != nil {
		t.Fatalf("Save whose first answer was lost: %v", err)
	}
	if drop.dropped() != 1 {
		t.Fatalf("%d answers dropped, want 1: the test did not exercise the retry", drop.dropped())
	}
	if err := j.Save(st); err != nil {
		t.Fatalf("the next Save: %v", err)
	}
	got, err := b.Journal("production").Load()
	if err != nil || got.Serial != st.Serial || got.Status != statefile.RunApplied {
		t.Errorf("journal: %+v, %v", got, err)
	}
}

// dropAnswer sends each request, then, once armed, loses the answer to
// the next PUT of a key ending in suffix (the SDK sees a connection reset
// and retries).
type dropAnswer struct {
	inner interface {
		Do(*http.Request) (*http.Response, error)
	}
	mu       sync.Mutex
	suffix   string
	armed    bool
	nDropped int
}

func (d *dropAnswer) arm(suffix string) { d.mu.Lock(); d.suffix, d.armed = suffix, true; d.mu.Unlock() }

func (d *dropAnswer) dropped() int { d.mu.Lock(); defer d.mu.Unlock(); return d.nDropped }

func (d *dropAnswer) Do(r *http.Request) (*http.Response, error) {
	resp, err := d.inner.Do(r)
	d.mu.Lock()
	defer d.mu.Unlock()
	if err == nil && d.armed && r.Method == http.MethodPut && strings.HasSuffix(r.URL.Path, d.suffix) {
		d.armed = false
		d.nDropped++
		resp.Body.Close()
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}
	}
	return resp, err
}

// droppingBackend opens the backend through a dropAnswer. The SDK's
// retries back off briefly: its default backoff (up to 20 s) is shorter
// than a real lease, not than the tests' 2 s ones.
func droppingBackend(t *testing.T) (*Backend, *dropAnswer) {
	t.Setenv("ENVMIG_MAX_BACKOFF", "50ms")
	cfg := testaws.Config(t, nil)
	drop := &dropAnswer{inner: cfg.HTTPClient}
	cfg.HTTPClient = drop // after loading: the CA bundle needs the SDK's own client
	return open(t, atomicS3{awsclient.NewS3(cfg, "")}), drop
}

// lostAnswer makes PutObject of a state act, then report a connection reset.
type lostAnswer struct {
	*faultClient
	lose int
}

func (l *lostAnswer) PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error) {
	out, err := l.faultClient.PutObject(ctx, in, opts...)
	if err == nil && l.lose > 0 && strings.HasSuffix(aws.ToString(in.Key), ".state.json") {
		l.lose--
		return nil, errInjected
	}
	return out, err
}

// Every state stays recoverable: LoadBackup reads the version before the
// current one, and a corrupt state's refusal says which version to
// restore, and how.
func TestBackupIsThePreviousVersion(t *testing.T) {
	cl := setup(t)
	b := open(t, nil)
	j := b.Journal("production")
	st := statefile.NewState(testPlan("production", 4), "apply", t0)
	for i := range 3 {
		st.Steps[i].Status = statefile.StepDone
		if err := j.Save(st); err != nil {
			t.Fatal(err)
		}
	}
	prev, err := j.LoadBackup()
	if err != nil {
		t.Fatal(err)
	}
	if prev.Serial != 2 || prev.Steps[1].Status != statefile.StepDone || prev.Steps[2].Status != statefile.StepPending {
		t.Errorf("backup serial %d, steps %v; want serial 2", prev.Serial, prev.Steps)
	}
	if _, err := b.Journal("staging").LoadBackup(); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("LoadBackup of an empty journal: %v", err)
	}

	// Someone writes garbage over the state.
	key := "envmig/production.state.json"
	if _, err := cl.PutObject(t.Context(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: &key, Body: bytes.NewReader([]byte(`{"format_version": "1.0", "serial": 9`))}); err != nil {
		t.Fatal(err)
	}
	_, err = b.Journal("production").Load()
	var ce *statefile.CorruptError
	if !errors.As(err, &ce) || ce.Problem != statefile.ProblemTruncated {
		t.Fatalf("Load of a truncated state: %v, want *CorruptError", err)
	}
	for _, w := range []string{"serial 3", "aws s3api copy-object --bucket " + bucket + " --key " + key, "versionId="} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message does not say %q: %v", w, err)
		}
	}
	if got, err := j.LoadBackup(); err != nil || got.Serial != 3 {
		t.Errorf("LoadBackup over the garbage: %v, %v; want serial 3", got, err)
	}
}
