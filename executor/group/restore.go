package group

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/envmig/envmig/executor"
)

// restore puts the group back as the standby step recorded it (get reads
// that record): recorded instances back to InService, sizes, then the
// processes envmig suspended. Nothing recorded: nothing to do.
func (g *groups) restore(ctx context.Context, sc *executor.StepContext, name string, get func(string) string) error {
	rec, ok, err := ReadRecord(get)
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if !ok {
		return nil
	}
	if err := g.exitStandby(ctx, sc, name, rec); err != nil {
		return err
	}
	grp, err := g.describe(ctx, name)
	if err != nil {
		return err
	}
	if err := g.restoreSizes(ctx, sc, grp, rec); err != nil {
		return err
	}
	return g.resumeOurs(ctx, sc, grp, rec)
}

// exitStandby moves the recorded instances in Standby back to InService,
// BatchSize at a time, and waits until every recorded instance still in the
// group is InService.
func (g *groups) exitStandby(ctx context.Context, sc *executor.StepContext, name string, rec Record) error {
	// An instance still entering Standby cannot exit it yet.
	err := g.wait(ctx, sc, name, "the instances of "+name+" to finish entering Standby", func(grp *types.AutoScalingGroup) (bool, string, error) {
		n := 0
		for _, id := range rec.Instances {
			if states(grp)[id] == types.LifecycleStateEnteringStandby {
				n++
			}
		}
		return n == 0, fmt.Sprintf("waiting for %d instances of %s to finish entering Standby", n, name), nil
	})
	if err != nil {
		return err
	}
	grp, err := g.describe(ctx, name)
	if err != nil {
		return err
	}
	st := states(grp)
	var todo []string
	for _, id := range rec.Instances {
		if st[id] == types.LifecycleStateStandby {
			todo = append(todo, id)
		}
	}
	done := 0
	for _, batch := range batches(todo) {
		if _, err := g.c.ExitStandby(ctx, &autoscaling.ExitStandbyInput{
			AutoScalingGroupName: aws.String(name), InstanceIds: batch,
		}); err != nil {
			again, derr := g.describe(ctx, name)
			if derr != nil || !allIn(states(again), batch, types.LifecycleStateInService, types.LifecycleStatePending, types.LifecycleStatePendingWait, types.LifecycleStatePendingProceed) {
				return fmt.Errorf("move %s of %s back to InService: %w", strings.Join(batch, ", "), name, err)
			}
		}
		sc.Accepted()
		done += len(batch)
		sc.Report(executor.Progress{
			Message: fmt.Sprintf("moving instances of %s back to InService", name),
			Percent: -1, Objects: int64(done), ObjectsTotal: int64(len(todo)),
		})
	}
	return g.wait(ctx, sc, name, "the instances of "+name+" to be InService", func(grp *types.AutoScalingGroup) (bool, string, error) {
		st := states(grp)
		var busy []string
		for _, id := range rec.Instances {
			if s, ok := st[id]; ok && s != types.LifecycleStateInService {
				busy = append(busy, id)
			}
		}
		return len(busy) == 0, fmt.Sprintf("waiting for %d instances of %s to be InService", len(busy), name), nil
	})
}

// restoreSizes sets MinSize, MaxSize and DesiredCapacity back to the record
// in one call, so the desired capacity is within [MinSize, MaxSize] before
// and after it.
func (g *groups) restoreSizes(ctx context.Context, sc *executor.StepContext, grp *types.AutoScalingGroup, rec Record) error {
	if aws.ToInt32(grp.MinSize) == rec.Min && aws.ToInt32(grp.MaxSize) == rec.Max && aws.ToInt32(grp.DesiredCapacity) == rec.Desired {
		return nil
	}
	if _, err := g.c.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: grp.AutoScalingGroupName,
		MinSize:              aws.Int32(rec.Min),
		MaxSize:              aws.Int32(rec.Max),
		DesiredCapacity:      aws.Int32(rec.Desired),
	}); err != nil {
		return fmt.Errorf("restore %s to min %d, max %d, desired %d: %w", aws.ToString(grp.AutoScalingGroupName), rec.Min, rec.Max, rec.Desired, err)
	}
	sc.Accepted()
	return nil
}

// resumeOurs resumes the processes envmig suspended: those of Processes the
// group did not have suspended when it was recorded.
func (g *groups) resumeOurs(ctx context.Context, sc *executor.StepContext, grp *types.AutoScalingGroup, rec Record) error {
	have := suspended(grp)
	var ours []string
	for _, p := range Processes {
		if slices.Contains(have, p) && !slices.Contains(rec.Suspended, p) {
			ours = append(ours, p)
		}
	}
	if len(ours) == 0 {
		return nil
	}
	if _, err := g.c.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{
		AutoScalingGroupName: grp.AutoScalingGroupName, ScalingProcesses: ours,
	}); err != nil {
		return fmt.Errorf("resume %s of %s: %w", strings.Join(ours, ", "), aws.ToString(grp.AutoScalingGroupName), err)
	}
	sc.Accepted()
	return nil
}
