package live_test

import (
	"archive/zip"
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	elbv2 "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2"
	elbv2types "github.com/aws/aws-sdk-go-v2/service/elasticloadbalancingv2/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/live"
)

func TestSwitchObserversReadEachKindAndNothingElse(t *testing.T) {
	testaws.Reset(t)
	cfg := testaws.Config(t, nil)
	ctx := context.Background()
	fail := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	eb, sch, ecsc, aasc, lam := eventbridge.NewFromConfig(cfg), scheduler.NewFromConfig(cfg), ecs.NewFromConfig(cfg), aas.NewFromConfig(cfg), lambda.NewFromConfig(cfg)

	fail(eb.PutRule(ctx, &eventbridge.PutRuleInput{Name: aws.String("nightly"), ScheduleExpression: aws.String("rate(1 day)")}))
	fail(eb.PutTargets(ctx, &eventbridge.PutTargetsInput{Rule: aws.String("nightly"), Targets: []ebtypes.Target{
		{Id: aws.String("a"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:a")}, {Id: aws.String("b"), Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:b")},
	}}))
	rule, _ := eb.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String("nightly")})
	fail(eb.TagResource(ctx, &eventbridge.TagResourceInput{ResourceARN: rule.Arn, Tags: []ebtypes.Tag{{Key: aws.String("envmig:off"), Value: aws.String("run=3fa2c91b;state=ENABLED")}}}))
	fail(sch.CreateSchedule(ctx, &scheduler.CreateScheduleInput{Name: aws.String("billing"), ScheduleExpression: aws.String("rate(1 hour)"), State: schedtypes.ScheduleStateDisabled,
		FlexibleTimeWindow: &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeOff},
		Target:             &schedtypes.Target{Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:billing"), RoleArn: aws.String("arn:aws:iam::123456789012:role/s")}}))
	fail(ecsc.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("shop")}))
	fail(ecsc.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{Family: aws.String("worker"), ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("w"), Image: aws.String("w"), Memory: aws.Int32(128)}}}))
	fail(ecsc.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("shop"), ServiceName: aws.String("worker"), TaskDefinition: aws.String("worker"), DesiredCount: aws.Int32(2)}))
	fail(ecsc.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("shop"), Service: aws.String("worker"), DesiredCount: aws.Int32(2)}))
	fail(aasc.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/shop/worker"),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(4),
		SuspendedState: &aastypes.SuspendedState{ScheduledScalingSuspended: aws.Bool(true)}}))
	uuid := eventSourceMapping(t, cfg, lam)
	vpcs, err := ec2.NewFromConfig(cfg).DescribeVpcs(ctx, &ec2.DescribeVpcsInput{})
	if err != nil {
		t.Fatal(err)
	}
	tg, err := elbv2.NewFromConfig(cfg).CreateTargetGroup(ctx, &elbv2.CreateTargetGroupInput{Name: aws.String("web"), Protocol: elbv2types.ProtocolEnumHttp, Port: aws.Int32(80),
		VpcId: vpcs.Vpcs[0].VpcId, HealthCheckIntervalSeconds: aws.Int32(10), HealthyThresholdCount: aws.Int32(3)})
	if err != nil {
		t.Fatal(err)
	}

	rec := testaws.Record(&cfg)
	eb, sch, ecsc, aasc, lam = eventbridge.NewFromConfig(cfg), scheduler.NewFromConfig(cfg), ecs.NewFromConfig(cfg), aas.NewFromConfig(cfg), lambda.NewFromConfig(cfg)
	var got []*live.Switch
	add := func(s *live.Switch, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, s)
	}
	add(live.ObserveRule(ctx, eb, "nightly"))
	add(live.ObserveRule(ctx, eb, "orders/absent"))
	add(live.ObserveSchedule(ctx, sch, "billing"))
	add(live.ObserveSchedule(ctx, sch, "default/absent"))
	add(live.ObserveService(ctx, ecsc, aasc, "shop/worker"))
	add(live.ObserveService(ctx, ecsc, aasc, "shop/absent"))
	add(live.ObserveService(ctx, ecsc, aasc, "nocluster/absent"))
	add(live.ObserveMapping(ctx, lam, uuid))
	add(live.ObserveMapping(ctx, lam, "00000000-0000-0000-0000-000000000000"))
	healthy, err := live.HealthyAfter(ctx, elbv2.NewFromConfig(cfg), []string{aws.ToString(tg.TargetGroups[0].TargetGroupArn)})
	if err != nil || healthy != 30*time.Second {
		t.Errorf("HealthyAfter = %s, %v; want 3 × 10 s", healthy, err)
	}

	want := []*live.Switch{
		{Kind: live.SwitchRule, Ref: "nightly", Exists: true, On: true, State: "ENABLED", OffByRun: "3fa2c91b",
			Stops: "scheduled (rate(1 day)) events to 2 targets: arn:aws:sqs:us-east-1:123456789012:a, arn:aws:sqs:us-east-1:123456789012:b", Stop: live.RuleStop, Start: live.RuleStart},
		{Kind: live.SwitchRule, Ref: "orders/absent", Stop: live.RuleStop, Start: live.RuleStart},
		{Kind: live.SwitchSchedule, Ref: "billing", Exists: true, State: "DISABLED", Stops: "invocations (rate(1 hour)) of arn:aws:sqs:us-east-1:123456789012:billing", Stop: live.ScheduleStop, Start: live.ScheduleStart},
		{Kind: live.SwitchSchedule, Ref: "default/absent", Stop: live.ScheduleStop, Start: live.ScheduleStart},
		{Kind: live.SwitchService, Ref: "shop/worker", Exists: true, On: true, State: "desired 2, running 2, pending 0", DesiredCount: 2, RunningCount: 2,
			Scaling: "min 1, max 4; suspended: scheduled", Stop: live.ServiceStop, Start: live.ServiceStart},
		{Kind: live.SwitchService, Ref: "shop/absent", Stop: live.ServiceStop, Start: live.ServiceStart},
		{Kind: live.SwitchService, Ref: "nocluster/absent", Stop: live.ServiceStop, Start: live.ServiceStart},
		{Kind: live.SwitchMapping, Ref: uuid, Exists: true, On: true, State: "Enabled", Stop: live.MappingStop, Start: live.MappingStart},
		{Kind: live.SwitchMapping, Ref: "00000000-0000-0000-0000-000000000000", Stop: live.MappingStop, Start: live.MappingStart},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(live.Switch{}, "Stops")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got[0].Stops != want[0].Stops || got[2].Stops != want[2].Stops || got[4].Stops == "" || got[7].Stops == "" {
		t.Errorf("stops: %q / %q / %q / %q", got[0].Stops, got[2].Stops, got[4].Stops, got[7].Stops)
	}
	if m := rec.Mutating(); len(m) != 0 {
		t.Errorf("the observers made mutating calls: %v", m)
	}
}

