package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/demo"
)

// The availability switches end to end: the shop's web group behind an
// ALB target group, and every other kind of writer beside it, switched off
// for the standby and restored exactly, through the binary against moto.

// writers are the writers seeded beside the shop.
type writers struct {
	targetGroup string // ARN
	mapping     string // the event source mapping's UUID
}

const (
	ruleName     = "shop-nightly-import"
	scheduleName = "shop-billing"
	ecsCluster   = "shop"
	ecsService   = "worker"
)

// seedWriters puts the shop's group behind an ALB target group and creates
// an EventBridge rule, a Scheduler schedule, an ECS service (with an
// Application Auto Scaling target) and a Lambda function fed by an SQS
// queue, each on.
func seedWriters(t *testing.T, cl *awsclient.Clients) writers {
	t.Helper()
	ctx := context.Background()
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	var w writers

	// The load balancer, in the default VPC.
	vpcs, err := cl.EC2.DescribeVpcs(ctx, &ec2.DescribeVpcsInput{Filters: []ec2types.Filter{{Name: aws.String("is-default"), Values: []string{"true"}}}})
	if err != nil || len(vpcs.Vpcs) == 0 {
		t.Fatalf("no default VPC: %v", err)
	}
	vpc := aws.ToString(vpcs.Vpcs[0].VpcId)
	subnets, err := cl.EC2.DescribeSubnets(ctx, &ec2.DescribeSubnetsInput{Filters: []ec2types.Filter{{Name: aws.String("vpc-id"), Values: []string{vpc}}}})
	if err != nil || len(subnets.Subnets) < 2 {
		t.Fatalf("the default VPC has fewer than 2 subnets: %v", err)
	}
	tg, err := cl.ELBv2.CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{
		Name: aws.String("shop-web"), Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(80), VpcId: aws.String(vpc),
		TargetType: elbv2types.TargetTypeEnumInstance, HealthCheckPath: aws.String("/health"),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.targetGroup = aws.ToString(tg.TargetGroups[0].TargetGroupArn)
	lb, err := cl.ELBv2.CreateLoadBalancer(ctx, &elbv2.CreateLoadBalancerInput{
		Name: aws.String("shop-web"), Type: elbv2types.LoadBalancerTypeEnumApplication,
		Subnets: []string{aws.ToString(subnets.Subnets[0].SubnetId), aws.ToString(subnets.Subnets[1].SubnetId)},
	})
	if err != nil {
		t.Fatal(err)
	}
	must(cl.ELBv2.CreateListener(ctx, &elbv2.CreateListenerInput{
		LoadBalancerArn: lb.LoadBalancers[0].LoadBalancerArn, Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(80),
		DefaultActions: []elbv2types.Action{{Type: elbv2types.ActionTypeEnumForward, TargetGroupArn: aws.String(w.targetGroup)}},
	}))
	must(cl.AutoScaling.AttachLoadBalancerTargetGroups(ctx, &autoscaling.AttachLoadBalancerTargetGroupsInput{
		AutoScalingGroupName: aws.String(demo.Group), TargetGroupARNs: []string{w.targetGroup},
	}))

	// A scheduled rule with a target.
	must(cl.EventBridge.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String(ruleName), ScheduleExpression: aws.String("rate(1 day)"), Description: aws.String("nightly order import"),
	}))

	// A Lambda function fed by a queue, whose role must exist.
	role, err := iam.NewFromConfig(cl.Config).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("shop-consumer"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	if err != nil {
		t.Fatal(err)
	}
	q := sqs.NewFromConfig(cl.Config)
	queue, err := q.CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("shop-orders")})
	if err != nil {
		t.Fatal(err)
	}
	attrs, err := q.GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: queue.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	queueARN := attrs.Attributes["QueueArn"]
	must(cl.EventBridge.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String(ruleName),
		Targets: []ebtypes.Target{{Id: aws.String("orders"), Arn: aws.String(queueARN)}}}))
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	f, err := zw.Create("handler.py")
	if err != nil {
		t.Fatal(err)
	}
	must(f.Write([]byte("def handler(event, context):\n    return None\n")))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	must(cl.Lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("shop-consumer"), Runtime: lambdatypes.RuntimePython312, Role: role.Role.Arn,
		Handler: aws.String("handler.handler"), Code: &lambdatypes.FunctionCode{ZipFile: zipped.Bytes()},
	}))
	m, err := cl.Lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("shop-consumer"), EventSourceArn: aws.String(queueARN), BatchSize: aws.Int32(5),
	})
	if err != nil {
		t.Fatal(err)
	}
	w.mapping = aws.ToString(m.UUID)

	// A schedule in the default group.
	must(cl.Scheduler.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
		Name: aws.String(scheduleName), ScheduleExpression: aws.String("cron(0 3 1 * ? *)"), Description: aws.String("monthly invoices"),
		FlexibleTimeWindow: &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff},
		Target:             &schedtypes.Target{Arn: aws.String(queueARN), RoleArn: role.Role.Arn, Input: aws.String(`{"run":"invoices"}`)},
	}))

	// An ECS service running 2 tasks, with a scalable target. moto starts
	// a service with no running tasks and sets running = desired on every
	// UpdateService, so it is updated once.
	must(cl.ECS.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String(ecsCluster)}))
	must(cl.ECS.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String(ecsService), ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String(ecsService), Image: aws.String("worker:1"), Memory: aws.Int32(256)}},
	}))
	must(cl.ECS.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String(ecsCluster), ServiceName: aws.String(ecsService), TaskDefinition: aws.String(ecsService), DesiredCount: aws.Int32(2)}))
	must(cl.ECS.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String(ecsCluster), Service: aws.String(ecsService), DesiredCount: aws.Int32(2)}))
	must(cl.AppAutoScaling.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/" + ecsCluster + "/" + ecsService),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(4),
	}))
	return w
}

