package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/demo"
)

// The regressions of issue 10, each replayed as the review found it: the
// binary, against moto, as an operator would run it.

// Finding 1: an application wrote late/order-123.json into the original
// bucket and deleted another object while the operator read the point of
// no return prompt. The final copy into the original name ran with delete
// on: the new object was deleted, the deleted one came back, and the run
// said "Apply complete!".
func TestLateWriteAtThePointOfNoReturnIsNeverDeleted(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("clone-swap"))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")

	// The run stops where the operator reads the prompt.
	c.Bin, c.Env = clitest.Bins.Crash, []string{executor.CrashEnv + "=apply:gate:before-intent"}
	if r := c.Run("apply", "-auto-approve", "plan.json"); !r.Killed {
		t.Fatalf("the run was not stopped at the gate:\n%s", r)
	}
	c.Bin, c.Env = clitest.Bins.Envmig, nil
	gone := clitest.BucketObjects(t, cl, demo.UploadsBucket)[0]
	goneKey := strings.Fields(gone)[0]
	put(t, cl, demo.UploadsBucket, "late/order-123.json", `{"order":123}`)
	if _, err := cl.S3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(demo.UploadsBucket), Key: aws.String(goneKey)}); err != nil {
		t.Fatal(err)
	}
	want := clitest.BucketObjects(t, cl, demo.UploadsBucket)

	// Resuming finds the change before anything is destroyed, names it,
	// and stops.
	r := c.Must(exitError, "resume", "-auto-approve")
	for _, s := range []string{demo.UploadsBucket, "late/order-123.json", goneKey} {
		if !strings.Contains(r.Stderr+r.Stdout, s) {
			t.Fatalf("the stop does not name %q:\n%s", s, r)
		}
	}
	if got := clitest.BucketObjects(t, cl, demo.UploadsBucket); !cmp.Equal(got, want) {
		t.Fatalf("the stopped run changed the original:\n%s", cmp.Diff(want, got))
	}
	st := c.Must(0, "status")
	if !strings.Contains(st.Stdout, "resume") {
		t.Fatalf("status does not offer resume:\n%s", st)
	}

	// Resuming again copies the difference, verifies again, and swaps.
	c.Must(0, "resume", "-auto-approve")
	if got := clitest.BucketObjects(t, cl, demo.UploadsBucket); !cmp.Equal(got, want) {
		t.Fatalf("the late write was lost or the delete undone (-want +got):\n%s", cmp.Diff(want, got))
	}
	c.Must(0, "plan", "-detailed-exitcode")
	c.Must(0, "cleanup", "-auto-approve")
	c.Calls()
}

// The same change, and the operator chooses to go back: rollback leaves
// the original exactly as the application left it.
func TestRollbackAfterALateWriteKeepsIt(t *testing.T) {
	cl := clitest.SeedShop(t)
	before := clitest.Observe(t, cl)
	c := newCLI(t, clitest.ShopSpec("clone-swap"))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	c.Bin, c.Env = clitest.Bins.Crash, []string{executor.CrashEnv + "=apply:gate:before-intent"}
	if r := c.Run("apply", "-auto-approve", "plan.json"); !r.Killed {
		t.Fatalf("the run was not stopped at the gate:\n%s", r)
	}
	c.Bin, c.Env = clitest.Bins.Envmig, nil
	put(t, cl, demo.UploadsBucket, "late/order-123.json", `{"order":123}`)
	want := clitest.BucketObjects(t, cl, demo.UploadsBucket)
	c.Must(0, "rollback", "-auto-approve")
	after := clitest.Observe(t, cl)
	if got := after.Buckets[demo.UploadsBucket]; !cmp.Equal(got, want) {
		t.Fatalf("rollback changed the original (-want +got):\n%s", cmp.Diff(want, got))
	}
	if _, ok := after.Buckets[demo.UploadsBucket+"-envmig"]; ok {
		t.Fatal("rollback left the temporary bucket")
	}
	if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
		t.Fatalf("rollback did not restore the group:\n%s", diff)
	}
	c.Calls()
}

