package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/demo"
)

func TestCloneAnEnvironmentForExperiments(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	before := clitest.Observe(t, cl)
	r := c.Must(0, "clone", "production", "-to", "exp1", "-auto-approve")
	if !strings.Contains(r.Stdout, "Clone complete!") {
		t.Fatalf("%s", r)
	}
	// A clone has no point of no return: its output never speaks of one.
	if strings.Contains(strings.ToLower(r.Stdout), "point of no return") {
		t.Fatalf("the clone's output speaks of a point of no return:\n%s", r.Stdout)
	}
	after := clitest.Observe(t, cl)
	// The originals are untouched, the group never left service.
	for _, id := range []string{demo.Database} {
		if before.Databases[id] != after.Databases[id] {
			t.Fatalf("the original %s changed: %s -> %s", id, before.Databases[id], after.Databases[id])
		}
	}
	if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
		t.Fatalf("the group changed:\n%s", diff)
	}
	if got := after.Databases[demo.Database+"-exp1"]; !strings.Contains(got, "available db.t3.medium") || !strings.Contains(got, "envmig:clone-of="+demo.Database) {
		t.Fatalf("clone database = %q", got)
	}
	for _, b := range []string{demo.UploadsBucket, demo.LegacyAssets} {
		if diff := cmp.Diff(before.Buckets[b], after.Buckets[b+"-exp1"]); diff != "" {
			t.Fatalf("clone of %s differs (-original +clone):\n%s", b, diff)
		}
	}
	if len(after.Snapshots) != 0 {
		t.Fatalf("the clone's snapshot was kept: %v", after.Snapshots)
	}
	// The clone's master password is its own: RDS generated it and keeps
	// it in Secrets Manager; production's instance has none there.
	for id, managed := range map[string]bool{demo.Database + "-exp1": true, demo.Database: false} {
		out, err := cl.RDS.DescribeDBInstances(context.Background(), &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		sec := out.DBInstances[0].MasterUserSecret
		if got := sec != nil && aws.ToString(sec.SecretArn) != ""; got != managed {
			t.Fatalf("%s: RDS-managed master password = %v, want %v", id, got, managed)
		}
	}
	// A second clone of the same name is refused: nothing is overwritten.
	r = c.Must(1, "clone", "production", "-to", "exp1", "-auto-approve")
	if !strings.Contains(r.Stdout+r.Stderr, "already exists") {
		t.Fatalf("%s", r)
	}
	st := c.Must(0, "status", "-environment", "production.clone-exp1")
	if !strings.Contains(st.Stdout, "applied") {
		t.Fatalf("%s", st)
	}

	// The clone is listed, then destroyed with nothing of it left.
	l := c.Must(0, "clone", "production", "-list")
	for _, want := range []string{"exp1", demo.Database + "-exp1", demo.UploadsBucket + "-exp1", "50 GiB allocated", "objects ("} {
		if !strings.Contains(l.Stdout, want) {
			t.Fatalf("the list does not show %q:\n%s", want, l)
		}
	}
	// `clone destroy ENV NAME` is `clone ENV -destroy NAME`.
	d := c.Must(0, "clone", "destroy", "production", "exp1", "-auto-approve")
	if !strings.Contains(d.Stdout, "Destroy clone: 3 to delete for good") || !strings.Contains(d.Stdout, "Destroy complete!") ||
		strings.Contains(strings.ToLower(d.Stdout), "point of no return") {
		t.Fatalf("%s", d)
	}
	gone := clitest.Observe(t, cl)
	if diff := cmp.Diff(before, gone); diff != "" {
		t.Fatalf("the destroy did not leave the world as before the clone (-before +after):\n%s", diff)
	}
	if l := c.Must(0, "clone", "production", "-list"); !strings.Contains(l.Stdout, "no clones") {
		t.Fatalf("%s", l)
	}
	if d := c.Must(0, "clone", "-destroy", "exp1", "-auto-approve"); !strings.Contains(d.Stdout, "Nothing to destroy") {
		t.Fatalf("%s", d)
	}
	c.Calls()
}

