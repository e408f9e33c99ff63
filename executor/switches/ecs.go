package switches

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/envmig/envmig/executor"
)

// ServiceAPI is the part of ECS a service switch uses; *ecs.Client
// satisfies it.
type ServiceAPI interface {
	ecs.DescribeServicesAPIClient
	UpdateService(ctx context.Context, in *ecs.UpdateServiceInput, optFns ...func(*ecs.Options)) (*ecs.UpdateServiceOutput, error)
	TagResource(ctx context.Context, in *ecs.TagResourceInput, optFns ...func(*ecs.Options)) (*ecs.TagResourceOutput, error)
	UntagResource(ctx context.Context, in *ecs.UntagResourceInput, optFns ...func(*ecs.Options)) (*ecs.UntagResourceOutput, error)
}

// ScalingAPI is the part of Application Auto Scaling a service switch
// uses; *applicationautoscaling.Client satisfies it.
type ScalingAPI interface {
	DescribeScalableTargets(ctx context.Context, in *aas.DescribeScalableTargetsInput, optFns ...func(*aas.Options)) (*aas.DescribeScalableTargetsOutput, error)
	RegisterScalableTarget(ctx context.Context, in *aas.RegisterScalableTargetInput, optFns ...func(*aas.Options)) (*aas.RegisterScalableTargetOutput, error)
}

var (
	_ ServiceAPI = (*ecs.Client)(nil)
	_ ScalingAPI = (*aas.Client)(nil)
)

// The journal keys (and TagOff fields) of an ECS service switch.
const (
	// KeyDesired is the service's desired count as found.
	KeyDesired = "desired"
	// KeyScaling is its Application Auto Scaling target as found: "none"
	// (no scalable target), or "suspended:" followed by which of in, out,
	// scheduled were suspended ("suspended:" for none of them).
	KeyScaling = "scaling"
)

// Services switches ECS services, named "cluster/service": desired count
// to 0, waiting with the SDK's ServicesStable waiter until no task runs,
// and back to the recorded count, waiting until that many run. Records
// KeyDesired and KeyScaling; tags the service with TagOff.
//
// A service with an Application Auto Scaling target would be scaled back
// up by its policies (or to its MinCapacity by a scaling activity) while
// it should be off. So the off side suspends the target's dynamic
// scale-in, scale-out and scheduled scaling (RegisterScalableTarget
// SuspendedState) before it sets the desired count to 0, and the on side
// puts the recorded SuspendedState back after the count is restored and
// stable. A target whose scaling the owner had suspended stays as it was.
type Services struct{ base }

// NewServices returns the ECS service switch over c and s.
func NewServices(c ServiceAPI, s ScalingAPI, o Options) *Services {
	o = o.withDefaults()
	return &Services{base{o: o, keys: []string{KeyDesired, KeyScaling}, bind: func(ref string) (resource, error) {
		cluster, name, err := ParseService(ref)
		if err != nil {
			return nil, err
		}
		return &service{c: c, s: s, cluster: cluster, name: name}, nil
	}}}
}

// ParseService splits "cluster/service".
func ParseService(ref string) (cluster, service string, err error) {
	cluster, service, ok := strings.Cut(ref, "/")
	if !ok || cluster == "" || service == "" || strings.Contains(service, "/") {
		return "", "", fmt.Errorf("ECS service %q: want CLUSTER/SERVICE", ref)
	}
	return cluster, service, nil
}

type service struct {
	c             ServiceAPI
	s             ScalingAPI
	cluster, name string
	arn           string
}

func (s *service) what() string { return "ECS service " + s.cluster + "/" + s.name }

func (s *service) resourceID() string { return "service/" + s.cluster + "/" + s.name }