// Finding 2: a region move emptied the original of every version and
// delete marker but copied only the current versions, and dropped its
// lifecycle rules, CORS and tags without a word.
func TestRegionMoveKeepsHistoryAndSettings(t *testing.T) {
	cl := clitest.SeedShop(t)
	b := demo.UploadsBucket
	clitest.AddHistoryAndSettings(t, cl, b)
	history, settings := clitest.Versions(t, cl, b), clitest.BucketSettings(t, cl, b)
	c := newCLI(t, `aws {
  region = "us-east-1"
}

environment "production" {
  bucket "uploads" {
    name   = "shop-prod-uploads"
    region = "eu-west-1"
  }

  service "web" {
    autoscaling_group = "shop-prod-web"
  }
}
`)
	r := c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	for _, s := range []string{"every version and delete marker", "version IDs change", "lifecycle", "cors"} {
		if !strings.Contains(strings.ToLower(r.Stdout), strings.ToLower(s)) {
			t.Fatalf("the plan does not say it carries %q:\n%s", s, r.Stdout)
		}
	}
	c.Must(0, "apply", "-auto-approve", "plan.json")
	if got := clitest.Versions(t, cl, b); !cmp.Equal(got, history) {
		t.Fatalf("the moved bucket's history differs (-before +after):\n%s", cmp.Diff(history, got))
	}
	if got := clitest.BucketSettings(t, cl, b); !cmp.Equal(got, settings) {
		t.Fatalf("the moved bucket's settings differ (-before +after):\n%s", cmp.Diff(settings, got))
	}
	c.Must(0, "plan", "-detailed-exitcode")
	c.Calls()
}

// Finding 3: after a moved_from move, what a straggler of the old
// configuration wrote into the old bucket was emptied and deleted by
// cleanup -auto-approve, which showed no object counts.
func TestCleanupKeepsWhatAStragglerWroteAfterTheRun(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	c.Must(0, "apply", "-auto-approve", "plan.json")
	time.Sleep(1100 * time.Millisecond) // S3 keeps LastModified to the second
	put(t, cl, demo.LegacyAssets, "straggler/report.csv", "written by a job still on the old configuration")

	r := c.Must(exitError, "cleanup", "-auto-approve")
	for _, s := range []string{"EM170", demo.LegacyAssets, "straggler/report.csv"} {
		if !strings.Contains(r.Stdout+r.Stderr, s) {
			t.Fatalf("cleanup does not say %q:\n%s", s, r)
		}
	}
	if got := clitest.BucketObjects(t, cl, demo.LegacyAssets); !slices.ContainsFunc(got, func(o string) bool { return strings.HasPrefix(o, "straggler/report.csv ") }) {
		t.Fatalf("cleanup deleted the straggler's object; %s holds %d objects", demo.LegacyAssets, len(got))
	}
	w := clitest.Observe(t, cl)
	if len(w.Snapshots) != 0 {
		t.Errorf("cleanup kept the run's snapshots too: %v", w.Snapshots)
	}

	// Once the straggler's object is dealt with, cleanup finishes.
	if _, err := cl.S3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(demo.LegacyAssets), Key: aws.String("straggler/report.csv")}); err != nil {
		t.Fatal(err)
	}
	r = c.Must(0, "cleanup", "-auto-approve")
	if !strings.Contains(r.Stdout, "objects,") {
		t.Fatalf("cleanup's plan shows no object counts:\n%s", r.Stdout)
	}
	if _, ok := clitest.Observe(t, cl).Buckets[demo.LegacyAssets]; ok {
		t.Fatal("cleanup left the retired bucket")
	}
	c.Calls()
}

func put(t *testing.T, cl *awsclient.Clients, bucket, key, body string) {
	t.Helper()
	if _, err := cl.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
		t.Fatal(err)
	}
}

// TestArchivedObjectsAreNamedAndNothingIsHalfDone: a bucket to be copied
// holds an object in GLACIER, which S3 copies only once restored. The plan
// warns (EM147) and names it; the apply's copy is refused by S3, the error
// says why and what to do, and the run rolls back by itself: the
// environment is exactly as before.
func TestArchivedObjectsAreNamedAndNothingIsHalfDone(t *testing.T) {
	cl := clitest.SeedShop(t)
	if _, err := cl.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(demo.LegacyAssets), Key: aws.String("old/report-2019.pdf"),
		Body: strings.NewReader("archived"), StorageClass: s3types.StorageClassGlacier}); err != nil {
		t.Fatal(err)
	}
	before := clitest.Observe(t, cl)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	r := c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	if !strings.Contains(r.Stdout, "EM147") || !strings.Contains(r.Stdout, "old/report-2019.pdf") {
		t.Fatalf("the plan does not name the archived object:\n%s", r)
	}
	r = c.Must(1, "apply", "-auto-approve", "plan.json")
	if !strings.Contains(r.Stderr, "archived and not restored") || !strings.Contains(r.Stderr, "every completed step was undone") {
		t.Fatalf("the apply does not say why the copy failed, or did not roll back:\n%s", r)
	}
	if diff := cmp.Diff(before, clitest.Observe(t, cl)); diff != "" {
		t.Fatalf("the failed run left something (-before +after):\n%s", diff)
	}
}
