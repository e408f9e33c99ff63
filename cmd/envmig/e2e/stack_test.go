package e2e

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/testaws"
)

// The example's names (examples/cloudformation).
const (
	stackName    = "shop-staging"
	stackTemp    = "shop-staging-envmig"
	stackBucket  = "shop-staging-uploads"
	stackDB      = "shop-staging-db"
	stackGroup   = "shop-staging-web"
	stackExample = "cloudformation"
)

// stackObjects are the objects the stack's bucket holds: metadata, tags
// and keys that need escaping.
var stackObjects = []struct{ key, body, meta, tags string }{
	{"invoices/2026/11/INV-0001.pdf", "%PDF-1.7 invoice", "customer=42", "class=finance"},
	{"odd keys/with spaces & ampersand+plus.txt", "spaces", "", ""},
	{"unicode/ünïcødé-файл.txt", "unicode", "lang=ru", "k=v"},
	{"deep//double/slash/../dots.bin", "dots", "", "a=b&c=d"},
	{"empty", "", "", ""},
	{"100%/percent%20encoded?query=1", "percent", "x=y", ""},
}

// exampleFile reads a file of the example.
func exampleFile(t *testing.T, name string) string {
	t.Helper()
	root, err := testaws.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "examples", stackExample, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// seedStack creates the example's stack from env-v1.yaml with the
// pipeline's parameters and fills its bucket.
func seedStack(t *testing.T) *awsclient.Clients {
	t.Helper()
	testaws.Reset(t)
	cl := testaws.Clients(t)
	ctx := context.Background()
	_, err := cl.CloudFormation.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String(stackName),
		TemplateBody: aws.String(exampleFile(t, "env-v1.yaml")),
		Parameters: []cftypes.Parameter{
			{ParameterKey: aws.String("EnvironmentName"), ParameterValue: aws.String(stackName)},
			{ParameterKey: aws.String("DBInstanceClass"), ParameterValue: aws.String("db.t3.micro")},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cloudformation.NewStackCreateCompleteWaiter(cl.CloudFormation).Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(stackName)}, 2*60e9); err != nil {
		t.Fatal(err)
	}
	for _, o := range stackObjects {
		in := &s3.PutObjectInput{Bucket: aws.String(stackBucket), Key: aws.String(o.key), Body: strings.NewReader(o.body),
			ExpectedBucketOwner: aws.String(testaws.Account)}
		if o.meta != "" {
			k, v, _ := strings.Cut(o.meta, "=")
			in.Metadata = map[string]string{k: v}
		}
		if o.tags != "" {
			in.Tagging = aws.String(o.tags)
		}
		if _, err := cl.S3.PutObject(ctx, in); err != nil {
			t.Fatalf("put %q: %v", o.key, err)
		}
	}
	return cl
}

// stackCLI is a working directory holding the example's spec and its new
// template.
func stackCLI(t *testing.T) *clitest.CLI {
	t.Helper()
	c := newCLI(t, exampleFile(t, "staging.envmig.hcl"))
	if err := os.WriteFile(filepath.Join(c.Dir, "env-v2.yaml"), []byte(exampleFile(t, "env-v2.yaml")), 0o644); err != nil {
		t.Fatal(err)
	}
	return c
}