// switchBlocks are the spec's switch blocks for w.
func switchBlocks(w writers) string {
	return fmt.Sprintf(`  switch "nightly" {
    eventbridge_rule = %q
  }

  switch "billing" {
    schedule = %q
  }

  switch "worker" {
    ecs_service = "%s/%s"
  }

  switch "consumer" {
    lambda_event_source = %q
  }

`, ruleName, scheduleName, ecsCluster, ecsService, w.mapping)
}

// withSwitches inserts the switch blocks into spec, before its migration
// block.
func withSwitches(spec string, w writers) string {
	const at = "  migration {"
	if !strings.Contains(spec, at) {
		panic("the spec has no migration block")
	}
	return strings.Replace(spec, at, switchBlocks(w)+at, 1)
}

// writerState is everything a restore must bring back of each writer, as
// text, by switch name.
func writerState(t *testing.T, cl *awsclient.Clients, w writers) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	rule, err := cl.EventBridge.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(ruleName)})
	if err != nil {
		t.Fatal(err)
	}
	out["nightly"] = fmt.Sprintf("%s schedule=%s description=%q", rule.State, aws.ToString(rule.ScheduleExpression), aws.ToString(rule.Description))

	sch, err := cl.Scheduler.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(scheduleName)})
	if err != nil {
		t.Fatal(err)
	}
	sch.LastModificationDate, sch.ResultMetadata = nil, middleware.Metadata{}
	def, _ := json.Marshal(sch)
	out["billing"] = string(sch.State) + " " + string(def)

	svc, err := cl.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(ecsCluster), Services: []string{ecsService}})
	if err != nil || len(svc.Services) != 1 {
		t.Fatalf("describe the ECS service: %v", err)
	}
	st, err := cl.AppAutoScaling.DescribeScalableTargets(ctx, &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs})
	if err != nil || len(st.ScalableTargets) != 1 {
		t.Fatalf("the scalable target: %v", err)
	}
	s := st.ScalableTargets[0]
	susp := s.SuspendedState
	out["worker"] = fmt.Sprintf("%s desired=%d running=%d min=%d max=%d suspended(in=%t out=%t scheduled=%t)",
		aws.ToString(svc.Services[0].Status), svc.Services[0].DesiredCount, svc.Services[0].RunningCount,
		aws.ToInt32(s.MinCapacity), aws.ToInt32(s.MaxCapacity),
		susp != nil && aws.ToBool(susp.DynamicScalingInSuspended), susp != nil && aws.ToBool(susp.DynamicScalingOutSuspended), susp != nil && aws.ToBool(susp.ScheduledScalingSuspended))

	m, err := cl.Lambda.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(w.mapping)})
	if err != nil {
		t.Fatal(err)
	}
	out["consumer"] = fmt.Sprintf("%s batch=%d function=%s source=%s", aws.ToString(m.State), aws.ToInt32(m.BatchSize), aws.ToString(m.FunctionArn), aws.ToString(m.EventSourceArn))
	return out
}

