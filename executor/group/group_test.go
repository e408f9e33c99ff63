package group

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/plan"
)

func TestMain(m *testing.M) { os.Exit(testaws.Main(m)) }

var fast = Options{MinDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond, MaxWait: 10 * time.Second}

const (
	standbyID = "group.standby.web"
	resumeID  = "group.resume.web"
)

func testPlan(group string) *plan.Plan {
	return &plan.Plan{Lineage: "run1", Steps: []plan.Step{
		{ID: standbyID, Phase: plan.PhasePrepare, Action: plan.GroupStandby, Params: plan.GroupStandbyParams{Group: group}},
		{ID: resumeID, Phase: plan.PhaseCommit, Action: plan.GroupResume, Params: plan.GroupResumeParams{Group: group, StandbyStep: standbyID}},
	}}
}

// run calls one handler operation with the journal kept in values (one map
// per step), as the executor would.
type run struct {
	t        *testing.T
	p        *plan.Plan
	handlers map[plan.StepAction]executor.Handler
	values   map[string]map[string]string
}

func newRun(t *testing.T, f *fixture) *run {
	return &run{t: t, p: testPlan(f.name), handlers: f.groups(fast).Handlers(), values: map[string]map[string]string{}}
}

func (r *run) context(stepID, op string) *executor.StepContext {
	step, ok := r.p.Step(stepID)
	if !ok {
		r.t.Fatalf("no step %s", stepID)
	}
	if r.values[stepID] == nil {
		r.values[stepID] = map[string]string{}
	}
	sc := executor.NewStepContext(r.p, step, op, r.values[stepID])
	sc.TestHooks(func(id, key string) string { return r.values[id][key] }, nil, nil)
	return sc
}

func (r *run) do(stepID, op string) error {
	sc := r.context(stepID, op)
	h := r.handlers[sc.Step.Action]
	if op == "apply" {
		return h.Apply(context.Background(), sc)
	}
	return h.Revert(context.Background(), sc)
}

func (r *run) must(stepID, op string) {
	r.t.Helper()
	if err := r.do(stepID, op); err != nil {
		r.t.Fatalf("%s %s: %v", op, stepID, err)
	}
}

// awsRules makes moto refuse what AWS refuses: EnterStandby with decrement
// below MinSize, ExitStandby above MaxSize, sizes out of order. moto does not
// implement DescribeInstanceRefreshes (it answers HTTP 500): awsRules
// answers it with refreshes (none unless a test sets them).
type awsRules struct {
	Client
	mu        sync.Mutex
	batches   map[string][]int // operation -> instance counts per call
	refreshes []types.InstanceRefresh
}

func (a *awsRules) DescribeInstanceRefreshes(context.Context, *autoscaling.DescribeInstanceRefreshesInput, ...func(*autoscaling.Options)) (*autoscaling.DescribeInstanceRefreshesOutput, error) {
	return &autoscaling.DescribeInstanceRefreshesOutput{InstanceRefreshes: a.refreshes}, nil
}

func refuse(msg string) error {
	return &smithy.GenericAPIError{Code: "ValidationError", Message: msg}
}

func (a *awsRules) group(ctx context.Context, name string) *types.AutoScalingGroup {
	out, err := a.Client.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		panic(fmt.Sprintf("describe %s: %v", name, err))
	}
	return &out.AutoScalingGroups[0]
}

func (a *awsRules) note(op string, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.batches == nil {
		a.batches = map[string][]int{}
	}
	a.batches[op] = append(a.batches[op], n)
}

func (a *awsRules) EnterStandby(ctx context.Context, in *autoscaling.EnterStandbyInput, fns ...func(*autoscaling.Options)) (*autoscaling.EnterStandbyOutput, error) {
	a.note("EnterStandby", len(in.InstanceIds))
	g := a.group(ctx, aws.ToString(in.AutoScalingGroupName))
	if len(in.InstanceIds) > BatchSize {
		return nil, refuse("too many instances")
	}
	if aws.ToBool(in.ShouldDecrementDesiredCapacity) && aws.ToInt32(g.DesiredCapacity)-int32(len(in.InstanceIds)) < aws.ToInt32(g.MinSize) {
		return nil, refuse("desired capacity would go below min size")
	}
	return a.Client.EnterStandby(ctx, in, fns...)
}

