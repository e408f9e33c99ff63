package group

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancing"
	"github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// Client is the part of the Auto Scaling API the handlers use;
// *autoscaling.Client satisfies it.
type Client interface {
	autoscaling.DescribeAutoScalingGroupsAPIClient
	autoscaling.DescribeInstanceRefreshesAPIClient
	SuspendProcesses(ctx context.Context, in *autoscaling.SuspendProcessesInput, optFns ...func(*autoscaling.Options)) (*autoscaling.SuspendProcessesOutput, error)
	ResumeProcesses(ctx context.Context, in *autoscaling.ResumeProcessesInput, optFns ...func(*autoscaling.Options)) (*autoscaling.ResumeProcessesOutput, error)
	UpdateAutoScalingGroup(ctx context.Context, in *autoscaling.UpdateAutoScalingGroupInput, optFns ...func(*autoscaling.Options)) (*autoscaling.UpdateAutoScalingGroupOutput, error)
	EnterStandby(ctx context.Context, in *autoscaling.EnterStandbyInput, optFns ...func(*autoscaling.Options)) (*autoscaling.EnterStandbyOutput, error)
	ExitStandby(ctx context.Context, in *autoscaling.ExitStandbyInput, optFns ...func(*autoscaling.Options)) (*autoscaling.ExitStandbyOutput, error)
	CreateOrUpdateTags(ctx context.Context, in *autoscaling.CreateOrUpdateTagsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.CreateOrUpdateTagsOutput, error)
	DeleteTags(ctx context.Context, in *autoscaling.DeleteTagsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DeleteTagsOutput, error)
}

// EC2API tags the instances a standby moves, and reads those tags;
// *ec2.Client satisfies it.
type EC2API interface {
	ec2.DescribeTagsAPIClient
	CreateTags(ctx context.Context, in *ec2.CreateTagsInput, optFns ...func(*ec2.Options)) (*ec2.CreateTagsOutput, error)
	DeleteTags(ctx context.Context, in *ec2.DeleteTagsInput, optFns ...func(*ec2.Options)) (*ec2.DeleteTagsOutput, error)
}

// TargetHealthAPI reads the health of targets in an ELBv2 target group;
// *elasticloadbalancingv2.Client satisfies it.
type TargetHealthAPI interface {
	elasticloadbalancingv2.DescribeTargetHealthAPIClient
}

// InstanceHealthAPI reads the health of instances behind a classic load
// balancer; *elasticloadbalancing.Client satisfies it.
type InstanceHealthAPI interface {
	elasticloadbalancing.DescribeInstanceHealthAPIClient
}

var (
	_ Client            = (*autoscaling.Client)(nil)
	_ EC2API            = (*ec2.Client)(nil)
	_ TargetHealthAPI   = (*elasticloadbalancingv2.Client)(nil)
	_ InstanceHealthAPI = (*elasticloadbalancing.Client)(nil)
)

// Clients are the services a group's standby and restore touch. ASG and
// EC2 are required; ELBv2 and ELB are required for groups that have target
// groups or classic load balancers (the restore waits for health there),
// and a group that has them while its client is nil fails the restore with
// an error rather than skip the wait.
type Clients struct {
	ASG   Client
	EC2   EC2API
	ELBv2 TargetHealthAPI
	ELB   InstanceHealthAPI
}

// Options tune the waits. Zero fields take the defaults.
type Options struct {
	// MinDelay and MaxDelay bound the backoff between two observations
	// (defaults 2 s and 15 s).
	MinDelay, MaxDelay time.Duration
	// MaxWait bounds one wait for lifecycle states (default 30 minutes).
	// When it runs out the step fails resumably: the journal keeps what
	// was recorded.
	MaxWait time.Duration
	// HealthWait bounds the wait, after a restore, until every instance is
	// healthy in the group's load balancers (default 15 minutes: a target
	// group's default health check needs 5 passes 30 s apart, and an
	// instance's application may take minutes to warm up).
	HealthWait time.Duration
}

func (o Options) withDefaults() Options {
	if o.MinDelay <= 0 {
		o.MinDelay = 2 * time.Second
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 15 * time.Second
	}
	if o.MaxDelay < o.MinDelay {
		o.MaxDelay = o.MinDelay
	}
	if o.MaxWait <= 0 {
		o.MaxWait = 30 * time.Minute
	}
	if o.HealthWait <= 0 {
		o.HealthWait = 15 * time.Minute
	}
	return o
}

