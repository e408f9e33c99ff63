package live

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
)

// The read-only observers of the availability switches other than Auto
// Scaling groups: what the plan shows of each (does it exist, what is it
// now, what does it stop), and how long switching it takes.

// EventBridgeAPI reads EventBridge rules, their targets and tags.
type EventBridgeAPI interface {
	DescribeRule(ctx context.Context, in *eventbridge.DescribeRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
	ListTargetsByRule(ctx context.Context, in *eventbridge.ListTargetsByRuleInput, opts ...func(*eventbridge.Options)) (*eventbridge.ListTargetsByRuleOutput, error)
	ListTagsForResource(ctx context.Context, in *eventbridge.ListTagsForResourceInput, opts ...func(*eventbridge.Options)) (*eventbridge.ListTagsForResourceOutput, error)
}

// SchedulerAPI reads EventBridge Scheduler schedules.
type SchedulerAPI interface {
	GetSchedule(ctx context.Context, in *scheduler.GetScheduleInput, opts ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error)
}

// ECSAPI reads ECS services (with their tags).
type ECSAPI interface {
	DescribeServices(ctx context.Context, in *ecs.DescribeServicesInput, opts ...func(*ecs.Options)) (*ecs.DescribeServicesOutput, error)
}

// AppAutoScalingAPI reads Application Auto Scaling targets.
type AppAutoScalingAPI interface {
	DescribeScalableTargets(ctx context.Context, in *aas.DescribeScalableTargetsInput, opts ...func(*aas.Options)) (*aas.DescribeScalableTargetsOutput, error)
}

// LambdaAPI reads event source mappings and their tags.
type LambdaAPI interface {
	GetEventSourceMapping(ctx context.Context, in *lambda.GetEventSourceMappingInput, opts ...func(*lambda.Options)) (*lambda.GetEventSourceMappingOutput, error)
	ListTags(ctx context.Context, in *lambda.ListTagsInput, opts ...func(*lambda.Options)) (*lambda.ListTagsOutput, error)
}

// TargetGroupAPI reads ELBv2 target groups (their health check timing).
type TargetGroupAPI interface {
	DescribeTargetGroups(ctx context.Context, in *elbv2.DescribeTargetGroupsInput, opts ...func(*elbv2.Options)) (*elbv2.DescribeTargetGroupsOutput, error)
}

var (
	_ EventBridgeAPI    = (*eventbridge.Client)(nil)
	_ SchedulerAPI      = (*scheduler.Client)(nil)
	_ ECSAPI            = (*ecs.Client)(nil)
	_ AppAutoScalingAPI = (*aas.Client)(nil)
	_ LambdaAPI         = (*lambda.Client)(nil)
	_ TargetGroupAPI    = (*elbv2.Client)(nil)
)

// Switch kinds, as the spec's switch block names them.
const (
	SwitchRule     = "eventbridge_rule"
	SwitchSchedule = "schedule"
	SwitchService  = "ecs_service"
	SwitchMapping  = "lambda_event_source"
	SwitchCommand  = "command"
)

// How long switching each kind typically takes, for the plan's downtime
// estimate: Stop before the window (it adds to it when the switches run
// inside it) and Start after it. They are typical figures, not bounds (the
// handlers' waits are bounded by their own options).
const (
	// An EventBridge rule's Disable/EnableRule returns at once; AWS says
	// the change may take a short while to reach every event source.
	RuleStop, RuleStart = 10 * time.Second, 10 * time.Second
	// A Scheduler schedule's UpdateSchedule is applied at once.
	ScheduleStop, ScheduleStart = 5 * time.Second, 5 * time.Second
	// An ECS service drains its tasks: the target group's deregistration
	// delay (often lowered from the 300 s default) plus the task's stop
	// timeout (30 s); starting takes image pull, task start and the
	// load balancer's health checks.
	ServiceStop, ServiceStart = 2 * time.Minute, 3 * time.Minute
	// An event source mapping moves through Disabling/Enabling, which
	// AWS says may take a few minutes for stream and queue pollers.
	MappingStop, MappingStart = time.Minute, time.Minute
	// A command pair is the user's: a nominal figure (its timeout bounds
	// it).
	CommandStop, CommandStart = 30 * time.Second, 30 * time.Second
)

// Switch is one availability switch as observed.
type Switch struct {
	Kind string // one of the Switch* kinds
	Ref  string // as the spec names it: "bus/name", "cluster/service", a UUID
	// Exists is false when the resource is not there (then only Kind and
	// Ref are set).
	Exists bool
	// On says whether it runs now; State says how, in AWS's words
	// ("ENABLED", "Enabled", "desired 2, running 2, pending 0").
	On    bool
	State string
	// DesiredCount and RunningCount are an ECS service's.
	DesiredCount, RunningCount int32
	// Scaling describes an ECS service's Application Auto Scaling target
	// ("" when it has none): "min 1, max 4; suspended: scheduled".
	Scaling string
	// Stops says what switching it off stops ("targets: arn:...",
	// "function arn:... reading arn:aws:sqs:...").
	Stops string
	// OffByRun is the run named by its envmig:off tag: a run switched it
	// off and has not restored it ("" when untagged). The plan must treat
	// that as an error naming `envmig recover`, not as the state to
	// restore.
	OffByRun string
	// Stop and Start are the typical durations (the kind's constants).
	Stop, Start time.Duration
}

// tagOff is the tag the switches leave (executor/switches.TagOff).
const tagOff = "envmig:off"

func offRun(v string) string {
	for _, kv := range strings.Split(v, ";") {
		if k, val, _ := strings.Cut(kv, "="); k == "run" {
			return val
		}
	}
	return ""
}

// ObserveRule reads the EventBridge rule ref ("name" on the default bus,
// or "bus/name": the last "/" separates them).
func ObserveRule(ctx context.Context, c EventBridgeAPI, ref string) (*Switch, error) {
	sw := &Switch{Kind: SwitchRule, Ref: ref, Stop: RuleStop, Start: RuleStart}
	bus, name := "default", ref
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		bus, name = ref[:i], ref[i+1:]
	}
	what := fmt.Sprintf("EventBridge rule %q", ref)
	out, err := c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(name), EventBusName: aws.String(bus)})
	var nf *ebtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return sw, nil
	}
	if err != nil {
		return nil, readError(what, "events:DescribeRule", err)
	}
	sw.Exists, sw.State, sw.On = true, string(out.State), out.State != ebtypes.RuleStateDisabled
	var targets []string
	p := eventbridge.ListTargetsByRuleInput{Rule: aws.String(name), EventBusName: aws.String(bus)}
	for {
		page, err := c.ListTargetsByRule(ctx, &p)
		if err != nil {
			return nil, readError(what, "events:ListTargetsByRule", err)
		}
		for _, t := range page.Targets {
			targets = append(targets, aws.ToString(t.Arn))
		}
		if p.NextToken = page.NextToken; p.NextToken == nil {
			break
		}
	}
	sw.Stops = "events to " + plural(len(targets), "target") + ": " + strings.Join(targets, ", ")
	if out.ScheduleExpression != nil {
		sw.Stops = "scheduled (" + aws.ToString(out.ScheduleExpression) + ") " + sw.Stops
	}
	tags, err := c.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: out.Arn})
	if err != nil {
		return nil, readError(what, "events:ListTagsForResource", err)
	}
	for _, t := range tags.Tags {
		if aws.ToString(t.Key) == tagOff {
			sw.OffByRun = offRun(aws.ToString(t.Value))
		}
	}
	return sw, nil
}

