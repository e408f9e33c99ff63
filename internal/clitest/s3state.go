package clitest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/statefile"
)

// The S3 state backend under test: a state bucket made as envmig requires
// it, a spec whose state block names it, and a proxy that gives moto's
// conditional writes the atomicity S3 has.

const (
	// StateBucket is the state bucket the tests' specs name. It is not
	// part of the environment: Observe sees it, so tests that compare
	// worlds drop it (WithoutStateBucket).
	StateBucket = "acme-envmig-state"
	// StatePrefix is the key prefix of the journals in StateBucket.
	StatePrefix = "envmig/"
)

// StateKey is the key of environment env's journal in StateBucket;
// LockKey is the key of its lock.
func StateKey(env string) string { return StatePrefix + env + ".state.json" }

// LockKey is the key of environment env's state lock in StateBucket.
func LockKey(env string) string { return StatePrefix + env + ".lock.json" }

// WithS3State is spec with a state block that keeps its journals in
// StateBucket under StatePrefix, in the emulator's region.
func WithS3State(spec string) string {
	return fmt.Sprintf("state {\n  s3 {\n    bucket = %q\n    prefix = %q\n    region = %q\n  }\n}\n\n", StateBucket, StatePrefix, testaws.Region) + spec
}

// CreateStateBucket makes StateBucket as envmig requires a state bucket:
// versioned, encrypted by default, all public access blocked.
func CreateStateBucket(t testing.TB, cl *awsclient.Clients) {
	t.Helper()
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(cl.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(StateBucket)}))
	must(cl.S3.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(StateBucket),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}))
	must(cl.S3.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(StateBucket), ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{
		Rules: []s3types.ServerSideEncryptionRule{{ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAes256}}}}}))
	must(cl.S3.PutPublicAccessBlock(ctx, &s3.PutPublicAccessBlockInput{Bucket: aws.String(StateBucket), PublicAccessBlockConfiguration: &s3types.PublicAccessBlockConfiguration{
		BlockPublicAcls: aws.Bool(true), IgnorePublicAcls: aws.Bool(true), BlockPublicPolicy: aws.Bool(true), RestrictPublicBuckets: aws.Bool(true)}}))
}

// WithoutStateBucket is w without StateBucket, whose journal changes with
// every run by design: what remains is the environment.
func WithoutStateBucket(w World) World {
	delete(w.Buckets, StateBucket)
	return w
}

// AtomicS3 starts a reverse proxy to the emulator that makes each
// conditional write (a PUT or DELETE with If-Match or If-None-Match) one
// atomic step, as S3 guarantees: moto checks the condition and then
// writes, without a lock, so two racing conditional writes could both
// succeed. Every other request passes through unserialised. It returns the
// endpoint to give the binaries (AWS_ENDPOINT_URL); the proxy stops when
// the test ends.
func AtomicS3(t testing.TB) string {
	t.Helper()
	target, err := url.Parse(testaws.Endpoint())
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if (r.Method == http.MethodPut || r.Method == http.MethodDelete) && (r.Header.Get("If-Match") != "" || r.Header.Get("If-None-Match") != "") {
			mu.Lock()
			defer mu.Unlock()
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// StateVersion is one version of a journal object in StateBucket.
type StateVersion struct {
	ID     string
	At     time.Time // S3's LastModified
	Latest bool      // S3's IsLatest
	Data   []byte
	State  *statefile.State
}

// StateVersions reads every version of environment env's journal in
// StateBucket, in the order S3 lists them (newest first), each decoded
// with the checks envmig's Load makes (format, checksum, environment): a
// version that does not decode fails the test. It also returns the number
// of delete markers the journal has.
func StateVersions(t testing.TB, cl *awsclient.Clients, env string) (versions []StateVersion, deleteMarkers int) {
	t.Helper()
	ctx := context.Background()
	key := StateKey(env)
	in := &s3.ListObjectVersionsInput{Bucket: aws.String(StateBucket), Prefix: aws.String(key)}
	for {
		out, err := cl.S3.ListObjectVersions(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range out.Versions {
			if aws.ToString(v.Key) != key {
				continue
			}
			g, err := cl.S3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(StateBucket), Key: aws.String(key), VersionId: v.VersionId})
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(g.Body)
			g.Body.Close()
			if err != nil {
				t.Fatal(err)
			}
			st, err := statefile.Decode("s3://"+StateBucket+"/"+key+"?versionId="+aws.ToString(v.VersionId), env, b)
			if err != nil {
				t.Fatalf("a journal version does not decode: %v", err)
			}
			versions = append(versions, StateVersion{ID: aws.ToString(v.VersionId), At: aws.ToTime(v.LastModified), Latest: aws.ToBool(v.IsLatest), Data: b, State: st})
		}
		for _, d := range out.DeleteMarkers {
			if aws.ToString(d.Key) == key {
				deleteMarkers++
			}
		}
		if !aws.ToBool(out.IsTruncated) {
			return versions, deleteMarkers
		}
		in.KeyMarker, in.VersionIdMarker = out.NextKeyMarker, out.NextVersionIdMarker
	}
}

// StateLockLeft reports whether environment env's lock object exists in
// StateBucket (a released lock is deleted: at most a delete marker stays).
func StateLockLeft(t testing.TB, cl *awsclient.Clients, env string) bool {
	t.Helper()
	out, err := cl.S3.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(StateBucket), Prefix: aws.String(LockKey(env))})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range out.Contents {
		if aws.ToString(o.Key) == LockKey(env) {
			return true
		}
	}
	return false
}

// JournalHistory is every version of env's journal in the state bucket,
// oldest first, checked to be one line: it was never deleted, it has at
// least two versions, no two share a serial, a higher serial was never
// written before a lower one, and the highest serial is S3's latest
// version. (S3 keeps LastModified to the second and moto breaks ties
// oldest first, so the order is the serials', checked against S3's.)
func JournalHistory(t testing.TB, cl *awsclient.Clients, env string) []StateVersion {
	t.Helper()
	vs, deleted := StateVersions(t, cl, env)
	if deleted > 0 {
		t.Fatalf("the journal was deleted %d time(s)", deleted)
	}
	if len(vs) < 2 {
		t.Fatalf("the journal has %d version(s)", len(vs))
	}
	sort.SliceStable(vs, func(i, j int) bool { return vs[i].State.Serial < vs[j].State.Serial })
	for i := 1; i < len(vs); i++ {
		prev, cur := vs[i-1], vs[i]
		if cur.State.Serial == prev.State.Serial {
			t.Fatalf("two journal versions have serial %d", cur.State.Serial)
		}
		if cur.At.Before(prev.At) {
			t.Fatalf("serial %d was written before serial %d", cur.State.Serial, prev.State.Serial)
		}
	}
	if last := vs[len(vs)-1]; !last.Latest {
		t.Fatalf("the highest serial %d is not the journal's latest version", last.State.Serial)
	}
	return vs
}