// TestCloneDestroySpellingsAreChecked: the `clone destroy ENV NAME`
// spelling takes exactly its two names, and not a -destroy beside them.
func TestCloneDestroySpellingsAreChecked(t *testing.T) {
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	for _, args := range [][]string{
		{"clone", "destroy", "production"},
		{"clone", "destroy", "production", "exp1", "extra"},
		{"clone", "destroy", "production", "exp1", "-destroy", "exp2"},
		{"clone", "production", "exp1", "-list"},
	} {
		r := c.Must(1, append(args, "-auto-approve")...)
		if !strings.Contains(r.Stderr, "clone") {
			t.Errorf("%v: %s", args, r)
		}
	}
	if m := clitest.Mutating(c.Calls()); len(m) != 0 {
		t.Fatalf("refused commands made mutating calls: %v", m)
	}
}

func TestCloneDestroyRefusesWhatIsNotTheClones(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	// A bucket under a clone's name that `envmig clone` did not make.
	if _, err := cl.S3.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(demo.UploadsBucket + "-squat")}); err != nil {
		t.Fatal(err)
	}
	before := clitest.Observe(t, cl)
	r := c.Must(1, "clone", "-destroy", "squat", "-auto-approve")
	if !strings.Contains(r.Stdout, "EM123") {
		t.Fatalf("%s", r)
	}
	if diff := cmp.Diff(before, clitest.Observe(t, cl)); diff != "" {
		t.Fatalf("a refused destroy changed the world:\n%s", diff)
	}
	if m := clitest.Mutating(c.Calls()); len(m) != 0 {
		t.Fatalf("a refused destroy made mutating calls: %v", m)
	}
}

func TestCloneABucketOnlyEnvironment(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, `environment "assets" {
  bucket "uploads" {
    name = "shop-prod-uploads"
  }
}
`)
	before := clitest.Observe(t, cl)
	c.Must(0, "clone", "assets", "-to", "copy", "-auto-approve")
	after := clitest.Observe(t, cl)
	if diff := cmp.Diff(before.Buckets[demo.UploadsBucket], after.Buckets[demo.UploadsBucket+"-copy"]); diff != "" {
		t.Fatalf("(-original +clone):\n%s", diff)
	}
	c.Calls()
}

func TestBucketMovesToAnotherRegionUnderItsName(t *testing.T) {
	cl := clitest.SeedShop(t)
	before := clitest.Observe(t, cl)
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
	if !strings.Contains(r.Stdout, "region us-east-1 -> eu-west-1") {
		t.Fatalf("%s", r)
	}
	c.Must(0, "apply", "-auto-approve", "plan.json")
	after := clitest.Observe(t, cl)
	if diff := cmp.Diff(before.Buckets[demo.UploadsBucket], after.Buckets[demo.UploadsBucket]); diff != "" {
		t.Fatalf("the moved bucket's objects differ (-before +after):\n%s", diff)
	}
	c.Must(0, "plan", "-detailed-exitcode")
	c.Must(0, "cleanup", "-auto-approve")
	if _, ok := clitest.Observe(t, cl).Buckets[demo.UploadsBucket+"-envmig"]; ok {
		t.Fatal("cleanup left the temporary copy")
	}
	c.Calls()
}

func TestCloneDestroyKilledMidwayIsResumed(t *testing.T) {
	cl := clitest.SeedShop(t)
	before := clitest.Observe(t, cl)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	c.Must(0, "clone", "production", "-to", "exp2", "-auto-approve")
	c.Bin = clitest.Bins.Crash
	c.Env = []string{executor.CrashEnv + "=apply:bucket.delete.uploads:after-intent"}
	if r := c.Run("clone", "-destroy", "exp2", "-auto-approve"); !r.Killed {
		t.Fatalf("the destroy was not killed:\n%s", r)
	}
	c.Bin, c.Env = clitest.Bins.Envmig, nil
	r := c.Must(1, "clone", "-destroy", "exp2", "-auto-approve")
	if !strings.Contains(r.Stderr, "unfinished") {
		t.Fatalf("a second destroy does not name the unfinished run:\n%s", r)
	}
	r = c.Must(0, "clone", "production", "-list")
	if !strings.Contains(r.Stdout, "! exp2: its ") || !strings.Contains(r.Stdout, "is unfinished: `envmig resume -environment production.clone-exp2`") {
		t.Fatalf("the list does not mark the clone whose destroy is unfinished:\n%s", r)
	}
	// With several journals, status shows the environment's own, and
	// names the clones' that hold an unfinished run.
	c.Must(0, "clone", "production", "-to", "exp3", "-auto-approve")
	r = c.Must(0, "status")
	if !strings.Contains(r.Stdout, "`envmig status -environment production.clone-exp2`") || strings.Contains(r.Stdout, "clone-exp3") {
		t.Fatalf("status does not name the clone's unfinished journal, or names a finished one:\n%s", r)
	}
	c.Must(0, "clone", "production", "-destroy", "exp3", "-auto-approve")
	if r := c.Must(0, "resume", "-environment", "production.clone-exp2", "-auto-approve"); !strings.Contains(r.Stdout, "Destroy complete!") {
		t.Fatalf("the resumed destroy does not say it is one:\n%s", r)
	}
	if diff := cmp.Diff(before, clitest.Observe(t, cl)); diff != "" {
		t.Fatalf("the resumed destroy left something (-before +after):\n%s", diff)
	}
}