// Processes are the scaling processes suspended while a group is in
// Standby: each would launch, terminate, replace or re-register instances
// (InstanceRefresh would replace them mid-run).
var Processes = []string{
	"Launch", "Terminate", "HealthCheck", "ReplaceUnhealthy", "AZRebalance",
	"AlarmNotification", "ScheduledActions", "AddToLoadBalancer", "InstanceRefresh",
}

// BatchSize is the most instances one EnterStandby or ExitStandby call
// takes (the API's limit).
const BatchSize = 20

// The keys group.standby records in the journal.
const (
	KeyMin       = "min"
	KeyMax       = "max"
	KeyDesired   = "desired"
	KeySuspended = "suspended"  // processes suspended before envmig, sorted, comma-joined
	KeyInstances = "instances"  // the InService instances moved to Standby, comma-joined
	KeyStartedAt = "started_at" // RFC 3339 with nanoseconds; recorded last
	// KeyFrozenAt is when the freeze holds from: the first whole second
	// after every instance left service (RFC 3339).
	KeyFrozenAt = "frozen_at"
)

// Record is the group as group.standby found it.
type Record struct {
	Min, Max, Desired int32
	Suspended         []string
	Instances         []string
	StartedAt         time.Time
}

// ReadRecord parses what group.standby recorded, through get (a
// StepContext's Value, or StepValue bound to the standby step). ok is false
// when nothing complete was recorded: the standby never acted.
func ReadRecord(get func(key string) string) (rec Record, ok bool, err error) {
	started := get(KeyStartedAt)
	if started == "" {
		return Record{}, false, nil
	}
	if rec.StartedAt, err = time.Parse(time.RFC3339Nano, started); err != nil {
		return Record{}, false, fmt.Errorf("recorded %s %q: %w", KeyStartedAt, started, err)
	}
	for key, dst := range map[string]*int32{KeyMin: &rec.Min, KeyMax: &rec.Max, KeyDesired: &rec.Desired} {
		n, err := strconv.ParseInt(get(key), 10, 32)
		if err != nil {
			return Record{}, false, fmt.Errorf("recorded %s %q: %w", key, get(key), err)
		}
		*dst = int32(n)
	}
	rec.Suspended = splitList(get(KeySuspended))
	rec.Instances = splitList(get(KeyInstances))
	return rec, true, nil
}

