package group

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	elb "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	elbtypes "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"

	"github.com/envmig/envmig/executor"
)

// HealthError reports instances of a restored group that were not healthy
// in one of its load balancers when Options.HealthWait ran out. The group
// itself is restored; the step fails so that the run does not say
// "complete" while the site is dark.
type HealthError struct {
	Group        string
	LoadBalancer string // a target group ARN, or a classic load balancer's name
	Waited       time.Duration
	// Unhealthy maps instance ID to what the load balancer says of it
	// ("unhealthy (Target.FailedHealthChecks: Health checks failed)",
	// "not registered").
	Unhealthy map[string]string
}

func (e *HealthError) Error() string {
	var parts []string
	for _, id := range slices.Sorted(maps.Keys(e.Unhealthy)) {
		parts = append(parts, id+": "+e.Unhealthy[id])
	}
	return fmt.Sprintf("the instances of %s are back in service but not healthy in %s after %s: %s; check them (the application, security groups, the health check path), then run `envmig resume` to wait again",
		e.Group, e.LoadBalancer, e.Waited, strings.Join(parts, "; "))
}

// waitHealthy waits until no instance of the group is on its way into
// service, then until every InService instance is healthy in each of the
// group's target groups and classic load balancers, within
// Options.HealthWait in all.
func (g *Groups) waitHealthy(ctx context.Context, sc progress, name string) error {
	err := g.wait(ctx, sc, name, "the instances of "+name+" to finish entering service", func(grp *types.AutoScalingGroup) (bool, string, error) {
		n := 0
		for _, in := range grp.Instances {
			if pending(in.LifecycleState) {
				n++
			}
		}
		return n == 0, fmt.Sprintf("waiting for %d instances of %s to enter service", n, name), nil
	})
	if err != nil {
		return err
	}
	grp, err := g.describe(ctx, name)
	if err != nil {
		return err
	}
	var ids []string
	for _, in := range grp.Instances {
		if in.LifecycleState == types.LifecycleStateInService {
			ids = append(ids, aws.ToString(in.InstanceId))
		}
	}
	if len(ids) == 0 {
		return nil
	}
	deadline := time.Now().Add(g.o.HealthWait)
	for _, tg := range grp.TargetGroupARNs {
		if g.c.ELBv2 == nil {
			return fmt.Errorf("restore %s: no ELBv2 client to check its instances' health in target group %s (a wiring error)", name, tg)
		}
		if err := g.waitTargets(ctx, sc, name, tg, ids, deadline); err != nil {
			return err
		}
	}
	for _, lb := range grp.LoadBalancerNames {
		if g.c.ELB == nil {
			return fmt.Errorf("restore %s: no ELB client to check its instances' health in load balancer %s (a wiring error)", name, lb)
		}
		if err := g.waitClassic(ctx, sc, name, lb, ids, deadline); err != nil {
			return err
		}
	}
	return nil
}

// targetHealth says what is wrong with each of ids in a target group;
// an empty map means every one is healthy. A target group used by no load
// balancer (unused, Target.NotInUse) serves no traffic and counts as fine.
func targetHealth(out *elbv2.DescribeTargetHealthOutput, ids []string) map[string]string {
	seen := map[string][]elbv2types.TargetHealthDescription{}
	for _, d := range out.TargetHealthDescriptions {
		if d.Target != nil {
			id := aws.ToString(d.Target.Id)
			seen[id] = append(seen[id], d)
		}
	}
	bad := map[string]string{}
	for _, id := range ids {
		ds := seen[id]
		if len(ds) == 0 {
			bad[id] = "not registered"
			continue
		}
		for _, d := range ds {
			h := d.TargetHealth
			if h == nil {
				bad[id] = "no health reported"
				break
			}
			if h.State == elbv2types.TargetHealthStateEnumHealthy ||
				(h.State == elbv2types.TargetHealthStateEnumUnused && h.Reason == elbv2types.TargetHealthReasonEnumNotInUse) {
				continue
			}
			msg := string(h.State)
			if h.Reason != "" || h.Description != nil {
				msg += fmt.Sprintf(" (%s: %s)", h.Reason, aws.ToString(h.Description))
			}
			bad[id] = msg
			break
		}
	}
	return bad
}