func TestCloneIsConsistentToTheSnapshotsMoment(t *testing.T) {
	cl := clitest.SeedShop(t)
	before := clitest.Observe(t, cl)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	// Stop the clone right after the database snapshot, then change the
	// versioned bucket: a write, an overwrite and a delete after the
	// snapshot's moment.
	c.Bin = clitest.Bins.Crash
	c.Env = []string{executor.CrashEnv + "=apply:db.restore.main:before-intent"}
	if r := c.Run("clone", "production", "-to", "t1", "-auto-approve"); !r.Killed {
		t.Fatalf("the clone was not stopped after the snapshot:\n%s", r)
	}
	c.Bin, c.Env = clitest.Bins.Envmig, nil
	time.Sleep(1100 * time.Millisecond) // the moment is taken to the second
	ctx := context.Background()
	list, err := cl.S3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(demo.UploadsBucket)})
	if err != nil || len(list.Contents) < 2 {
		t.Fatalf("the seeded bucket: %v", err)
	}
	first, second := aws.ToString(list.Contents[0].Key), aws.ToString(list.Contents[1].Key)
	for _, k := range []string{"after-the-snapshot.txt", first} {
		if _, err := cl.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(demo.UploadsBucket), Key: aws.String(k), Body: strings.NewReader("late")}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := cl.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(demo.UploadsBucket), Key: aws.String(second)}); err != nil {
		t.Fatal(err)
	}
	c.Must(0, "resume", "-environment", "production.clone-t1", "-auto-approve")
	after := clitest.Observe(t, cl)
	if diff := cmp.Diff(before.Buckets[demo.UploadsBucket], after.Buckets[demo.UploadsBucket+"-t1"]); diff != "" {
		t.Fatalf("the clone's versioned bucket is not the bucket as of the snapshot (-as of the snapshot +clone):\n%s", diff)
	}
}

// A clone of a live unversioned bucket is of the moment its copy listed
// each object: a write, an overwrite and a delete in the source after the
// copy (the source is never switched off for a clone) are not differences
// for the clone's verification, which compares the clone with the
// manifest its copy recorded. The source keeps every write.
func TestCloneOfABusyUnversionedBucketIsOfItsCopy(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, `environment "web" {
  bucket "assets" {
    name = "`+demo.LegacyAssets+`"
  }
}
`)
	copied := clitest.Observe(t, cl).Buckets[demo.LegacyAssets]
	if len(copied) < 2 {
		t.Fatalf("the seeded bucket has too few objects: %v", copied)
	}
	c.Bin = clitest.Bins.Crash
	c.Env = []string{executor.CrashEnv + "=apply:verify.bucket.assets.clone:before-intent"}
	if r := c.Run("clone", "web", "-to", "copy", "-auto-approve"); !r.Killed {
		t.Fatalf("the clone was not killed before its verification:\n%s", r)
	}
	ctx := context.Background()
	objs := clitest.BucketObjects(t, cl, demo.LegacyAssets)
	first, second := strings.Fields(objs[0])[0], strings.Fields(objs[1])[0]
	put(t, cl, demo.LegacyAssets, "late/written-after-the-copy.json", `{"late":true}`)
	put(t, cl, demo.LegacyAssets, first, `{"rewritten":true}`)
	if _, err := cl.S3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(demo.LegacyAssets), Key: aws.String(second)}); err != nil {
		t.Fatal(err)
	}
	live := clitest.Observe(t, cl).Buckets[demo.LegacyAssets]

	c.Bin, c.Env = clitest.Bins.Envmig, nil
	r := c.Must(0, "resume", "-environment", "web.clone-copy", "-auto-approve")
	if !strings.Contains(r.Stdout, "as its copy listed it") {
		t.Fatalf("the verification does not say it compares with the copy's listing:\n%s", r)
	}
	after := clitest.Observe(t, cl)
	if diff := cmp.Diff(copied, after.Buckets[demo.LegacyAssets+"-copy"]); diff != "" {
		t.Fatalf("the clone is not the bucket as its copy listed it (-copied +clone):\n%s", diff)
	}
	if diff := cmp.Diff(live, after.Buckets[demo.LegacyAssets]); diff != "" {
		t.Fatalf("the source changed under the clone (-written +after):\n%s", diff)
	}
}