// ObserveSchedule reads the Scheduler schedule ref ("name" in group
// "default", or "group/name"). Schedules have no tags: OffByRun is never
// set, and a DISABLED schedule may have been disabled by a lost run.
func ObserveSchedule(ctx context.Context, c SchedulerAPI, ref string) (*Switch, error) {
	sw := &Switch{Kind: SwitchSchedule, Ref: ref, Stop: ScheduleStop, Start: ScheduleStart}
	group, name := "default", ref
	if g, n, ok := strings.Cut(ref, "/"); ok {
		group, name = g, n
	}
	out, err := c.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(group)})
	var nf *schedtypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return sw, nil
	}
	if err != nil {
		return nil, readError(fmt.Sprintf("EventBridge Scheduler schedule %q", ref), "scheduler:GetSchedule", err)
	}
	sw.Exists, sw.State, sw.On = true, string(out.State), out.State != schedtypes.ScheduleStateDisabled
	if out.Target != nil {
		sw.Stops = "invocations (" + aws.ToString(out.ScheduleExpression) + ") of " + aws.ToString(out.Target.Arn)
	}
	return sw, nil
}

// ObserveService reads the ECS service ref ("cluster/service") and its
// Application Auto Scaling target.
func ObserveService(ctx context.Context, c ECSAPI, s AppAutoScalingAPI, ref string) (*Switch, error) {
	sw := &Switch{Kind: SwitchService, Ref: ref, Stop: ServiceStop, Start: ServiceStart}
	cluster, name, ok := strings.Cut(ref, "/")
	if !ok {
		return nil, fmt.Errorf("ECS service %q: want CLUSTER/SERVICE", ref)
	}
	what := fmt.Sprintf("ECS service %q", ref)
	out, err := c.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{name}, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
	var nc *ecstypes.ClusterNotFoundException
	if errors.As(err, &nc) {
		return sw, nil
	}
	if err != nil {
		return nil, readError(what, "ecs:DescribeServices", err)
	}
	var svc *ecstypes.Service
	for i := range out.Services {
		if aws.ToString(out.Services[i].ServiceName) == name && aws.ToString(out.Services[i].Status) == "ACTIVE" {
			svc = &out.Services[i]
		}
	}
	if svc == nil {
		return sw, nil
	}
	sw.Exists, sw.DesiredCount, sw.RunningCount = true, svc.DesiredCount, svc.RunningCount
	sw.On = svc.DesiredCount > 0 || svc.RunningCount > 0
	sw.State = fmt.Sprintf("desired %d, running %d, pending %d", svc.DesiredCount, svc.RunningCount, svc.PendingCount)
	sw.Stops = plural(int(svc.RunningCount), "task") + " of " + aws.ToString(svc.TaskDefinition)
	for _, t := range svc.Tags {
		if aws.ToString(t.Key) == tagOff {
			sw.OffByRun = offRun(aws.ToString(t.Value))
		}
	}
	st, err := s.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceIds: []string{"service/" + cluster + "/" + name},
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount,
	})
	if err != nil {
		return nil, readError(what, "application-autoscaling:DescribeScalableTargets", err)
	}
	for _, t := range st.ScalableTargets {
		sw.Scaling = fmt.Sprintf("min %d, max %d", aws.ToInt32(t.MinCapacity), aws.ToInt32(t.MaxCapacity))
		var susp []string
		if s := t.SuspendedState; s != nil {
			for _, f := range []struct {
				n string
				v *bool
			}{{"scale-in", s.DynamicScalingInSuspended}, {"scale-out", s.DynamicScalingOutSuspended}, {"scheduled", s.ScheduledScalingSuspended}} {
				if aws.ToBool(f.v) {
					susp = append(susp, f.n)
				}
			}
		}
		if len(susp) > 0 {
			sw.Scaling += "; suspended: " + strings.Join(susp, ", ")
		}
	}
	return sw, nil
}

