package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/demo"
	"github.com/envmig/envmig/internal/testaws"
)

// The end-to-end tests drive the built binary through the command line,
// against moto, as a user would.

var (
	binary      string // envmig
	crashBinary string // envmig built with the crash hook (-tags crashtest)
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "envmig-bin-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "envmig")
	crashBinary = filepath.Join(dir, "envmig-crashtest")
	for _, b := range []struct{ out, tags string }{{binary, ""}, {crashBinary, "crashtest"}} {
		cmd := exec.Command("go", "build", "-tags", b.tags, "-o", b.out, ".")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "build envmig:", err)
			os.Exit(1)
		}
	}
	code := testaws.Main(m)
	if missing := policyMissing(); len(missing) > 0 && code == 0 {
		fmt.Fprintf(os.Stderr, "FAIL: envmig iam-policy misses actions the tests needed: %v\n", missing)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

// result is one run of the binary.
type result struct {
	code           int
	stdout, stderr string
	killed         bool
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// runner runs envmig in dir with the test's AWS environment plus env.
type runner struct {
	t     *testing.T
	dir   string
	env   []string
	bin   string
	trace string
}

func newCLI(t *testing.T, spec string) *runner {
	t.Helper()
	dir := t.TempDir()
	if spec != "" {
		if err := os.WriteFile(filepath.Join(dir, "main.envmig.hcl"), []byte(spec), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &runner{t: t, dir: dir, bin: binary, trace: filepath.Join(dir, "aws-trace.log")}
}

func (c *runner) run(args ...string) result {
	c.t.Helper()
	return c.runIn(context.Background(), args...)
}

func (c *runner) runIn(ctx context.Context, args ...string) result {
	c.t.Helper()
	cmd := exec.CommandContext(ctx, c.bin, args...)
	cmd.Dir = c.dir
	cmd.Env = append(os.Environ(), "NO_COLOR=1", "ENVMIG_AWS_TRACE="+c.trace)
	cmd.Env = append(cmd.Env, c.env...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := result{stdout: out.String(), stderr: errb.String()}
	var ee *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			r.killed = ws.Signal() == syscall.SIGKILL
		}
	default:
		c.t.Fatalf("run envmig %v: %v", args, err)
	}
	return r
}

// must runs and requires an exit code.
func (c *runner) must(code int, args ...string) result {
	c.t.Helper()
	r := c.run(args...)
	if r.code != code || r.killed {
		c.t.Fatalf("envmig %s: want exit %d\n%s", strings.Join(args, " "), code, r)
	}
	return r
}

// calls returns the AWS operations the binary made so far, and resets.
func (c *runner) calls() []awsclient.Call {
	c.t.Helper()
	b, err := os.ReadFile(c.trace)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		c.t.Fatal(err)
	}
	os.Remove(c.trace)
	var out []awsclient.Call
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if line == "" {
			continue
		}
		i := strings.LastIndex(line, " ")
		out = append(out, awsclient.Call{Service: line[:i], Operation: line[i+1:]})
	}
	recordActions(out)
	return out
}

func mutating(calls []awsclient.Call) []string {
	var out []string
	for _, c := range calls {
		if c.Mutating() {
			out = append(out, c.Service+" "+c.Operation)
		}
	}
	return out
}

// seedShop creates the demo environment, small.
func seedShop(t *testing.T) *awsclient.Clients {
	t.Helper()
	testaws.Reset(t)
	cl := testaws.Clients(t)
	if err := demo.Seed(context.Background(), cl, demo.Options{Uploads: 25, Assets: 40, Instances: 3, Password: canaryPassword}); err != nil {
		t.Fatal(err)
	}
	return cl
}

// canaryPassword is the database's master password: it must never appear
// in any output or file.
const canaryPassword = "Canary-Pw-7f3a9d2e"

// world is what the invariants compare: every instance, snapshot, bucket
// (with every object's key, size, ETag, metadata and tags) and group.
type world struct {
	Databases map[string]string
	Snapshots []string
	Buckets   map[string][]string
	Groups    map[string]string
}

func observeWorld(t *testing.T, cl *awsclient.Clients) world {
	t.Helper()
	ctx := context.Background()
	w := world{Databases: map[string]string{}, Buckets: map[string][]string{}, Groups: map[string]string{}}
	dbs, err := cl.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dbs.DBInstances {
		var tags []string
		for _, tg := range d.TagList {
			tags = append(tags, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
		}
		sort.Strings(tags)
		w.Databases[aws.ToString(d.DBInstanceIdentifier)] = fmt.Sprintf("%s %s enc=%t storage=%d protect=%t tags=%v",
			aws.ToString(d.DBInstanceStatus), aws.ToString(d.DBInstanceClass), aws.ToBool(d.StorageEncrypted), aws.ToInt32(d.AllocatedStorage), aws.ToBool(d.DeletionProtection), tags)
	}
	snaps, err := cl.RDS.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps.DBSnapshots {
		w.Snapshots = append(w.Snapshots, aws.ToString(s.DBSnapshotIdentifier))
	}
	sort.Strings(w.Snapshots)
	bl, err := cl.S3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bl.Buckets {
		w.Buckets[aws.ToString(b.Name)] = bucketObjects(t, cl, aws.ToString(b.Name))
	}
	gs, err := cl.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs.AutoScalingGroups {
		var procs, states []string
		for _, p := range g.SuspendedProcesses {
			procs = append(procs, aws.ToString(p.ProcessName))
		}
		for _, i := range g.Instances {
			states = append(states, string(i.LifecycleState))
		}
		sort.Strings(procs)
		sort.Strings(states)
		w.Groups[aws.ToString(g.AutoScalingGroupName)] = fmt.Sprintf("min=%d max=%d desired=%d suspended=%v instances=%v",
			aws.ToInt32(g.MinSize), aws.ToInt32(g.MaxSize), aws.ToInt32(g.DesiredCapacity), procs, states)
	}
	return w
}

// bucketObjects lists every object with its size, ETag, content type, user
// metadata and tags.
func bucketObjects(t *testing.T, cl *awsclient.Clients, bucket string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	pg := s3.NewListObjectsV2Paginator(cl.S3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			head, err := cl.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			tags, err := cl.S3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			var ts []string
			for _, tg := range tags.TagSet {
				ts = append(ts, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
			}
			out = append(out, fmt.Sprintf("%s size=%d etag=%s type=%s cache=%s meta=%v tags=%v", aws.ToString(o.Key), aws.ToInt64(o.Size),
				aws.ToString(o.ETag), aws.ToString(head.ContentType), aws.ToString(head.CacheControl), head.Metadata, ts))
		}
	}
	return out
}

// noCanary fails when the database password appears in any file under dir
// or in r's output.
func noCanary(t *testing.T, dir string, rs ...result) {
	t.Helper()
	for _, r := range rs {
		if strings.Contains(r.stdout+r.stderr, canaryPassword) {
			t.Fatalf("the database password was printed:\n%s", r)
		}
	}
	filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		b, _ := os.ReadFile(path)
		if bytes.Contains(b, []byte(canaryPassword)) {
			t.Fatalf("the database password was written to %s", path)
		}
		return nil
	})
}

func init() {
	// The binary inherits the test process's environment; keep its
	// heartbeat out of the outputs the tests compare.
	os.Setenv("ENVMIG_HEARTBEAT", "1h")
}
