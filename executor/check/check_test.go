package check

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/executor/bucket"
	"github.com/envmig/envmig/executor/executortest"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/plan"
)

func TestMain(m *testing.M) { os.Exit(testaws.Main(m)) }

// stepContext gives the check the freeze times the standby steps recorded.
func stepContext(p *plan.Plan, s plan.Step, frozen map[string]time.Time) *executor.StepContext {
	sc := executor.NewStepContext(p, s, "apply", nil)
	sc.TestHooks(func(id, key string) string {
		if t, ok := frozen[id]; ok && key == "frozen_at" {
			return t.UTC().Format(time.RFC3339)
		}
		return ""
	}, nil, nil)
	return sc
}

func TestHTTPCheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	cases := map[string]struct {
		path   string
		status int
		ok     bool
	}{
		"healthy":          {"/health", 200, true},
		"wrong status":     {"/down", 200, false},
		"expected failure": {"/down", 503, true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			s := plan.Step{ID: "verify.http.x", Action: plan.VerifyHTTP, Params: plan.VerifyHTTPParams{URL: srv.URL + tc.path, Status: tc.status, Timeout: "2s"}}
			err := (&HTTP{}).Apply(context.Background(), stepContext(&plan.Plan{}, s, nil))
			if (err == nil) != tc.ok {
				t.Fatalf("err = %v, want ok=%v", err, tc.ok)
			}
		})
	}
}

// A stack-swap's http check probes the temporary stack through its
// outputs, recorded by the stack.create step.
func TestHTTPCheckFillsStackOutputs(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/shop-staging-envmig/health" {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer srv.Close()
	run := func(url string) error {
		s := plan.Step{ID: "verify.http.x", Action: plan.VerifyHTTP, Params: plan.VerifyHTTPParams{URL: url, Status: 200, Timeout: "2s", StackOutputs: "stack.create.temporary"}}
		sc := executor.NewStepContext(&plan.Plan{}, s, "apply", nil)
		sc.TestHooks(func(id, key string) string {
			if id == "stack.create.temporary" && key == "outputs" {
				return `{"WebURL":"` + srv.URL + `","Stack":"shop-staging-envmig"}`
			}
			return ""
		}, nil, nil)
		return (&HTTP{}).Apply(context.Background(), sc)
	}
	if err := run("${ENVMIG_STACK_OUTPUT_WebURL}/${ENVMIG_STACK_OUTPUT_Stack}/health"); err != nil {
		t.Fatal(err)
	}
	if err := run("${ENVMIG_STACK_OUTPUT_Nope}/health"); err == nil || !strings.Contains(err.Error(), "no output Nope") {
		t.Fatalf("err = %v", err)
	}
}

func TestCommandCheckSeesTheCloneAndItsOutputIsNotInTheError(t *testing.T) {
	var lines []string
	run := func(script string) error {
		s := plan.Step{ID: "verify.command.x", Action: plan.VerifyCommand, Params: plan.VerifyCommandParams{Run: script, Env: map[string]string{"ENVMIG_DATABASE_MAIN": "shop-prod-db-envmig"}}}
		sc := stepContext(&plan.Plan{}, s, nil)
		sc.TestHooks(nil, nil, func(p executor.Progress) { lines = append(lines, p.Line) })
		return (&Command{}).Apply(context.Background(), sc)
	}
	if err := run(`test "$ENVMIG_DATABASE_MAIN" = shop-prod-db-envmig && echo checked`); err != nil {
		t.Fatal(err)
	}
	if len(lines) != 1 || lines[0] != "| checked" {
		t.Fatalf("output = %q", lines)
	}
	err := run(`echo s3cr3t-token; exit 3`)
	if err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("err = %v", err)
	}
	if strings.Contains(err.Error(), "s3cr3t") {
		t.Fatal("a check's output must never reach the journal")
	}
	c := &Command{Timeout: 200 * time.Millisecond}
	s := plan.Step{ID: "verify.command.slow", Action: plan.VerifyCommand, Params: plan.VerifyCommandParams{Run: "sleep 30"}}
	start := time.Now()
	if err := c.Apply(context.Background(), stepContext(&plan.Plan{}, s, nil)); err == nil || !strings.Contains(err.Error(), "did not finish") {
		t.Fatalf("err = %v", err)
	}
	if time.Since(start) > 10*time.Second {
		t.Fatal("the timeout did not kill the command")
	}
}

