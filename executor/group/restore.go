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

// Restore is the core of group.resume and of group.standby's Revert: it
// puts the named group back as the standby step recorded it (get reads that
// record: sc.Value for the standby step itself, StepValue bound to it for
// the resume step). Nothing recorded: the standby never acted, and Restore
// makes no call at all.
//
// # Order
//
// The Auto Scaling documentation on suspended processes says of
// AddToLoadBalancer: while it is suspended, instances that enter service
// are not added to the group's target groups and classic load balancers,
// and resuming it later does not add them (they must be registered by
// hand). An instance leaving Standby enters service the same way (Pending,
// registration, InService). So:
//
//  1. wait until no recorded instance is still EnteringStandby (one cannot
//     leave Standby before it got there);
//  2. resume the processes envmig suspended (those of Processes the record
//     does not list as suspended before), AddToLoadBalancer among them.
//     This is safe while the instances are still in Standby: the desired
//     capacity is what is in service (0 when every instance is in
//     Standby), so Launch and Terminate have nothing to do, and Standby
//     instances are not health-checked;
//  3. move the recorded instances that are in Standby back to service,
//     BatchSize at a time (ExitStandby raises the desired capacity by one
//     per instance, within the MaxSize envmig never lowers), and wait
//     until each is InService: they are registered with every load
//     balancer on the way;
//  4. set MinSize, MaxSize and DesiredCapacity to their recorded values in
//     one call, so the desired capacity is within [MinSize, MaxSize] before
//     and after it. Done after step 3 because a desired capacity raised
//     while instances are still in Standby would launch new instances for
//     them. A recorded instance that vanished during the run is replaced
//     now, and registered, since Launch and AddToLoadBalancer run again;
//  5. wait until no instance is on its way into service, then until every
//     InService instance is healthy in each of the group's target groups
//     (ELBv2 DescribeTargetHealth) and classic load balancers
//     (DescribeInstanceHealth); Options.HealthWait bounds it, and a timeout
//     fails the step naming each instance and its health reason;
//  6. remove the standby tags this run left on the group and its instances.
//
// A restore interrupted anywhere is run again from the top: every step
// observes first and acts only on the difference.
func (g *Groups) Restore(ctx context.Context, sc *executor.StepContext, name string, get func(string) string) error {
	rec, ok, err := ReadRecord(get)
	if err != nil {
		return fmt.Errorf("restore %s: %w", name, err)
	}
	if !ok {
		return nil
	}
	return g.restore(ctx, sc, name, sc.Lineage(), rec)
}

// restore runs the order Restore documents for rec, made by run.
func (g *Groups) restore(ctx context.Context, sc progress, name, run string, rec Record) error {
	// 1. An instance still entering Standby cannot exit it yet.
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
	// 2.
	if err := g.resumeOurs(ctx, sc, grp, rec); err != nil {
		return err
	}
	// 3.
	if err := g.exitStandby(ctx, sc, grp, rec); err != nil {
		return err
	}
	// 4.
	if grp, err = g.describe(ctx, name); err != nil {
		return err
	}
	if err := g.restoreSizes(ctx, sc, grp, rec); err != nil {
		return err
	}
	// 5.
	if err := g.waitHealthy(ctx, sc, name); err != nil {
		return err
	}
	// 6. Instances first: the group's tags are what a finder looks for.
	if grp, err = g.describe(ctx, name); err != nil {
		return err
	}
	ids := rec.Instances
	for _, id := range instanceIDs(grp) {
		if !slices.Contains(ids, id) {
			ids = append(slices.Clip(ids), id)
		}
	}
	if err := g.untagInstances(ctx, sc, name, run, ids); err != nil {
		return err
	}
	return g.untagGroup(ctx, sc, grp, run)
}

// exitStandby moves the recorded instances in Standby back to InService,
// BatchSize at a time, and waits until every recorded instance still in the
// group is InService.
func (g *Groups) exitStandby(ctx context.Context, sc progress, grp *types.AutoScalingGroup, rec Record) error {
	name := aws.ToString(grp.AutoScalingGroupName)
	st := states(grp)
	var todo []string
	for _, id := range rec.Instances {
		if st[id] == types.LifecycleStateStandby {
			todo = append(todo, id)
		}
	}
	done := 0
	for _, batch := range batches(todo, BatchSize) {
		if _, err := g.c.ASG.ExitStandby(ctx, &autoscaling.ExitStandbyInput{
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
func (g *Groups) restoreSizes(ctx context.Context, sc progress, grp *types.AutoScalingGroup, rec Record) error {
	if aws.ToInt32(grp.MinSize) == rec.Min && aws.ToInt32(grp.MaxSize) == rec.Max && aws.ToInt32(grp.DesiredCapacity) == rec.Desired {
		return nil
	}
	if _, err := g.c.ASG.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
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
func (g *Groups) resumeOurs(ctx context.Context, sc progress, grp *types.AutoScalingGroup, rec Record) error {
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
	if _, err := g.c.ASG.ResumeProcesses(ctx, &autoscaling.ResumeProcessesInput{
		AutoScalingGroupName: grp.AutoScalingGroupName, ScalingProcesses: ours,
	}); err != nil {
		return fmt.Errorf("resume %s of %s: %w", strings.Join(ours, ", "), aws.ToString(grp.AutoScalingGroupName), err)
	}
	sc.Accepted()
	return nil
}
