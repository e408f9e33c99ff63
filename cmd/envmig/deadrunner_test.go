package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/demo"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

// A CI runner dies in the middle of an apply, and the next job starts on a
// fresh machine: the same checkout and plan artifact, no .envmig/. These
// tests replay that through the binary, against moto: with the journal in
// S3, and without any shared backend.

const (
	stateBucket = clitest.StateBucket
	statePrefix = clitest.StatePrefix
	// stopInStandby kills the apply while the web group is in Standby:
	// RDS accepted the restore of the clone, and the journal does not know.
	stopInStandby = "apply:db.restore.main:accepted"
)

// environment is the world without the state bucket, which is not part of
// the environment (its journal changes with every run, by design).
func environment(t *testing.T, cl *awsclient.Clients) clitest.World {
	t.Helper()
	return clitest.WithoutStateBucket(clitest.Observe(t, cl))
}

// suspendedBefore are processes the group has suspended before any run:
// a run must leave them suspended, not resume everything.
var suspendedBefore = []string{"AZRebalance", "ScheduledActions"}

// deadRunner seeds the shop, suspends suspendedBefore on its group, plans
// in one directory (with spec) and kills the apply there while the group
// is in Standby. It returns the world before the run, the plan's run
// lineage and a fresh directory holding only the spec and the plan file,
// as the next CI job has them.
func deadRunner(t *testing.T, spec string, s3 bool, env ...string) (*awsclient.Clients, clitest.World, string, *clitest.CLI) {
	t.Helper()
	cl := clitest.SeedShop(t)
	if _, err := cl.AutoScaling.SuspendProcesses(context.Background(), &autoscaling.SuspendProcessesInput{
		AutoScalingGroupName: aws.String(demo.Group), ScalingProcesses: suspendedBefore}); err != nil {
		t.Fatal(err)
	}
	if s3 {
		clitest.CreateStateBucket(t, cl)
	}
	before := environment(t, cl)
	if g := before.Groups[demo.Group]; !strings.Contains(g, "suspended=[AZRebalance ScheduledActions]") || !strings.Contains(g, "instances=[InService InService InService]") {
		t.Fatalf("the seeded group is not as the test needs it: %s", g)
	}
	first := newCLI(t, spec)
	first.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	run := planLineage(t, filepath.Join(first.Dir, "plan.json"))
	first.Bin, first.Env = clitest.Bins.Crash, append([]string{executor.CrashEnv + "=" + stopInStandby}, env...)
	if r := first.Run("apply", "-auto-approve", "plan.json"); !r.Killed {
		t.Fatalf("the apply was not killed at %s:\n%s", stopInStandby, r)
	}
	first.Calls()
	inStandby := environment(t, cl).Groups[demo.Group]
	if !strings.HasPrefix(inStandby, "min=0 ") || !strings.Contains(inStandby, "instances=[Standby Standby Standby]") {
		t.Fatalf("the killed run did not leave the group in Standby: %s", inStandby)
	}

	next := newCLI(t, spec)
	b, err := os.ReadFile(filepath.Join(first.Dir, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(next.Dir, "plan.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(next.Dir, stateDir)); !os.IsNotExist(err) {
		t.Fatalf("the fresh directory has a %s: %v", stateDir, err)
	}
	return cl, before, run, next
}

func planLineage(t *testing.T, path string) string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := plan.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return p.Lineage
}

// requireGroupAsBefore requires the group exactly as before the run:
// sizes, suspended processes, every instance InService, and no envmig:
// tag left on it or its instances.
func requireGroupAsBefore(t *testing.T, cl *awsclient.Clients, before, after clitest.World) {
	t.Helper()
	if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
		t.Fatalf("the group is not back exactly (-before +after):\n%s", diff)
	}
	if g := after.Groups[demo.Group]; !strings.Contains(g, "instances=[InService InService InService]") {
		t.Fatalf("not every instance is in service: %s", g)
	}
	if tags := envmigTags(t, cl); len(tags) > 0 {
		t.Fatalf("the run's records are left on the group or its instances: %v", tags)
	}
}

// envmigTags lists the envmig: tags on the group and its instances.
func envmigTags(t *testing.T, cl *awsclient.Clients) []string {
	t.Helper()
	ctx := context.Background()
	out, err := cl.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{demo.Group}})
	if err != nil {
		t.Fatal(err)
	}
	var tags []string
	for _, g := range out.AutoScalingGroups {
		for _, tg := range g.Tags {
			if strings.HasPrefix(aws.ToString(tg.Key), "envmig:") {
				tags = append(tags, "group "+aws.ToString(tg.Key))
			}
		}
	}
	ins, err := cl.EC2.DescribeInstances(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range ins.Reservations {
		for _, i := range r.Instances {
			for _, tg := range i.Tags {
				if strings.HasPrefix(aws.ToString(tg.Key), "envmig:") {
					tags = append(tags, aws.ToString(i.InstanceId)+" "+aws.ToString(tg.Key))
				}
			}
		}
	}
	return tags
}

