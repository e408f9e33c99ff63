package bucket

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/s3settings"
	"github.com/envmig/envmig/internal/s3settings/s3settingstest"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/plan"
)

const settingsRun = "run-settings"

// settingsEnv is a moto S3 client whose calls are recorded.
type settingsEnv struct {
	c   *s3.Client
	rec *testaws.Recording
}

func newSettingsEnv(t *testing.T) settingsEnv {
	t.Helper()
	testaws.Reset(t)
	cfg := testaws.Config(t, nil)
	rec := testaws.Record(&cfg)
	return settingsEnv{c: awsclient.NewS3(cfg, ""), rec: rec}
}

func (e settingsEnv) clients() SettingsClients {
	return SettingsClients{Source: e.c, Destination: e.c, VisibleWithin: 50 * time.Millisecond}
}

// mutating counts the mutating calls recorded since the last count.
func (e settingsEnv) mutating(since int) (n int, now int) {
	calls := e.rec.Calls()
	for _, c := range calls[since:] {
		if c.Mutating() {
			n++
		}
	}
	return n, len(calls)
}

// planned reads bucket's settings as the planner does, and returns the
// digests of names (every setting when none is given).
func planned(t *testing.T, c *s3.Client, bucket string, names ...s3settings.Name) map[string]string {
	t.Helper()
	cfg, err := s3settings.Read(context.Background(), c, bucket)
	if err != nil {
		t.Fatal(err)
	}
	if len(names) == 0 {
		names = s3settings.All
	}
	out := map[string]string{}
	for _, n := range names {
		out[string(n)] = cfg.Digest(n)
	}
	return out
}

// createRunBucket creates bucket as the create step would: tagged with the
// run, versioned, object lock enabled when the carry says so.
func createRunBucket(t *testing.T, c *s3.Client, bucket string, carry SettingsCarry) {
	t.Helper()
	ctx := context.Background()
	in := &s3.CreateBucketInput{Bucket: aws.String(bucket)}
	if carry.ObjectLockAtCreate() {
		in.ObjectLockEnabledForBucket = aws.Bool(true)
	}
	if _, err := c.CreateBucket(ctx, in); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(bucket), VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled}}); err != nil {
		t.Fatal(err)
	}
	if err := putTags(ctx, c, bucket, map[string]string{executor.RunTagKey: settingsRun, "owner": "spec-says"}); err != nil {
		t.Fatal(err)
	}
}

func settingsStep(id string) *executor.StepContext {
	return executor.NewStepContext(&plan.Plan{Lineage: settingsRun, Region: testaws.Region}, plan.Step{ID: id}, "apply", nil)
}

