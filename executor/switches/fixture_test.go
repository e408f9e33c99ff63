package switches

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	ebtypes "github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
	"github.com/aws/aws-sdk-go-v2/service/iam"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	lambdatypes "github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	schedtypes "github.com/aws/aws-sdk-go-v2/service/scheduler/types"
	"github.com/aws/aws-sdk-go-v2/service/sqs"
	sqstypes "github.com/aws/aws-sdk-go-v2/service/sqs/types"
	"github.com/aws/smithy-go/middleware"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/plan"
)

func TestMain(m *testing.M) { os.Exit(testaws.Main(m)) }

var fast = Options{MinDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond, MaxWait: 5 * time.Second}

const (
	offID = "switch.off.x"
	onID  = "switch.on.x"
)

// journal is a run's journal in memory: one map per step.
type journal struct {
	p      *plan.Plan
	values map[string]map[string]string
	lines  []string
}

func newJournal(run string) *journal {
	return &journal{p: &plan.Plan{Lineage: run, Steps: []plan.Step{
		{ID: offID, Phase: plan.PhasePrepare}, {ID: onID, Phase: plan.PhaseCommit},
	}}, values: map[string]map[string]string{}}
}

func (j *journal) sc(stepID, op string) *executor.StepContext {
	step, _ := j.p.Step(stepID)
	if j.values[stepID] == nil {
		j.values[stepID] = map[string]string{}
	}
	sc := executor.NewStepContext(j.p, step, op, j.values[stepID])
	sc.TestHooks(func(id, key string) string { return j.values[id][key] }, nil, func(p executor.Progress) {
		if p.Line != "" {
			j.lines = append(j.lines, p.Line)
		}
	})
	return sc
}

// offGet reads the off step's record, as the on step does.
func (j *journal) offGet(key string) string { return j.values[offID][key] }

// world holds the emulator's clients, every call recorded.
type world struct {
	rec    *testaws.Recording
	events *eventbridge.Client
	sched  *scheduler.Client
	ecs    *ecs.Client
	aas    *aas.Client
	lambda *lambda.Client
	cfg    aws.Config
}

func newWorld(t *testing.T) *world {
	t.Helper()
	testaws.Reset(t)
	cfg := testaws.Config(t, nil)
	rec := testaws.Record(&cfg)
	return &world{rec: rec, cfg: cfg, events: eventbridge.NewFromConfig(cfg), sched: scheduler.NewFromConfig(cfg),
		ecs: ecs.NewFromConfig(cfg), aas: aas.NewFromConfig(cfg), lambda: lambda.NewFromConfig(cfg)}
}

func (w *world) mutating() int { return len(w.rec.Mutating()) }

// tryer returns a function that fails t on a call's error:
// try(client.Call(...)).
func tryer(t *testing.T) func(any, error) {
	return func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}

// rule creates an enabled rule on a custom bus and returns its reference.
func (w *world) rule(t *testing.T) string {
	ctx := context.Background()
	try := tryer(t)
	// Under load the SDK may retry a create whose first attempt the
	// emulator applied: the bus is then this fixture's own.
	if _, err := w.events.CreateEventBus(ctx, &eventbridge.CreateEventBusInput{Name: aws.String("orders")}); err != nil {
		var exists *ebtypes.ResourceAlreadyExistsException
		if !errors.As(err, &exists) {
			t.Fatal(err)
		}
	}
	try(w.events.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String("import"), EventBusName: aws.String("orders"), Description: aws.String("nightly import"),
		EventPattern: aws.String(`{"source":["shop.orders"]}`),
	}))
	return "orders/import"
}

// schedule creates an enabled schedule whose definition uses every field
// UpdateSchedule would otherwise drop.
func (w *world) schedule(t *testing.T) string {
	ctx := context.Background()
	try := tryer(t)
	try(w.sched.CreateScheduleGroup(ctx, &scheduler.CreateScheduleGroupInput{Name: aws.String("billing")}))
	start := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Second)
	try(w.sched.CreateSchedule(ctx, &scheduler.CreateScheduleInput{
		Name: aws.String("invoices"), GroupName: aws.String("billing"),
		Description:                aws.String("monthly invoices"),
		ScheduleExpression:         aws.String("cron(0 3 1 * ? *)"),
		ScheduleExpressionTimezone: aws.String("Europe/Paris"),
		StartDate:                  aws.Time(start), EndDate: aws.Time(start.Add(365 * 24 * time.Hour)),
		KmsKeyArn:             aws.String("arn:aws:kms:us-east-1:123456789012:key/1234"),
		FlexibleTimeWindow:    &schedtypes.FlexibleTimeWindow{Mode: schedtypes.FlexibleTimeWindowModeFlexible, MaximumWindowInMinutes: aws.Int32(15)},
		ActionAfterCompletion: schedtypes.ActionAfterCompletionNone,
		Target: &schedtypes.Target{
			Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:billing"), RoleArn: aws.String("arn:aws:iam::123456789012:role/scheduler"),
			Input:            aws.String(`{"run":"invoices"}`),
			RetryPolicy:      &schedtypes.RetryPolicy{MaximumEventAgeInSeconds: aws.Int32(3600), MaximumRetryAttempts: aws.Int32(7)},
			DeadLetterConfig: &schedtypes.DeadLetterConfig{Arn: aws.String("arn:aws:sqs:us-east-1:123456789012:billing-dlq")},
		},
	}))
	return "billing/invoices"
}