func (a *awsRules) ExitStandby(ctx context.Context, in *autoscaling.ExitStandbyInput, fns ...func(*autoscaling.Options)) (*autoscaling.ExitStandbyOutput, error) {
	a.note("ExitStandby", len(in.InstanceIds))
	g := a.group(ctx, aws.ToString(in.AutoScalingGroupName))
	if len(in.InstanceIds) > BatchSize {
		return nil, refuse("too many instances")
	}
	if aws.ToInt32(g.DesiredCapacity)+int32(len(in.InstanceIds)) > aws.ToInt32(g.MaxSize) {
		return nil, refuse("desired capacity would go above max size")
	}
	return a.Client.ExitStandby(ctx, in, fns...)
}

func (a *awsRules) UpdateAutoScalingGroup(ctx context.Context, in *autoscaling.UpdateAutoScalingGroupInput, fns ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error) {
	g := a.group(ctx, aws.ToString(in.AutoScalingGroupName))
	lo, hi, d := aws.ToInt32(g.MinSize), aws.ToInt32(g.MaxSize), aws.ToInt32(g.DesiredCapacity)
	if in.MinSize != nil {
		lo = *in.MinSize
	}
	if in.MaxSize != nil {
		hi = *in.MaxSize
	}
	if in.DesiredCapacity != nil {
		d = *in.DesiredCapacity
	}
	if lo > hi || d < lo || d > hi {
		return nil, refuse(fmt.Sprintf("desired %d outside [%d, %d]", d, lo, hi))
	}
	return a.Client.UpdateAutoScalingGroup(ctx, in, fns...)
}

// fixture is a moto Auto Scaling group behind awsRules, attached to an
// ELBv2 target group and a classic load balancer.
type fixture struct {
	name  string
	asg   *autoscaling.Client
	ec2   *ec2.Client
	elbv2 *elbv2.Client
	elb   *elb.Client
	tg    string
	rules *awsRules
	rec   *testaws.Recording
}

// groups builds the cores over the fixture's recorded clients.
func (f *fixture) groups(o Options) *Groups {
	return New(Clients{ASG: f.rules, EC2: f.ec2, ELBv2: f.elbv2, ELB: f.elb}, o)
}

func newGroup(t *testing.T, minSize, maxSize, desired int32, userSuspended ...string) *fixture {
	t.Helper()
	testaws.Reset(t)
	cfg := testaws.Config(t, nil)
	ctx := context.Background()
	if _, err := ec2.NewFromConfig(cfg).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Micro},
	}); err != nil {
		t.Fatal(err)
	}
	vpcs, err := ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil || len(vpcs.Vpcs) == 0 {
		t.Fatalf("default VPC: %v", err)
	}
	tg, err := elbv2.NewFromConfig(cfg).CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
		Name: aws.String("web"), Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: vpcs.Vpcs[0].VpcId,
		TargetType: elbv2types.TargetTypeEnumInstance,
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := elb.NewFromConfig(cfg).CreateLoadBalancer(ctx, &elb.CreateLoadBalancerInput{
		LoadBalancerName: aws.String("web-classic"), AvailabilityZones: []string{"us-east-1a"},
		Listeners: []elbtypes.Listener{{Protocol: aws.String("HTTP"), LoadBalancerPort: 80, InstancePort: aws.Int32(80)}},
	}); err != nil {
		t.Fatal(err)
	}
	tgARN := aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	asg := autoscaling.NewFromConfig(cfg)
	name := "shop-prod-web"
	if _, err := asg.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(name),
		LaunchTemplate:       &types.LaunchTemplateSpecification{LaunchTemplateName: aws.String("web"), Version: aws.String("$Latest")},
		MinSize:              aws.Int32(minSize), MaxSize: aws.Int32(maxSize), DesiredCapacity: aws.Int32(desired),
		AvailabilityZones: []string{"us-east-1a"},
		TargetGroupARNs:   []string{tgARN},
		LoadBalancerNames: []string{"web-classic"},
	}); err != nil {
		t.Fatal(err)
	}
	if len(userSuspended) > 0 {
		if _, err := asg.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{AutoScalingGroupName: aws.String(name), ScalingProcesses: userSuspended}); err != nil {
			t.Fatal(err)
		}
	}
	rec := testaws.Record(&cfg)
	client := autoscaling.NewFromConfig(cfg)
	return &fixture{name: name, asg: asg, rules: &awsRules{Client: client}, rec: rec, tg: tgARN,
		ec2: ec2.NewFromConfig(cfg), elbv2: elbv2.NewFromConfig(cfg), elb: elb.NewFromConfig(cfg)}
}