// requireMigratedNothingLost requires the shop migrated as the spec says,
// with every object of every bucket of before where it belongs.
func requireMigratedNothingLost(t *testing.T, before, after clitest.World) {
	t.Helper()
	if got := after.Databases[demo.Database]; !strings.Contains(got, "db.t3.large enc=true storage=50") {
		t.Fatalf("the database is not migrated: %s", got)
	}
	if diff := cmp.Diff(before.Buckets[demo.UploadsBucket], after.Buckets[demo.UploadsBucket]); diff != "" {
		t.Fatalf("the uploads bucket changed:\n%s", diff)
	}
	if diff := cmp.Diff(before.Buckets[demo.LegacyAssets], after.Buckets[demo.Assets]); diff != "" || len(after.Buckets[demo.Assets]) == 0 {
		t.Fatalf("the moved bucket differs from its source (-source +moved):\n%s", diff)
	}
	if diff := cmp.Diff(before.Buckets[demo.LegacyAssets], after.Buckets[demo.LegacyAssets]); diff != "" {
		t.Fatalf("the bucket the objects moved from changed before cleanup:\n%s", diff)
	}
}

// With the journal in S3, the next job finds the run, resumes it from
// where the dead one stopped, and finishes it.
func TestDeadRunnerS3StateFreshDirectoryResumes(t *testing.T) {
	spec := clitest.WithS3State(clitest.ShopSpec("rename-swap"))
	cl, before, run, c := deadRunner(t, spec, true, stateLeaseEnv+"=3s")

	st := c.Must(0, "status")
	for _, want := range []string{"run " + run, "db.restore.main", "started", "Stopped at step 8 (db.restore.main)", "Journal: s3://"} {
		if !strings.Contains(st.Stdout, want) {
			t.Fatalf("status from a fresh directory does not say %q:\n%s", want, st)
		}
	}
	if m := clitest.Mutating(c.Calls()); len(m) != 0 {
		t.Fatalf("status made mutating calls: %v", m)
	}

	r := c.Must(0, "resume", "-auto-approve", "-lock-timeout", "1m")
	if !strings.Contains(r.Stdout, "Apply complete! Run "+run) {
		t.Fatalf("resume did not finish the run:\n%s", r)
	}
	after := environment(t, cl)
	requireGroupAsBefore(t, cl, before, after)
	requireMigratedNothingLost(t, before, after)
	if _, ok := after.Databases[demo.Database+"-envmig"]; ok {
		t.Fatal("the clone is left under its temporary name")
	}
	if _, err := os.Stat(filepath.Join(c.Dir, stateDir)); !os.IsNotExist(err) {
		t.Fatalf("with the S3 backend, resume wrote a local %s (%v)", stateDir, err)
	}
	requireJournalConsistent(t, cl, run)

	c.Must(0, "plan", "-detailed-exitcode")
	c.Calls()
}

// The same dead runner, and the next job rolls back: the environment is
// exactly as it was before the run.
func TestDeadRunnerS3StateFreshDirectoryRollsBack(t *testing.T) {
	spec := clitest.WithS3State(clitest.ShopSpec("rename-swap"))
	cl, before, run, c := deadRunner(t, spec, true, stateLeaseEnv+"=3s")

	r := c.Must(0, "rollback", "-auto-approve", "-lock-timeout", "1m")
	if !strings.Contains(r.Stdout, "Rolled back.") || !strings.Contains(r.Stdout, run) {
		t.Fatalf("rollback did not undo the run:\n%s", r)
	}
	after := environment(t, cl)
	requireGroupAsBefore(t, cl, before, after)
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("the world is not as before the run (-before +after):\n%s", diff)
	}
	requireJournalConsistent(t, cl, run)
	st := c.Must(0, "status")
	if !strings.Contains(st.Stdout, "· "+statefile.RunRolledBack) {
		t.Fatalf("status after the rollback:\n%s", st)
	}
	c.Must(exitChanges, "plan", "-detailed-exitcode")
	c.Calls()
}