func readAll(t *testing.T, c *s3.Client, bucket string) *s3settings.Config {
	t.Helper()
	cfg, err := s3settings.Read(context.Background(), c, bucket)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// TestMotoCarrySettingsToNewName: every setting of a bucket arrives in a
// bucket under another name, phase 1 then phase 2, with the bucket's own
// ARNs rewritten in the policy and its self-logging pointed at the new
// name; a second run of both phases makes no mutating call.
func TestMotoCarrySettingsToNewName(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	s3settingstest.Everything(t, e.c, "old-b")
	carry := SettingsCarry{Source: "old-b", Destination: "new-b", Expected: planned(t, e.c, "old-b")}
	if !carry.ObjectLockAtCreate() {
		t.Fatal("ObjectLockAtCreate = false for a source with object lock")
	}
	createRunBucket(t, e.c, "new-b", carry)

	create, after := settingsStep("bucket.create.b"), settingsStep("bucket.configure.b")
	if err := ConfigureAtCreate(ctx, create, e.clients(), carry); err != nil {
		t.Fatal(err)
	}
	// Phase 1 carried what decides how objects are stored, nothing else.
	mid := readAll(t, e.c, "new-b")
	for _, n := range []s3settings.Name{s3settings.Policy, s3settings.Lifecycle, s3settings.Notifications, s3settings.Logging, s3settings.Replication, s3settings.Website, s3settings.CORS} {
		if mid.State(n) != s3settings.Absent {
			t.Errorf("after phase 1, %s is %s on the new bucket; want absent until the copy is verified", n, mid.State(n))
		}
	}
	if mid.ObjectLock == nil || mid.ObjectLock.ObjectLockEnabled != types.ObjectLockEnabledEnabled || mid.ObjectLock.Rule != nil {
		t.Errorf("after phase 1, object lock = %+v; want enabled without a default retention", mid.ObjectLock)
	}
	if err := ConfigureAfterCopy(ctx, after, e.clients(), carry); err != nil {
		t.Fatal(err)
	}

	src, dst := readAll(t, e.c, "old-b"), readAll(t, e.c, "new-b")
	want := src.Rewrite("old-b", "new-b")
	for _, n := range s3settings.All {
		if n == s3settings.Tags {
			continue
		}
		if !want.Equal(dst, n) {
			t.Errorf("%s: new bucket has %s, want %s\n got %s\nwant %s", n, dst.Summary(n), want.Summary(n), dst.Canonical(n), want.Canonical(n))
		}
	}
	wantTags := map[string]string{executor.RunTagKey: settingsRun, "owner": "spec-says", "cost-center": "42"}
	if diff := cmp.Diff(wantTags, dst.Tags); diff != "" {
		t.Errorf("tags (-want +got): the run's and the spec's win, the source's user tags are added:\n%s", diff)
	}
	if !strings.Contains(dst.Policy, `"arn:aws:s3:::new-b/*"`) || !strings.Contains(dst.Policy, `"arn:aws:s3:::new-b"`) ||
		strings.Contains(dst.Policy, `arn:aws:s3:::old-b/`) || !strings.Contains(dst.Policy, s3settingstest.OtherBucket) ||
		!strings.Contains(dst.Policy, `"arn:aws:s3:::old-b*"`) {
		t.Errorf("policy not rewritten as documented:\n%s", dst.Policy)
	}
	if aws.ToString(dst.Logging.TargetBucket) != "new-b" {
		t.Errorf("logging target %s, want new-b (the bucket logged into itself)", aws.ToString(dst.Logging.TargetBucket))
	}
	if got := create.Value("settings_at_create"); got != "ownership_controls,encryption,public_access_block,tags,object_lock" {
		t.Errorf("journaled phase 1 settings %q", got)
	}
	if got := after.Value("settings_after_copy"); got != "object_lock,lifecycle,cors,website,accelerate,replication,notifications,logging,policy" {
		t.Errorf("journaled phase 2 settings %q", got)
	}

	// Idempotent: run again (a crash after the last put) changes nothing.
	_, since := e.mutating(0)
	for _, phase := range []func(context.Context, *executor.StepContext, SettingsClients, SettingsCarry) error{ConfigureAtCreate, ConfigureAfterCopy} {
		if err := phase(ctx, settingsStep("again"), e.clients(), carry); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := e.mutating(since); n != 0 {
		t.Errorf("a second run made %d mutating calls, want 0", n)
	}
}

// TestMotoCarryResumesHalfDone: a destination that lost some settings (a
// crash before they were put, or a change out of band) gets exactly those
// again on the next run.
func TestMotoCarryResumesHalfDone(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	s3settingstest.Everything(t, e.c, "old-b")
	carry := SettingsCarry{Source: "old-b", Destination: "new-b", Expected: planned(t, e.c, "old-b")}
	createRunBucket(t, e.c, "new-b", carry)
	for _, phase := range []func(context.Context, *executor.StepContext, SettingsClients, SettingsCarry) error{ConfigureAtCreate, ConfigureAfterCopy} {
		if err := phase(ctx, settingsStep("s"), e.clients(), carry); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := e.c.DeleteBucketEncryption(ctx, &s3.DeleteBucketEncryptionInput{Bucket: aws.String("new-b")}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String("new-b")}); err != nil {
		t.Fatal(err)
	}
	_, since := e.mutating(0)
	for _, phase := range []func(context.Context, *executor.StepContext, SettingsClients, SettingsCarry) error{ConfigureAtCreate, ConfigureAfterCopy} {
		if err := phase(ctx, settingsStep("s"), e.clients(), carry); err != nil {
			t.Fatal(err)
		}
	}
	var puts []string
	for _, c := range e.rec.Calls()[since:] {
		if c.Mutating() {
			puts = append(puts, c.Operation)
		}
	}
	if diff := cmp.Diff([]string{"PutBucketEncryption", "PutBucketCors"}, puts); diff != "" {
		t.Errorf("mutating calls of the re-run (-want +got):\n%s", diff)
	}
	dst := readAll(t, e.c, "new-b")
	want := readAll(t, e.c, "old-b").Rewrite("old-b", "new-b")
	if !want.Equal(dst, s3settings.Encryption) || !want.Equal(dst, s3settings.CORS) {
		t.Errorf("encryption %s, CORS %s after the re-run", dst.Summary(s3settings.Encryption), dst.Summary(s3settings.CORS))
	}
}

// TestMotoCarryToTemporary: a temporary bucket gets ownership, encryption
// and a public-access block that blocks all public access, and nothing
// else; a plan that carries more to a temporary is refused.
func TestMotoCarryToTemporary(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	s3settingstest.Everything(t, e.c, "orig")
	carry := SettingsCarry{Source: "orig", Destination: "orig-envmig", Temporary: true,
		Expected: planned(t, e.c, "orig", s3settings.Ownership, s3settings.Encryption, s3settings.PublicAccessBlock)}
	if carry.ObjectLockAtCreate() {
		t.Error("ObjectLockAtCreate = true for a temporary")
	}
	createRunBucket(t, e.c, "orig-envmig", carry)
	for _, phase := range []func(context.Context, *executor.StepContext, SettingsClients, SettingsCarry) error{ConfigureAtCreate, ConfigureAfterCopy} {
		if err := phase(ctx, settingsStep("s"), e.clients(), carry); err != nil {
			t.Fatal(err)
		}
	}
	src, dst := readAll(t, e.c, "orig"), readAll(t, e.c, "orig-envmig")
	got := map[s3settings.Name]string{}
	for _, n := range s3settings.All {
		if dst.State(n) == s3settings.Present {
			got[n] = dst.Summary(n)
		}
	}
	want := map[s3settings.Name]string{
		s3settings.Ownership:         src.Summary(s3settings.Ownership),
		s3settings.Encryption:        src.Summary(s3settings.Encryption),
		s3settings.PublicAccessBlock: "public access block: all public access blocked",
		s3settings.Tags:              "tags: 1 (owner)", // the create step's, not the source's
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("settings of the temporary (-want +got):\n%s", diff)
	}

	for _, extra := range []s3settings.Name{s3settings.Lifecycle, s3settings.Notifications, s3settings.Replication, s3settings.Policy} {
		bad := carry
		bad.Expected = planned(t, e.c, "orig", s3settings.Encryption, extra)
		_, since := e.mutating(0)
		err := ConfigureAtCreate(ctx, settingsStep("s"), e.clients(), bad)
		if err == nil || !strings.Contains(err.Error(), string(extra)) || !strings.Contains(err.Error(), "temporary") {
			t.Errorf("carrying %s to a temporary: err = %v, want a refusal naming it", extra, err)
		}
		if n, _ := e.mutating(since); n != 0 {
			t.Errorf("refused carry of %s made %d mutating calls", extra, n)
		}
	}
}

// TestMotoCarryRefusesChangedSource: a setting changed between the plan
// (its digest taken) and the carry is refused, naming the setting, before
// anything is put.
func TestMotoCarryRefusesChangedSource(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	s3settingstest.Everything(t, e.c, "old-b")
	carry := SettingsCarry{Source: "old-b", Destination: "new-b", Expected: planned(t, e.c, "old-b")}
	createRunBucket(t, e.c, "new-b", carry)
	if _, err := e.c.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("old-b"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{ID: aws.String("purge"),
			Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(1)}}}}}); err != nil {
		t.Fatal(err)
	}
	_, since := e.mutating(0)
	err := ConfigureAtCreate(ctx, settingsStep("s"), e.clients(), carry)
	var changed *SettingsChangedError
	if !errors.As(err, &changed) || len(changed.Changes) != 1 || changed.Changes[0].Setting != "lifecycle" || changed.Bucket != "old-b" {
		t.Fatalf("err = %v, want a *SettingsChangedError naming lifecycle of old-b", err)
	}
	if !strings.Contains(err.Error(), "lifecycle: 1 rule") || !strings.Contains(err.Error(), "envmig plan") {
		t.Errorf("message %q does not say what the setting is now and what to do", err)
	}
	if n, _ := e.mutating(since); n != 0 {
		t.Errorf("the refused carry made %d mutating calls", n)
	}
	if _, err := CheckSettings(ctx, e.c, carry); !errors.As(err, &changed) {
		t.Errorf("CheckSettings = %v, want the same refusal", err)
	}
}

