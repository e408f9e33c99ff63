package bucket

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/plan"
)

// TestCopyReadsEncryptionOnlyWhereTheDestinationKeepsIt: every copied
// object used to cost a HEAD of its source for its encryption, also into
// a server that keeps no encryption at all (S3-compatible servers without
// it), where that HEAD can change nothing. A copy into a bucket of the run
// now asks the destination's server first, with a multipart upload it
// aborts at once; the HEADs are saved only when the server answers without
// any encryption. Each case starts with the upload an earlier attempt
// killed mid-probe would have left, and ends with none.
func TestCopyReadsEncryptionOnlyWhereTheDestinationKeepsIt(t *testing.T) {
	denied := errors.New("AccessDenied")
	for _, tc := range []struct {
		name      string
		keepsSSE  bool
		own       bool
		fault     func(op, key string) error
		wantHeads int
		wantProbe int // probe uploads started
	}{
		{name: "a server without encryption", own: true, wantHeads: 0, wantProbe: 1},
		{name: "a server with encryption", keepsSSE: true, own: true, wantHeads: 6, wantProbe: 1},
		{name: "a refused probe", own: true, wantHeads: 6, wantProbe: 1, fault: func(op, key string) error {
			if op == "CreateMultipartUpload" && key == encryptionProbeKey {
				return denied
			}
			return nil
		}},
		{name: "a bucket the run did not create", own: false, wantHeads: 6, wantProbe: 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newStub("src", "dst")
			s.keepsSSE = tc.keepsSSE
			for i := range 6 {
				s.put("src", fmt.Sprintf("k%d", i), []byte(fmt.Sprint("body ", i)))
			}
			if _, err := s.CreateMultipartUpload(context.Background(), &s3.CreateMultipartUploadInput{Bucket: aws.String("dst"), Key: aws.String(encryptionProbeKey)}); err != nil {
				t.Fatal(err)
			}
			probes := s.count("CreateMultipartUpload")
			s.fault = tc.fault
			sy := &Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Concurrency: 4, Delete: tc.own, AbortStaleUploads: tc.own}
			// Through the step's core, which says in its output when the
			// copies did not read the objects' encryption.
			p := &plan.Plan{Steps: []plan.Step{{ID: "bucket.copy.data"}}}
			sc := executor.NewStepContext(p, p.Steps[0], "apply", nil)
			var said []string
			sc.TestHooks(nil, nil, func(p executor.Progress) {
				if p.Line != "" {
					said = append(said, p.Line)
				}
			})
			res, err := (&deps{}).runSync(context.Background(), sc, sy)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(s.manifest("src"), s.manifest("dst")); diff != "" {
				t.Fatalf("copy (-src +dst):\n%s", diff)
			}
			if got := s.count("HeadObject"); got != tc.wantHeads {
				t.Errorf("%d HEADs, want %d", got, tc.wantHeads)
			}
			if got := s.count("CreateMultipartUpload") - probes; got != tc.wantProbe {
				t.Errorf("%d probe uploads started, want %d", got, tc.wantProbe)
			}
			if want := tc.wantHeads == 0; res.UnencryptedDestination != want {
				t.Errorf("UnencryptedDestination = %v, want %v", res.UnencryptedDestination, want)
			}
			told := slices.ContainsFunc(said, func(l string) bool {
				return strings.Contains(l, "s3://dst keeps no server-side encryption") && strings.Contains(l, "without reading their encryption")
			})
			if want := tc.wantHeads == 0; told != want {
				t.Errorf("the step said it copied without reading encryption: %v, want %v (output %q)", told, want, said)
			}
			if tc.own && s.openUploads() != 0 {
				t.Errorf("%d unfinished uploads left in a bucket of the run", s.openUploads())
			}
		})
	}
}

