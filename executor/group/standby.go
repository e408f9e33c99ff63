package group

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/planner/plan"
)

// standby runs plan.GroupStandby. Revert restores the group from what Apply
// recorded.
type standby struct{ g *Groups }

var _ executor.Handler = (*standby)(nil)

func (h *standby) Apply(ctx context.Context, sc *executor.StepContext) error {
	name, err := groupName(sc)
	if err != nil {
		return err
	}
	return h.g.Standby(ctx, sc, name)
}

// Revert puts the group back as recorded; nothing recorded means Apply never
// acted, and there is nothing to do.
func (h *standby) Revert(ctx context.Context, sc *executor.StepContext) error {
	name, err := groupName(sc)
	if err != nil {
		return err
	}
	return h.g.Restore(ctx, sc, name, sc.Value)
}

// resume runs plan.GroupResume: the standby step's restore, reading that
// step's record.
type resume struct{ g *Groups }

var _ executor.Handler = (*resume)(nil)

func (h *resume) Apply(ctx context.Context, sc *executor.StepContext) error {
	name, err := groupName(sc)
	if err != nil {
		return err
	}
	p, err := executor.Params[plan.GroupResumeParams](sc)
	if err != nil {
		return err
	}
	from := p.StandbyStep
	if from == "" {
		return fmt.Errorf("resume %s: the step has no standby_step parameter", name)
	}
	return h.g.Restore(ctx, sc, name, func(key string) string { return sc.StepValue(from, key) })
}

// Revert does nothing: group.resume runs after the point of no return,
// where nothing is undone.
func (h *resume) Revert(context.Context, *executor.StepContext) error { return nil }

// Standby is the core of group.standby: it takes the named group out of
// service for the run sc belongs to.
//
// In order, each step observing first: it refuses a group that carries
// another run's standby tags (that group is not "the state to restore") or
// that has an instance refresh pending, in progress, cancelling, baking or
// rolling back (it would replace instances mid-run; the error names it);
// records the group in the journal (once; see ReadRecord) and then on AWS
// (the group's and the instances' envmig:standby tags, see TagStandby),
// both before the first call that changes the group; suspends Processes;
// lowers MinSize when Standby needs room below it; moves the recorded
// InService instances to Standby in batches; waits until none is InService;
// and records KeyFrozenAt.
//
// Idempotent: a re-run after a crash at any point finds the record (in the
// journal, or failing that in its own run's tags) and finishes the work.
func (g *Groups) Standby(ctx context.Context, sc *executor.StepContext, name string) error {
	if g.c.EC2 == nil {
		return fmt.Errorf("standby of %s: no EC2 client to tag the instances it moves with %s (a wiring error: build the handlers with group.New(group.Clients{...}, o))", name, TagStandby)
	}
	grp, err := g.describe(ctx, name)
	if err != nil {
		return err
	}
	run := sc.Lineage()
	tagRun, tagRec, isTagged, terr := tagged(grp)
	if isTagged && tagRun != run {
		return fmt.Errorf("standby of %s: the group carries the standby tags of run %s, so its sizes and processes now are not the ones to restore; bring it back first with `envmig recover` (or by hand, then delete its %s and %s tags)", name, tagRun, TagStandby, TagSuspended)
	}
	if terr != nil {
		return terr
	}
	rec, ok, err := ReadRecord(sc.Value)
	if err != nil {
		return fmt.Errorf("standby of %s: %w", name, err)
	}
	if err := g.checkRefreshes(ctx, sc, name); err != nil {
		return err
	}
	if !ok {
		if isTagged {
			// Our own tags without a journal record: the journal was
			// lost after the group was changed. The tags hold the group
			// as it was; the instances are those tagged.
			rec = tagRec
			if rec.Instances, err = g.taggedInstances(ctx, grp, run); err != nil {
				return err
			}
		} else {
			// First attempt (or a crash before the record was complete,
			// when nothing had been changed yet): the group as it is now
			// is the group to restore.
			rec = recordOf(grp, sc.Now())
		}
		if err := rec.write(sc); err != nil {
			return err
		}
	}
	if err := g.tagGroup(ctx, sc, grp, run, rec); err != nil {
		return err
	}
	if err := g.tagInstances(ctx, sc, name, run, rec.Instances); err != nil {
		return err
	}
	if err := g.suspend(ctx, sc, grp); err != nil {
		return err
	}
	if err := g.enterStandby(ctx, sc, name, rec); err != nil {
		return err
	}
	if err := g.waitStandby(ctx, sc, name, rec); err != nil {
		return err
	}
	return frozen(ctx, sc)
}