func describeStack(t *testing.T, cl *awsclient.Clients, name string) *cftypes.Stack {
	t.Helper()
	out, err := cl.CloudFormation.DescribeStacks(context.Background(), &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if err != nil || len(out.Stacks) == 0 || out.Stacks[0].StackStatus == cftypes.StackStatusDeleteComplete {
		return nil
	}
	return &out.Stacks[0]
}

func TestStackSwapEndToEnd(t *testing.T) {
	cl := seedStack(t)
	ctx := context.Background()
	before := clitest.BucketObjects(t, cl, stackBucket)
	if len(before) != len(stackObjects) {
		t.Fatalf("seeded %d objects, want %d", len(before), len(stackObjects))
	}
	c := stackCLI(t)

	c.Must(0, "validate")
	r := c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	for _, want := range []string{"POINT OF NO RETURN", "stack.create.temporary", "stack.delete.original", "stack.create.original", "stack.delete.temporary", "verify.command.outputs",
		"the stack runs another template than env-v2.yaml", "parameter DBInstanceClass: db.t3.micro -> db.t3.small",
		"Database StorageEncrypted: false -> true would replace the database in a stack update"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("plan output lacks %q:\n%s", want, r.Stdout)
		}
	}
	if m := clitest.Mutating(c.Calls()); len(m) != 0 {
		t.Fatalf("plan made mutating calls: %v", m)
	}
	policy := clitest.PlanPolicy(t, c, "plan.json")
	apply := c.Must(0, "apply", "-auto-approve", "plan.json")
	if !strings.Contains(apply.Stdout, "Apply complete!") {
		t.Fatalf("apply:\n%s", apply)
	}
	// The double clone, stacks and all, ran with what the reviewed plan's
	// own policy allows.
	clitest.AllowedByPlanPolicy(t, c, policy)

	snap := checkStackMigrated(t, cl, before, "db.t3.small")

	// Nothing temporary remains once cleanup ran; a second plan has
	// nothing to do.
	c.Must(0, "cleanup", "-auto-approve")
	if s := describeStack(t, cl, stackTemp); s != nil {
		t.Fatalf("the temporary stack remains: %s", s.StackStatus)
	}
	bl, err := cl.S3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	var buckets []string
	for _, b := range bl.Buckets {
		buckets = append(buckets, aws.ToString(b.Name))
	}
	if diff := cmp.Diff([]string{stackBucket}, buckets); diff != "" {
		t.Fatalf("buckets after cleanup (-want +got):\n%s", diff)
	}
	all, err := cl.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range all.DBInstances {
		if id := aws.ToString(d.DBInstanceIdentifier); id != stackDB {
			t.Fatalf("database %s remains after cleanup", id)
		}
	}
	if _, err := cl.RDS.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(snap)}); err != nil {
		t.Fatalf("cleanup deleted the snapshot the stack names as %s: %v", "DBSnapshotIdentifier", err)
	}
	again := c.Must(0, "plan", "-detailed-exitcode")
	if !strings.Contains(again.Stdout, "No changes") {
		t.Fatalf("second plan:\n%s", again.Stdout)
	}

	// A version that renames the bucket (BucketName replaces it) is a
	// stack-swap again: the objects move into the renamed bucket, the
	// stack names a new snapshot, and the one it named before is left to
	// this run's cleanup.
	v3 := strings.Replace(exampleFile(t, "env-v2.yaml"), `BucketName: !Sub "${EnvironmentName}-uploads"`, `BucketName: !Sub "${EnvironmentName}-files"`, 1)
	if err := os.WriteFile(filepath.Join(c.Dir, "env-v3.yaml"), []byte(v3), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(c.Dir, "main.envmig.hcl")
	b, err := os.ReadFile(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spec, []byte(strings.Replace(string(b), `"env-v2.yaml"`, `"env-v3.yaml"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r = c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan2.json")
	for _, want := range []string{"stack.create.temporary", snap + ": the snapshot shop-staging was restored from before this run"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("the second plan lacks %q:\n%s", want, r.Stdout)
		}
	}
	c.Must(0, "apply", "-auto-approve", "plan2.json")
	tpl, err := cl.CloudFormation.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String(stackName)})
	if err != nil || aws.ToString(tpl.TemplateBody) != v3 {
		t.Fatalf("the stack does not run env-v3.yaml: %v", err)
	}
	if diff := cmp.Diff(before, clitest.BucketObjects(t, cl, "shop-staging-files")); diff != "" {
		t.Fatalf("the renamed bucket's objects differ (-before +after):\n%s", diff)
	}
	c.Must(0, "cleanup", "-auto-approve")
	bl, err = cl.S3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	buckets = nil
	for _, b := range bl.Buckets {
		buckets = append(buckets, aws.ToString(b.Name))
	}
	if diff := cmp.Diff([]string{"shop-staging-files"}, buckets); diff != "" {
		t.Fatalf("buckets after the second cleanup (-want +got):\n%s", diff)
	}
	snaps := manualSnapshots(t, cl)
	if len(snaps) != 1 || snaps[0] == snap || !strings.HasSuffix(snaps[0], "-main-clone") {
		t.Fatalf("snapshots after the second cleanup = %v: only the one the stack names should remain", snaps)
	}
	snap = snaps[0]
	again = c.Must(0, "plan", "-detailed-exitcode")
	if !strings.Contains(again.Stdout, "No changes") {
		t.Fatalf("plan after the second version:\n%s", again.Stdout)
	}

	// The next version changes only the web group (MaxSize): no database
	// or bucket is replaced, so the stack is updated in place through a
	// reviewed change set, keeping its snapshot parameter. (A change of
	// DBInstanceClass is planned the same way, but moto's stack update
	// applies neither, so only the template and parameters can be checked.)
	v4 := strings.Replace(v3, `MaxSize: "4"`, `MaxSize: "6"`, 1)
	if err := os.WriteFile(filepath.Join(c.Dir, "env-v4.yaml"), []byte(v4), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, err = os.ReadFile(spec); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(spec, []byte(strings.Replace(string(b), `"env-v3.yaml"`, `"env-v4.yaml"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r = c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan3.json")
	for _, want := range []string{"stack.change-set", "stack.update", "updated in place through a reviewed change set"} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("the in-place plan lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "stack.create.temporary") {
		t.Fatalf("an in-place change is planned as a swap:\n%s", r.Stdout)
	}
	c.Must(0, "apply", "-auto-approve", "plan3.json")
	if got := checkStackRuns(t, cl, "shop-staging-files", before, v4, "db.t3.small"); got != snap {
		t.Fatalf("the in-place update dropped the snapshot parameter: %s, was %s", got, snap)
	}
	// moto's stack update records the new template and parameters but
	// applies no changed property of a group or database (MaxSize stays 4
	// there, so the group's size is not checked), and its change-set
	// execution drops the database from ListStackResources, so no plan
	// can follow it here.
	c.Must(0, "cleanup", "-auto-approve")
	if got := manualSnapshots(t, cl); !cmp.Equal(got, []string{snap}) {
		t.Fatalf("snapshots after the update's cleanup = %v, want only %s", got, snap)
	}

	c.Calls()
}

func manualSnapshots(t *testing.T, cl *awsclient.Clients) []string {
	t.Helper()
	out, err := cl.RDS.DescribeDBSnapshots(context.Background(), &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range out.DBSnapshots {
		ids = append(ids, aws.ToString(s.DBSnapshotIdentifier))
	}
	slices.Sort(ids)
	return ids
}

// checkStackMigrated is the invariant after a finished stack-swap of the
// example: the stack of the original name runs the new template, with
// the snapshot of the verified temporary database as its parameter, its
// bucket holds exactly the objects it held, its database has the new
// template's settings and its group is in service. It returns the
// snapshot the stack names.
func checkStackMigrated(t *testing.T, cl *awsclient.Clients, before []string, class string) string {
	t.Helper()
	return checkStackRuns(t, cl, stackBucket, before, exampleFile(t, "env-v2.yaml"), class)
}

// checkStackRuns is checkStackMigrated for any version of the template.
func checkStackRuns(t *testing.T, cl *awsclient.Clients, bucket string, before []string, template, class string) string {
	t.Helper()
	ctx := context.Background()
	tpl, err := cl.CloudFormation.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String(stackName)})
	if err != nil {
		t.Fatal(err)
	}
	if got := aws.ToString(tpl.TemplateBody); got != template {
		t.Fatalf("stack %s runs another template than the spec's:\n%s", stackName, got)
	}
	st := describeStack(t, cl, stackName)
	if st == nil {
		t.Fatalf("stack %s is gone", stackName)
	}
	params := map[string]string{}
	for _, p := range st.Parameters {
		params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	snap := params["DBSnapshotIdentifier"]
	if !strings.HasPrefix(snap, "envmig-") || !strings.HasSuffix(snap, "-main-clone") || params["EnvironmentName"] != stackName || params["DBInstanceClass"] != class {
		t.Fatalf("stack parameters = %v", params)
	}
	if _, err := cl.RDS.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(snap)}); err != nil {
		t.Fatalf("the snapshot the stack names is gone: %v", err)
	}
	tags := map[string]string{}
	for _, tg := range st.Tags {
		tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
	}
	if tags["envmig:recreated-by"] == "" || tags["envmig:run"] != "" {
		t.Fatalf("the stack created again is tagged %v", tags)
	}
	// Its bucket holds exactly the objects, metadata and tags it held.
	if diff := cmp.Diff(before, clitest.BucketObjects(t, cl, bucket)); diff != "" {
		t.Fatalf("the bucket's objects differ (-before +after):\n%s", diff)
	}
	// Its database has the new template's class; its group is in service.
	dbs, err := cl.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(stackDB)})
	if err != nil || len(dbs.DBInstances) != 1 {
		t.Fatalf("database %s: %v", stackDB, err)
	}
	if d := dbs.DBInstances[0]; aws.ToString(d.DBInstanceClass) != class || !aws.ToBool(d.StorageEncrypted) {
		t.Fatalf("database %s is %s encrypted=%t", stackDB, aws.ToString(d.DBInstanceClass), aws.ToBool(d.StorageEncrypted))
	}
	gs, err := cl.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{stackGroup}})
	if err != nil || len(gs.AutoScalingGroups) != 1 {
		t.Fatalf("group %s: %v", stackGroup, err)
	}
	g := gs.AutoScalingGroups[0]
	if len(g.Instances) == 0 || len(g.SuspendedProcesses) != 0 {
		t.Fatalf("group %s: %d instances, suspended %v", stackGroup, len(g.Instances), g.SuspendedProcesses)
	}
	for _, i := range g.Instances {
		if i.LifecycleState != "InService" {
			t.Fatalf("group %s: instance %s is %s", stackGroup, aws.ToString(i.InstanceId), i.LifecycleState)
		}
	}

	if s := describeStack(t, cl, stackTemp); s != nil {
		t.Fatalf("the temporary stack remains after the run: %s", s.StackStatus)
	}
	return snap
}