// TestCloneRefusesAHalfMigratedEnvironment: while the environment's own
// journal holds an unfinished migration, a clone would copy neither
// version of it: it is refused before anything is made, and the migration
// is rolled back as if the clone had never been asked for.
func TestCloneRefusesAHalfMigratedEnvironment(t *testing.T) {
	cl := clitest.SeedShop(t)
	before := clitest.Observe(t, cl)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	c.Bin = clitest.Bins.Crash
	c.Env = []string{executor.CrashEnv + "=apply:db.restore.main:accepted"}
	if r := c.Run("apply", "-auto-approve", "plan.json"); !r.Killed {
		t.Fatalf("the apply was not killed:\n%s", r)
	}
	c.Bin, c.Env = clitest.Bins.Envmig, nil
	r := c.Must(1, "clone", "production", "-to", "exp9", "-auto-approve")
	if !strings.Contains(r.Stderr, "cannot clone production") || !strings.Contains(r.Stderr, "unfinished") {
		t.Fatalf("the clone of a half-migrated environment is not refused as one:\n%s", r)
	}
	c.Must(0, "rollback", "-auto-approve")
	if diff := cmp.Diff(before, clitest.Observe(t, cl)); diff != "" {
		t.Fatalf("the refused clone or the rollback left something (-before +after):\n%s", diff)
	}
	// Now a clone may run; killed, status shows the environment's own
	// (rolled back) run and names the clone's unfinished one.
	c.Bin, c.Env = clitest.Bins.Crash, []string{executor.CrashEnv + "=apply:bucket.create.uploads:accepted"}
	if r := c.Run("clone", "production", "-to", "exp9", "-auto-approve"); !r.Killed {
		t.Fatalf("the clone was not killed:\n%s", r)
	}
	c.Bin, c.Env = clitest.Bins.Envmig, nil
	r = c.Must(0, "status")
	if !strings.Contains(r.Stdout, `Environment "production"`) || !strings.Contains(r.Stdout, "`envmig status -environment production.clone-exp9`") {
		t.Fatalf("status does not show the environment's run and name the clone's unfinished one:\n%s", r)
	}
	c.Must(0, "rollback", "-environment", "production.clone-exp9", "-auto-approve")
	if diff := cmp.Diff(before, clitest.Observe(t, cl)); diff != "" {
		t.Fatalf("the clone's rollback left something (-before +after):\n%s", diff)
	}
}

// TestCtrlCDuringACloneNamesItsJournal: Ctrl-C once the clone's first
// bucket exists stops the clone after its current step (exit 130); the
// message, status and the commands they name all act on the clone's own
// journal, and its rollback leaves nothing of the clone.
func TestCtrlCDuringACloneNamesItsJournal(t *testing.T) {
	cl := clitest.SeedShop(t)
	before := clitest.Observe(t, cl)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	p := c.Start("clone", "production", "-to", "ctrlc", "-auto-approve")
	waitForBucket(t, cl, p, demo.UploadsBucket+"-ctrlc")
	if err := syscall.Kill(p.Pid(), syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	r := p.Wait()
	const journal = "production.clone-ctrlc"
	if r.Code != exitInterrupted || !strings.Contains(r.Stderr, "`envmig resume -environment "+journal+"` to continue") {
		t.Fatalf("the interrupted clone does not name its journal, or did not exit %d:\n%s", exitInterrupted, r)
	}
	r = c.Must(0, "status", "-environment", journal)
	for _, want := range []string{"No process runs it now", "`envmig resume -environment " + journal + "` would run steps", "`envmig rollback -environment " + journal + "` would undo"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("status does not say %q:\n%s", want, r)
		}
	}
	if strings.Contains(r.Stdout, "point of no return") {
		t.Fatalf("status speaks of a point of no return a clone does not have:\n%s", r)
	}
	c.Calls()
	c.Must(0, "rollback", "-environment", journal, "-auto-approve")
	// The clone had deleted its source snapshot: undoing the snapshot
	// looks once, not for a minute until it appears.
	if n := countCalls(c.Calls(), "DescribeDBSnapshots"); n > 3 {
		t.Errorf("the rollback described DB snapshots %d times: it waited for the snapshot the clone had deleted", n)
	}
	if diff := cmp.Diff(before, clitest.Observe(t, cl)); diff != "" {
		t.Fatalf("the rolled back clone left something (-before +after):\n%s", diff)
	}
}

