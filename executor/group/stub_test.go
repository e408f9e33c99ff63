package group

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/envmig/envmig/executor"
)

// fakeASG is an in-memory group whose instances take `settle` observations
// to finish entering or leaving Standby, as AWS's do.
type fakeASG struct {
	name              string
	min, max, desired int32
	suspended         []string
	ids               []string
	state             map[string]types.LifecycleState
	left              map[string]int // observations until the instance settles
	settle            int
	log               *[]string
	tags              map[string]string
	refreshes         []types.InstanceRefresh
	tgs               []string
	// onTag, when set, is called by CreateOrUpdateTags (to look at the
	// journal at that moment).
	onTag func()
}

func newFake(log *[]string, settle int, ids ...string) *fakeASG {
	f := &fakeASG{name: "web", min: 2, max: 6, desired: int32(len(ids)), ids: ids, settle: settle, log: log,
		state: map[string]types.LifecycleState{}, left: map[string]int{}, tags: map[string]string{}}
	for _, id := range ids {
		f.state[id] = types.LifecycleStateInService
	}
	return f
}

func (f *fakeASG) event(s string) { *f.log = append(*f.log, s) }

func (f *fakeASG) DescribeAutoScalingGroups(_ context.Context, _ *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	f.event("call:DescribeAutoScalingGroups")
	g := types.AutoScalingGroup{AutoScalingGroupName: aws.String(f.name), MinSize: aws.Int32(f.min), MaxSize: aws.Int32(f.max), DesiredCapacity: aws.Int32(f.desired), TargetGroupARNs: f.tgs}
	for k, v := range f.tags {
		g.Tags = append(g.Tags, types.TagDescription{Key: aws.String(k), Value: aws.String(v)})
	}
	for _, p := range f.suspended {
		g.SuspendedProcesses = append(g.SuspendedProcesses, types.SuspendedProcess{ProcessName: aws.String(p)})
	}
	for _, id := range f.ids {
		if f.left[id] > 0 {
			f.left[id]--
			if f.left[id] == 0 {
				switch f.state[id] {
				case types.LifecycleStateEnteringStandby:
					f.state[id] = types.LifecycleStateStandby
				case types.LifecycleStatePending:
					f.state[id] = types.LifecycleStateInService
				}
			}
		}
		g.Instances = append(g.Instances, types.Instance{InstanceId: aws.String(id), LifecycleState: f.state[id]})
	}
	return &autoscaling.DescribeAutoScalingGroupsOutput{AutoScalingGroups: []types.AutoScalingGroup{g}}, nil
}

func (f *fakeASG) SuspendProcesses(_ context.Context, in *autoscaling.SuspendProcessesInput, _ ...func(*autoscaling.Options)) (*autoscaling.SuspendProcessesOutput, error) {
	f.event("call:SuspendProcesses")
	f.suspended = append(f.suspended, in.ScalingProcesses...)
	return &autoscaling.SuspendProcessesOutput{}, nil
}

func (f *fakeASG) ResumeProcesses(_ context.Context, in *autoscaling.ResumeProcessesInput, _ ...func(*autoscaling.Options)) (*autoscaling.ResumeProcessesOutput, error) {
	f.event("call:ResumeProcesses")
	f.suspended = slices.DeleteFunc(f.suspended, func(p string) bool { return slices.Contains(in.ScalingProcesses, p) })
	return &autoscaling.ResumeProcessesOutput{}, nil
}

func (f *fakeASG) UpdateAutoScalingGroup(_ context.Context, in *autoscaling.UpdateAutoScalingGroupInput, _ ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error) {
	f.event("call:UpdateAutoScalingGroup")
	if in.MinSize != nil {
		f.min = *in.MinSize
	}
	if in.MaxSize != nil {
		f.max = *in.MaxSize
	}
	if in.DesiredCapacity != nil {
		f.desired = *in.DesiredCapacity
	}
	return &autoscaling.UpdateAutoScalingGroupOutput{}, nil
}

func (f *fakeASG) EnterStandby(_ context.Context, in *autoscaling.EnterStandbyInput, _ ...func(*autoscaling.Options)) (*autoscaling.EnterStandbyOutput, error) {
	f.event("call:EnterStandby")
	for _, id := range in.InstanceIds {
		f.state[id], f.left[id] = types.LifecycleStateEnteringStandby, f.settle
		f.desired--
	}
	return &autoscaling.EnterStandbyOutput{}, nil
}

