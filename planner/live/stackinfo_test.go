package live_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/stack"
)

// TestReadStackInfoMoto creates the example stack and reads it back in
// full: the template as submitted, parameters (NoEcho masked), outputs,
// resources with physical IDs and status, tags.
func TestReadStackInfoMoto(t *testing.T) {
	testaws.Reset(t)
	ctx := context.Background()
	cf := testaws.Clients(t).CloudFormation
	body, err := os.ReadFile("../../examples/cloudformation/env-v1.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = cf.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:    aws.String("shop-staging"),
		TemplateBody: aws.String(string(body)),
		Parameters: []cftypes.Parameter{
			{ParameterKey: aws.String("EnvironmentName"), ParameterValue: aws.String("shop-staging")},
			{ParameterKey: aws.String("DBPassword"), ParameterValue: aws.String("not-the-default")},
		},
		Tags: []cftypes.Tag{{Key: aws.String("owner"), Value: aws.String("platform")}},
	})
	if err != nil {
		t.Fatal(err)
	}
	info, err := live.ReadStackInfo(ctx, cf, "shop-staging")
	if err != nil {
		t.Fatal(err)
	}
	if !info.Exists || info.ID == "" || info.Status != "CREATE_COMPLETE" {
		t.Fatalf("stack = %+v", info)
	}
	if info.Template != string(body) {
		t.Errorf("template is not the body submitted:\n%s", info.Template)
	}
	if got := info.Parameters["EnvironmentName"]; got != "shop-staging" {
		t.Errorf("EnvironmentName = %q", got)
	}
	if info.TemplateDigest != live.TemplateDigest(string(body)) || !strings.HasPrefix(info.TemplateDigest, "sha256:") {
		t.Errorf("template digest = %q", info.TemplateDigest)
	}
	// What the stack believes of its database, evaluated with its
	// parameters (DBInstanceClass takes the template's default).
	wantDB := map[string]string{"Engine": "postgres", "EngineVersion": "16.4", "DBInstanceClass": "db.t3.micro", "AllocatedStorage": "20", "StorageEncrypted": "false"}
	if diff := cmp.Diff(wantDB, info.DBProperties["Database"]); diff != "" {
		t.Errorf("database properties (-want +got):\n%s", diff)
	}
	// moto does not mask NoEcho values; ReadStackInfo does.
	if got := info.Parameters["DBPassword"]; got != stack.MaskedValue {
		t.Errorf("the NoEcho parameter reads %q, want it masked", got)
	}
	if info.TemplateError != "" {
		t.Errorf("TemplateError = %s", info.TemplateError)
	}
	if got := info.Outputs["UploadsBucket"]; got != "shop-staging-uploads" {
		t.Errorf("output UploadsBucket = %q", got)
	}
	if diff := cmp.Diff(map[string]string{"owner": "platform"}, info.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	want := map[string]string{
		"Database": "shop-staging-db", "Uploads": "shop-staging-uploads", "WebGroup": "shop-staging-web",
	}
	for id, phys := range want {
		r, ok := info.Resources[id]
		if !ok || r.PhysicalID != phys || r.Status != "CREATE_COMPLETE" {
			t.Errorf("resource %s = %+v, want %s CREATE_COMPLETE", id, r, phys)
		}
	}
	if r := info.Resources["WebLaunchTemplate"]; r.Type != "AWS::EC2::LaunchTemplate" {
		t.Errorf("WebLaunchTemplate = %+v", r)
	}

	missing, err := live.ReadStackInfo(ctx, cf, "no-such-stack")
	if err != nil || missing.Exists {
		t.Fatalf("missing stack = %+v, %v; want Exists false and no error", missing, err)
	}
}

// stackAPI fails one operation.
type stackAPI struct {
	live.StackInfoAPI
	fail map[string]error
}

func (s stackAPI) DescribeStacks(ctx context.Context, in *cloudformation.DescribeStacksInput, o ...func(*cloudformation.Options)) (*cloudformation.DescribeStacksOutput, error) {
	if err := s.fail["DescribeStacks"]; err != nil {
		return nil, err
	}
	return &cloudformation.DescribeStacksOutput{Stacks: []cftypes.Stack{{
		StackId: aws.String("arn:stack/s/1"), StackName: in.StackName, StackStatus: cftypes.StackStatusCreateComplete,
		Parameters: []cftypes.Parameter{{ParameterKey: aws.String("Password"), ParameterValue: aws.String("hunter2")}},
	}}}, nil
}

func (s stackAPI) GetTemplate(ctx context.Context, in *cloudformation.GetTemplateInput, o ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error) {
	if err := s.fail["GetTemplate"]; err != nil {
		return nil, err
	}
	return &cloudformation.GetTemplateOutput{TemplateBody: aws.String("not a template")}, nil
}

func (s stackAPI) ListStackResources(ctx context.Context, in *cloudformation.ListStackResourcesInput, o ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error) {
	if err := s.fail["ListStackResources"]; err != nil {
		return nil, err
	}
	return &cloudformation.ListStackResourcesOutput{}, nil
}

// TestReadStackInfoErrors: access denied (or any failure but "no such
// stack") is a *ReadError naming the IAM action, never "missing".
func TestReadStackInfoErrors(t *testing.T) {
	for op, action := range map[string]string{
		"DescribeStacks":     "cloudformation:DescribeStacks",
		"GetTemplate":        "cloudformation:GetTemplate",
		"ListStackResources": "cloudformation:ListStackResources",
	} {
		t.Run(op, func(t *testing.T) {
			api := stackAPI{fail: map[string]error{op: awsError(op, 403, "AccessDenied")}}
			info, err := live.ReadStackInfo(context.Background(), api, "stack")
			var re *live.ReadError
			if !errors.As(err, &re) || info != nil || re.Action != action || !re.AccessDenied() {
				t.Fatalf("ReadStackInfo = %+v, %v; want a *ReadError denying %s", info, err, action)
			}
			if !strings.Contains(err.Error(), "access denied to "+action) {
				t.Errorf("message: %v", err)
			}
		})
	}
	// A template that cannot be read masks every parameter.
	info, err := live.ReadStackInfo(context.Background(), stackAPI{}, "stack")
	if err != nil || info.Parameters["Password"] != stack.MaskedValue || info.TemplateError == "" {
		t.Fatalf("unreadable template: %+v, %v; want every parameter masked", info, err)
	}
	api := stackAPI{fail: map[string]error{"DescribeStacks": awsError("DescribeStacks", 400, "ValidationError")}}
	if info, err := live.ReadStackInfo(context.Background(), api, "stack"); err != nil || info.Exists {
		t.Fatalf("ValidationError: %+v, %v; want a missing stack", info, err)
	}
}