// writersOff fails t unless each writer is off.
func writersOff(t *testing.T, cl *awsclient.Clients, w writers) {
	t.Helper()
	got := writerState(t, cl, w)
	want := map[string]string{"nightly": "DISABLED ", "billing": "DISABLED ", "worker": "ACTIVE desired=0 running=0 ", "consumer": "Disabled "}
	for name, prefix := range want {
		if !strings.HasPrefix(got[name], prefix) {
			t.Errorf("during the standby, switch %s is %q, want it off (%q...)", name, got[name], prefix)
		}
	}
}

// groupInStandby fails t unless every instance of the shop's group is in
// Standby.
func groupInStandby(t *testing.T, cl *awsclient.Clients) {
	t.Helper()
	g := describeGroup(t, cl)
	if len(g.Instances) == 0 {
		t.Fatal("the group has no instances")
	}
	for _, in := range g.Instances {
		if in.LifecycleState != "Standby" {
			t.Errorf("during the standby, instance %s is %s", aws.ToString(in.InstanceId), in.LifecycleState)
		}
	}
}

func describeGroup(t *testing.T, cl *awsclient.Clients) astypes.AutoScalingGroup {
	t.Helper()
	out, err := cl.AutoScaling.DescribeAutoScalingGroups(context.Background(), &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{demo.Group}})
	if err != nil || len(out.AutoScalingGroups) != 1 {
		t.Fatalf("describe %s: %v", demo.Group, err)
	}
	return out.AutoScalingGroups[0]
}

// inTargetGroup fails t unless every instance of the group is registered
// and healthy in the target group, and only those.
func inTargetGroup(t *testing.T, cl *awsclient.Clients, w writers) {
	t.Helper()
	g := describeGroup(t, cl)
	if !slices.Contains(g.TargetGroupARNs, w.targetGroup) {
		t.Fatalf("the group lost its target group: %v", g.TargetGroupARNs)
	}
	var ids []string
	for _, in := range g.Instances {
		if in.LifecycleState != "InService" {
			t.Errorf("instance %s is %s", aws.ToString(in.InstanceId), in.LifecycleState)
		}
		ids = append(ids, aws.ToString(in.InstanceId))
	}
	h, err := cl.ELBv2.DescribeTargetHealth(context.Background(), &elbv2.DescribeTargetHealthInput{TargetGroupArn: aws.String(w.targetGroup)})
	if err != nil {
		t.Fatal(err)
	}
	health := map[string]string{}
	for _, d := range h.TargetHealthDescriptions {
		health[aws.ToString(d.Target.Id)] = string(d.TargetHealth.State)
	}
	for _, id := range ids {
		if health[id] != "healthy" {
			t.Errorf("instance %s in target group: %q, want healthy", id, health[id])
		}
	}
	if len(health) != len(ids) {
		t.Errorf("the target group holds %v, the group %v", health, ids)
	}
}

