package switches

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/envmig/envmig/executor"
)

// Every field UpdateSchedule takes, except ClientToken and State, is
// carried from GetSchedule: a field the SDK adds later fails this test
// until ScheduleUpdate carries it.
func TestScheduleUpdateCarriesEveryField(t *testing.T) {
	cur := &scheduler.GetScheduleOutput{}
	out := reflect.ValueOf(cur).Elem()
	for i := range out.NumField() {
		f := out.Field(i)
		if !f.CanSet() {
			continue
		}
		switch f.Kind() {
		case reflect.Pointer:
			f.Set(reflect.New(f.Type().Elem()))
		case reflect.String:
			f.SetString("x")
		}
	}
	in := reflect.ValueOf(ScheduleUpdate(cur, schedtypes.ScheduleStateDisabled)).Elem()
	for i := range in.NumField() {
		name := in.Type().Field(i).Name
		if name == "ClientToken" || name == "State" || !in.Field(i).CanSet() {
			continue
		}
		if in.Field(i).IsZero() {
			t.Errorf("UpdateScheduleInput.%s is not carried from GetSchedule", name)
		}
	}
}

// fakeMapping moves through Disabling/Enabling for `settle` reads.
type fakeMapping struct {
	state  string
	next   string
	left   int
	settle int
	tags   map[string]string
}

func (f *fakeMapping) GetEventSourceMapping(context.Context, *lambda.GetEventSourceMappingInput, ...func(*lambda.Options)) (*lambda.GetEventSourceMappingOutput, error) {
	if f.left > 0 {
		f.left--
		if f.left == 0 {
			f.state = f.next
		}
	}
	return &lambda.GetEventSourceMappingOutput{State: aws.String(f.state), EventSourceMappingArn: aws.String("arn:esm")}, nil
}

func (f *fakeMapping) UpdateEventSourceMapping(_ context.Context, in *lambda.UpdateEventSourceMappingInput, _ ...func(*lambda.Options)) (*lambda.UpdateEventSourceMappingOutput, error) {
	if aws.ToBool(in.Enabled) {
		f.state, f.next = "Enabling", MappingEnabled
	} else {
		f.state, f.next = "Disabling", MappingDisabled
	}
	f.left = f.settle
	return &lambda.UpdateEventSourceMappingOutput{}, nil
}

func (f *fakeMapping) ListTags(context.Context, *lambda.ListTagsInput, ...func(*lambda.Options)) (*lambda.ListTagsOutput, error) {
	return &lambda.ListTagsOutput{Tags: f.tags}, nil
}

func (f *fakeMapping) TagResource(_ context.Context, in *lambda.TagResourceInput, _ ...func(*lambda.Options)) (*lambda.TagResourceOutput, error) {
	for k, v := range in.Tags {
		f.tags[k] = v
	}
	return &lambda.TagResourceOutput{}, nil
}

func (f *fakeMapping) UntagResource(_ context.Context, in *lambda.UntagResourceInput, _ ...func(*lambda.Options)) (*lambda.UntagResourceOutput, error) {
	for _, k := range in.TagKeys {
		delete(f.tags, k)
	}
	return &lambda.UntagResourceOutput{}, nil
}

func TestMappingWaitsForTheStateAndRecordsOnlyASettledOne(t *testing.T) {
	// Found Enabling: it is waited for, and recorded Enabled.
	f := &fakeMapping{state: "Enabling", next: MappingEnabled, left: 3, settle: 3, tags: map[string]string{}}
	j := newJournal("run1")
	var beats int
	sc := j.sc(offID, "apply")
	sc.TestHooks(nil, nil, func(p executor.Progress) {
		if strings.HasPrefix(p.Message, "waiting") {
			beats++
		}
	})
	m := NewMappings(f, fast)
	if err := m.Off(context.Background(), sc, "u-1"); err != nil {
		t.Fatal(err)
	}
	if j.values[offID][KeyState] != MappingEnabled || f.state != MappingDisabled {
		t.Fatalf("recorded %v, state %s", j.values[offID], f.state)
	}
	if beats != 3 { // one while it settles into Enabled, two while Disabling
		t.Errorf("%d waiting heartbeats, want one per unsettled read", beats)
	}
	if err := m.On(context.Background(), j.sc(onID, "apply"), "u-1", j.offGet); err != nil {
		t.Fatal(err)
	}
	if f.state != MappingEnabled || len(f.tags) != 0 {
		t.Errorf("state %s tags %v", f.state, f.tags)
	}
}