func (s *service) describe(ctx context.Context) (*ecstypes.Service, error) {
	out, err := s.c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(s.cluster), Services: []string{s.name}, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
	var nc *ecstypes.ClusterNotFoundException
	if errors.As(err, &nc) {
		return nil, fmt.Errorf("%s %w (no cluster %s)", s.what(), ErrGone, s.cluster)
	}
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", s.what(), err)
	}
	for i := range out.Services {
		if sv := &out.Services[i]; aws.ToString(sv.ServiceName) == s.name && aws.ToString(sv.Status) == "ACTIVE" {
			return sv, nil
		}
	}
	return nil, fmt.Errorf("%s %w", s.what(), ErrGone)
}

// scaling reads the service's scalable target as KeyScaling says it.
func (s *service) scaling(ctx context.Context) (string, error) {
	if s.s == nil {
		return "", fmt.Errorf("%s: no Application Auto Scaling client to check its scaling (a wiring error)", s.what())
	}
	out, err := s.s.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceIds: []string{s.resourceID()},
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
	})
	if err != nil {
		return "", fmt.Errorf("read the scalable target of %s: %w", s.what(), err)
	}
	if len(out.ScalableTargets) == 0 {
		return "none", nil
	}
	st := out.ScalableTargets[0].SuspendedState
	var on []string
	if st != nil {
		for _, f := range []struct {
			name string
			v    *bool
		}{{"in", st.DynamicScalingInSuspended}, {"out", st.DynamicScalingOutSuspended}, {"scheduled", st.ScheduledScalingSuspended}} {
			if aws.ToBool(f.v) {
				on = append(on, f.name)
			}
		}
	}
	return "suspended:" + strings.Join(on, ","), nil
}

const allSuspended = "suspended:in,out,scheduled"

func (s *service) observe(ctx context.Context) (observation, error) {
	sv, err := s.describe(ctx)
	if err != nil {
		return observation{}, err
	}
	s.arn = aws.ToString(sv.ServiceArn)
	scaling, err := s.scaling(ctx)
	if err != nil {
		return observation{}, err
	}
	obs := observation{
		On: sv.DesiredCount > 0 || sv.RunningCount > 0, Settled: true,
		State: fmt.Sprintf("desired %d, running %d, pending %d, scaling %s", sv.DesiredCount, sv.RunningCount, sv.PendingCount, scaling),
		Found: map[string]string{KeyDesired: strconv.Itoa(int(sv.DesiredCount)), KeyScaling: scaling},
	}
	for _, t := range sv.Tags {
		if aws.ToString(t.Key) == TagOff {
			obs.Tag = aws.ToString(t.Value)
		}
	}
	return obs, nil
}

func (s *service) wasOn(rec map[string]string) bool {
	n, err := strconv.Atoi(rec[KeyDesired])
	return err != nil || n > 0 // an unreadable count is restored, not ignored
}

func (s *service) reached(obs observation, rec map[string]string, on bool) (bool, string) {
	if on {
		return obs.Found[KeyDesired] == rec[KeyDesired] && obs.Found[KeyScaling] == rec[KeyScaling], obs.State
	}
	scalingOff := obs.Found[KeyScaling] == "none" || obs.Found[KeyScaling] == allSuspended
	return obs.Found[KeyDesired] == "0" && scalingOff, obs.State
}

// setScaling sets the scalable target's SuspendedState from a KeyScaling
// value ("none": there is no target, nothing to do).
func (s *service) setScaling(ctx context.Context, v string) error {
	list, ok := strings.CutPrefix(v, "suspended:")
	if !ok {
		return nil
	}
	has := func(n string) *bool {
		for _, p := range strings.Split(list, ",") {
			if p == n {
				return aws.Bool(true)
			}
		}
		return aws.Bool(false)
	}
	_, err := s.s.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String(s.resourceID()),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
		SuspendedState:    &aastypes.SuspendedState{DynamicScalingInSuspended: has("in"), DynamicScalingOutSuspended: has("out"), ScheduledScalingSuspended: has("scheduled")},
	})
	if err != nil {
		return fmt.Errorf("set the scaling of %s to %s: %w", s.what(), v, err)
	}
	return nil
}