// tagged lists the envmig: tags left on the group and its writers that
// have tags.
func leftTags(t *testing.T, cl *awsclient.Clients, w writers) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	g := describeGroup(t, cl)
	for _, tg := range g.Tags {
		if strings.HasPrefix(aws.ToString(tg.Key), "envmig:") {
			out = append(out, "group "+aws.ToString(tg.Key))
		}
	}
	rule, err := cl.EventBridge.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(ruleName)})
	if err != nil {
		t.Fatal(err)
	}
	tags, err := cl.EventBridge.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: rule.Arn})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range tags.Tags {
		if strings.HasPrefix(aws.ToString(tg.Key), "envmig:") {
			out = append(out, "rule "+aws.ToString(tg.Key))
		}
	}
	svc, err := cl.ECS.DescribeServices(ctx, &ecs.DescribeServicesInput{Cluster: aws.String(ecsCluster), Services: []string{ecsService}, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tg := range svc.Services[0].Tags {
		if strings.HasPrefix(aws.ToString(tg.Key), "envmig:") {
			out = append(out, "service "+aws.ToString(tg.Key))
		}
	}
	sort.Strings(out)
	return out
}

// The acceptance: the group behind an ALB target group and every
// kind of writer, migrated; paused at the point of no return, each is off;
// afterwards each is exactly as before and every instance is back in its
// target group.
//
// moto registers the group's instances with the target group on attach and
// reports every registered instance healthy without probing it, and it
// keeps Standby instances registered (AWS deregisters them): so the test
// proves registration and the restore's order and health wait, not that a
// health check passed.
func TestSwitchesOffDuringTheStandbyAndRestoredExactly(t *testing.T) {
	cl := clitest.SeedShop(t)
	w := seedWriters(t, cl)
	before, beforeWriters := clitest.Observe(t, cl), writerState(t, cl, w)
	inTargetGroup(t, cl, w)

	c := newCLI(t, withSwitches(clitest.ShopSpec("rename-swap"), w))
	r := c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	for _, s := range []string{"switch.off.nightly", "switch.off.billing", "switch.off.worker", "switch.off.consumer",
		"switch.on.nightly", "switch.on.billing", "switch.on.worker", "switch.on.consumer", ruleName, scheduleName, w.mapping} {
		if !strings.Contains(r.Stdout, s) {
			t.Fatalf("the plan does not show %q:\n%s", s, r.Stdout)
		}
	}

	// Paused at the point of no return.
	c.Bin, c.Env = clitest.Bins.Crash, []string{executor.CrashEnv + "=apply:gate:after-intent"}
	if r := c.Run("apply", "-auto-approve", "plan.json"); !r.Killed {
		t.Fatalf("the run was not stopped at the gate:\n%s", r)
	}
	c.Bin, c.Env = clitest.Bins.Envmig, nil
	t.Logf("paused at the gate: %v", writerState(t, cl, w))
	writersOff(t, cl, w)
	groupInStandby(t, cl)

	c.Calls()
	c.Must(0, "resume", "-auto-approve")
	var ops []string
	for _, call := range c.Calls() {
		ops = append(ops, call.Operation)
	}
	if resumed, exit := slices.Index(ops, "ResumeProcesses"), slices.Index(ops, "ExitStandby"); resumed < 0 || exit < 0 || resumed > exit {
		t.Errorf("AddToLoadBalancer must be resumed before the instances leave Standby; the calls were %v", ops)
	}
	if exit, health := slices.Index(ops, "ExitStandby"), slices.Index(ops, "DescribeTargetHealth"); health < exit {
		t.Errorf("the restore did not wait for the target group's health after ExitStandby; the calls were %v", ops)
	}
	after := clitest.Observe(t, cl)
	if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
		t.Errorf("the group is not restored exactly (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(beforeWriters, writerState(t, cl, w)); diff != "" {
		t.Errorf("the writers are not restored exactly (-before +after):\n%s", diff)
	}
	inTargetGroup(t, cl, w)
	if left := leftTags(t, cl, w); len(left) != 0 {
		t.Errorf("tags left behind: %v", left)
	}
	st := c.Must(0, "status")
	if !regexp.MustCompile(`Standby window: \S+ measured \(\S+ to \S+\), ~\S+ predicted`).MatchString(st.Stdout) {
		t.Errorf("status does not show the measured standby window next to the predicted one:\n%s", st.Stdout)
	}
	c.Must(0, "plan", "-detailed-exitcode")
}

// switchesSpec is a light migration of the shop (the legacy assets move to
// their new name) with the group and every writer switched off for it.
func switchesSpec(w writers) string {
	return `aws {
  region = "us-east-1"
}

environment "production" {
  bucket "assets" {
    name       = "shop-prod-assets"
    moved_from = "shop-prod-assets-legacy"
  }

  service "web" {
    autoscaling_group = "shop-prod-web"
  }

` + switchBlocks(w) + `  migration {
    strategy = "rename-swap"
  }
}
`
}

// crashCase is a kill of the run at one point of one switch's step, and
// how the operator recovers.
type crashCase struct {
	step, point, recovery string
}

// switchCrashCases are the crash points of each switch's off and on steps:
// after the intent is journaled (nothing done yet) and after each call AWS
// accepted (the tag, then the switch itself: its result is not journaled).
// A crash in an off step is recovered both ways; one in an on step (after
// the point of no return) only by resume. Without the full size, the last
// accepted call of each step, where the resource has changed but the
// journal does not know it.
func switchCrashCases(full bool) map[string]crashCase {
	accepted := map[string]int{"nightly": 2, "billing": 1, "worker": 2, "consumer": 2} // the schedule has no tags
	out := map[string]crashCase{}
	for name, n := range accepted {
		for _, side := range []string{"off", "on"} {
			points := []string{fmt.Sprintf("accepted:%d", n)}
			if side == "on" {
				points = []string{"accepted:1"} // the switch itself; the untag follows
			}
			if full {
				points = []string{"after-intent"}
				for i := 1; i <= n; i++ {
					points = append(points, fmt.Sprintf("accepted:%d", i))
				}
			}
			recoveries := []string{"resume"}
			if side == "off" {
				recoveries = append(recoveries, "rollback")
			}
			for _, p := range points {
				for _, rec := range recoveries {
					step := "switch." + side + "." + name
					out[step+"@"+p+"/"+rec] = crashCase{step: step, point: p, recovery: rec}
				}
			}
		}
	}
	return out
}

// A crash in each switch's off and on steps: resume (or rollback, before
// the point of no return) restores every writer and the group exactly, and
// leaves none of the run's tags.
func TestACrashInASwitchStepRecovers(t *testing.T) {
	cases := switchCrashCases(clitest.Full())
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		tc := cases[name]
		t.Run(name, func(t *testing.T) {
			cl := clitest.SeedShop(t)
			w := seedWriters(t, cl)
			before, beforeWriters := clitest.Observe(t, cl), writerState(t, cl, w)
			c := newCLI(t, switchesSpec(w))
			c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")

			c.Bin, c.Env = clitest.Bins.Crash, []string{executor.CrashEnv + "=apply:" + tc.step + ":" + tc.point}
			if r := c.Run("apply", "-auto-approve", "plan.json"); !r.Killed {
				t.Fatalf("the run was not killed at %s %s:\n%s", tc.step, tc.point, r)
			}
			c.Bin, c.Env = clitest.Bins.Envmig, nil
			c.Must(0, tc.recovery, "-auto-approve")

			after := clitest.Observe(t, cl)
			if diff := cmp.Diff(beforeWriters, writerState(t, cl, w)); diff != "" {
				t.Errorf("the writers are not restored exactly (-before +after):\n%s", diff)
			}
			if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
				t.Errorf("the group is not restored exactly (-before +after):\n%s", diff)
			}
			inTargetGroup(t, cl, w)
			if left := leftTags(t, cl, w); len(left) != 0 {
				t.Errorf("tags left behind: %v", left)
			}
			if tc.recovery == "rollback" {
				if diff := cmp.Diff(before.Buckets, after.Buckets); diff != "" {
					t.Errorf("the rollback did not leave the buckets as they were (-before +after):\n%s", diff)
				}
			} else {
				c.Must(0, "plan", "-detailed-exitcode")
			}
			c.Calls()
		})
	}
}

