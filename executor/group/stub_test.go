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
}

func newFake(log *[]string, settle int, ids ...string) *fakeASG {
	f := &fakeASG{name: "web", min: 2, max: 6, desired: int32(len(ids)), ids: ids, settle: settle, log: log,
		state: map[string]types.LifecycleState{}, left: map[string]int{}}
	for _, id := range ids {
		f.state[id] = types.LifecycleStateInService
	}
	return f
}

func (f *fakeASG) event(s string) { *f.log = append(*f.log, s) }

func (f *fakeASG) DescribeAutoScalingGroups(_ context.Context, _ *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	f.event("call:DescribeAutoScalingGroups")
	g := types.AutoScalingGroup{AutoScalingGroupName: aws.String(f.name), MinSize: aws.Int32(f.min), MaxSize: aws.Int32(f.max), DesiredCapacity: aws.Int32(f.desired)}
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
	h := Handlers(fake, fast)
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

	// The revert: back InService, then sizes, then processes, each marked.
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
	want := []string{"call:ExitStandby", "call:UpdateAutoScalingGroup", "call:ResumeProcesses"}
	if !slices.Equal(order, want) {
		t.Errorf("revert calls = %v, want %v", order, want)
	}
	if fake.min != 2 || fake.max != 6 || fake.desired != 2 || len(fake.suspended) != 0 {
		t.Errorf("group after revert: min %d max %d desired %d suspended %v", fake.min, fake.max, fake.desired, fake.suspended)
	}
}

func TestStandbyThatNeverSettlesFailsResumably(t *testing.T) {
	var log []string
	var progress []executor.Progress
	fake := newFake(&log, 1<<30, "i-1")
	h := Handlers(fake, Options{MinDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxWait: 20 * time.Millisecond})
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