func (f *fakeASG) ExitStandby(_ context.Context, in *autoscaling.ExitStandbyInput, _ ...func(*autoscaling.Options)) (*autoscaling.ExitStandbyOutput, error) {
	f.event("call:ExitStandby")
	for _, id := range in.InstanceIds {
		f.state[id], f.left[id] = types.LifecycleStatePending, f.settle
		f.desired++
	}
	return &autoscaling.ExitStandbyOutput{}, nil
}

func (f *fakeASG) DescribeInstanceRefreshes(_ context.Context, _ *autoscaling.DescribeInstanceRefreshesInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeInstanceRefreshesOutput, error) {
	f.event("call:DescribeInstanceRefreshes")
	return &autoscaling.DescribeInstanceRefreshesOutput{InstanceRefreshes: f.refreshes}, nil
}

func (f *fakeASG) CreateOrUpdateTags(_ context.Context, in *autoscaling.CreateOrUpdateTagsInput, _ ...func(*autoscaling.Options)) (*autoscaling.CreateOrUpdateTagsOutput, error) {
	f.event("call:CreateOrUpdateTags")
	if f.onTag != nil {
		f.onTag()
	}
	for _, t := range in.Tags {
		f.tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return &autoscaling.CreateOrUpdateTagsOutput{}, nil
}

func (f *fakeASG) DeleteTags(_ context.Context, in *autoscaling.DeleteTagsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DeleteTagsOutput, error) {
	f.event("call:DeleteTags")
	for _, t := range in.Tags {
		delete(f.tags, aws.ToString(t.Key))
	}
	return &autoscaling.DeleteTagsOutput{}, nil
}

// fakeEC2 keeps instance tags.
type fakeEC2 struct {
	log  *[]string
	tags map[string]map[string]string // instance -> key -> value
}

func newFakeEC2(log *[]string) *fakeEC2 {
	return &fakeEC2{log: log, tags: map[string]map[string]string{}}
}

func (f *fakeEC2) DescribeTags(_ context.Context, in *ec2.DescribeTagsInput, _ ...func(*ec2.Options)) (*ec2.DescribeTagsOutput, error) {
	var ids []string
	for _, fl := range in.Filters {
		if aws.ToString(fl.Name) == "resource-id" {
			ids = fl.Values
		}
	}
	out := &ec2.DescribeTagsOutput{}
	for _, id := range ids {
		for k, v := range f.tags[id] {
			out.Tags = append(out.Tags, ec2types.TagDescription{ResourceId: aws.String(id), Key: aws.String(k), Value: aws.String(v)})
		}
	}
	return out, nil
}

func (f *fakeEC2) CreateTags(_ context.Context, in *ec2.CreateTagsInput, _ ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error) {
	*f.log = append(*f.log, "call:ec2.CreateTags")
	for _, id := range in.Resources {
		if f.tags[id] == nil {
			f.tags[id] = map[string]string{}
		}
		for _, t := range in.Tags {
			f.tags[id][aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}
	return &ec2.CreateTagsOutput{}, nil
}

func (f *fakeEC2) DeleteTags(_ context.Context, in *ec2.DeleteTagsInput, _ ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error) {
	*f.log = append(*f.log, "call:ec2.DeleteTags")
	for _, id := range in.Resources {
		for _, t := range in.Tags {
			delete(f.tags[id], aws.ToString(t.Key))
		}
	}
	return &ec2.DeleteTagsOutput{}, nil
}

// fakeTargets is a target group whose targets turn healthy after
// `healthyAfter` observations (never when negative).
type fakeTargets struct {
	ids          []string
	healthyAfter int
	polls        int
}

func (f *fakeTargets) DescribeTargetHealth(_ context.Context, _ *elbv2.DescribeTargetHealthInput, _ ...func(*elbv2.Options)) (*elbv2.DescribeTargetHealthOutput, error) {
	f.polls++
	out := &elbv2.DescribeTargetHealthOutput{}
	for _, id := range f.ids {
		h := &elbv2types.TargetHealth{State: elbv2types.TargetHealthStateEnumUnhealthy, Reason: elbv2types.TargetHealthReasonEnumFailedHealthChecks, Description: aws.String("Health checks failed")}
		if f.healthyAfter >= 0 && f.polls > f.healthyAfter {
			h = &elbv2types.TargetHealth{State: elbv2types.TargetHealthStateEnumHealthy}
		}
		out.TargetHealthDescriptions = append(out.TargetHealthDescriptions, elbv2types.TargetHealthDescription{Target: &elbv2types.TargetDescription{Id: aws.String(id), Port: aws.Int32(80)}, TargetHealth: h})
	}
	return out, nil
}

// stubGroups builds the cores over the fakes.
func stubGroups(asg *fakeASG, e *fakeEC2, tg *fakeTargets, o Options) *Groups {
	c := Clients{ASG: asg, EC2: e}
	if tg != nil {
		c.ELBv2 = tg
	}
	return New(c, o)
}

// stepContext returns a context whose hook and progress go to log.
func stepContext(op string, values map[string]string, log *[]string, progress *[]executor.Progress) *executor.StepContext {
	p := testPlan("web")
	step, _ := p.Step(standbyID)
	sc := executor.NewStepContext(p, step, op, values)
	sc.TestHooks(nil, func(point string) { *log = append(*log, "hook:"+point) }, func(pr executor.Progress) { *progress = append(*progress, pr) })
	return sc
}

// checkAccepted asserts that every mutating call is followed at once by the
// accepted crash point, and that there is no other accepted point.
func checkAccepted(t *testing.T, log []string) {
	t.Helper()
	calls, accepted := 0, 0
	for i, e := range log {
		switch {
		case e == "hook:"+executor.PointAccepted:
			accepted++
		case strings.HasPrefix(e, "call:") && !strings.HasPrefix(e, "call:Describe"):
			calls++
			if i+1 >= len(log) || log[i+1] != "hook:"+executor.PointAccepted {
				t.Errorf("%s at %d is not followed by the accepted crash point: %v", e, i, log[i:])
			}
		}
	}
	if calls == 0 || accepted != calls {
		t.Errorf("%d mutating calls, %d accepted points; want equal and > 0", calls, accepted)
	}
}

func TestStandbyReportsWhileWaitingAndMarksEveryAcceptedCall(t *testing.T) {
	var log []string
	var progress []executor.Progress
	fake := newFake(&log, 3, "i-1", "i-2")
	values := map[string]string{}
	h := stubGroups(fake, newFakeEC2(&log), nil, fast).Handlers()
	sc := stepContext("apply", values, &log, &progress)
	if err := h[sc.Step.Action].Apply(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	checkAccepted(t, log)
	enter := slices.Index(log, "call:EnterStandby")
	waiting := slices.Index(log, "hook:"+executor.PointWaiting)
	if enter < 0 || waiting < enter {
		t.Errorf("no waiting crash point after EnterStandby: %v", log)
	}
	var msgs []string
	for _, p := range progress {
		msgs = append(msgs, p.Message)
	}
	if !slices.Contains(msgs, "waiting for 2 instances of web to reach Standby") {
		t.Errorf("progress = %q, want the waiting heartbeat", msgs)
	}
	if fake.state["i-1"] != types.LifecycleStateStandby || fake.state["i-2"] != types.LifecycleStateStandby {
		t.Errorf("states = %v, want both Standby", fake.state)
	}

	// The revert: processes, back InService, then sizes, then the tags,
	// each marked.
	log, progress = nil, nil
	sc = stepContext("revert", values, &log, &progress)
	if err := h[sc.Step.Action].Revert(context.Background(), sc); err != nil {
		t.Fatal(err)
	}
	checkAccepted(t, log)
	var order []string
	for _, e := range log {
		if strings.HasPrefix(e, "call:") && !strings.HasPrefix(e, "call:Describe") {
			order = append(order, e)
		}
	}
	want := []string{"call:ResumeProcesses", "call:ExitStandby", "call:UpdateAutoScalingGroup", "call:ec2.DeleteTags", "call:DeleteTags"}
	if !slices.Equal(order, want) {
		t.Errorf("revert calls = %v, want %v", order, want)
	}
	if fake.min != 2 || fake.max != 6 || fake.desired != 2 || len(fake.suspended) != 0 || len(fake.tags) != 0 {
		t.Errorf("group after revert: min %d max %d desired %d suspended %v tags %v", fake.min, fake.max, fake.desired, fake.suspended, fake.tags)
	}
}

func TestStandbyThatNeverSettlesFailsResumably(t *testing.T) {
	var log []string
	var progress []executor.Progress
	fake := newFake(&log, 1<<30, "i-1")
	h := stubGroups(fake, newFakeEC2(&log), nil, Options{MinDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxWait: 20 * time.Millisecond}).Handlers()
	values := map[string]string{}
	sc := stepContext("apply", values, &log, &progress)
	err := h[sc.Step.Action].Apply(context.Background(), sc)
	if err == nil || !strings.Contains(err.Error(), "envmig resume") {
		t.Fatalf("apply = %v, want a timeout that points to resume", err)
	}
	if values[KeyStartedAt] == "" {
		t.Errorf("the record is missing after a timeout: %v", values)
	}
}