// An object deleted from an original bucket during the standby (a writer
// the spec does not switch off): verify.frozen names its key and stops the
// run before the point of no return, without undoing it. Then a
// switched-off writer is enabled again by hand: verify.frozen names it, and
// the run rolls back, bringing every writer back and leaving the bucket as
// the writer left it.
func TestVerifyFrozenReportsAnObjectDeletedDuringTheStandby(t *testing.T) {
	cl := clitest.SeedShop(t)
	w := seedWriters(t, cl)
	before, beforeWriters := clitest.Observe(t, cl), writerState(t, cl, w)
	c := newCLI(t, switchesSpec(w))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")

	// The run is stopped right before verify.frozen; meanwhile something
	// deletes an object from the original.
	c.Bin, c.Env = clitest.Bins.Crash, []string{executor.CrashEnv + "=apply:verify.frozen:before-intent"}
	if r := c.Run("apply", "-auto-approve", "plan.json"); !r.Killed {
		t.Fatalf("the run was not stopped before verify.frozen:\n%s", r)
	}
	c.Bin, c.Env = clitest.Bins.Envmig, nil
	gone := strings.Fields(clitest.BucketObjects(t, cl, demo.LegacyAssets)[3])[0]
	if _, err := cl.S3.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(demo.LegacyAssets), Key: aws.String(gone)}); err != nil {
		t.Fatal(err)
	}
	want := clitest.BucketObjects(t, cl, demo.LegacyAssets)

	r := c.Must(exitError, "resume", "-auto-approve")
	if !strings.Contains(r.Stdout+r.Stderr, gone) || !strings.Contains(r.Stdout+r.Stderr, demo.LegacyAssets) {
		t.Fatalf("the stop does not name the deleted object %s of %s:\n%s", gone, demo.LegacyAssets, r)
	}
	st := c.Must(0, "status")
	if !stepFailedNaming(st.Stdout, "verify.frozen", gone) {
		t.Fatalf("status does not show verify.frozen failing on %s:\n%s", gone, st.Stdout)
	}
	writersOff(t, cl, w) // stopped, not undone

	// Someone enables the nightly import again.
	if _, err := cl.EventBridge.EnableRule(context.Background(), &eventbridge.EnableRuleInput{Name: aws.String(ruleName)}); err != nil {
		t.Fatal(err)
	}
	r = c.Must(exitError, "resume", "-auto-approve")
	if s := "EventBridge rule default/" + ruleName + ", switched off by this run, is on again"; !strings.Contains(r.Stdout+r.Stderr, s) {
		t.Fatalf("the stop does not say %q:\n%s", s, r)
	}
	if st := c.Must(0, "status"); !strings.Contains(st.Stdout, "rolled-back") {
		t.Fatalf("the run was not rolled back:\n%s", st.Stdout)
	}
	after := clitest.Observe(t, cl)
	if diff := cmp.Diff(want, after.Buckets[demo.LegacyAssets]); diff != "" {
		t.Errorf("the rollback changed the original (-want +got):\n%s", diff)
	}
	if _, ok := after.Buckets[demo.Assets]; ok {
		t.Errorf("the rollback left the new bucket %s", demo.Assets)
	}
	if diff := cmp.Diff(beforeWriters, writerState(t, cl, w)); diff != "" {
		t.Errorf("the writers are not restored exactly (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
		t.Errorf("the group is not restored exactly (-before +after):\n%s", diff)
	}
	if left := leftTags(t, cl, w); len(left) != 0 {
		t.Errorf("tags left behind: %v", left)
	}
	c.Calls()
}

// stepFailedNaming reports whether status text shows step failed with an
// error that mentions s.
func stepFailedNaming(status, step, s string) bool {
	lines := strings.Split(status, "\n")
	for i, l := range lines {
		if strings.Contains(l, " "+step+" ") && strings.Contains(l, "failed") {
			for _, e := range lines[i+1:] {
				if !strings.HasPrefix(e, "         ") { // the error's lines are indented under the step
					break
				}
				if strings.Contains(e, s) {
					return true
				}
			}
		}
	}
	return false
}