// TestCopyKilledAtTheProbeCopiesNothingAndResumes: the probe's upload
// could not be aborted (a dead connection, a kill): the copy stops before
// copying anything, and the next attempt aborts that upload with the
// stale ones and copies.
func TestCopyKilledAtTheProbeCopiesNothingAndResumes(t *testing.T) {
	s := newStub("src", "dst")
	s.put("src", "a", []byte("a"))
	s.fault = func(op, key string) error {
		if op == "AbortMultipartUpload" && key == encryptionProbeKey {
			return errors.New("connection reset")
		}
		return nil
	}
	sy := &Syncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Delete: true, AbortStaleUploads: true}
	if _, err := sy.Run(context.Background()); err == nil {
		t.Fatal("a copy whose probe upload stayed open succeeded")
	}
	if s.count("CopyObject") != 0 || s.openUploads() != 1 {
		t.Fatalf("%d copies, %d uploads open after the failed probe; want 0 and 1", s.count("CopyObject"), s.openUploads())
	}
	s.fault = nil
	if _, err := sy.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if s.openUploads() != 0 || len(s.manifest("dst")) != 1 {
		t.Errorf("after the retry: %d uploads open, %v in the destination", s.openUploads(), s.manifest("dst"))
	}
}

// TestHistoryCopyReadsEncryptionOnlyWhereTheDestinationKeepsIt: the same
// rule for the version-by-version copies (a versioned bucket's history).
func TestHistoryCopyReadsEncryptionOnlyWhereTheDestinationKeepsIt(t *testing.T) {
	for _, keeps := range []bool{false, true} {
		t.Run(fmt.Sprint("keeps=", keeps), func(t *testing.T) {
			s := newVersionedStub("src", "dst")
			s.keepsSSE = keeps
			s.put("src", "a", []byte("a1"))
			s.put("src", "a", []byte("a2"))
			s.put("src", "b", []byte("b1"))
			sy := &HistorySyncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", Concurrency: 2, RewriteDiverged: true, AbortStaleUploads: true}
			res, err := sy.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(s.history("src"), s.history("dst")); diff != "" {
				t.Fatalf("histories (-src +dst):\n%s", diff)
			}
			wantHeads := 0
			if keeps {
				wantHeads = 3
			}
			if got := s.count("HeadObject"); got != wantHeads {
				t.Errorf("%d HEADs, want %d", got, wantHeads)
			}
			if res.UnencryptedDestination == keeps {
				t.Errorf("UnencryptedDestination = %v with keepsSSE = %v", res.UnencryptedDestination, keeps)
			}
			if s.openUploads() != 0 {
				t.Errorf("%d unfinished uploads left", s.openUploads())
			}
		})
	}
}

// TestProbeOnMotoKeepsEveryObjectsEncryption: the emulator keeps
// server-side encryption and says so, so a copy into a bucket of the run
// still reads and keeps each object's: an SSE-KMS object keeps its key,
// and the probe leaves no upload behind.
func TestProbeOnMotoKeepsEveryObjectsEncryption(t *testing.T) {
	testaws.Reset(t)
	cfg := testaws.Config(t, nil)
	c := awsclient.NewS3(cfg, "")
	ctx := context.Background()
	key := newKMSKey(t, kms.NewFromConfig(cfg), "the source object's key")
	mkBucket(t, c, "src")
	mkBucket(t, c, "dst")
	putObj(t, c, "src", "orders.json", []byte(`{"order":1}`), func(in *s3.PutObjectInput) {
		in.ServerSideEncryption = types.ServerSideEncryptionAwsKms
		in.SSEKMSKeyId = aws.String(key)
	})
	res, err := (&Syncer{Src: c, Dst: c, SrcBucket: "src", DstBucket: "dst", Delete: true, AbortStaleUploads: true}).Run(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.UnencryptedDestination || res.Copied != 1 {
		t.Fatalf("result %+v: want one copy into a destination that keeps encryption", res)
	}
	if got := sseOfObject(t, c, "dst", "orders.json"); got.Algorithm != "aws:kms" || got.KeyID != key {
		t.Errorf("the copy's encryption = %+v, want aws:kms with the source's key", got)
	}
	up, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("dst")})
	if err != nil {
		t.Fatal(err)
	}
	if len(up.Uploads) != 0 {
		t.Errorf("%d uploads left in the destination", len(up.Uploads))
	}
}