// frozenWorld seeds moto with a group in standby, a database and a bucket.
func frozenWorld(t *testing.T) (*awsclient.Clients, *plan.Plan, plan.Step) {
	t.Helper()
	testaws.Reset(t)
	cl := testaws.Clients(t)
	ctx := context.Background()
	ec := ec2.NewFromConfig(cl.Config)
	if _, err := ec.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Micro}}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.AutoScaling.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String("web"), MinSize: aws.Int32(0), MaxSize: aws.Int32(4), DesiredCapacity: aws.Int32(2),
		AvailabilityZones: []string{"us-east-1a"}, LaunchTemplate: &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web")}}); err != nil {
		t.Fatal(err)
	}
	g, err := cl.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, i := range g.AutoScalingGroups[0].Instances {
		ids = append(ids, aws.ToString(i.InstanceId))
	}
	if _, err := cl.AutoScaling.EnterStandby(ctx, &autoscaling.EnterStandbyInput{AutoScalingGroupName: aws.String("web"), InstanceIds: ids, ShouldDecrementDesiredCapacity: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	if _, err := cl.RDS.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{DBInstanceIdentifier: aws.String("db"), Engine: aws.String("postgres"),
		DBInstanceClass: aws.String("db.t3.medium"), AllocatedStorage: aws.Int32(20), MasterUsername: aws.String("u"), MasterUserPassword: aws.String("password1")}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []string{"data", "data-envmig"} {
		if _, err := cl.S3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"keep.txt", "img/7.png"} {
		if _, err := cl.S3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String(k), Body: strings.NewReader("v1 " + k)}); err != nil {
			t.Fatal(err)
		}
	}
	p := &plan.Plan{Lineage: "run-1", Observations: []plan.Observation{
		{Address: "database.main", Kind: plan.KindDatabase, ID: "db", Exists: true, Attrs: map[string]string{"instance_class": "db.t3.medium", "allocated_storage": "20"}},
		{Address: "bucket.data", Kind: plan.KindBucket, ID: "data", Exists: true, Attrs: map[string]string{"region": "us-east-1"}},
	}}
	guard := plan.BucketGuard{Bucket: "data", Manifest: plan.ManifestName("data"), Copy: "data-envmig", Objects: "etag"}
	s := plan.Step{ID: "verify.frozen", Action: plan.VerifyFrozen, Params: plan.VerifyFrozenParams{Groups: []string{"web"}, Databases: []string{"db"},
		Buckets: []plan.BucketGuard{guard}, StandbySteps: []string{"group.standby.web"}}}
	return cl, p, s
}