// ObserveMapping reads the Lambda event source mapping uuid.
func ObserveMapping(ctx context.Context, c LambdaAPI, uuid string) (*Switch, error) {
	sw := &Switch{Kind: SwitchMapping, Ref: uuid, Stop: MappingStop, Start: MappingStart}
	what := fmt.Sprintf("Lambda event source mapping %q", uuid)
	out, err := c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
	var nf *lambdatypes.ResourceNotFoundException
	if errors.As(err, &nf) {
		return sw, nil
	}
	if err != nil {
		return nil, readError(what, "lambda:GetEventSourceMapping", err)
	}
	sw.Exists, sw.State = true, aws.ToString(out.State)
	sw.On = sw.State != "Disabled"
	sw.Stops = "function " + aws.ToString(out.FunctionArn) + " reading " + aws.ToString(out.EventSourceArn)
	if arn := out.EventSourceMappingArn; arn != nil {
		tags, err := c.ListTags(ctx, &lambda.ListTagsInput{Resource: arn})
		if err != nil {
			return nil, readError(what, "lambda:ListTags", err)
		}
		sw.OffByRun = offRun(tags.Tags[tagOff])
	}
	return sw, nil
}

// CommandSwitch is a command pair as the plan shows it: nothing to
// observe, always "on" (envmig cannot tell), stopping what off stops.
func CommandSwitch(off string) *Switch {
	return &Switch{Kind: SwitchCommand, Ref: off, Exists: true, On: true, State: "unknown (a command)",
		Stops: "what `" + off + "` stops", Stop: CommandStop, Start: CommandStart}
}