// shape is what the tests compare of a group.
type shape struct {
	Min, Max, Desired int32
	Suspended         []string
	States            map[string]int // lifecycle state -> instances
}

func (f *fixture) shape(t *testing.T) shape {
	t.Helper()
	out, err := f.asg.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{f.name}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		t.Fatalf("describe %s: %v", f.name, err)
	}
	g := out.AutoScalingGroups[0]
	s := shape{Min: aws.ToInt32(g.MinSize), Max: aws.ToInt32(g.MaxSize), Desired: aws.ToInt32(g.DesiredCapacity), Suspended: suspended(&g), States: map[string]int{}}
	for _, in := range g.Instances {
		s.States[string(in.LifecycleState)]++
	}
	return s
}

// mutating returns how many mutating calls the recording holds.
func (f *fixture) mutating() int { return len(f.rec.Mutating()) }

func withUser(user ...string) []string {
	all := append(slices.Clone(Processes), user...)
	slices.Sort(all)
	return slices.Compact(all)
}

func TestStandbyThenResumeRestoresTheGroupExactly(t *testing.T) {
	f := newGroup(t, 2, 6, 3, "AZRebalance")
	before := f.shape(t)
	if diff := cmp.Diff(shape{Min: 2, Max: 6, Desired: 3, Suspended: []string{"AZRebalance"}, States: map[string]int{"InService": 3}}, before); diff != "" {
		t.Fatalf("fixture (-want +got):\n%s", diff)
	}
	r := newRun(t, f)

	r.must(standbyID, "apply")
	// MinSize 2 had to go to 0: AWS refuses Standby below MinSize (awsRules).
	want := shape{Min: 0, Max: 6, Desired: 0, Suspended: withUser("AZRebalance"), States: map[string]int{"Standby": 3}}
	if diff := cmp.Diff(want, f.shape(t)); diff != "" {
		t.Fatalf("after standby (-want +got):\n%s", diff)
	}
	rec, ok, err := ReadRecord(func(k string) string { return r.values[standbyID][k] })
	if err != nil || !ok {
		t.Fatalf("record: ok=%v err=%v values=%v", ok, err, r.values[standbyID])
	}
	if rec.Min != 2 || rec.Max != 6 || rec.Desired != 3 || !slices.Equal(rec.Suspended, []string{"AZRebalance"}) || len(rec.Instances) != 3 || rec.StartedAt.IsZero() {
		t.Fatalf("record = %+v", rec)
	}
	// Found by the out-of-band suite: S3 times objects to the second, so
	// the freeze starts on the first whole second after the standby.
	frozenAt, err := time.Parse(time.RFC3339, r.values[standbyID][KeyFrozenAt])
	if err != nil || !frozenAt.After(rec.StartedAt) || !frozenAt.Equal(frozenAt.Truncate(time.Second)) {
		t.Fatalf("frozen_at %q (started %s): want the first whole second after the standby (%v)", r.values[standbyID][KeyFrozenAt], rec.StartedAt, err)
	}
	recorded := maps.Clone(r.values[standbyID])

	n := f.mutating()
	r.must(standbyID, "apply")
	if got := f.mutating() - n; got != 0 {
		t.Errorf("second standby made %d mutating calls, want 0: %v", got, f.rec.Mutating()[n:])
	}
	if diff := cmp.Diff(recorded, r.values[standbyID]); diff != "" {
		t.Errorf("second standby changed the record (-first +second):\n%s", diff)
	}

	r.must(resumeID, "apply")
	if diff := cmp.Diff(before, f.shape(t)); diff != "" {
		t.Fatalf("after resume (-before +after):\n%s", diff)
	}
	n = f.mutating()
	r.must(resumeID, "apply")
	if got := f.mutating() - n; got != 0 {
		t.Errorf("second resume made %d mutating calls, want 0", got)
	}
}