// With no shared backend, the journal died with the runner. status and
// plan find the run on AWS and name the command that brings the group
// back; that command does, exactly, and cleanup then removes every
// temporary the run made: the world is as before the run.
func TestDeadRunnerNoBackendRecoverThenCleanup(t *testing.T) {
	spec := clitest.ShopSpec("rename-swap")
	cl, before, run, c := deadRunner(t, spec, false)

	st := c.Must(0, "status")
	for _, want := range []string{"run " + run, demo.Group, "min 2, max 6, desired 3", "suspended [AZRebalance,ScheduledActions]", "`envmig recover`"} {
		if !strings.Contains(st.Stdout, want) {
			t.Fatalf("status on a fresh directory does not say %q:\n%s", want, st)
		}
	}
	p := c.Run("plan", "-detailed-exitcode", "-out", "plan2.json")
	if p.Code != exitError {
		t.Fatalf("plan on an orphaned run must fail (exit %d):\n%s", exitError, p)
	}
	if !regexp.MustCompile(`(?s)Errors \(the plan cannot be applied\):.*✗ EM155 service\.web: Auto Scaling group `+demo.Group+` was switched off by envmig run `+run).MatchString(p.Stdout) ||
		!strings.Contains(p.Stdout, "`envmig recover`") {
		t.Fatalf("plan does not report the orphaned run as an error naming `envmig recover`:\n%s", p)
	}
	if _, err := os.Stat(filepath.Join(c.Dir, "plan2.json")); !os.IsNotExist(err) {
		t.Fatal("a plan blocked by an orphaned run was saved")
	}
	// Every way out the plan offers leads to recover: the temporary name
	// the run holds too (cleanup has no journal to read here).
	if !regexp.MustCompile("✗ EM120 database.main: [^\n]*" + run + "[^✗]*`envmig recover`").MatchString(p.Stdout) {
		t.Fatalf("EM120 does not lead to `envmig recover`:\n%s", p.Stdout)
	}
	if r := c.Must(exitError, "cleanup", "-auto-approve"); !strings.Contains(r.Stderr, "`envmig recover`") {
		t.Fatalf("cleanup without a journal does not name recover:\n%s", r)
	}
	if m := clitest.Mutating(c.Calls()); len(m) != 0 {
		t.Fatalf("status and plan made mutating calls: %v", m)
	}

	r := c.Must(0, "recover", "-auto-approve")
	if !strings.Contains(r.Stdout, "Recovered.") {
		t.Fatalf("recover:\n%s", r)
	}
	requireGroupAsBefore(t, cl, before, environment(t, cl))

	// What is written into a handed-over bucket after recover is never
	// deleted: cleanup keeps the bucket and says so.
	time.Sleep(1100 * time.Millisecond) // S3 keeps LastModified to the second
	put(t, cl, demo.Assets, "late/written-after-recover.json", `{"late":true}`)
	kept := c.Must(exitError, "cleanup", "-auto-approve")
	for _, s := range []string{"EM170", demo.Assets, "late/written-after-recover.json"} {
		if !strings.Contains(kept.Stdout+kept.Stderr, s) {
			t.Fatalf("cleanup does not say %q:\n%s", s, kept)
		}
	}
	if got := clitest.BucketObjects(t, cl, demo.Assets); !slices.ContainsFunc(got, func(o string) bool { return strings.HasPrefix(o, "late/written-after-recover.json ") }) {
		t.Fatal("cleanup deleted an object written after recover")
	}
	if _, err := cl.S3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(demo.Assets), Key: aws.String("late/written-after-recover.json")}); err != nil {
		t.Fatal(err)
	}

	cu := c.Must(0, "cleanup", "-auto-approve")
	if !strings.Contains(cu.Stdout, "Cleanup complete!") {
		t.Fatalf("cleanup:\n%s", cu)
	}
	after := environment(t, cl)
	if _, ok := after.Databases[demo.Database+"-envmig"]; ok {
		t.Error("cleanup left the run's temporary database")
	}
	if left := runTagged(t, cl, run); len(left) > 0 {
		t.Errorf("cleanup left what run %s made: %v", run, left)
	}
	// The run died before the point of no return: nothing of it is kept
	// on purpose (docs/migration-model.md, "What a run keeps", is about
	// applied runs), so the world is exactly as before it.
	if diff := cmp.Diff(before, after); diff != "" {
		t.Fatalf("the world is not as before the run (-before +after):\n%s", diff)
	}
	pl := c.Must(exitChanges, "plan", "-detailed-exitcode")
	if strings.Contains(pl.Stdout, "EM1") && strings.Contains(pl.Stdout, "Errors") {
		t.Fatalf("a plan after recover and cleanup still has errors:\n%s", pl.Stdout)
	}
	if !strings.Contains(pl.Stdout, "Plan: 2 to migrate") {
		t.Fatalf("the next plan does not migrate the database and the bucket again:\n%s", pl.Stdout)
	}
	c.Calls()
}