// stackWorld is what a rollback must restore: the stack's template and
// parameters, its bucket's objects, every database, snapshot, bucket and
// group.
func stackWorld(t *testing.T, cl *awsclient.Clients) (string, clitest.World) {
	t.Helper()
	st := describeStack(t, cl, stackName)
	if st == nil {
		return "(no stack)", clitest.Observe(t, cl)
	}
	tpl, err := cl.CloudFormation.GetTemplate(context.Background(), &cloudformation.GetTemplateInput{StackName: st.StackId})
	if err != nil {
		t.Fatal(err)
	}
	var params []string
	for _, p := range st.Parameters {
		params = append(params, aws.ToString(p.ParameterKey)+"="+aws.ToString(p.ParameterValue))
	}
	slices.Sort(params)
	return aws.ToString(st.StackId) + " " + strings.Join(params, ",") + "\n" + aws.ToString(tpl.TemplateBody), clitest.Observe(t, cl)
}

// TestStackSwapCrashPointsRecover kills apply at a point of each stack
// step (the crash build's hook, as kill -9 would) and recovers: before the
// point of no return by rollback (the world as it was) or resume, after
// it by resume (rollback refused), each ending migrated.
func TestStackSwapCrashPointsRecover(t *testing.T) {
	cases := []struct {
		step, point, recovery string
	}{
		{"stack.create.temporary", executor.PointAccepted, "rollback"},
		{"stack.create.temporary", executor.PointAccepted, "resume"},
		{"bucket.copy.uploads.delta", executor.PointAfterIntent, "rollback"},
		{"verify.frozen", executor.PointBeforeIntent, "rollback"},
		{"db.snapshot.main.clone", executor.PointAccepted, "resume"},
		{"bucket.delete.uploads.original", executor.PointAfterIntent, "resume"},
		{"stack.delete.original", executor.PointAccepted, "resume"},
		{"stack.create.original", executor.PointAccepted, "resume"},
		{"group.standby.web.new", executor.PointAfterIntent, "resume"},
		{"bucket.copy.uploads.final", executor.PointAfterIntent, "resume"},
		{"stack.delete.temporary", executor.PointAccepted, "resume"},
	}
	killed := 0
	for _, tc := range cases {
		t.Run(tc.step+":"+tc.point+":"+tc.recovery, func(t *testing.T) {
			cl := seedStack(t)
			objects := clitest.BucketObjects(t, cl, stackBucket)
			stackBefore, worldBefore := stackWorld(t, cl)
			c := stackCLI(t)
			c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
			c.Bin = clitest.Bins.Crash
			c.Env = []string{executor.CrashEnv + "=apply:" + tc.step + ":" + tc.point}
			r := c.Run("apply", "-auto-approve", "plan.json")
			c.Bin, c.Env = clitest.Bins.Envmig, nil
			if !r.Killed {
				t.Fatalf("the crash point was not reached:\n%s", r)
			}
			killed++
			afterGate := !strings.HasPrefix(tc.step, "stack.create.temporary") && !strings.HasPrefix(tc.step, "bucket.copy.uploads.delta") && tc.step != "verify.frozen"
			if tc.recovery == "rollback" {
				c.Must(0, "rollback", "-auto-approve")
				stackAfter, worldAfter := stackWorld(t, cl)
				if stackAfter != stackBefore {
					t.Fatalf("rollback changed the stack:\n%s\n---\n%s", stackBefore, stackAfter)
				}
				if diff := cmp.Diff(worldBefore, worldAfter); diff != "" {
					t.Fatalf("rollback did not restore the world (-before +after):\n%s", diff)
				}
				if s := describeStack(t, cl, stackTemp); s != nil {
					t.Fatalf("rollback left the temporary stack: %s", s.StackStatus)
				}
				c.Must(exitChanges, "plan", "-detailed-exitcode")
				return
			}
			if afterGate {
				r := c.Must(1, "rollback", "-auto-approve")
				if !strings.Contains(r.Stderr, "point of no return") {
					t.Fatalf("rollback after the gate must be refused saying why:\n%s", r)
				}
			}
			c.Must(0, "resume", "-auto-approve")
			checkStackMigrated(t, cl, objects, "db.t3.small")
			c.Must(0, "plan", "-detailed-exitcode")
			c.Calls()
		})
	}
	clitest.Report(t, "stack-swap crash points", map[string]any{"crash points": len(cases), "runs killed": killed})
}