// service creates an ECS service running 2 tasks, with an Application Auto
// Scaling target whose scheduled scaling its owner suspended. moto starts
// a service with 0 running tasks and sets running = desired on every
// UpdateService, so the fixture updates it once.
func (w *world) service(t *testing.T) string {
	ctx := context.Background()
	try := tryer(t)
	try(w.ecs.CreateCluster(ctx, &ecs.CreateClusterInput{ClusterName: aws.String("shop")}))
	try(w.ecs.RegisterTaskDefinition(ctx, &ecs.RegisterTaskDefinitionInput{
		Family: aws.String("worker"), ContainerDefinitions: []ecstypes.ContainerDefinition{{Name: aws.String("worker"), Image: aws.String("worker:1"), Memory: aws.Int32(256)}},
	}))
	try(w.ecs.CreateService(ctx, &ecs.CreateServiceInput{Cluster: aws.String("shop"), ServiceName: aws.String("worker"), TaskDefinition: aws.String("worker"), DesiredCount: aws.Int32(2)}))
	try(w.ecs.UpdateService(ctx, &ecs.UpdateServiceInput{Cluster: aws.String("shop"), Service: aws.String("worker"), DesiredCount: aws.Int32(2)}))
	try(w.aas.RegisterScalableTarget(ctx, &aas.RegisterScalableTargetInput{
		ServiceNamespace: aastypes.ServiceNamespaceEcs, ResourceId: aws.String("service/shop/worker"),
		ScalableDimension: aastypes.ScalableDimensionECSServiceDesiredCount, MinCapacity: aws.Int32(1), MaxCapacity: aws.Int32(4),
		SuspendedState: &aastypes.SuspendedState{DynamicScalingInSuspended: aws.Bool(false), DynamicScalingOutSuspended: aws.Bool(false), ScheduledScalingSuspended: aws.Bool(true)},
	}))
	return "shop/worker"
}

// mapping creates a Lambda function fed by an SQS queue (moto needs both:
// a function, whose role must exist in IAM, and the queue) and returns the
// mapping's UUID.
func (w *world) mapping(t *testing.T) string {
	ctx := context.Background()
	try := tryer(t)
	fatal := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	role, err := iam.NewFromConfig(w.cfg).CreateRole(ctx, &iam.CreateRoleInput{RoleName: aws.String("consumer"), AssumeRolePolicyDocument: aws.String(`{"Version":"2012-10-17","Statement":[]}`)})
	fatal(err)
	var zipped bytes.Buffer
	zw := zip.NewWriter(&zipped)
	f, err := zw.Create("handler.py")
	fatal(err)
	try(f.Write([]byte("def handler(event, context):\n    return None\n")))
	fatal(zw.Close())
	try(w.lambda.CreateFunction(ctx, &lambda.CreateFunctionInput{
		FunctionName: aws.String("consumer"), Runtime: lambdatypes.RuntimePython312, Role: role.Role.Arn,
		Handler: aws.String("handler.handler"), Code: &lambdatypes.FunctionCode{ZipFile: zipped.Bytes()},
	}))
	q, err := sqs.NewFromConfig(w.cfg).CreateQueue(ctx, &sqs.CreateQueueInput{QueueName: aws.String("orders")})
	fatal(err)
	attrs, err := sqs.NewFromConfig(w.cfg).GetQueueAttributes(ctx, &sqs.GetQueueAttributesInput{QueueUrl: q.QueueUrl, AttributeNames: []sqstypes.QueueAttributeName{sqstypes.QueueAttributeNameQueueArn}})
	fatal(err)
	m, err := w.lambda.CreateEventSourceMapping(ctx, &lambda.CreateEventSourceMappingInput{
		FunctionName: aws.String("consumer"), EventSourceArn: aws.String(attrs.Attributes["QueueArn"]), BatchSize: aws.Int32(5),
	})
	fatal(err)
	return aws.ToString(m.UUID)
}

// scheduleView is every field of a schedule a restore must keep, as text.
func scheduleView(out *scheduler.GetScheduleOutput) string {
	out.LastModificationDate = nil
	out.ResultMetadata = middleware.Metadata{}
	b, _ := json.Marshal(out)
	return string(out.State) + " " + string(b)
}