// runTagged lists the DB instances, manual snapshots and buckets that
// carry run's envmig:run tag.
func runTagged(t *testing.T, cl *awsclient.Clients, run string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	dbs, err := cl.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dbs.DBInstances {
		for _, tg := range d.TagList {
			if aws.ToString(tg.Key) == executor.RunTagKey && aws.ToString(tg.Value) == run {
				out = append(out, "db-instance "+aws.ToString(d.DBInstanceIdentifier))
			}
		}
	}
	snaps, err := runSnapshots(ctx, cl, run)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps {
		out = append(out, "db-snapshot "+s)
	}
	bl, err := cl.S3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bl.Buckets {
		tags, err := cl.S3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b.Name})
		if err != nil {
			continue // no tags
		}
		for _, tg := range tags.TagSet {
			if aws.ToString(tg.Key) == executor.RunTagKey && aws.ToString(tg.Value) == run {
				out = append(out, "bucket "+aws.ToString(b.Name))
			}
		}
	}
	return out
}

// holderRE matches how a refusal names the holder of the lock.
func holderRE(op string, pid int, run string) *regexp.Regexp {
	host, _ := os.Hostname()
	return regexp.MustCompile(fmt.Sprintf(`locked by %s \(pid %d on %s( by \S+)?, run %s, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d \S+, CI job https://ci\.example/jobs/\w+`,
		regexp.QuoteMeta(op), pid, regexp.QuoteMeta(host), regexp.QuoteMeta(run)))
}

// lockSeen polls the state bucket for the lock object from now on, and
// returns a function that waits up to within for it, stops polling, and
// says when it first appeared (zero if it did not).
func lockSeen(t *testing.T, cl *awsclient.Clients) func(within time.Duration) time.Time {
	t.Helper()
	var (
		mu   sync.Mutex
		seen time.Time
	)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for {
			_, err := cl.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(stateBucket), Key: aws.String(statePrefix + "production.lock.json")})
			if err == nil {
				mu.Lock()
				seen = time.Now()
				mu.Unlock()
				return
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	return func(within time.Duration) time.Time {
		select {
		case <-done:
		case <-time.After(within):
			close(stop)
			<-done
		}
		mu.Lock()
		defer mu.Unlock()
		return seen
	}
}

