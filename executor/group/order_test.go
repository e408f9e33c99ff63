package group

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/envmig/envmig/executor"
)

// mutations lists the mutating calls of log, in order.
func mutations(log []string) []string {
	var out []string
	for _, e := range log {
		if strings.HasPrefix(e, "call:") && !strings.HasPrefix(e, "call:Describe") {
			out = append(out, strings.TrimPrefix(e, "call:"))
		}
	}
	return out
}

func standbyOnFakes(t *testing.T, fake *fakeASG, e *fakeEC2, tg *fakeTargets, o Options) map[string]string {
	t.Helper()
	var progress []executor.Progress
	values := map[string]string{}
	sc := stepContext("apply", values, fake.log, &progress)
	if err := stubGroups(fake, e, tg, o).Standby(context.Background(), sc, "web"); err != nil {
		t.Fatalf("standby: %v", err)
	}
	return values
}

// The journal, then the tags on AWS, then the first change to the group:
// a run whose journal is lost after any change can be recovered from AWS.
func TestStandbyRecordsAndTagsBeforeTheFirstMutatingCall(t *testing.T) {
	var log []string
	fake := newFake(&log, 1, "i-1", "i-2")
	fake.suspended = []string{"AZRebalance"}
	e := newFakeEC2(&log)
	var values map[string]string
	journaled := false
	fake.onTag = func() { journaled = values[KeyStartedAt] != "" }
	var progress []executor.Progress
	values = map[string]string{}
	sc := stepContext("apply", values, &log, &progress)
	if err := stubGroups(fake, e, nil, fast).Standby(context.Background(), sc, "web"); err != nil {
		t.Fatal(err)
	}
	m := mutations(log)
	if len(m) < 3 || m[0] != "CreateOrUpdateTags" || m[1] != "ec2.CreateTags" || m[2] != "SuspendProcesses" {
		t.Fatalf("mutating calls = %v, want the group's tags, the instances' tags, then SuspendProcesses", m)
	}
	if !journaled {
		t.Error("the group was tagged before the journal held the complete record")
	}
	if got := fake.tags[TagStandby]; !strings.HasPrefix(got, "run=run1;min=2;max=6;desired=2;at=") {
		t.Errorf("%s = %q", TagStandby, got)
	}
	if got := fake.tags[TagSuspended]; got != "AZRebalance" {
		t.Errorf("%s = %q, want the processes suspended before", TagSuspended, got)
	}
	for _, id := range []string{"i-1", "i-2"} {
		if got := e.tags[id][TagStandby]; got != "run1" {
			t.Errorf("instance %s tag = %q, want run1", id, got)
		}
	}
	if !slices.Contains(fake.suspended, "InstanceRefresh") {
		t.Errorf("suspended = %v, want InstanceRefresh among them", fake.suspended)
	}
}

// On AWS an instance that leaves Standby while AddToLoadBalancer is
// suspended is never registered with the target groups: the processes go
// back first, then the instances, then the sizes.
func TestRestoreResumesAddToLoadBalancerBeforeExitStandby(t *testing.T) {
	var log []string
	fake := newFake(&log, 2, "i-1", "i-2", "i-3")
	e := newFakeEC2(&log)
	tg := &fakeTargets{ids: []string{"i-1", "i-2", "i-3"}, healthyAfter: 0}
	fake.tgs = []string{"arn:tg/web"}
	values := standbyOnFakes(t, fake, e, tg, fast)

	log = log[:0]
	var resumedAt, exitAt = -1, -1
	var progress []executor.Progress
	sc := stepContext("revert", values, &log, &progress)
	if err := stubGroups(fake, e, tg, fast).Restore(context.Background(), sc, "web", sc.Value); err != nil {
		t.Fatal(err)
	}
	m := mutations(log)
	resumedAt, exitAt = slices.Index(m, "ResumeProcesses"), slices.Index(m, "ExitStandby")
	if resumedAt < 0 || exitAt < 0 || resumedAt > exitAt {
		t.Fatalf("mutating calls = %v: AddToLoadBalancer must be resumed before ExitStandby", m)
	}
	if u := slices.Index(m, "UpdateAutoScalingGroup"); u < exitAt {
		t.Errorf("mutating calls = %v: the sizes go back after the instances left Standby", m)
	}
	if len(fake.suspended) != 0 || fake.min != 2 || fake.max != 6 || fake.desired != 3 {
		t.Errorf("group: suspended %v min %d max %d desired %d", fake.suspended, fake.min, fake.max, fake.desired)
	}
	if len(fake.tags) != 0 || len(e.tags["i-1"]) != 0 {
		t.Errorf("tags left: group %v, i-1 %v", fake.tags, e.tags["i-1"])
	}
}