func countCalls(calls []awsclient.Call, operation string) int {
	n := 0
	for _, c := range calls {
		if c.Operation == operation {
			n++
		}
	}
	return n
}

// TestCloneKilledAtItsSnapshotsDeleteRollsBackAndResumes: a clone killed
// (SIGKILL) as it deletes its source snapshot, before and after AWS
// accepted the delete, is rolled back with nothing of it left, snapshot
// included, or resumed to a complete clone.
func TestCloneKilledAtItsSnapshotsDeleteRollsBackAndResumes(t *testing.T) {
	for _, point := range []string{"after-intent", "accepted"} {
		for _, then := range []string{"rollback", "resume"} {
			t.Run(point+"/"+then, func(t *testing.T) {
				cl := clitest.SeedShop(t)
				before := clitest.Observe(t, cl)
				c := newCLI(t, clitest.ShopSpec("rename-swap"))
				c.Bin, c.Env = clitest.Bins.Crash, []string{executor.CrashEnv + "=apply:db.delete-snapshot.main:" + point}
				if r := c.Run("clone", "production", "-to", "kill", "-auto-approve"); !r.Killed {
					t.Fatalf("the clone was not killed:\n%s", r)
				}
				c.Bin, c.Env = clitest.Bins.Envmig, nil
				c.Must(0, then, "-environment", "production.clone-kill", "-auto-approve")
				after := clitest.Observe(t, cl)
				if then == "rollback" {
					if diff := cmp.Diff(before, after); diff != "" {
						t.Fatalf("the rolled back clone left something (-before +after):\n%s", diff)
					}
				} else if _, ok := after.Databases[demo.Database+"-kill"]; !ok {
					t.Fatalf("the resumed clone has no database: %v", after.Databases)
				}
				snaps, err := cl.RDS.DescribeDBSnapshots(context.Background(), &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range snaps.DBSnapshots {
					if strings.HasPrefix(aws.ToString(s.DBSnapshotIdentifier), "envmig-") {
						t.Errorf("snapshot %s is left", aws.ToString(s.DBSnapshotIdentifier))
					}
				}
			})
		}
	}
}

// TestAMigrationWaitsForAClone: a clone reads its environment, so while
// one runs no migration of that environment may start (an apply started
// beside it before, and renamed the database under the clone's snapshot),
// nor a second clone of it: both exit 3 naming the clone that holds the
// environment (with -lock-timeout they would wait), having changed
// nothing. The clone then finishes.
func TestAMigrationWaitsForAClone(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	c.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
	p := c.Start("clone", "production", "-to", "busy", "-auto-approve")
	waitForBucket(t, cl, p, demo.UploadsBucket+"-busy")
	c.Calls()
	for _, args := range [][]string{
		{"apply", "plan.json", "-auto-approve"},
		{"clone", "production", "-to", "other", "-auto-approve"},
	} {
		r := c.Run(args...)
		if r.Code != exitLocked || !strings.Contains(r.Stderr, `"production" is locked by clone`) {
			t.Fatalf("%v while a clone runs: want exit %d naming the clone:\n%s", args, exitLocked, r)
		}
	}
	if m := clitest.Mutating(c.Calls()); len(m) != 0 {
		t.Fatalf("the refused commands made mutating calls: %v", m)
	}
	if r := p.Wait(); r.Code != 0 {
		t.Fatalf("the clone did not finish:\n%s", r)
	}
	if st := c.Must(0, "status"); strings.Contains(st.Stdout, "unfinished") {
		t.Fatalf("a refused apply left a run behind:\n%s", st)
	}
}

// waitForBucket waits until the running process p (a clone) has created
// bucket.
func waitForBucket(t *testing.T, cl *awsclient.Clients, p *clitest.Process, bucket string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		if _, err := cl.S3.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("s3://%s was never created:\n%s", bucket, p.Wait())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