func TestMappingThatNeverSettlesFailsResumably(t *testing.T) {
	f := &fakeMapping{state: MappingEnabled, settle: 1 << 30, tags: map[string]string{}}
	j := newJournal("run1")
	err := NewMappings(f, Options{MinDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxWait: 20 * time.Millisecond}).Off(context.Background(), j.sc(offID, "apply"), "u-1")
	if err == nil || !strings.Contains(err.Error(), "envmig resume") || !strings.Contains(err.Error(), "Disabling") {
		t.Fatalf("off = %v, want a timeout saying the state and the way on", err)
	}
	if j.values[offID][KeyRecordedAt] == "" {
		t.Error("the record is missing after the timeout")
	}
}

// fakeECS drains its running tasks one per read.
type fakeECS struct {
	desired, running int32
	reads            int
}

func (f *fakeECS) DescribeServices(context.Context, *ecs.DescribeServicesInput, ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error) {
	f.reads++
	switch {
	case f.running > f.desired:
		f.running--
	case f.running < f.desired:
		f.running++
	}
	sv := ecstypes.Service{ServiceName: aws.String("worker"), ServiceArn: aws.String("arn:svc"), Status: aws.String("ACTIVE"),
		DesiredCount: f.desired, RunningCount: f.running, Deployments: []ecstypes.Deployment{{}}}
	return &ecs.DescribeServicesOutput{Services: []ecstypes.Service{sv}}, nil
}

func (f *fakeECS) UpdateService(_ context.Context, in *ecs.UpdateServiceInput, _ ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error) {
	f.desired = aws.ToInt32(in.DesiredCount)
	return &ecs.UpdateServiceOutput{}, nil
}

func (f *fakeECS) TagResource(context.Context, *ecs.TagResourceInput, ...func(*ecs.Options)) (*ecs.TagResourceOutput, error) {
	return &ecs.TagResourceOutput{}, nil
}

func (f *fakeECS) UntagResource(context.Context, *ecs.UntagResourceInput, ...func(*ecs.Options)) (*ecs.UntagResourceOutput, error) {
	return &ecs.UntagResourceOutput{}, nil
}

func TestServiceWaitsWithTheSDKWaiterUntilTheTasksStopAndStart(t *testing.T) {
	f := &fakeECS{desired: 3, running: 3}
	s := NewServices(f, noScaling{}, fast)
	j := newJournal("run1")
	if err := s.Off(context.Background(), j.sc(offID, "apply"), "shop/worker"); err != nil {
		t.Fatal(err)
	}
	if f.running != 0 {
		t.Fatalf("off returned with %d tasks running", f.running)
	}
	if err := s.On(context.Background(), j.sc(onID, "apply"), "shop/worker", j.offGet); err != nil {
		t.Fatal(err)
	}
	if f.desired != 3 || f.running != 3 {
		t.Fatalf("on returned with desired %d, running %d", f.desired, f.running)
	}
}

// noScaling is an Application Auto Scaling without targets.
type noScaling struct{}

func (noScaling) DescribeScalableTargets(context.Context, *aas.DescribeScalableTargetsInput, ...func(*aas.Options)) (*aas.DescribeScalableTargetsOutput, error) {
	return &aas.DescribeScalableTargetsOutput{}, nil
}

func (noScaling) RegisterScalableTarget(context.Context, *aas.RegisterScalableTargetInput, ...func(*aas.Options)) (*aas.RegisterScalableTargetOutput, error) {
	panic("no target to register")
}