// write records rec; KeyStartedAt goes last so that its presence means the
// record is complete.
func (rec Record) write(sc *executor.StepContext) error {
	kv := [][2]string{
		{KeyMin, strconv.Itoa(int(rec.Min))},
		{KeyMax, strconv.Itoa(int(rec.Max))},
		{KeyDesired, strconv.Itoa(int(rec.Desired))},
		{KeySuspended, strings.Join(rec.Suspended, ",")},
		{KeyInstances, strings.Join(rec.Instances, ",")},
		{KeyStartedAt, rec.StartedAt.UTC().Format(time.RFC3339Nano)},
	}
	for _, p := range kv {
		if err := sc.Record(p[0], p[1]); err != nil {
			return fmt.Errorf("record the group's %s: %w", p[0], err)
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// Groups runs the standby, restore and recovery of Auto Scaling groups. It
// holds no state of its own between calls and is safe for concurrent use
// on different groups; two calls on one group at once are not supported
// (the run's lock prevents them).
type Groups struct {
	c Clients
	o Options
}

// New returns the group handler cores over c.
func New(c Clients, o Options) *Groups { return &Groups{c: c, o: o.withDefaults()} }

// Handlers returns the group handlers keyed by the action they run, reading
// the group from the step's "group" parameter and the standby step from
// "standby_step", over an Auto Scaling client alone: it keeps today's wiring
// compiling, and its standby fails (it cannot tag the instances it moves)
// until the wiring builds New(Clients{...}, o).Handlers().
func Handlers(c Client, o Options) map[plan.StepAction]executor.Handler {
	return New(Clients{ASG: c}, o).Handlers()
}

// Handlers returns the step handlers over the cores Standby and Restore.
func (g *Groups) Handlers() map[plan.StepAction]executor.Handler {
	return map[plan.StepAction]executor.Handler{
		plan.GroupStandby: &standby{g},
		plan.GroupResume:  &resume{g},
	}
}

// progress is what the restore needs of a run: a StepContext, or the
// adapter Recover builds when there is no run.
type progress interface {
	Accepted()
	Report(executor.Progress)
}

var _ progress = (*executor.StepContext)(nil)

// describe returns the named group, or an error when it does not exist.
func (g *Groups) describe(ctx context.Context, name string) (*types.AutoScalingGroup, error) {
	out, err := g.c.ASG.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{
		AutoScalingGroupNames: []string{name},
	})
	if err != nil {
		return nil, fmt.Errorf("describe Auto Scaling group %s: %w", name, err)
	}
	return findGroup(out, name)
}

// ErrNoGroup is wrapped by the error for a group that does not exist.
var ErrNoGroup = errors.New("Auto Scaling group does not exist")

func findGroup(out *autoscaling.DescribeAutoScalingGroupsOutput, name string) (*types.AutoScalingGroup, error) {
	for i := range out.AutoScalingGroups {
		if aws.ToString(out.AutoScalingGroups[i].AutoScalingGroupName) == name {
			return &out.AutoScalingGroups[i], nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNoGroup, name)
}

// groupName returns the step's group parameter.
func groupName(sc *executor.StepContext) (string, error) {
	var name string
	switch p := sc.Step.Params.(type) {
	case plan.GroupStandbyParams:
		name = p.Group
	case plan.GroupResumeParams:
		name = p.Group
	}
	if name == "" {
		return "", errors.New("the step has no group parameter")
	}
	return name, nil
}

// states maps instance ID to lifecycle state.
func states(grp *types.AutoScalingGroup) map[string]types.LifecycleState {
	m := make(map[string]types.LifecycleState, len(grp.Instances))
	for _, in := range grp.Instances {
		m[aws.ToString(in.InstanceId)] = in.LifecycleState
	}
	return m
}

// suspended returns the group's suspended processes, sorted.
func suspended(grp *types.AutoScalingGroup) []string {
	var out []string
	for _, p := range grp.SuspendedProcesses {
		out = append(out, aws.ToString(p.ProcessName))
	}
	slices.Sort(out)
	return out
}

// recordOf is the record of grp as found now.
func recordOf(grp *types.AutoScalingGroup, now time.Time) Record {
	rec := Record{
		Min:       aws.ToInt32(grp.MinSize),
		Max:       aws.ToInt32(grp.MaxSize),
		Desired:   aws.ToInt32(grp.DesiredCapacity),
		Suspended: suspended(grp),
		StartedAt: now,
	}
	for _, in := range grp.Instances {
		if in.LifecycleState == types.LifecycleStateInService {
			rec.Instances = append(rec.Instances, aws.ToString(in.InstanceId))
		}
	}
	return rec
}

// batches splits ids into slices of at most n.
func batches(ids []string, n int) [][]string {
	var out [][]string
	for len(ids) > 0 {
		k := min(len(ids), n)
		out = append(out, ids[:k])
		ids = ids[k:]
	}
	return out
}

// allIn reports whether every id is in one of the states.
func allIn(st map[string]types.LifecycleState, ids []string, want ...types.LifecycleState) bool {
	for _, id := range ids {
		if !slices.Contains(want, st[id]) {
			return false
		}
	}
	return true
}

// wait polls the group with the SDK waiter's backoff until done says so.
// done returns a progress message while it is not done, or an error that
// ends the wait.
func (g *Groups) wait(ctx context.Context, sc progress, name, goal string, done func(*types.AutoScalingGroup) (bool, string, error)) error {
	var last string
	retrying := false
	w := autoscaling.NewGroupInServiceWaiter(g.c.ASG, func(o *autoscaling.GroupInServiceWaiterOptions) {
		o.MinDelay, o.MaxDelay = g.o.MinDelay, g.o.MaxDelay
		o.Retryable = func(ctx context.Context, _ *autoscaling.DescribeAutoScalingGroupsInput, out *autoscaling.DescribeAutoScalingGroupsOutput, err error) (bool, error) {
			retrying = false
			if err != nil {
				return false, err
			}
			grp, err := findGroup(out, name)
			if err != nil {
				return false, err
			}
			ok, msg, err := done(grp)
			if err != nil || ok {
				return false, err
			}
			last, retrying = msg, true
			sc.Report(executor.Progress{Message: msg, Percent: -1})
			return true, nil
		}
	})
	err := w.Wait(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}}, g.o.MaxWait)
	switch {
	case err == nil:
		return nil
	case ctx.Err() != nil:
		return fmt.Errorf("wait for %s: %w", goal, ctx.Err())
	case retrying:
		// The last observation asked for another one: the waiter ran out
		// of time.
		return fmt.Errorf("%s: not reached after %s (%s); run `envmig resume` to check again", goal, g.o.MaxWait, last)
	default:
		return fmt.Errorf("wait for %s: %w", goal, err)
	}
}
