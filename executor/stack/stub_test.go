package stack

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/smithy-go"

	"github.com/envmig/envmig/executor"
)

// failing is a CloudFormation whose stack create rolls back.
type failing struct {
	Client
	created bool
}

func (f *failing) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, o ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if !f.created {
		return nil, &smithy.GenericAPIError{Code: "ValidationError", Message: "Stack with id x does not exist"}
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{{
		StackName: aws.String("tmp"), StackId: aws.String("arn:tmp/1"), StackStatus: cftypes.StackStatusRollbackComplete,
		StackStatusReason: aws.String("The following resource(s) failed to create: [Database]."),
		Tags:              []cftypes.Tag{{Key: aws.String(executor.RunTagKey), Value: aws.String("run1")}},
	}}}, nil
}

func (f *failing) CreateStack(ctx context.Context, in *cloudformation.CreateStackInput, o ...func(*cloudformation.Options)) (*cloudformation.CreateStackOutput, error) {
	f.created = true
	return &cloudformation.CreateStackOutput{StackId: aws.String("arn:tmp/1")}, nil
}

func (f *failing) DescribeStackEvents(ctx context.Context, in *cloudformation.DescribeStackEventsInput, o ...func(*cloudformation.Options)) (*cloudformation.DescribeStackEventsOutput, error) {
	at := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	ev := func(sec int, id, typ string, status cftypes.ResourceStatus, reason string) cftypes.StackEvent {
		return cftypes.StackEvent{Timestamp: aws.Time(at.Add(time.Duration(sec) * time.Second)), LogicalResourceId: aws.String(id), ResourceType: aws.String(typ), ResourceStatus: status, ResourceStatusReason: aws.String(reason)}
	}
	// Newest first, as CloudFormation lists them; an older operation's
	// failure below the "User Initiated" event must not be shown.
	return &cloudformation.DescribeStackEventsOutput{StackEvents: []cftypes.StackEvent{
		ev(9, "tmp", "AWS::CloudFormation::Stack", "ROLLBACK_COMPLETE", ""),
		ev(5, "tmp", "AWS::CloudFormation::Stack", "ROLLBACK_IN_PROGRESS", "The following resource(s) failed to create: [Database]."),
		ev(4, "Database", "AWS::RDS::DBInstance", "CREATE_FAILED", "DBSnapshot envmig-run1-main not found"),
		ev(1, "tmp", "AWS::CloudFormation::Stack", "CREATE_IN_PROGRESS", "User Initiated"),
		ev(0, "Old", "AWS::S3::Bucket", "CREATE_FAILED", "an older failure"),
	}}, nil
}

// TestCreateFailureShowsEvents: a create that rolls back is a *StackError
// with the failed events and their reasons, each shown as a line.
func TestCreateFailureShowsEvents(t *testing.T) {
	ops := &Ops{CF: &failing{}, Options: Options{MinDelay: time.Millisecond, MaxDelay: time.Millisecond, MaxWait: time.Second}}
	sc := newStep("run1", "stack.create", nil)
	_, err := ops.Create(context.Background(), sc.StepContext, CreateInput{StackName: "tmp", TemplateBody: "{}", OwnerTag: executor.RunTagKey})
	var se *StackError
	if !errors.As(err, &se) {
		t.Fatalf("err = %v, want a *StackError", err)
	}
	if se.Status != "ROLLBACK_COMPLETE" || len(se.Events) != 2 || se.Events[0].LogicalID != "Database" || se.Events[1].Status != "ROLLBACK_IN_PROGRESS" {
		t.Errorf("StackError = %+v", se)
	}
	msg := err.Error()
	for _, want := range []string{"create of stack tmp failed: it is ROLLBACK_COMPLETE", "Database (AWS::RDS::DBInstance) CREATE_FAILED: DBSnapshot envmig-run1-main not found"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error does not say %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "an older failure") {
		t.Errorf("an older operation's event is shown:\n%s", msg)
	}
	if !sc.said("CREATE_FAILED: DBSnapshot envmig-run1-main not found") {
		t.Errorf("the event was not shown: %v", sc.lines)
	}
	if sc.Value(KeyCreateSent) != "true" || sc.Value(KeyStackID) != "arn:tmp/1" {
		t.Errorf("journal = %v", sc.Values())
	}
}