// waitTargets waits until each of ids is healthy in target group arn, with
// the SDK's waiter and its backoff.
func (g *Groups) waitTargets(ctx context.Context, sc progress, name, arn string, ids []string, deadline time.Time) error {
	var bad map[string]string
	w := elbv2.NewTargetInServiceWaiter(g.c.ELBv2, func(o *elbv2.TargetInServiceWaiterOptions) {
		o.MinDelay, o.MaxDelay = g.o.MinDelay, g.o.MaxDelay
		o.Retryable = func(ctx context.Context, _ *elbv2.DescribeTargetHealthInput, out *elbv2.DescribeTargetHealthOutput, err error) (bool, error) {
			bad = nil
			if err != nil {
				return false, err
			}
			if bad = targetHealth(out, ids); len(bad) == 0 {
				return false, nil
			}
			sc.Report(executor.Progress{Message: fmt.Sprintf("waiting for %d instances of %s to be healthy in target group %s", len(bad), name, arn), Percent: -1})
			return true, nil
		}
	})
	return g.healthResult(ctx, name, arn, &bad, w.Wait(ctx, &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(arn)}, waitLeft(deadline)))
}

// waitClassic waits until each of ids is InService behind the classic load
// balancer lb.
func (g *Groups) waitClassic(ctx context.Context, sc progress, name, lb string, ids []string, deadline time.Time) error {
	var bad map[string]string
	in := &elb.DescribeInstanceHealthInput{LoadBalancerName: aws.String(lb)}
	for _, id := range ids {
		in.Instances = append(in.Instances, elbtypes.Instance{InstanceId: aws.String(id)})
	}
	w := elb.NewInstanceInServiceWaiter(g.c.ELB, func(o *elb.InstanceInServiceWaiterOptions) {
		o.MinDelay, o.MaxDelay = g.o.MinDelay, g.o.MaxDelay
		o.Retryable = func(ctx context.Context, _ *elb.DescribeInstanceHealthInput, out *elb.DescribeInstanceHealthOutput, err error) (bool, error) {
			bad = map[string]string{}
			if err != nil {
				return false, err
			}
			states := map[string]string{}
			for _, s := range out.InstanceStates {
				msg := aws.ToString(s.State)
				if msg != "InService" {
					msg += fmt.Sprintf(" (%s: %s)", aws.ToString(s.ReasonCode), aws.ToString(s.Description))
				}
				states[aws.ToString(s.InstanceId)] = msg
			}
			for _, id := range ids {
				switch s, ok := states[id]; {
				case !ok:
					bad[id] = "not registered"
				case s != "InService":
					bad[id] = s
				}
			}
			if len(bad) == 0 {
				return false, nil
			}
			sc.Report(executor.Progress{Message: fmt.Sprintf("waiting for %d instances of %s to be InService in load balancer %s", len(bad), name, lb), Percent: -1})
			return true, nil
		}
	})
	return g.healthResult(ctx, name, lb, &bad, w.Wait(ctx, in, waitLeft(deadline)))
}

// healthResult turns a health waiter's outcome into the step's error.
func (g *Groups) healthResult(ctx context.Context, name, lb string, bad *map[string]string, err error) error {
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("wait for the instances of %s to be healthy in %s: %w", name, lb, ctx.Err())
	case len(*bad) > 0:
		return &HealthError{Group: name, LoadBalancer: lb, Waited: g.o.HealthWait, Unhealthy: *bad}
	default:
		return fmt.Errorf("read the health of the instances of %s in %s: %w", name, lb, err)
	}
}

// waitLeft is the time until deadline, at least a millisecond so that the
// waiter still observes once.
func waitLeft(deadline time.Time) time.Duration {
	return max(time.Until(deadline), time.Millisecond)
}