// activeRefresh are the instance refresh states that move instances.
var activeRefresh = []types.InstanceRefreshStatus{
	types.InstanceRefreshStatusPending, types.InstanceRefreshStatusInProgress,
	types.InstanceRefreshStatusCancelling, types.InstanceRefreshStatusRollbackInProgress,
	types.InstanceRefreshStatusBaking,
}

// checkRefreshes refuses a group with an instance refresh under way. An
// endpoint that does not implement DescribeInstanceRefreshes (an emulator)
// cannot have one: the check is skipped, and said so.
func (g *Groups) checkRefreshes(ctx context.Context, sc progress, name string) error {
	p := autoscaling.NewDescribeInstanceRefreshesPaginator(g.c.ASG, &autoscaling.DescribeInstanceRefreshesInput{AutoScalingGroupName: aws.String(name)})
	for p.HasMorePages() {
		// A few attempts only: an endpoint that does not know the call
		// answers every retry the same way.
		page, err := p.NextPage(ctx, func(o *autoscaling.Options) { o.RetryMaxAttempts = 3 })
		if awsclient.NotImplemented(err) {
			sc.Report(executor.Progress{Line: fmt.Sprintf("%s: this endpoint does not implement DescribeInstanceRefreshes, so no refresh can be under way; InstanceRefresh is suspended for the standby anyway", name)})
			return nil
		}
		if err != nil {
			return fmt.Errorf("standby of %s: list its instance refreshes: %w", name, err)
		}
		for _, r := range page.InstanceRefreshes {
			if slices.Contains(activeRefresh, r.Status) {
				return fmt.Errorf("standby of %s refused: instance refresh %s is %s (%d%% done) and would replace instances during the run; wait for it to finish or cancel it (aws autoscaling cancel-instance-refresh), then plan again",
					name, aws.ToString(r.InstanceRefreshId), r.Status, aws.ToInt32(r.PercentageComplete))
			}
		}
	}
	return nil
}