// TestMotoCarryNothing: a source without settings carries nothing and
// changes nothing.
func TestMotoCarryNothing(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	mkBucket(t, e.c, "plain")
	carry := SettingsCarry{Source: "plain", Destination: "plain-2", Expected: planned(t, e.c, "plain")}
	if carry.ObjectLockAtCreate() {
		t.Error("ObjectLockAtCreate = true without object lock")
	}
	createRunBucket(t, e.c, "plain-2", carry)
	_, since := e.mutating(0)
	for _, phase := range []func(context.Context, *executor.StepContext, SettingsClients, SettingsCarry) error{ConfigureAtCreate, ConfigureAfterCopy} {
		if err := phase(ctx, settingsStep("s"), e.clients(), carry); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := e.mutating(since); n != 0 {
		t.Errorf("carrying no settings made %d mutating calls", n)
	}
}

// TestMotoCarryOnlyIntoTheRunsBucket: a destination that is not tagged
// with this run is never configured.
func TestMotoCarryOnlyIntoTheRunsBucket(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	s3settingstest.Everything(t, e.c, "old-b")
	mkBucket(t, e.c, "someone-elses")
	if err := putTags(ctx, e.c, "someone-elses", map[string]string{executor.RunTagKey: "another-run"}); err != nil {
		t.Fatal(err)
	}
	carry := SettingsCarry{Source: "old-b", Destination: "someone-elses", Expected: planned(t, e.c, "old-b")}
	_, since := e.mutating(0)
	err := ConfigureAfterCopy(ctx, settingsStep("s"), e.clients(), carry)
	if err == nil || !strings.Contains(err.Error(), "another-run") {
		t.Errorf("err = %v, want a refusal naming the other run", err)
	}
	if n, _ := e.mutating(since); n != 0 {
		t.Errorf("made %d mutating calls into a bucket that is not the run's", n)
	}
}

// TestMotoCarryFromCapture: a region move deletes the original before it
// re-creates the name, so the settings journaled by an earlier step are the
// ones carried: the source is not read again (its client is nil here), and
// a change made to it after the capture does not arrive.
func TestMotoCarryFromCapture(t *testing.T) {
	e := newSettingsEnv(t)
	ctx := context.Background()
	s3settingstest.Everything(t, e.c, "moving")
	carry := SettingsCarry{Source: "moving", Destination: "moving-2", Expected: planned(t, e.c, "moving")}
	before := readAll(t, e.c, "moving")
	capture := settingsStep("bucket.delete.moving")
	if _, err := CaptureSettings(ctx, capture, e.c, carry); err != nil {
		t.Fatal(err)
	}
	// After the capture, the original loses its CORS (as if it were gone).
	if _, err := e.c.DeleteBucketCors(ctx, &s3.DeleteBucketCorsInput{Bucket: aws.String("moving")}); err != nil {
		t.Fatal(err)
	}
	// Captured once: a re-run of the capturing step reads nothing.
	if cfg, err := CaptureSettings(ctx, capture, nil, carry); err != nil || !cfg.Equal(before, s3settings.CORS) {
		t.Fatalf("re-capture = %v, %v; want the journaled settings", cfg, err)
	}
	carry.CapturedBy = "bucket.delete.moving"
	createRunBucket(t, e.c, "moving-2", carry)
	lookup := func(step, key string) string {
		if step == "bucket.delete.moving" {
			return capture.Value(key)
		}
		return ""
	}
	cl := e.clients()
	cl.Source = nil
	for _, phase := range []func(context.Context, *executor.StepContext, SettingsClients, SettingsCarry) error{ConfigureAtCreate, ConfigureAfterCopy} {
		sc := settingsStep("bucket.create.moving.recreate")
		sc.TestHooks(lookup, nil, nil)
		if err := phase(ctx, sc, cl, carry); err != nil {
			t.Fatal(err)
		}
	}
	after, want := readAll(t, e.c, "moving-2"), before.Rewrite("moving", "moving-2")
	for _, n := range s3settings.All {
		if n != s3settings.Tags && !want.Equal(after, n) {
			t.Errorf("%s: the new bucket has %s, the captured original had %s", n, after.Summary(n), want.Summary(n))
		}
	}
	// A step that captured nothing is an error, not an empty carry.
	sc := settingsStep("x")
	carry.CapturedBy = "bucket.never"
	if err := ConfigureAtCreate(ctx, sc, cl, carry); err == nil || !strings.Contains(err.Error(), "bucket.never") {
		t.Errorf("err = %v, want one naming the step that did not capture", err)
	}
}