// eventSourceMapping makes a function fed by an SQS queue (what moto needs
// for a mapping) and returns the mapping's UUID.
func eventSourceMapping(t *testing.T, cfg aws.Config, lam *lambda.Client) string {
	ctx := context.Background()
	role, err := iam.NewFromConfig(cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("consumer"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	if err != nil {
		t.Fatal(err)
	}
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	if f, err := zw.Create("h.py"); err == nil {
		f.Write([]byte("def h(e, c):\n    return None\n"))
	}
	zw.Close()
	if _, err := lam.CreateFunction(ctx, &lambda.CreateFunctionInput{FunctionName: aws.String("consumer"), Runtime: lambdatypes.RuntimePython312, Role: role.Role.Arn,
		Handler: aws.String("h.h"), Code: &lambdatypes.FunctionCode{ZipFile: zipped.Bytes()}}); err != nil {
		t.Fatal(err)
	}
	q, err := sqs.NewFromConfig(cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	a, err := sqs.NewFromConfig(cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	if err != nil {
		t.Fatal(err)
	}
	m, err := lam.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{FunctionName: aws.String("consumer"), EventSourceArn: aws.String(a.Attributes["QueueArn"])})
	if err != nil {
		t.Fatal(err)
	}
	return aws.ToString(m.UUID)
}

func TestGroupStandbyRunReadsTheStandbyTag(t *testing.T) {
	tag := func(k, v string) astypes.TagDescription {
		return astypes.TagDescription{Key: aws.String(k), Value: aws.String(v)}
	}
	if got := live.GroupStandbyRun([]astypes.TagDescription{tag("owner", "x"), tag("envmig:standby", "run=3fa2c91b;min=2;max=6;desired=3;at=2026-01-01T00:00:00Z")}); got != "3fa2c91b" {
		t.Errorf("run = %q", got)
	}
	if got := live.GroupStandbyRun([]astypes.TagDescription{tag("envmig:standby:suspended", "")}); got != "" {
		t.Errorf("run = %q for a group without the standby tag", got)
	}
}