// HealthyAfter is how long a target group takes, at its health check
// settings, to count a newly registered instance healthy
// (HealthyThresholdCount × HealthCheckIntervalSeconds): the least time a
// group's restore waits after its instances leave Standby. The longest of
// arns is returned; an unreadable group is an error.
func HealthyAfter(ctx context.Context, c TargetGroupAPI, arns []string) (time.Duration, error) {
	if len(arns) == 0 {
		return 0, nil
	}
	var longest time.Duration
	p := elbv2.NewDescribeTargetGroupsPaginator(c, &elbv2.DescribeTargetGroupsInput{TargetGroupArns: arns})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, readError("target groups "+strings.Join(arns, ", "), "elasticloadbalancing:DescribeTargetGroups", err)
		}
		for _, tg := range page.TargetGroups {
			d := time.Duration(aws.ToInt32(tg.HealthyThresholdCount)) * time.Duration(aws.ToInt32(tg.HealthCheckIntervalSeconds)) * time.Second
			longest = max(longest, d)
		}
	}
	return longest, nil
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return strconv.Itoa(n) + " " + word + "s"
}

// tagStandby is the tag a group's standby leaves on the group
// (executor/group.TagStandby): "run=RUN;min=N;max=N;desired=N;at=TIME".
const tagStandby = "envmig:standby"

// GroupStandbyRun returns the run named by a group's envmig:standby tag, ""
// when it has none: that group is in a run's standby, and its sizes and
// processes now must never be planned as the state to restore (the plan
// reports it as an error naming `envmig recover`).
func GroupStandbyRun(tags []astypes.TagDescription) string {
	for _, t := range tags {
		if aws.ToString(t.Key) == tagStandby {
			return offRun(aws.ToString(t.Value))
		}
	}
	return ""
}

// observeSwitch reads one switch with the reader's client of its kind.
func (r *Reader) observeSwitch(ctx context.Context, s SwitchRef) (*Switch, error) {
	missing := func(what string) error {
		return fmt.Errorf("switch %s %q: envmig has no %s client", s.Kind, s.Ref, what)
	}
	switch s.Kind {
	case SwitchRule:
		if r.EventBridge == nil {
			return nil, missing("EventBridge")
		}
		return ObserveRule(ctx, r.EventBridge, s.Ref)
	case SwitchSchedule:
		if r.Scheduler == nil {
			return nil, missing("Scheduler")
		}
		return ObserveSchedule(ctx, r.Scheduler, s.Ref)
	case SwitchService:
		if r.ECS == nil || r.AppAutoScaling == nil {
			return nil, missing("ECS")
		}
		return ObserveService(ctx, r.ECS, r.AppAutoScaling, s.Ref)
	case SwitchMapping:
		if r.Lambda == nil {
			return nil, missing("Lambda")
		}
		return ObserveMapping(ctx, r.Lambda, s.Ref)
	case SwitchCommand:
		return CommandSwitch(s.Ref), nil
	}
	return nil, fmt.Errorf("unknown switch kind %q", s.Kind)
}