// suspend suspends the processes of Processes the group does not already
// have suspended.
func (g *Groups) suspend(ctx context.Context, sc progress, grp *types.AutoScalingGroup) error {
	have := suspended(grp)
	var missing []string
	for _, p := range Processes {
		if !slices.Contains(have, p) {
			missing = append(missing, p)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	name := aws.ToString(grp.AutoScalingGroupName)
	if _, err := g.c.ASG.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{
		AutoScalingGroupName: grp.AutoScalingGroupName, ScalingProcesses: missing,
	}); err != nil {
		return fmt.Errorf("suspend %s of %s: %w", strings.Join(missing, ", "), name, err)
	}
	sc.Accepted()
	return nil
}

// enterStandby moves the recorded instances still InService to Standby,
// BatchSize at a time, observing the group before each batch.
func (g *Groups) enterStandby(ctx context.Context, sc *executor.StepContext, name string, rec Record) error {
	requested := map[string]bool{}
	lowered := false
	for {
		grp, err := g.describe(ctx, name)
		if err != nil {
			return err
		}
		st := states(grp)
		var todo, vanished []string
		for _, id := range rec.Instances {
			switch state, ok := st[id]; {
			case !ok:
				vanished = append(vanished, id)
			case state == types.LifecycleStateInService && !requested[id]:
				todo = append(todo, id)
			}
		}
		if len(todo) == 0 {
			if len(vanished) > 0 {
				sc.Report(executor.Progress{Message: fmt.Sprintf("%s: skipped instances no longer in the group: %s", name, strings.Join(vanished, ", ")), Percent: -1})
			}
			return nil
		}
		if !lowered {
			// AWS refuses EnterStandby (with decrement) that would take the
			// desired capacity below MinSize.
			if err := g.lowerMin(ctx, sc, grp, len(todo)); err != nil {
				return err
			}
			lowered = true
		}
		batch := todo[:min(len(todo), BatchSize)]
		if _, err := g.c.ASG.EnterStandby(ctx, &autoscaling.EnterStandbyInput{
			AutoScalingGroupName: aws.String(name), InstanceIds: batch,
			ShouldDecrementDesiredCapacity: aws.Bool(true),
		}); err != nil {
			// A retried call whose first response was lost finds its
			// instances already on their way: that is success.
			again, derr := g.describe(ctx, name)
			if derr != nil || !allIn(states(again), batch, types.LifecycleStateEnteringStandby, types.LifecycleStateStandby) {
				return fmt.Errorf("move %s of %s to Standby: %w", strings.Join(batch, ", "), name, err)
			}
		}
		sc.Accepted()
		for _, id := range batch {
			requested[id] = true
		}
		sc.Report(executor.Progress{
			Message: fmt.Sprintf("moving instances of %s to Standby", name),
			Percent: -1, Objects: int64(len(requested)), ObjectsTotal: int64(len(requested) + len(todo) - len(batch)),
		})
	}
}

// lowerMin lowers MinSize to what the desired capacity becomes once n
// instances are in Standby, when it is below the current MinSize.
func (g *Groups) lowerMin(ctx context.Context, sc *executor.StepContext, grp *types.AutoScalingGroup, n int) error {
	after := max(aws.ToInt32(grp.DesiredCapacity)-int32(n), 0)
	if after >= aws.ToInt32(grp.MinSize) {
		return nil
	}
	name := aws.ToString(grp.AutoScalingGroupName)
	if _, err := g.c.ASG.UpdateAutoScalingGroup(ctx, &autoscaling.UpdateAutoScalingGroupInput{
		AutoScalingGroupName: grp.AutoScalingGroupName, MinSize: aws.Int32(after),
	}); err != nil {
		return fmt.Errorf("lower the MinSize of %s from %d to %d for Standby: %w", name, aws.ToInt32(grp.MinSize), after, err)
	}
	sc.Accepted()
	return nil
}

// waitStandby waits until no recorded instance is InService and no instance
// of the group is on its way in or out; an InService instance outside the
// record is an error.
func (g *Groups) waitStandby(ctx context.Context, sc *executor.StepContext, name string, rec Record) error {
	recorded := map[string]bool{}
	for _, id := range rec.Instances {
		recorded[id] = true
	}
	return g.wait(ctx, sc, name, "the instances of "+name+" to be in Standby", func(grp *types.AutoScalingGroup) (bool, string, error) {
		var busy, extra []string
		for _, in := range grp.Instances {
			id := aws.ToString(in.InstanceId)
			switch s := in.LifecycleState; {
			case s == types.LifecycleStateInService && !recorded[id]:
				extra = append(extra, id)
			case s == types.LifecycleStateInService, s == types.LifecycleStateEnteringStandby, pending(s):
				busy = append(busy, id)
			}
		}
		if len(extra) > 0 {
			return false, "", fmt.Errorf("%s has InService instances envmig did not move to Standby: %s; something put capacity back in service during the standby", name, strings.Join(extra, ", "))
		}
		if len(busy) > 0 {
			return false, fmt.Sprintf("waiting for %d instances of %s to reach Standby", len(busy), name), nil
		}
		return true, "", nil
	})
}

// pending reports a state on the way to InService.
func pending(s types.LifecycleState) bool {
	switch s {
	case types.LifecycleStatePending, types.LifecycleStatePendingWait, types.LifecycleStatePendingProceed:
		return true
	}
	return false
}

// frozen records KeyFrozenAt: the first whole second after every instance
// left service. S3 times objects to the second, so an object modified at or
// after that second was written after the freeze, and one written before it
// is seen by the copies that follow this step: verify.frozen can tell the
// two apart without ambiguity. The wait costs under a second of standby.
func frozen(ctx context.Context, sc *executor.StepContext) error {
	if sc.Value(KeyFrozenAt) != "" {
		return nil
	}
	now := sc.Now()
	at := now.Truncate(time.Second).Add(time.Second)
	t := time.NewTimer(at.Sub(now))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
	}
	return sc.Record(KeyFrozenAt, at.UTC().Format(time.RFC3339))
}