func (s *service) off(ctx context.Context, obs observation) error {
	if sc := obs.Found[KeyScaling]; sc != "none" && sc != allSuspended {
		if err := s.setScaling(ctx, allSuspended); err != nil {
			return err
		}
	}
	if obs.Found[KeyDesired] == "0" {
		return nil
	}
	_, err := s.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(s.cluster), Service: aws.String(s.name), DesiredCount: aws.Int32(0)})
	return err
}

func (s *service) on(ctx context.Context, rec map[string]string) error {
	n, err := strconv.ParseInt(rec[KeyDesired], 10, 32)
	if err != nil {
		return fmt.Errorf("recorded desired count %q: %w", rec[KeyDesired], err)
	}
	_, err = s.c.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(s.cluster), Service: aws.String(s.name), DesiredCount: aws.Int32(int32(n))})
	return err
}

// wait waits with the SDK's ServicesStable waiter until the service runs
// exactly its desired count in one deployment, and that count is the goal;
// on the on side it then restores the recorded scaling.
func (s *service) wait(ctx context.Context, tr tracker, o Options, rec map[string]string, on bool) error {
	goal := "0"
	if on {
		goal = rec[KeyDesired]
	}
	var last string
	w := ecs.NewServicesStableWaiter(s.c, func(wo *ecs.ServicesStableWaiterOptions) {
		wo.MinDelay, wo.MaxDelay = o.MinDelay, o.MaxDelay
		wo.Retryable = func(ctx context.Context, _ *ecs.DescribeServicesInput, out *ecs.DescribeServicesOutput, err error) (bool, error) {
			last = ""
			if err != nil {
				return false, err
			}
			for _, sv := range out.Services {
				if aws.ToString(sv.ServiceName) != s.name {
					continue
				}
				if aws.ToString(sv.Status) != "ACTIVE" {
					return false, fmt.Errorf("%s %w (status %s)", s.what(), ErrGone, aws.ToString(sv.Status))
				}
				if strconv.Itoa(int(sv.DesiredCount)) == goal && len(sv.Deployments) <= 1 && sv.RunningCount == sv.DesiredCount && sv.PendingCount == 0 {
					return false, nil
				}
				last = fmt.Sprintf("desired %d (want %s), running %d, pending %d, %d deployments", sv.DesiredCount, goal, sv.RunningCount, sv.PendingCount, len(sv.Deployments))
				tr.Report(executor.Progress{Message: "waiting for the tasks of " + s.what() + ": " + last, Percent: -1})
				return true, nil
			}
			return false, fmt.Errorf("%s %w", s.what(), ErrGone)
		}
	})
	err := w.Wait(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(s.cluster), Services: []string{s.name}}, o.MaxWait)
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return fmt.Errorf("wait for the tasks of %s: %w", s.what(), ctx.Err())
	case last != "":
		return fmt.Errorf("the tasks of %s did not settle after %s (%s); run `envmig resume` to check again", s.what(), o.MaxWait, last)
	default:
		return fmt.Errorf("wait for the tasks of %s: %w", s.what(), err)
	}
	if !on {
		return nil
	}
	sc, err := s.scaling(ctx)
	if err != nil {
		return err
	}
	if sc != rec[KeyScaling] {
		if err := s.setScaling(ctx, rec[KeyScaling]); err != nil {
			return err
		}
		tr.Accepted()
	}
	return nil
}

func (s *service) taggable() bool { return true }

func (s *service) tag(ctx context.Context, value string) error {
	_, err := s.c.TagResource(ctx, &ecs.TagResourceInput{ResourceArn: aws.String(s.arn), Tags: []ecstypes.Tag{{Key: aws.String(TagOff), Value: aws.String(value)}}})
	return err
}

func (s *service) untag(ctx context.Context) error {
	_, err := s.c.UntagResource(ctx, &ecs.UntagResourceInput{ResourceArn: aws.String(s.arn), TagKeys: []string{TagOff}})
	return err
}
