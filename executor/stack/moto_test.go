package stack

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/plan"
)

func TestMain(m *testing.M) { os.Exit(testaws.Main(m)) }

// counting counts the mutating CloudFormation calls.
type counting struct {
	Client
	mu    sync.Mutex
	calls map[string]int
}

func (c *counting) count(op string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[op]++
}

func (c *counting) n(op string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[op]
}

func (c *counting) CreateStack(ctx context.Context, in *cloudformation.CreateStackInput, o ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error) {
	c.count("CreateStack")
	return c.Client.CreateStack(ctx, in, o...)
}

func (c *counting) DeleteStack(ctx context.Context, in *cloudformation.DeleteStackInput, o ...func(*cloudformation.Options)) (*cloudformation.DeleteStackOutput, error) {
	c.count("DeleteStack")
	return c.Client.DeleteStack(ctx, in, o...)
}

func (c *counting) CreateChangeSet(ctx context.Context, in *cloudformation.CreateChangeSetInput, o ...func(*cloudformation.Options)) (*cloudformation.CreateChangeSetOutput, error) {
	c.count("CreateChangeSet")
	return c.Client.CreateChangeSet(ctx, in, o...)
}

func (c *counting) ExecuteChangeSet(ctx context.Context, in *cloudformation.ExecuteChangeSetInput, o ...func(*cloudformation.Options)) (*cloudformation.ExecuteChangeSetOutput, error) {
	c.count("ExecuteChangeSet")
	return c.Client.ExecuteChangeSet(ctx, in, o...)
}

type world struct {
	cf   *counting
	ops  *Ops
	s3   *s3.Client
	rds  *rds.Client
	real *cloudformation.Client
}

func newWorld(t *testing.T) *world {
	t.Helper()
	testaws.Reset(t)
	cl := testaws.Clients(t)
	cf := &counting{Client: cl.CloudFormation, calls: map[string]int{}}
	return &world{
		cf: cf, s3: cl.S3, rds: cl.RDS, real: cl.CloudFormation,
		ops: &Ops{CF: cf, S3: cl.S3, RDS: cl.RDS, Options: Options{MinDelay: 10 * time.Millisecond, MaxDelay: 50 * time.Millisecond, MaxWait: time.Minute}},
	}
}

// stepCtx is a step context of run lineage; its lines are collected.
type stepCtx struct {
	*executor.StepContext
	mu    sync.Mutex
	lines []string
}

func newStep(lineage, id string, values map[string]string) *stepCtx {
	s := &stepCtx{StepContext: executor.NewStepContext(&plan.Plan{Lineage: lineage}, plan.Step{ID: id}, "apply", values)}
	s.TestHooks(nil, nil, func(p executor.Progress) {
		if p.Line != "" {
			s.mu.Lock()
			s.lines = append(s.lines, p.Line)
			s.mu.Unlock()
		}
	})
	return s
}

func (s *stepCtx) said(sub string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, l := range s.lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

func example(t *testing.T, version string) string {
	t.Helper()
	b, err := os.ReadFile("../../examples/cloudformation/env-" + version + ".yaml")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func (w *world) bucketExists(t *testing.T, name string) bool {
	t.Helper()
	_, err := w.s3.HeadBucket(context.Background(), &s3.HeadBucketInput{Bucket: aws.String(name)})
	return err == nil
}

func (w *world) put(t *testing.T, bucket, key string) {
	t.Helper()
	if _, err := w.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key), Body: strings.NewReader("data")}); err != nil {
		t.Fatal(err)
	}
}