// frozenWorldCopied is frozenWorld once the bucket's copy was taken: the
// copy holds what the bucket held (tagged as the run's) and its manifest is
// recorded in blobs.
func frozenWorldCopied(t *testing.T, blobs *executortest.MemBlobs) (*awsclient.Clients, *plan.Plan, plan.Step) {
	t.Helper()
	cl, p, s := frozenWorld(t)
	ctx := context.Background()
	c := awsclient.NewS3(cl.Config, "")
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String("data-envmig"),
		Tagging: &s3types.Tagging{TagSet: []s3types.Tag{{Key: aws.String(executor.RunTagKey), Value: aws.String("run-1")}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := (&bucket.Syncer{Src: c, Dst: c, SrcBucket: "data", DstBucket: "data-envmig", Delete: true}).Run(ctx); err != nil {
		t.Fatal(err)
	}
	w, _ := blobs.CreateBlob(ctx, "run-1", plan.ManifestName("data"))
	if _, err := bucket.TakeManifest(ctx, c, "data", w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return cl, p, s
}

func frozenHandler(cl *awsclient.Clients) *Frozen {
	s3For := func(region string) bucket.S3API { return awsclient.NewS3(cl.Config, region) }
	return &Frozen{Groups: cl.AutoScaling, DBs: cl.RDS, Buckets: bucket.NewGuards(s3For, bucket.Options{})}
}

func TestFrozenPassesWhenNothingMoved(t *testing.T) {
	blobs := &executortest.MemBlobs{}
	cl, p, s := frozenWorldCopied(t, blobs)
	freeze := map[string]time.Time{"group.standby.web": time.Now().Truncate(time.Second).Add(2 * time.Second)}
	sc := stepContext(p, s, freeze)
	sc.TestBlobs(blobs)
	if err := frozenHandler(cl).Apply(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
}

// Issue 14: an object deleted from an original bucket during the standby
// is reported by verify.frozen with its key (modification times cannot
// show a delete); an object written is too. Both stop the run without
// undoing it, and a resume copies the difference into the copy, verifies
// it and passes.
func TestFrozenSeesDeletesAndResumeCopiesTheDifference(t *testing.T) {
	blobs := &executortest.MemBlobs{}
	cl, p, s := frozenWorldCopied(t, blobs)
	ctx := context.Background()
	c := awsclient.NewS3(cl.Config, "")
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("data"), Key: aws.String("img/7.png")}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("late/order-123.json"), Body: strings.NewReader("{}")}); err != nil {
		t.Fatal(err)
	}
	freeze := map[string]time.Time{"group.standby.web": time.Now().Truncate(time.Second).Add(2 * time.Second)}
	sc := executor.NewStepContext(p, s, "apply", map[string]string{})
	sc.TestHooks(func(id, key string) string {
		if t, ok := freeze[id]; ok && key == "frozen_at" {
			return t.UTC().Format(time.RFC3339)
		}
		return ""
	}, nil, nil)
	sc.TestBlobs(blobs)
	err := frozenHandler(cl).Apply(ctx, sc)
	var ce *executor.ChangedError
	if !errors.As(err, &ce) || !strings.Contains(err.Error(), "img/7.png") || !strings.Contains(err.Error(), "late/order-123.json") {
		t.Fatalf("frozen = %v, want a ChangedError naming the deleted and the added object", err)
	}
	// The resume: the difference goes into the copy, which is verified.
	if err := frozenHandler(cl).Apply(ctx, sc); err != nil {
		t.Fatalf("resume: %v", err)
	}
	var keys []string
	out, _ := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("data-envmig")})
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	if diff := cmp.Diff([]string{"keep.txt", "late/order-123.json"}, keys); diff != "" {
		t.Fatalf("the copy after the resume (-want +got):\n%s", diff)
	}
	// A later change is caught against the new manifest.
	if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("later.json"), Body: strings.NewReader("{}")}); err != nil {
		t.Fatal(err)
	}
	sc2 := stepContext(p, s, freeze)
	sc2.TestBlobs(blobs)
	if err := frozenHandler(cl).Apply(ctx, sc2); !errors.As(err, &ce) || !strings.Contains(err.Error(), "later.json") {
		t.Fatalf("frozen = %v, want the later write", err)
	}
}

func TestFrozenCatchesOutOfBandChanges(t *testing.T) {
	cases := map[string]struct {
		change func(t *testing.T, cl *awsclient.Clients)
		want   string
	}{
		"object written": {func(t *testing.T, cl *awsclient.Clients) {
			if _, err := cl.S3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String("data"), Key: aws.String("late.txt"), Body: strings.NewReader("x")}); err != nil {
				t.Fatal(err)
			}
		}, `late.txt`},
		"object deleted": {func(t *testing.T, cl *awsclient.Clients) {
			if _, err := cl.S3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String("data"), Key: aws.String("img/7.png")}); err != nil {
				t.Fatal(err)
			}
		}, `img/7.png`},
		"database modified": {func(t *testing.T, cl *awsclient.Clients) {
			if _, err := cl.RDS.ModifyDBInstance(context.Background(), &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("db"), DBInstanceClass: aws.String("db.t3.small"), ApplyImmediately: aws.Bool(true)}); err != nil {
				t.Fatal(err)
			}
		}, "instance_class was db.t3.medium, now db.t3.small"},
		"instance back in service": {func(t *testing.T, cl *awsclient.Clients) {
			g, _ := cl.AutoScaling.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{"web"}})
			id := aws.ToString(g.AutoScalingGroups[0].Instances[0].InstanceId)
			if _, err := cl.AutoScaling.ExitStandby(context.Background(), &autoscaling.ExitStandbyInput{AutoScalingGroupName: aws.String("web"), InstanceIds: []string{id}}); err != nil {
				t.Fatal(err)
			}
		}, "is InService"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			blobs := &executortest.MemBlobs{}
			cl, p, s := frozenWorldCopied(t, blobs)
			freeze := map[string]time.Time{"group.standby.web": time.Now().Truncate(time.Second).Add(2 * time.Second)}
			tc.change(t, cl)
			sc := stepContext(p, s, freeze)
			sc.TestBlobs(blobs)
			err := frozenHandler(cl).Apply(context.Background(), sc)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to mention %s", err, tc.want)
			}
		})
	}
}

