package live

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
)

// group reads one Auto Scaling group; a missing one has Exists false.
func (r *Reader) group(ctx context.Context, name string) (*Group, error) {
	out, err := r.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{name},
	})
	if err != nil {
		return nil, readError(fmt.Sprintf("Auto Scaling group %q", name), "autoscaling:DescribeAutoScalingGroups", err)
	}
	i := slices.IndexFunc(out.AutoScalingGroups, func(g astypes.AutoScalingGroup) bool {
		return aws.ToString(g.AutoScalingGroupName) == name
	})
	if i < 0 {
		return &Group{Name: name}, nil
	}
	return groupOf(out.AutoScalingGroups[i]), nil
}

// groupOf converts one group's description; lists are sorted so that equal
// groups compare equal.
func groupOf(in astypes.AutoScalingGroup) *Group {
	g := &Group{
		Name:               aws.ToString(in.AutoScalingGroupName),
		Exists:             true,
		MinSize:            aws.ToInt32(in.MinSize),
		MaxSize:            aws.ToInt32(in.MaxSize),
		DesiredCapacity:    aws.ToInt32(in.DesiredCapacity),
		SuspendedProcesses: []string{},
		TargetGroupARNs:    slices.Sorted(slices.Values(in.TargetGroupARNs)),
		LoadBalancerNames:  slices.Sorted(slices.Values(in.LoadBalancerNames)),
		StandbyRun:         GroupStandbyRun(in.Tags),
	}
	for _, i := range in.Instances {
		g.Instances = append(g.Instances, Instance{
			ID:             aws.ToString(i.InstanceId),
			LifecycleState: string(i.LifecycleState),
			HealthStatus:   aws.ToString(i.HealthStatus),
		})
	}
	slices.SortFunc(g.Instances, func(a, b Instance) int { return cmp.Compare(a.ID, b.ID) })
	for _, p := range in.SuspendedProcesses {
		g.SuspendedProcesses = append(g.SuspendedProcesses, aws.ToString(p.ProcessName))
	}
	slices.Sort(g.SuspendedProcesses)
	return g
}
