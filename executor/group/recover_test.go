package group

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
)

// standbyTagsOnAWS returns the group's envmig tags and how many of its
// instances carry the instance tag.
func (f *fixture) standbyTagsOnAWS(t *testing.T) (map[string]string, int) {
	t.Helper()
	ctx := context.Background()
	out, err := f.asg.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{f.name}})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	var ids []string
	for _, g := range out.AutoScalingGroups {
		for _, tg := range g.Tags {
			if strings.HasPrefix(aws.ToString(tg.Key), "envmig:") {
				tags[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
		}
		ids = instanceIDs(&g)
	}
	it, err := f.ec2.DescribeTags(ctx, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{
		{Name: aws.String("key"), Values: []string{TagStandby}}, {Name: aws.String("resource-id"), Values: ids},
	}})
	if err != nil {
		t.Fatal(err)
	}
	return tags, len(it.Tags)
}

// healthy asserts that every instance of the group is registered and
// healthy in its target group.
func (f *fixture) healthy(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	out, err := f.elbv2.DescribeTargetHealth(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(f.tg)})
	if err != nil {
		t.Fatal(err)
	}
	g := f.rules.group(ctx, f.name)
	ids := instanceIDs(g)
	if bad := targetHealth(out, ids); len(ids) == 0 || len(bad) > 0 {
		t.Errorf("target group health of %v: %v", ids, bad)
	}
}

func TestResumeRemovesTheStandbyTagsAndLeavesEveryInstanceHealthy(t *testing.T) {
	f := newGroup(t, 1, 4, 2)
	r := newRun(t, f)
	r.must(standbyID, "apply")
	tags, n := f.standbyTagsOnAWS(t)
	if !strings.HasPrefix(tags[TagStandby], "run=run1;min=1;max=4;desired=2;at=") || n != 2 {
		t.Fatalf("after standby: group tags %v, %d instances tagged; want the record and 2", tags, n)
	}
	r.must(resumeID, "apply")
	if tags, n := f.standbyTagsOnAWS(t); len(tags) != 0 || n != 0 {
		t.Errorf("after resume: group tags %v, %d instances tagged; want none", tags, n)
	}
	f.healthy(t)
}

// A dead CI runner: the journal is gone, the group is in Standby. The
// finder names the run and what it recorded; Recover, from the tags alone,
// brings the group back exactly.
func TestRecoverFromTheTagsAloneRestoresTheGroupExactly(t *testing.T) {
	f := newGroup(t, 2, 6, 3, "AZRebalance")
	before := f.shape(t)
	r := newRun(t, f)
	r.must(standbyID, "apply")
	standby := f.shape(t)
	r = nil // the journal is lost

	g := f.groups(fast)
	found, err := g.FindStandby(context.Background(), []string{"absent", f.name})
	if err != nil {
		t.Fatal(err)
	}
	if len(found) != 1 {
		t.Fatalf("found %+v, want the group", found)
	}
	got := found[0]
	if got.Group != f.name || got.Run != "run1" || got.Err != nil || got.Record.Min != 2 || got.Record.Max != 6 || got.Record.Desired != 3 ||
		!cmp.Equal(got.Record.Suspended, []string{"AZRebalance"}) || len(got.Record.Instances) != 3 || got.Record.StartedAt.IsZero() {
		t.Errorf("found = %+v", got)
	}
	if diff := cmp.Diff(Shape(standby), got.Now); diff != "" {
		t.Errorf("found.Now (-group +found):\n%s", diff)
	}

	if err := g.Recover(context.Background(), f.name, "other-run", nil); err == nil || !strings.Contains(err.Error(), "run1") {
		t.Errorf("recover for another run = %v, want a refusal naming run1", err)
	}
	var progress []executor.Progress
	if err := g.Recover(context.Background(), f.name, "run1", func(p executor.Progress) { progress = append(progress, p) }); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(before, f.shape(t)); diff != "" {
		t.Fatalf("after recover (-before +after):\n%s", diff)
	}
	if tags, n := f.standbyTagsOnAWS(t); len(tags) != 0 || n != 0 {
		t.Errorf("after recover: group tags %v, %d instances tagged", tags, n)
	}
	f.healthy(t)
	if len(progress) == 0 {
		t.Error("recover reported no progress")
	}
	n := f.mutating()
	if err := g.Recover(context.Background(), f.name, "", nil); !errors.Is(err, ErrNotTagged) {
		t.Errorf("second recover = %v, want ErrNotTagged", err)
	}
	if got := f.mutating() - n; got != 0 {
		t.Errorf("second recover made %d mutating calls", got)
	}
	if found, err := g.FindStandby(context.Background(), []string{f.name}); err != nil || len(found) != 0 {
		t.Errorf("finder after recover = %+v, %v; want nothing", found, err)
	}
}

// A standby step re-run after its journal record was lost (the tags were
// written) takes the record from its own tags, never from the group as it
// is now.
func TestStandbyReRunWithoutItsRecordTakesItFromItsOwnTags(t *testing.T) {
	f := newGroup(t, 2, 6, 3)
	before := f.shape(t)
	r := newRun(t, f)
	r.must(standbyID, "apply")
	r.values[standbyID] = map[string]string{}
	r.must(standbyID, "apply")
	rec, ok, err := ReadRecord(func(k string) string { return r.values[standbyID][k] })
	if err != nil || !ok || rec.Min != 2 || rec.Desired != 3 || len(rec.Instances) != 3 {
		t.Fatalf("re-recorded %+v ok=%v err=%v; want the group as it was", rec, ok, err)
	}
	r.must(resumeID, "apply")
	if diff := cmp.Diff(before, f.shape(t)); diff != "" {
		t.Fatalf("after resume (-before +after):\n%s", diff)
	}
}

// Another run's standby: the group as it is now must never be recorded.
func TestStandbyRefusesAGroupTaggedByAnotherRunOnMoto(t *testing.T) {
	f := newGroup(t, 2, 6, 3)
	first := newRun(t, f)
	first.must(standbyID, "apply")
	second := newRun(t, f)
	second.p.Lineage = "run2"
	n := f.mutating()
	err := second.do(standbyID, "apply")
	if err == nil || !strings.Contains(err.Error(), "run1") {
		t.Fatalf("second run's standby = %v, want a refusal naming run1", err)
	}
	if got := f.mutating() - n; got != 0 || len(second.values[standbyID]) != 0 {
		t.Errorf("refused standby made %d mutating calls and recorded %v", got, second.values[standbyID])
	}
}

func TestRestoreOfAGroupThatVanishedSaysSo(t *testing.T) {
	f := newGroup(t, 1, 4, 2)
	r := newRun(t, f)
	r.must(standbyID, "apply")
	if _, err := f.asg.DeleteAutoScalingGroup(context.Background(), &autoscaling.DeleteAutoScalingGroupInput{AutoScalingGroupName: aws.String(f.name), ForceDelete: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	err := r.do(resumeID, "apply")
	if !errors.Is(err, ErrNoGroup) || !strings.Contains(err.Error(), f.name) {
		t.Fatalf("resume = %v, want ErrNoGroup naming %s", err, f.name)
	}
}
