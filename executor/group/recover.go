package group

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"

	"github.com/envmig/envmig/executor"
)

// Found is a group that carries a run's standby tags: a run switched it
// off and has not brought it back.
type Found struct {
	Group string
	// Run is the lineage of the run that left the tags.
	Run string
	// Record is the group as the run found it, from the tags: sizes,
	// processes suspended before the run, when it started, and (Instances)
	// the group's instances tagged as moved to Standby by the run.
	Record Record
	// Now is the group as it is.
	Now Shape
	// Err is set when the tags cannot be read as a record (edited by
	// hand); Record is then incomplete and Recover refuses the group.
	Err error
}

// Shape is what a group looks like now.
type Shape struct {
	Min, Max, Desired int32
	Suspended         []string       // sorted
	States            map[string]int // lifecycle state -> instances
}

func shapeOf(grp *types.AutoScalingGroup) Shape {
	s := Shape{Min: aws.ToInt32(grp.MinSize), Max: aws.ToInt32(grp.MaxSize), Desired: aws.ToInt32(grp.DesiredCapacity), Suspended: suspended(grp), States: map[string]int{}}
	for _, in := range grp.Instances {
		s.States[string(in.LifecycleState)]++
	}
	return s
}

// describeMax is the most group names one DescribeAutoScalingGroups call
// takes.
const describeMax = 100

// FindStandby reports every group among names that carries a run's standby
// tags, for `envmig status` and `plan` on a machine without the journal.
// Groups that do not exist are skipped. Read-only; the order is that of
// names.
func (g *Groups) FindStandby(ctx context.Context, names []string) ([]Found, error) {
	var found []Found
	for _, b := range batches(slices.Clone(names), describeMax) {
		p := autoscaling.NewDescribeAutoScalingGroupsPaginator(g.c.ASG, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: b})
		byName := map[string]*types.AutoScalingGroup{}
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("describe Auto Scaling groups %v: %w", b, err)
			}
			for i := range page.AutoScalingGroups {
				grp := page.AutoScalingGroups[i]
				byName[aws.ToString(grp.AutoScalingGroupName)] = &grp
			}
		}
		for _, name := range b {
			grp := byName[name]
			if grp == nil {
				continue
			}
			f, ok, err := g.found(ctx, grp)
			if err != nil {
				return nil, err
			}
			if ok {
				found = append(found, f)
			}
		}
	}
	return found, nil
}

// found reads grp's standby tags and its tagged instances.
func (g *Groups) found(ctx context.Context, grp *types.AutoScalingGroup) (Found, bool, error) {
	run, rec, ok, terr := tagged(grp)
	if !ok {
		return Found{}, false, nil
	}
	f := Found{Group: aws.ToString(grp.AutoScalingGroupName), Run: run, Record: rec, Now: shapeOf(grp), Err: terr}
	if run != "" && g.c.EC2 != nil {
		ids, err := g.taggedInstances(ctx, grp, run)
		if err != nil {
			return Found{}, false, err
		}
		f.Record.Instances = ids
	}
	return f, true, nil
}

// taggedInstances lists the group's instances that carry run's standby
// tag, in the group's order.
func (g *Groups) taggedInstances(ctx context.Context, grp *types.AutoScalingGroup, run string) ([]string, error) {
	if g.c.EC2 == nil {
		return nil, fmt.Errorf("no EC2 client to read the %s tags of the instances of %s (a wiring error)", TagStandby, aws.ToString(grp.AutoScalingGroupName))
	}
	ids := instanceIDs(grp)
	have, err := g.instanceTags(ctx, ids)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, id := range ids {
		if have[id] == run {
			out = append(out, id)
		}
	}
	return out, nil
}

// ErrNotTagged is returned by Recover for a group without standby tags:
// nothing to bring back (a restore that finished removes them).
var ErrNotTagged = errors.New("the group carries no envmig standby tags")

// Recover brings the named group back exactly from the standby tags a run
// left on it, without any journal: the processes the run suspended
// resumed, the instances it tagged moved back from Standby, MinSize,
// MaxSize and DesiredCapacity as the tags say, every instance healthy in
// the group's load balancers, then the tags removed (the order and waits
// of Restore). run, when not "", must be the run named by the tags. report
// receives progress (it may be nil).
//
// Idempotent: a Recover interrupted anywhere is run again; once it has
// finished, the tags are gone and it returns an error wrapping
// ErrNotTagged. It refuses tags it cannot read as a record, naming what is
// wrong.
func (g *Groups) Recover(ctx context.Context, name, run string, report func(executor.Progress)) error {
	grp, err := g.describe(ctx, name)
	if err != nil {
		return err
	}
	f, ok, err := g.found(ctx, grp)
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("recover %s: %w", name, ErrNotTagged)
	case f.Err != nil:
		return fmt.Errorf("recover %s: %w", name, f.Err)
	case run != "" && f.Run != run:
		return fmt.Errorf("recover %s: the group carries the standby tags of run %s, not %s", name, f.Run, run)
	}
	if g.c.EC2 == nil {
		return fmt.Errorf("recover %s: no EC2 client to read which instances the run moved (a wiring error)", name)
	}
	return g.restore(ctx, reporter(report), name, f.Run, f.Record)
}

// reporter adapts a progress function to what the restore needs outside a
// run: no crash points.
type reporter func(executor.Progress)

func (r reporter) Accepted() {}

func (r reporter) Report(p executor.Progress) {
	if r != nil {
		r(p)
	}
}