// A check command cannot hold the run while production is in standby: a
// line over 64 KiB is cut (it used to stop the reader and block the
// command on a full pipe for good), a command past its timeout is killed
// with its whole process group, and a daemon it left holding the output
// is left WaitDelay after the command exited.
func TestCommandCheckIsBounded(t *testing.T) {
	type result struct {
		err   error
		lines []string
		took  time.Duration
	}
	run := func(c *Command, script string) result {
		t.Helper()
		done := make(chan result, 1)
		go func() {
			var r result
			s := plan.Step{ID: "verify.command.x", Action: plan.VerifyCommand, Params: plan.VerifyCommandParams{Run: script}}
			sc := stepContext(&plan.Plan{}, s, nil)
			sc.TestHooks(nil, nil, func(p executor.Progress) { r.lines = append(r.lines, p.Line) })
			start := time.Now()
			r.err = c.Apply(context.Background(), sc)
			r.took = time.Since(start)
			done <- r
		}()
		select {
		case r := <-done:
			return r
		case <-time.After(60 * time.Second):
			t.Fatalf("the check %q still runs after a minute: it hangs", script)
			return result{}
		}
	}

	r := run(&Command{Timeout: time.Minute}, `head -c 200000 /dev/zero | tr '\0' a; echo; echo after`)
	if r.err != nil {
		t.Fatalf("a long line failed the check: %v", r.err)
	}
	if len(r.lines) != 2 || !strings.HasSuffix(r.lines[0], "[line cut at 64 KiB]") || len(r.lines[0]) > 70<<10 || r.lines[1] != "| after" {
		t.Fatalf("%d lines, want the cut line then after", len(r.lines))
	}

	dir := t.TempDir()
	child := dir + "/child"
	r = run(&Command{Timeout: 300 * time.Millisecond, WaitDelay: 200 * time.Millisecond},
		`sh -c 'echo $$ > `+child+`; exec sleep 30' & sleep 30`)
	if r.err == nil || !strings.Contains(r.err.Error(), "did not finish within 300ms") || r.took > 10*time.Second {
		t.Fatalf("err = %v after %s, want the timeout", r.err, r.took)
	}
	b, err := os.ReadFile(child)
	if err != nil {
		t.Fatal(err)
	}
	proc := "/proc/" + strings.TrimSpace(string(b)) + "/stat"
	deadline := time.Now().Add(2 * time.Second)
	for {
		st, err := os.ReadFile(proc)
		_, rest, _ := strings.Cut(string(st), ") ")
		if err != nil || strings.HasPrefix(rest, "Z") || strings.HasPrefix(rest, "X") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the check's child survived the timeout: the process group was not killed")
		}
		time.Sleep(10 * time.Millisecond)
	}

	r = run(&Command{Timeout: time.Minute, WaitDelay: 200 * time.Millisecond}, `setsid sleep 5 & echo started`)
	if r.err != nil || r.took > 3*time.Second {
		t.Fatalf("a daemon holding the output: err = %v after %s", r.err, r.took)
	}
}

// stillOn is a SwitchChecker that finds a writer on again.
type stillOn []string

func (s stillOn) StillOff(context.Context, *executor.StepContext) ([]string, error) { return s, nil }

// A writer a switch turned off and something turned back on during the
// standby stops the run, named.
func TestFrozenSeesAWriterSwitchedBackOn(t *testing.T) {
	blobs := &executortest.MemBlobs{}
	cl, p, s := frozenWorldCopied(t, blobs)
	freeze := map[string]time.Time{"group.standby.web": time.Now().Truncate(time.Second).Add(2 * time.Second)}
	sc := stepContext(p, s, freeze)
	sc.TestBlobs(blobs)
	f := frozenHandler(cl)
	f.Switches = stillOn{"EventBridge rule default/nightly, switched off by this run, is on again (ENABLED): something switched it back on during the standby"}
	if err := f.Apply(context.Background(), sc); err == nil || !strings.Contains(err.Error(), "default/nightly") {
		t.Fatalf("frozen = %v, want the rule named", err)
	}
	f.Switches = stillOn(nil)
	if err := f.Apply(context.Background(), sc); err != nil {
		t.Fatalf("every writer still off: %v", err)
	}
}