// TestStackInPlaceCrashPointsRecover kills apply in the in-place path's
// stack steps: the change set's creation (rollback deletes it: the stack,
// its template and parameters are as they were) and its execution
// (resume finishes the update).
func TestStackInPlaceCrashPointsRecover(t *testing.T) {
	v1b := strings.Replace(exampleFile(t, "env-v1.yaml"), `MaxSize: "4"`, `MaxSize: "6"`, 1)
	cases := []struct{ step, point, recovery string }{
		{"stack.change-set", executor.PointAccepted, "rollback"},
		{"stack.update", executor.PointAccepted, "resume"},
	}
	for _, tc := range cases {
		t.Run(tc.step+":"+tc.point+":"+tc.recovery, func(t *testing.T) {
			cl := seedStack(t)
			objects := clitest.BucketObjects(t, cl, stackBucket)
			stackBefore, worldBefore := stackWorld(t, cl)
			c := newCLI(t, strings.NewReplacer(`"env-v2.yaml"`, `"env-v1b.yaml"`, `DBInstanceClass = "db.t3.small"`, `DBInstanceClass = "db.t3.micro"`).Replace(exampleFile(t, "staging.envmig.hcl")))
			if err := os.WriteFile(filepath.Join(c.Dir, "env-v1b.yaml"), []byte(v1b), 0o644); err != nil {
				t.Fatal(err)
			}
			r := c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
			if !strings.Contains(r.Stdout, "stack.change-set") {
				t.Fatalf("not an in-place plan:\n%s", r.Stdout)
			}
			c.Bin = clitest.Bins.Crash
			c.Env = []string{executor.CrashEnv + "=apply:" + tc.step + ":" + tc.point}
			r = c.Run("apply", "-auto-approve", "plan.json")
			c.Bin, c.Env = clitest.Bins.Envmig, nil
			if !r.Killed {
				t.Fatalf("the crash point was not reached:\n%s", r)
			}
			if tc.recovery == "rollback" {
				c.Must(0, "rollback", "-auto-approve")
				stackAfter, worldAfter := stackWorld(t, cl)
				if stackAfter != stackBefore {
					t.Fatalf("rollback changed the stack:\n%s\n---\n%s", stackBefore, stackAfter)
				}
				if diff := cmp.Diff(worldBefore, worldAfter); diff != "" {
					t.Fatalf("rollback did not restore the world (-before +after):\n%s", diff)
				}
				cs, err := cl.CloudFormation.ListChangeSets(context.Background(), &cloudformation.ListChangeSetsInput{StackName: aws.String(stackName)})
				if err != nil || len(cs.Summaries) != 0 {
					t.Fatalf("rollback left change sets: %+v %v", cs, err)
				}
				return
			}
			r = c.Must(1, "rollback", "-auto-approve")
			if !strings.Contains(r.Stderr, "point of no return") {
				t.Fatalf("rollback after the gate must be refused saying why:\n%s", r)
			}
			c.Must(0, "resume", "-auto-approve")
			ctx := context.Background()
			tpl, err := cl.CloudFormation.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String(stackName)})
			if err != nil || aws.ToString(tpl.TemplateBody) != v1b {
				t.Fatalf("the stack does not run the new version: %v", err)
			}
			st := describeStack(t, cl, stackName)
			params := map[string]string{}
			for _, p := range st.Parameters {
				params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
			}
			if params["DBSnapshotIdentifier"] != "" || params["DBInstanceClass"] != "db.t3.micro" || params["EnvironmentName"] != stackName {
				t.Fatalf("stack parameters = %v", params)
			}
			if diff := cmp.Diff(objects, clitest.BucketObjects(t, cl, stackBucket)); diff != "" {
				t.Fatalf("the bucket changed (-before +after):\n%s", diff)
			}
			gs, err := cl.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{stackGroup}})
			if err != nil || len(gs.AutoScalingGroups) != 1 {
				t.Fatal(err)
			}
			for _, i := range gs.AutoScalingGroups[0].Instances {
				if i.LifecycleState != "InService" {
					t.Fatalf("instance %s is %s", aws.ToString(i.InstanceId), i.LifecycleState)
				}
			}
			c.Calls()
		})
	}
}