func TestStandbyRevertRestoresAndIsIdempotent(t *testing.T) {
	f := newGroup(t, 1, 4, 2)
	before := f.shape(t)
	r := newRun(t, f)
	r.must(standbyID, "apply")
	if got := f.shape(t).States["Standby"]; got != 2 {
		t.Fatalf("Standby = %d, want 2", got)
	}
	r.must(standbyID, "revert")
	if diff := cmp.Diff(before, f.shape(t)); diff != "" {
		t.Fatalf("after revert (-before +after):\n%s", diff)
	}
	n := f.mutating()
	r.must(standbyID, "revert")
	if got := f.mutating() - n; got != 0 {
		t.Errorf("second revert made %d mutating calls, want 0", got)
	}
}

func TestRestoreWithNothingRecordedIsANoOp(t *testing.T) {
	f := newGroup(t, 1, 4, 2)
	before := f.shape(t)
	r := newRun(t, f)
	r.must(standbyID, "revert")
	r.must(resumeID, "apply")
	if got := len(f.rec.Calls()); got != 0 {
		t.Errorf("restore without a record made %d calls, want 0: %v", got, f.rec.Calls())
	}
	if diff := cmp.Diff(before, f.shape(t)); diff != "" {
		t.Errorf("group changed (-before +after):\n%s", diff)
	}
}

func TestStandbyMovesAtMostTwentyInstancesPerCall(t *testing.T) {
	f := newGroup(t, 2, 30, 25)
	before := f.shape(t)
	r := newRun(t, f)
	r.must(standbyID, "apply")
	if diff := cmp.Diff(map[string]int{"Standby": 25}, f.shape(t).States); diff != "" {
		t.Fatalf("states after standby (-want +got):\n%s", diff)
	}
	r.must(resumeID, "apply")
	if diff := cmp.Diff(before, f.shape(t)); diff != "" {
		t.Fatalf("after resume (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(map[string][]int{"EnterStandby": {20, 5}, "ExitStandby": {20, 5}}, f.rules.batches); diff != "" {
		t.Errorf("instances per call (-want +got):\n%s", diff)
	}
	count := map[string]int{}
	for _, c := range f.rec.Calls() {
		count[c.Operation]++
	}
	if count["EnterStandby"] != 2 || count["ExitStandby"] != 2 {
		t.Errorf("recorded calls = %v, want 2 EnterStandby and 2 ExitStandby", count)
	}
}

// The rules the other tests rely on must themselves refuse: a negative
// control.
func TestAWSRulesRefuseStandbyBelowMinSize(t *testing.T) {
	f := newGroup(t, 2, 6, 3)
	g := f.rules.group(context.Background(), f.name)
	var ids []string
	for _, in := range g.Instances {
		ids = append(ids, aws.ToString(in.InstanceId))
	}
	_, err := f.rules.EnterStandby(context.Background(), &autoscaling.EnterStandbyInput{
		AutoScalingGroupName: aws.String(f.name), InstanceIds: ids, ShouldDecrementDesiredCapacity: aws.Bool(true),
	})
	if err == nil {
		t.Fatal("EnterStandby below MinSize accepted; the AWS rules are not enforced")
	}
}

func TestStandbyRefusesAnInServiceInstanceOutsideTheRecord(t *testing.T) {
	f := newGroup(t, 0, 6, 3)
	r := newRun(t, f)
	g := f.rules.group(context.Background(), f.name)
	var ids []string
	for _, in := range g.Instances {
		ids = append(ids, aws.ToString(in.InstanceId))
	}
	// A record made when only two instances were in service: the third came
	// up afterwards.
	r.values[standbyID] = map[string]string{
		KeyMin: "0", KeyMax: "6", KeyDesired: "2", KeySuspended: "",
		KeyInstances: strings.Join(ids[:2], ","), KeyStartedAt: time.Now().UTC().Format(time.RFC3339Nano),
	}
	err := r.do(standbyID, "apply")
	if err == nil || !strings.Contains(err.Error(), ids[2]) {
		t.Fatalf("standby = %v, want an error naming %s", err, ids[2])
	}
}