// original creates the environment's stack as the user's pipeline does:
// no envmig tag.
func (w *world) original(t *testing.T, name, version string) string {
	t.Helper()
	out, err := w.real.CreateStack(context.Background(), &cloudformation.CreateStackInput{
		StackName: aws.String(name), TemplateBody: aws.String(example(t, version)),
		Parameters: []cftypes.Parameter{{ParameterKey: aws.String("EnvironmentName"), ParameterValue: aws.String(name)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(out.StackId)
}

func temporary(t *testing.T, name, snapshot string) CreateInput {
	return CreateInput{
		StackName: name, TemplateBody: example(t, "v2"),
		Parameters: map[string]string{"EnvironmentName": name, "DBSnapshotIdentifier": snapshot},
		Tags:       map[string]string{"owner": "platform"},
		OwnerTag:   executor.RunTagKey,
	}
}

// TestCreateSecondCopyMoto: the original stack and a temporary copy from
// the new template with another environment name live side by side, and
// Create returns the copy's outputs and resources.
func TestCreateSecondCopyMoto(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	w.original(t, "shop-staging", "v1")
	if _, err := w.rds.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{DBInstanceIdentifier: aws.String("shop-staging-db"), DBSnapshotIdentifier: aws.String("envmig-run1-main")}); err != nil {
		t.Fatal(err)
	}
	sc := newStep("run1", "stack.create.temporary", nil)
	st, err := w.ops.Create(ctx, sc.StepContext, temporary(t, "shop-staging-envmig", "envmig-run1-main"))
	if err != nil {
		t.Fatal(err)
	}
	if st.Status != "CREATE_COMPLETE" || st.Outputs["UploadsBucket"] != "shop-staging-envmig-uploads" {
		t.Errorf("stack = %+v", st)
	}
	for id, phys := range map[string]string{"Database": "shop-staging-envmig-db", "Uploads": "shop-staging-envmig-uploads", "WebGroup": "shop-staging-envmig-web"} {
		if r := st.Resources[id]; r.PhysicalID != phys {
			t.Errorf("%s = %+v, want %s", id, r, phys)
		}
	}
	if sc.Value(KeyStackID) != st.ID {
		t.Errorf("journaled stack ID %q, created %q", sc.Value(KeyStackID), st.ID)
	}
	if !w.bucketExists(t, "shop-staging-uploads") || !w.bucketExists(t, "shop-staging-envmig-uploads") {
		t.Error("both copies' buckets should exist")
	}
	out, err := w.real.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String("shop-staging-envmig")})
	if err != nil {
		t.Fatal(err)
	}
	tags := tagMap(out.Stacks[0].Tags)
	if tags[executor.RunTagKey] != "run1" || tags["owner"] != "platform" {
		t.Errorf("tags = %v", tags)
	}
	params := map[string]string{}
	for _, p := range out.Stacks[0].Parameters {
		params[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	// moto ignores DBSnapshotIdentifier; what can be checked is that the
	// stack was created with it.
	if params["DBSnapshotIdentifier"] != "envmig-run1-main" {
		t.Errorf("stack parameters = %v", params)
	}
}

// TestCreateTwiceAdoptsMoto: Create again (resume, or a lost journal)
// adopts the run's own stack without a second CreateStack.
func TestCreateTwiceAdoptsMoto(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	in := temporary(t, "shop-staging-envmig", "")
	sc := newStep("run1", "stack.create", nil)
	first, err := w.ops.Create(ctx, sc.StepContext, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := w.ops.Create(ctx, sc.StepContext, in)
	if err != nil {
		t.Fatal(err)
	}
	lost, err := w.ops.Create(ctx, newStep("run1", "stack.create", nil).StepContext, in)
	if err != nil {
		t.Fatal(err)
	}
	if n := w.cf.n("CreateStack"); n != 1 {
		t.Errorf("%d CreateStack calls, want 1", n)
	}
	if again.ID != first.ID || lost.ID != first.ID {
		t.Errorf("adopted %s and %s, created %s", again.ID, lost.ID, first.ID)
	}
}

// TestCreateRefusesOthersMoto: a stack of that name without this run's tag
// (another run's, or the user's) is refused, and never deleted on undo.
func TestCreateRefusesOthersMoto(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	in := temporary(t, "shop-staging-envmig", "")
	if _, err := w.ops.Create(ctx, newStep("other-run", "stack.create", nil).StepContext, in); err != nil {
		t.Fatal(err)
	}
	sc := newStep("run1", "stack.create", nil)
	if _, err := w.ops.Create(ctx, sc.StepContext, in); !errors.Is(err, ErrNotThisRun) || !strings.Contains(err.Error(), "another run's") {
		t.Fatalf("err = %v, want ErrNotThisRun naming another run", err)
	}
	if err := w.ops.RevertCreate(ctx, sc.StepContext, in.StackName, executor.RunTagKey, true); err != nil {
		t.Fatal(err)
	}
	if w.cf.n("DeleteStack") != 0 || !sc.said("left stack shop-staging-envmig alone") {
		t.Errorf("another run's stack was touched: %d deletes, lines %v", w.cf.n("DeleteStack"), sc.lines)
	}
	w.original(t, "shop-staging", "v1")
	in.StackName = "shop-staging"
	if _, err := w.ops.Create(ctx, sc.StepContext, in); !errors.Is(err, ErrNotThisRun) || !strings.Contains(err.Error(), "has no envmig:run tag") {
		t.Fatalf("err = %v, want ErrNotThisRun for an untagged stack", err)
	}
}

// TestCreateOutOfBandMoto: the run's stack updated by someone else is not
// adopted.
func TestCreateOutOfBandMoto(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	const body = `{"Parameters": {"EnvironmentName": {"Type": "String"}}, "Resources": {"Uploads": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": {"Fn::Sub": "${EnvironmentName}-uploads"}}}}}`
	in := CreateInput{StackName: "shop-staging-envmig", TemplateBody: body, Parameters: map[string]string{"EnvironmentName": "shop-staging-envmig"}, OwnerTag: executor.RunTagKey}
	sc := newStep("run1", "stack.create", nil)
	if _, err := w.ops.Create(ctx, sc.StepContext, in); err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(body, `"Resources": {`, `"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}, `, 1)
	_, err := w.real.UpdateStack(ctx, &cloudformation.UpdateStackInput{
		StackName: aws.String(in.StackName), TemplateBody: aws.String(changed),
		Parameters: []cftypes.Parameter{{ParameterKey: aws.String("EnvironmentName"), ParameterValue: aws.String(in.StackName)}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ops.Create(ctx, sc.StepContext, in); !errors.Is(err, ErrChangedOutOfBand) {
		t.Fatalf("err = %v, want ErrChangedOutOfBand", err)
	}
}

// TestDeleteNonEmptyBucketMoto: the original stack's bucket still holds
// objects: Delete refuses before any change; emptied, it deletes and
// reports that moto took no final snapshot.
func TestDeleteNonEmptyBucketMoto(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id := w.original(t, "shop-staging", "v1")
	w.put(t, "shop-staging-uploads", "odd key/ü.txt")
	sc := newStep("run1", "stack.delete.original", nil)
	in := DeleteInput{StackName: "shop-staging", ExpectedID: id}
	_, err := w.ops.Delete(ctx, sc.StepContext, in)
	var ne *NonEmptyBucketsError
	if !errors.As(err, &ne) || !strings.Contains(err.Error(), "Uploads (shop-staging-uploads)") {
		t.Fatalf("err = %v, want a *NonEmptyBucketsError naming Uploads", err)
	}
	if w.cf.n("DeleteStack") != 0 {
		t.Fatal("DeleteStack was called")
	}
	if _, err := w.s3.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("shop-staging-uploads"), Key: aws.String("odd key/ü.txt")}); err != nil {
		t.Fatal(err)
	}
	d, err := w.ops.Delete(ctx, sc.StepContext, in)
	if err != nil {
		t.Fatal(err)
	}
	if d.StackID != id || len(d.LeftBehind) != 0 || len(d.Retained) != 0 {
		t.Errorf("deleted = %+v", d)
	}
	if len(d.MissingFinalSnapshots) != 1 || d.MissingFinalSnapshots[0] != "Database" || !sc.said("no final snapshot of database Database") {
		t.Errorf("the missing final snapshot is not reported: %+v, %v", d, sc.lines)
	}
	if w.bucketExists(t, "shop-staging-uploads") {
		t.Error("the bucket survived")
	}
	// Again (resume after a crash): no second DeleteStack, the same report.
	again, err := w.ops.Delete(ctx, sc.StepContext, in)
	if err != nil || w.cf.n("DeleteStack") != 1 || again.StackID != id || len(again.MissingFinalSnapshots) != 1 {
		t.Fatalf("second Delete = %+v, %v; %d DeleteStack calls", again, err, w.cf.n("DeleteStack"))
	}
	// A new stack under the name is not the one this step deletes.
	w.original(t, "shop-staging", "v1")
	if _, err := w.ops.Delete(ctx, newStep("run1", "stack.delete.original", nil).StepContext, in); !errors.Is(err, ErrChangedOutOfBand) {
		t.Fatalf("err = %v, want ErrChangedOutOfBand for another stack under the name", err)
	}
}

// writer puts an object into a bucket right after Delete looked into it:
// a write out of band between the check and the delete.
type writer struct {
	Buckets
	w *world
	t *testing.T
}

func (b writer) ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, o ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
	out, err := b.Buckets.ListObjectVersions(ctx, in, o...)
	b.w.put(b.t, aws.ToString(in.Bucket), "late.txt")
	return out, err
}

// TestDeleteLeftBehindMoto: moto deletes a stack whose bucket holds
// objects and silently keeps the bucket (AWS fails the delete): Delete
// reports it and returns a *LeftBehindError.
func TestDeleteLeftBehindMoto(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id := w.original(t, "shop-staging", "v1")
	w.ops.S3 = writer{Buckets: w.s3, w: w, t: t}
	sc := newStep("run1", "stack.delete.original", nil)
	d, err := w.ops.Delete(ctx, sc.StepContext, DeleteInput{StackName: "shop-staging", ExpectedID: id})
	var lb *LeftBehindError
	if !errors.As(err, &lb) || !errors.Is(err, ErrLeftBehind) {
		t.Fatalf("err = %v, want a *LeftBehindError", err)
	}
	if d == nil || len(d.LeftBehind) != 1 || d.LeftBehind[0].PhysicalID != "shop-staging-uploads" || !sc.said("still exists") {
		t.Fatalf("deleted = %+v, lines %v", d, sc.lines)
	}
	if s, _ := w.ops.describe(ctx, "shop-staging"); s != nil {
		t.Errorf("stack still there: %s", s.StackStatus)
	}
}

// TestRevertCreateEmptiesOwnBucketsMoto: rollback deletes the run's
// temporary stack, emptying its bucket of copies first.
func TestRevertCreateEmptiesOwnBucketsMoto(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	in := temporary(t, "shop-staging-envmig", "")
	sc := newStep("run1", "stack.create", nil)
	if _, err := w.ops.Create(ctx, sc.StepContext, in); err != nil {
		t.Fatal(err)
	}
	w.put(t, "shop-staging-envmig-uploads", "copied.txt")
	rv := newStep("run1", "stack.create", sc.Values())
	for range 2 {
		if err := w.ops.RevertCreate(ctx, rv.StepContext, in.StackName, executor.RunTagKey, true); err != nil {
			t.Fatal(err)
		}
	}
	if s, _ := w.ops.describe(ctx, in.StackName); s != nil || w.bucketExists(t, "shop-staging-envmig-uploads") {
		t.Fatalf("the temporary stack or its bucket survived (stack %v)", s)
	}
	if w.cf.n("DeleteStack") != 1 {
		t.Errorf("%d DeleteStack calls, want 1", w.cf.n("DeleteStack"))
	}
}

// TestChangeSetRoundTripMoto: create the run's change set for the new
// version, describe it, execute it; every step again adopts.
func TestChangeSetRoundTripMoto(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	id := w.original(t, "shop-staging", "v1")
	in := ChangeSetInput{StackName: "shop-staging", ExpectedID: id, TemplateBody: example(t, "v2"), Parameters: map[string]string{"EnvironmentName": "shop-staging"}}
	sc := newStep("run1", "stack.change-set", nil)
	cs, err := w.ops.CreateChangeSet(ctx, sc.StepContext, in)
	if err != nil {
		t.Fatal(err)
	}
	if cs.Name != ChangeSetName("run1") || cs.Status != "CREATE_COMPLETE" || cs.ExecutionStatus != "AVAILABLE" || cs.NoChanges {
		t.Fatalf("change set = %+v", cs)
	}
	var db *Change
	for i := range cs.Changes {
		if cs.Changes[i].LogicalID == "Database" {
			db = &cs.Changes[i]
		}
	}
	if db == nil || db.Action != "Modify" || !sc.said("Modify Database (AWS::RDS::DBInstance)") {
		t.Fatalf("changes = %+v", cs.Changes)
	}
	if _, err := w.ops.CreateChangeSet(ctx, sc.StepContext, in); err != nil || w.cf.n("CreateChangeSet") != 1 {
		t.Fatalf("second CreateChangeSet: %v, %d calls", err, w.cf.n("CreateChangeSet"))
	}
	ex := newStep("run1", "stack.execute", nil)
	st, err := w.ops.ExecuteChangeSet(ctx, ex.StepContext, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.ops.ExecuteChangeSet(ctx, ex.StepContext, in); err != nil || w.cf.n("ExecuteChangeSet") != 1 {
		t.Fatalf("second ExecuteChangeSet: %v, %d calls", err, w.cf.n("ExecuteChangeSet"))
	}
	tpl, err := w.real.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String("shop-staging")})
	if err != nil || aws.ToString(tpl.TemplateBody) != in.TemplateBody || st.Status != "UPDATE_COMPLETE" {
		t.Fatalf("the stack does not run the new template (%v, status %s)", err, st.Status)
	}
	if err := w.ops.DeleteChangeSet(ctx, sc.StepContext, "shop-staging"); err != nil {
		t.Fatal(err)
	}
	// The same template and parameters again: no changes.
	again := newStep("run2", "stack.change-set", nil)
	cs, err = w.ops.CreateChangeSet(ctx, again.StepContext, in)
	if err != nil || !cs.NoChanges {
		t.Fatalf("unchanged update: %+v, %v; want NoChanges", cs, err)
	}
	if _, err := w.ops.ExecuteChangeSet(ctx, newStep("run2", "stack.execute", nil).StepContext, in); err != nil || w.cf.n("ExecuteChangeSet") != 1 {
		t.Fatalf("executing an empty change set: %v, %d calls", err, w.cf.n("ExecuteChangeSet"))
	}
	if err := w.ops.DeleteChangeSet(ctx, again.StepContext, "shop-staging"); err != nil {
		t.Fatal(err)
	}
	if cs, err := w.ops.describeChangeSet(ctx, "shop-staging", ChangeSetName("run2")); err != nil || cs != nil {
		t.Fatalf("change set not deleted: %+v, %v", cs, err)
	}
}