// Two runners apply one plan at once against one S3 backend: exactly one
// runs; the other exits 3 under a second after the first holds the lock,
// naming it, and changes nothing. A third, started while the first works,
// is refused at once too.
func TestTwoRunnersRaceOneS3Backend(t *testing.T) {
	cl := clitest.SeedShop(t)
	clitest.CreateStateBucket(t, cl)
	before := environment(t, cl)
	endpoint := clitest.AtomicS3(t)
	spec := clitest.WithS3State(clitest.ShopSpec("rename-swap"))
	a, b := newCLI(t, spec), newCLI(t, spec)
	a.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	run := planLineage(t, filepath.Join(a.Dir, "plan.json"))
	data, _ := os.ReadFile(filepath.Join(a.Dir, "plan.json"))
	if err := os.WriteFile(filepath.Join(b.Dir, "plan.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	a.Calls()
	a.Env = []string{"AWS_ENDPOINT_URL=" + endpoint, "CI_JOB_URL=https://ci.example/jobs/a"}
	b.Env = []string{"AWS_ENDPOINT_URL=" + endpoint, "CI_JOB_URL=https://ci.example/jobs/b"}

	locked := lockSeen(t, cl)
	pa, pb := a.Start("apply", "-auto-approve", "plan.json"), b.Start("apply", "-auto-approve", "plan.json")
	lockedAt := locked(30 * time.Second)
	if lockedAt.IsZero() {
		t.Fatal("no runner ever took the lock")
	}
	// A third runner, while the lock is held.
	third := newCLI(t, spec)
	if err := os.WriteFile(filepath.Join(third.Dir, "plan.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	third.Env = []string{"AWS_ENDPOINT_URL=" + endpoint, "CI_JOB_URL=https://ci.example/jobs/c"}
	pc := third.Start("apply", "-auto-approve", "plan.json")
	ra, rb, rc := pa.Wait(), pb.Wait(), pc.Wait()
	winner, loser, wp, lr := a, b, pa, rb
	if ra.Code != 0 {
		winner, loser, wp, lr = b, a, pb, ra
	}
	wr := map[*clitest.CLI]clitest.Result{a: ra, b: rb}[winner]
	if wr.Code != 0 || !strings.Contains(wr.Stdout, "Apply complete! Run "+run) {
		t.Fatalf("no runner applied the plan:\n--- a: %s\n--- b: %s", ra, rb)
	}
	if lr.Code != exitLocked {
		t.Fatalf("the other runner did not exit %d:\n%s", exitLocked, lr)
	}
	if !holderRE("apply", wp.Pid(), run).MatchString(lr.Stderr) {
		t.Fatalf("the refusal does not name the holder (apply, pid %d, host, run, since, CI job):\n%s", wp.Pid(), lr)
	}
	if strings.Contains(lr.Stdout, "Applying") || strings.Contains(lr.Stdout, "[1/") {
		t.Fatalf("the refused runner ran steps:\n%s", lr)
	}
	refusedAfter := lr.Exited.Sub(lockedAt)
	t.Logf("the racing runner exited %d %s after the lock was taken (it ran %s; the winner %s)", lr.Code, refusedAfter, lr.Elapsed, wr.Elapsed)
	if refusedAfter >= time.Second {
		t.Errorf("the racing runner exited %s after the other took the lock; the refusal must come in under a second", refusedAfter)
	}
	if rc.Code != exitLocked || !holderRE("apply", wp.Pid(), run).MatchString(rc.Stderr) {
		t.Fatalf("a runner started while the lock was held was not refused naming the holder (pid %d):\n%s", wp.Pid(), rc)
	}
	// Its whole run (about ten requests before the refusal) competes with
	// the holder's copies for the one emulator process: 0.2-1.2 s on a
	// loaded machine. The refusal alone, with the emulator idle, is timed
	// in TestKilledRunnerIsTakenOverAfterItsLease (under a second).
	t.Logf("the runner started while the lock was held exited 3 after %s", rc.Elapsed)
	if rc.Elapsed >= 3*time.Second || !rc.Exited.Before(wr.Exited) {
		t.Errorf("the runner started while the lock was held ran %s; it must be refused at once, while the holder works", rc.Elapsed)
	}
	for _, r := range []*clitest.CLI{loser, third} {
		for _, call := range r.Calls() {
			if call.Mutating() && !(call.Service == "S3" && call.Operation == "PutObject") {
				t.Errorf("a refused runner made a mutating call: %s %s", call.Service, call.Operation)
			}
		}
	}
	winner.Calls()

	after := environment(t, cl)
	requireGroupAsBefore(t, cl, before, after)
	requireMigratedNothingLost(t, before, after)
	j := requireJournalConsistent(t, cl, run)
	if n := strings.Count(j, `"operation": "apply"`); n == 0 {
		t.Fatalf("the journal records no apply:\n%s", j)
	}
	st := loser.Must(0, "status")
	if !strings.Contains(st.Stdout, "applied") || strings.Contains(st.Stdout, "Lock") {
		t.Fatalf("status after the race:\n%s", st)
	}
	loser.Must(exitError, "apply", "-auto-approve", "plan.json") // already applied
	loser.Calls()
}

// A runner is killed after the point of no return while it holds the
// lock. Another directory is refused while the lease lives, then takes the
// lock over by itself once it has expired and finishes the run; every
// journal version in the bucket follows the one before it.
func TestKilledRunnerIsTakenOverAfterItsLease(t *testing.T) {
	cl := clitest.SeedShop(t)
	clitest.CreateStateBucket(t, cl)
	before := environment(t, cl)
	endpoint := clitest.AtomicS3(t)
	spec := clitest.WithS3State(clitest.ShopSpec("rename-swap"))
	a, b := newCLI(t, spec), newCLI(t, spec)
	a.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	run := planLineage(t, filepath.Join(a.Dir, "plan.json"))
	a.Calls()

	const lease = 10 * time.Second
	const killAt = "apply:db.rename.main.swap:accepted"
	a.Bin = clitest.Bins.Crash
	a.Env = []string{"AWS_ENDPOINT_URL=" + endpoint, "CI_JOB_URL=https://ci.example/jobs/a", executor.CrashEnv + "=" + killAt, stateLeaseEnv + "=" + lease.String()}
	pa := a.Start("apply", "-auto-approve", "plan.json")
	ra := pa.Wait()
	killed := time.Now()
	if !ra.Killed {
		t.Fatalf("the runner was not killed at %s:\n%s", killAt, ra)
	}
	a.Calls()

	b.Env = []string{"AWS_ENDPOINT_URL=" + endpoint, "CI_JOB_URL=https://ci.example/jobs/b"}
	// The lease of the dead runner still runs: refused, naming it.
	refused := b.Must(exitLocked, "resume", "-auto-approve")
	if time.Since(killed) >= lease {
		t.Fatalf("the refusal came %s after the kill, past the lease: the test cannot tell a live lease from an expired one", time.Since(killed))
	}
	if !holderRE("apply", pa.Pid(), run).MatchString(refused.Stderr) {
		t.Fatalf("the refusal does not name the dead holder (pid %d):\n%s", pa.Pid(), refused)
	}
	t.Logf("refused while the dead holder's lease lived, after %s", refused.Elapsed)
	if refused.Elapsed >= time.Second {
		t.Errorf("the refusal took %s; it must come in under a second", refused.Elapsed)
	}
	if m := clitest.Mutating(b.Calls()); slices.ContainsFunc(m, func(s string) bool { return !strings.HasPrefix(s, "S3 PutObject") }) {
		t.Fatalf("the refused resume made mutating calls: %v", m)
	}

	// status tells a live lease from an expired one.
	st := b.Must(0, "status")
	if !strings.HasPrefix(st.Stdout, fmt.Sprintf("Locked by apply (pid %d on ", pa.Pid())) || time.Since(killed) >= lease {
		t.Fatalf("status within the lease does not show the live holder:\n%s", st)
	}
	for time.Since(killed) < lease+3*time.Second {
		time.Sleep(500 * time.Millisecond)
	}
	st = b.Must(0, "status")
	if !strings.HasPrefix(st.Stdout, fmt.Sprintf("Lock left by apply (pid %d on ", pa.Pid())) || !strings.Contains(st.Stdout, "the next resume, rollback or cleanup takes it over") {
		t.Fatalf("status after the lease does not say the holder is gone:\n%s", st)
	}

	// Waiting for the lock: taken over once the lease has expired.
	r := b.Must(0, "resume", "-auto-approve", "-lock-timeout", "1m")
	if since := time.Since(killed); since < lease {
		t.Fatalf("the lock was taken over %s after the kill, before the lease of %s ended", since, lease)
	}
	if !strings.Contains(r.Stderr, fmt.Sprintf("Took over the lock of apply (pid %d on ", pa.Pid())) {
		t.Fatalf("resume does not say whose lock it took over:\n%s", r)
	}
	if !strings.Contains(r.Stdout, "Apply complete! Run "+run) {
		t.Fatalf("the run was not finished:\n%s", r)
	}
	after := environment(t, cl)
	requireGroupAsBefore(t, cl, before, after)
	requireMigratedNothingLost(t, before, after)
	if _, ok := after.Databases[demo.Database+"-envmig-old"]; !ok {
		t.Fatal("the retired original is not kept as the way back")
	}
	requireJournalConsistent(t, cl, run)
	b.Calls()
}

// requireJournalConsistent reads every version of the environment's
// journal in the state bucket, oldest first, and requires one line of
// history: each version decodes (format, checksum), serials strictly
// increase, and no step of run goes back from done. The last version
// records run finished. It returns the last version's content.
func requireJournalConsistent(t *testing.T, cl *awsclient.Clients, run string) string {
	t.Helper()
	vs := clitest.JournalHistory(t, cl, "production")
	for i := 1; i < len(vs); i++ {
		prev, cur := vs[i-1].State, vs[i].State
		if cur.Lineage != prev.Lineage || cur.Lineage != run {
			continue
		}
		was := map[string]string{}
		for _, s := range prev.Steps {
			was[s.ID] = s.Status
		}
		for _, s := range cur.Steps {
			if was[s.ID] == statefile.StepDone && s.Status != statefile.StepDone && s.Status != statefile.StepReverting && s.Status != statefile.StepReverted {
				t.Fatalf("serial %d: step %s went from done back to %q", cur.Serial, s.ID, s.Status)
			}
		}
	}
	last := vs[len(vs)-1].State
	if last.Lineage != run || !last.Finished() {
		t.Fatalf("the last journal version (serial %d) records run %s %s, not run %s finished", last.Serial, last.Lineage, last.Status, run)
	}
	t.Logf("journal: %d versions, serials %d..%d", len(vs), vs[0].State.Serial, last.Serial)
	return string(vs[len(vs)-1].Data)
}

// A runner stalls (SIGSTOP: a frozen VM, a long GC pause) while it holds
// the lock; another directory takes the lock over after the lease and
// finishes the run. When the stalled runner wakes up, it finds it lost the
// lock and stops without writing the journal or acting on AWS: the
// journal stays one line.
func TestStalledRunnerWakesUpAfterTakeoverAndWritesNothing(t *testing.T) {
	cl := clitest.SeedShop(t)
	clitest.CreateStateBucket(t, cl)
	before := environment(t, cl)
	endpoint := clitest.AtomicS3(t)
	spec := clitest.WithS3State(clitest.ShopSpec("rename-swap"))
	a, b := newCLI(t, spec), newCLI(t, spec)
	a.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	run := planLineage(t, filepath.Join(a.Dir, "plan.json"))
	a.Calls()

	const lease = 5 * time.Second
	a.Bin = clitest.Bins.Crash // for the lease knob only: no crash point is armed
	a.Env = []string{"AWS_ENDPOINT_URL=" + endpoint, "CI_JOB_URL=https://ci.example/jobs/a", stateLeaseEnv + "=" + lease.String()}
	pa := a.Start("apply", "-auto-approve", "plan.json")
	// Stop it once the group is in Standby.
	deadline := time.Now().Add(time.Minute)
	inStandby := func() bool {
		out, err := cl.AutoScaling.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{demo.Group}})
		if err != nil {
			t.Fatal(err)
		}
		return len(out.AutoScalingGroups) == 1 && len(out.AutoScalingGroups[0].Instances) > 0 && out.AutoScalingGroups[0].Instances[0].LifecycleState == "Standby"
	}
	for !inStandby() {
		if time.Now().After(deadline) {
			t.Fatal("the run never took the group to Standby")
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := syscall.Kill(pa.Pid(), syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := time.Now()
	resumed := false
	defer func() {
		if !resumed {
			syscall.Kill(pa.Pid(), syscall.SIGCONT)
			pa.Wait()
		}
	}()

	b.Env = []string{"AWS_ENDPOINT_URL=" + endpoint, "CI_JOB_URL=https://ci.example/jobs/b"}
	r := b.Run("resume", "-auto-approve", "-lock-timeout", "1m")
	if r.Code != 0 || !strings.Contains(r.Stdout, "Apply complete! Run "+run) {
		t.Fatalf("the run was not finished by the second runner:\n%s", r)
	}
	if time.Since(stopped) < lease || !strings.Contains(r.Stderr, fmt.Sprintf("Took over the lock of apply (pid %d on ", pa.Pid())) {
		t.Fatalf("the lock was not taken over after the lease:\n%s", r)
	}
	done := requireJournalConsistent(t, cl, run)

	a.Calls() // what it did before it stalled
	if err := syscall.Kill(pa.Pid(), syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	resumed = true
	ra := pa.Wait()
	for _, call := range a.Calls() {
		if call.Mutating() && call.Service != "S3" {
			t.Errorf("the stalled runner acted on AWS after it woke up: %s %s", call.Service, call.Operation)
		}
	}
	if ra.Code == 0 || !strings.Contains(ra.Stderr, "lost the state lock") {
		t.Fatalf("the stalled runner did not stop on its lost lock:\n%s", ra)
	}
	if again := requireJournalConsistent(t, cl, run); again != done {
		t.Fatal("the stalled runner wrote the journal after it lost the lock")
	}
	after := environment(t, cl)
	requireGroupAsBefore(t, cl, before, after)
	requireMigratedNothingLost(t, before, after)
	t.Logf("the stalled runner exited %d:\n%s", ra.Code, ra.Stderr)
	b.Calls()
}

// A runner dies after the point of no return and there is no shared
// backend: the original database is renamed aside, the clone not yet
// renamed into its name. Without the journal envmig cannot finish the
// run, and the clone under the temporary name may hold the only copy of
// the data: recover names it and leaves it alone, says how to finish the
// swap or undo it by hand, and cleanup deletes no database of the run.
func TestDeadRunnerAfterThePointOfNoReturnKeepsTheOnlyCopy(t *testing.T) {
	spec := clitest.ShopSpec("rename-swap")
	cl, _, run, c := deadRunner(t, spec, false, executor.CrashEnv+"=apply:db.rename.main.swap:before-intent")
	killed := environment(t, cl)
	if _, ok := killed.Databases[demo.Database]; ok {
		t.Fatalf("the run was not killed between the renames: %s still exists", demo.Database)
	}
	temporary := demo.Database + "-envmig"
	if _, ok := killed.Databases[temporary]; !ok {
		t.Fatalf("the killed run left no %s: %v", temporary, killed.Databases)
	}

	r := c.Must(0, "recover", "-auto-approve")
	for _, want := range []string{"Recovered.", temporary, "may hold the only copy", "left alone",
		"--db-instance-identifier " + temporary + " --new-db-instance-identifier " + demo.Database,
		"--db-instance-identifier " + demo.Database + "-envmig-old --new-db-instance-identifier " + demo.Database} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("recover after the point of no return does not say %q:\n%s", want, r)
		}
	}
	c.Run("cleanup", "-auto-approve")
	after := environment(t, cl)
	for id := range killed.Databases {
		if _, ok := after.Databases[id]; !ok {
			t.Errorf("database %s of run %s is gone after recover and cleanup", id, run)
		}
	}
	c.Calls()
}

// A clone's runner dies with the journal in S3, holding its environment's
// lock and its own journal's. While its lease lives, a migration of the
// environment is refused, naming the dead clone; once it has expired the
// clone's journal is resumed from another directory, which takes both
// locks over by itself, finishes the clone and leaves no lock behind.
func TestDeadCloneRunnerIsTakenOverAfterItsLease(t *testing.T) {
	cl := clitest.SeedShop(t)
	clitest.CreateStateBucket(t, cl)
	endpoint := clitest.AtomicS3(t)
	spec := clitest.WithS3State(clitest.ShopSpec("rename-swap"))
	a, b := newCLI(t, spec), newCLI(t, spec)

	// The migration is planned first: only its refusal has to come within
	// the dead clone's lease.
	b.Env = []string{"AWS_ENDPOINT_URL=" + endpoint, "CI_JOB_URL=https://ci.example/jobs/b"}
	b.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")

	const lease = 10 * time.Second
	a.Bin = clitest.Bins.Crash
	a.Env = []string{"AWS_ENDPOINT_URL=" + endpoint, "CI_JOB_URL=https://ci.example/jobs/a",
		executor.CrashEnv + "=apply:db.delete-snapshot.main:accepted", stateLeaseEnv + "=" + lease.String()}
	pa := a.Start("clone", "production", "-to", "dead", "-auto-approve")
	ra := pa.Wait()
	killed := time.Now()
	if !ra.Killed {
		t.Fatalf("the clone was not killed:\n%s", ra)
	}
	m := regexp.MustCompile(`\(run ([0-9a-f]+), journal`).FindStringSubmatch(ra.Stdout)
	if m == nil {
		t.Fatalf("the clone did not name its run:\n%s", ra)
	}

	b.Calls()
	refused := b.Must(exitLocked, "apply", "-auto-approve", "plan.json")
	if time.Since(killed) >= lease {
		t.Fatalf("the refusal came %s after the kill, past the lease", time.Since(killed))
	}
	if !holderRE("clone", pa.Pid(), m[1]).MatchString(refused.Stderr) {
		t.Fatalf("the refused apply does not name the dead clone (pid %d):\n%s", pa.Pid(), refused)
	}
	if mut := clitest.Mutating(b.Calls()); slices.ContainsFunc(mut, func(s string) bool { return !strings.HasPrefix(s, "S3 PutObject") }) {
		t.Fatalf("the refused apply made mutating calls: %v", mut)
	}

	r := b.Must(0, "resume", "-environment", "production.clone-dead", "-auto-approve", "-lock-timeout", "1m")
	if since := time.Since(killed); since < lease {
		t.Fatalf("the locks were taken over %s after the kill, before the lease of %s ended", since, lease)
	}
	if n := strings.Count(r.Stderr, fmt.Sprintf("Took over the lock of clone (pid %d on ", pa.Pid())); n != 2 {
		t.Fatalf("resume took over %d of the dead clone's locks, want its environment's and its journal's:\n%s", n, r)
	}
	if !strings.Contains(r.Stdout, "Clone complete!") {
		t.Fatalf("the clone was not finished:\n%s", r)
	}
	if _, ok := environment(t, cl).Databases[demo.Database+"-dead"]; !ok {
		t.Fatal("the resumed clone has no database")
	}
	for _, env := range []string{"production", "production.clone-dead"} {
		if _, err := cl.S3.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String(stateBucket), Key: aws.String(clitest.LockKey(env))}); err == nil {
			t.Errorf("the lock of %s is left behind", env)
		}
	}
	// The environment is free again: the migration planned during the
	// clone is applied, or refused as stale, but no longer as locked.
	if r := b.Run("apply", "-auto-approve", "plan.json"); r.Code == exitLocked {
		t.Fatalf("the environment is still locked after the clone finished:\n%s", r)
	}
}