func TestRestoreWaitsUntilEveryInstanceIsHealthyInItsTargetGroups(t *testing.T) {
	var log []string
	fake := newFake(&log, 1, "i-1", "i-2")
	fake.tgs = []string{"arn:tg/web"}
	e := newFakeEC2(&log)
	tg := &fakeTargets{ids: []string{"i-1", "i-2"}, healthyAfter: 3}
	values := standbyOnFakes(t, fake, e, tg, fast)
	var progress []executor.Progress
	sc := stepContext("revert", values, &log, &progress)
	if err := stubGroups(fake, e, tg, fast).Restore(context.Background(), sc, "web", sc.Value); err != nil {
		t.Fatal(err)
	}
	if tg.polls != 4 {
		t.Errorf("target health read %d times, want 4 (healthy after 3)", tg.polls)
	}
	waited := 0
	for _, p := range progress {
		if strings.Contains(p.Message, "to be healthy in target group arn:tg/web") {
			waited++
		}
	}
	if waited != 3 {
		t.Errorf("%d health heartbeats, want 3: %v", waited, progress)
	}
	if len(fake.tags) != 0 {
		t.Errorf("the tags were removed before health was confirmed, or not at all: %v", fake.tags)
	}
}

func TestRestoreHealthTimeoutNamesEachInstanceAndItsReason(t *testing.T) {
	var log []string
	fake := newFake(&log, 1, "i-1", "i-2")
	fake.tgs = []string{"arn:tg/web"}
	e := newFakeEC2(&log)
	tg := &fakeTargets{ids: []string{"i-1"}, healthyAfter: -1} // i-2 never registered
	o := Options{MinDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxWait: time.Second, HealthWait: 30 * time.Millisecond}
	values := standbyOnFakes(t, fake, e, tg, o)
	var progress []executor.Progress
	sc := stepContext("revert", values, &log, &progress)
	err := stubGroups(fake, e, tg, o).Restore(context.Background(), sc, "web", sc.Value)
	var he *HealthError
	if !errors.As(err, &he) {
		t.Fatalf("restore = %v, want a *HealthError", err)
	}
	for _, want := range []string{"i-1: unhealthy (Target.FailedHealthChecks: Health checks failed)", "i-2: not registered", "arn:tg/web", "envmig resume"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if fake.tags[TagStandby] == "" {
		t.Error("the standby tags were removed although the restore failed")
	}
	// The group itself is back: only the health is missing.
	if fake.desired != 2 || len(fake.suspended) != 0 {
		t.Errorf("group: desired %d suspended %v", fake.desired, fake.suspended)
	}
}

func TestStandbyRefusesAGroupWithAnInstanceRefreshUnderWay(t *testing.T) {
	for _, st := range []types.InstanceRefreshStatus{types.InstanceRefreshStatusInProgress, types.InstanceRefreshStatusPending, types.InstanceRefreshStatusCancelling} {
		t.Run(string(st), func(t *testing.T) {
			var log []string
			fake := newFake(&log, 1, "i-1")
			fake.refreshes = []types.InstanceRefresh{
				{InstanceRefreshId: aws.String("old"), Status: types.InstanceRefreshStatusSuccessful},
				{InstanceRefreshId: aws.String("ref-123"), Status: st, PercentageComplete: aws.Int32(40)},
			}
			var progress []executor.Progress
			values := map[string]string{}
			sc := stepContext("apply", values, &log, &progress)
			err := stubGroups(fake, newFakeEC2(&log), nil, fast).Standby(context.Background(), sc, "web")
			if err == nil || !strings.Contains(err.Error(), "ref-123") || !strings.Contains(err.Error(), string(st)) {
				t.Fatalf("standby = %v, want a refusal naming refresh ref-123 and %s", err, st)
			}
			if m := mutations(log); len(m) != 0 || len(values) != 0 {
				t.Errorf("refused standby made calls %v and recorded %v", m, values)
			}
		})
	}
}

func TestStandbyRefusesAGroupInAnotherRunsStandby(t *testing.T) {
	var log []string
	fake := newFake(&log, 1, "i-1")
	fake.min, fake.desired = 0, 0
	fake.tags[TagStandby] = "run=9f8e7d6c;min=2;max=6;desired=1;at=2026-01-02T03:04:05Z"
	fake.tags[TagSuspended] = ""
	var progress []executor.Progress
	values := map[string]string{}
	sc := stepContext("apply", values, &log, &progress)
	err := stubGroups(fake, newFakeEC2(&log), nil, fast).Standby(context.Background(), sc, "web")
	if err == nil || !strings.Contains(err.Error(), "9f8e7d6c") || !strings.Contains(err.Error(), "envmig recover") {
		t.Fatalf("standby = %v, want a refusal naming run 9f8e7d6c and the way out", err)
	}
	if m := mutations(log); len(m) != 0 || len(values) != 0 {
		t.Errorf("refused standby made calls %v and recorded %v", m, values)
	}
}
