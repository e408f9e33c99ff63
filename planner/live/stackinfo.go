package live

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/envmig/envmig/planner/stack"
)

// StackInfoAPI reads a CloudFormation stack in full; *cloudformation.Client
// satisfies it.
type StackInfoAPI interface {
	cloudformation.DescribeStacksAPIClient
	cloudformation.ListStackResourcesAPIClient
	GetTemplate(ctx context.Context, in *cloudformation.GetTemplateInput, opts ...func(*cloudformation.Options)) (*cloudformation.GetTemplateOutput, error)
}

var _ StackInfoAPI = (*cloudformation.Client)(nil)

// StackInfo is one CloudFormation stack as it is: what the planner needs to
// say what the stack will believe after a migration, and to compare its
// template and parameters with the new version's.
type StackInfo struct {
	Name string
	// Exists is false when no stack of that name exists (a deleted stack
	// is not found by name); every other field is then empty.
	Exists bool
	// ID is the stack's ARN: it tells two stacks of one name apart.
	ID           string
	Status       string // "CREATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE", ...
	StatusReason string
	// Template is the body of the template the stack runs, as submitted
	// (GetTemplate, stage Original): YAML stays YAML.
	Template string
	// TemplateDigest is "sha256:<hex>" of Template ("" when there is none).
	TemplateDigest string
	// Parameters are the stack's parameter values; NoEcho ones read as
	// "****" (stack.MaskedValue). CloudFormation masks them; moto does not,
	// so ReadStackInfo masks them itself from the template's NoEcho flags,
	// and masks every value when the template cannot be read.
	Parameters map[string]string
	// TemplateError says why the template could not be read ("" when it
	// was).
	TemplateError string
	// DBProperties are, per DB instance of the template (by logical ID),
	// the settings the template gives it (DBProperties), evaluated with
	// the stack's parameters and rendered (stack.Render): what the stack
	// believes of its database. Absent properties are left out.
	DBProperties map[string]map[string]string
	Outputs      map[string]string
	// Resources by logical ID (those whose deletion completed left out).
	Resources             map[string]StackResourceInfo
	Tags                  map[string]string
	Capabilities          []string
	TerminationProtection bool
	Created, Updated      time.Time
}

// StackResourceInfo is one resource of a stack, with its status.
type StackResourceInfo struct {
	StackResource
	Status       string // "CREATE_COMPLETE", "DELETE_FAILED", ...
	StatusReason string
}

// RunTag returns the stack's envmig:run tag ("" when it is not a run's).
func (s *StackInfo) RunTag() string { return s.Tags["envmig:run"] }

// ReadStackInfo reads the stack name in full: DescribeStacks, then, by the
// stack's ID (so that a stack deleted and created again under the same name
// in between is not mixed in), GetTemplate and ListStackResources. A stack
// that does not exist is reported with Exists false, not as an error (see
// Reader.Stack for how that is told apart). Every other failure is a
// *ReadError naming the IAM action.
//
// A stack in REVIEW_IN_PROGRESS (created by a change set never executed)
// has no template or resources yet: they are left empty.
func ReadStackInfo(ctx context.Context, cf StackInfoAPI, name string) (*StackInfo, error) {
	what := fmt.Sprintf("CloudFormation stack %q", name)
	info := &StackInfo{Name: name}
	out, err := cf.DescribeStacks(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(name)})
	if errorCode(err) == "ValidationError" {
		return info, nil
	}
	if err != nil {
		return nil, readError(what, "cloudformation:DescribeStacks", err)
	}
	if len(out.Stacks) == 0 || out.Stacks[0].StackStatus == cftypes.StackStatusDeleteComplete {
		return info, nil
	}
	s := out.Stacks[0]
	info.Exists = true
	info.ID = aws.ToString(s.StackId)
	info.Status = string(s.StackStatus)
	info.StatusReason = aws.ToString(s.StackStatusReason)
	info.TerminationProtection = aws.ToBool(s.EnableTerminationProtection)
	info.Created = aws.ToTime(s.CreationTime)
	info.Updated = aws.ToTime(s.LastUpdatedTime)
	info.Parameters = map[string]string{}
	for _, p := range s.Parameters {
		info.Parameters[aws.ToString(p.ParameterKey)] = aws.ToString(p.ParameterValue)
	}
	info.Outputs = map[string]string{}
	for _, o := range s.Outputs {
		info.Outputs[aws.ToString(o.OutputKey)] = aws.ToString(o.OutputValue)
	}
	info.Tags = map[string]string{}
	for _, t := range s.Tags {
		info.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	for _, c := range s.Capabilities {
		info.Capabilities = append(info.Capabilities, string(c))
	}
	info.Resources = map[string]StackResourceInfo{}
	if s.StackStatus == cftypes.StackStatusReviewInProgress {
		return info, nil
	}
	tpl, err := cf.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String(info.ID), TemplateStage: cftypes.TemplateStageOriginal})
	if err != nil {
		return nil, readError(what+" template", "cloudformation:GetTemplate", err)
	}
	info.Template = aws.ToString(tpl.TemplateBody)
	info.TemplateDigest = TemplateDigest(info.Template)
	if t := maskNoEcho(info); t != nil {
		info.DBProperties = dbProperties(t, info)
	}
	p := cloudformation.NewListStackResourcesPaginator(cf, &cloudformation.ListStackResourcesInput{StackName: aws.String(info.ID)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, readError(what+" resources", "cloudformation:ListStackResources", err)
		}
		for _, r := range page.StackResourceSummaries {
			if r.ResourceStatus == cftypes.ResourceStatusDeleteComplete {
				continue
			}
			id := aws.ToString(r.LogicalResourceId)
			info.Resources[id] = StackResourceInfo{
				StackResource: StackResource{LogicalID: id, PhysicalID: aws.ToString(r.PhysicalResourceId), Type: aws.ToString(r.ResourceType)},
				Status:        string(r.ResourceStatus),
				StatusReason:  aws.ToString(r.ResourceStatusReason),
			}
		}
	}
	return info, nil
}

// TemplateDigest is the digest a plan records of a template body: the
// stack's, and the spec's new version, compare by it.
func TemplateDigest(body string) string {
	if body == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(body))
	return "sha256:" + hex.EncodeToString(sum[:])
}

// maskNoEcho replaces the values of NoEcho parameters by
// stack.MaskedValue: a secret is never observed, so it can never reach a
// plan. When the template cannot be read, every value is masked.
func maskNoEcho(info *StackInfo) *stack.Template {
	t, err := stack.Parse([]byte(info.Template))
	if err != nil {
		info.TemplateError = err.Error()
	}
	for name := range info.Parameters {
		if t == nil || t.Parameters[name].NoEcho {
			info.Parameters[name] = stack.MaskedValue
		}
	}
	return t
}

// DBProperties are the DB instance properties a stack's template is
// compared on with a spec's database settings.
var DBProperties = []string{"Engine", "EngineVersion", "DBInstanceClass", "AllocatedStorage", "StorageEncrypted", "KmsKeyId", "MultiAZ"}

// dbProperties evaluates t with the stack's parameters and returns its DB
// instances' DBProperties (nil when it cannot be evaluated).
func dbProperties(t *stack.Template, info *StackInfo) map[string]map[string]string {
	ev, err := stack.Evaluate(t, stack.Inputs{StackName: info.Name, Parameters: info.Parameters})
	if err != nil {
		return nil
	}
	out := map[string]map[string]string{}
	for _, r := range t.ResourcesOfType(stack.TypeDBInstance) {
		props := map[string]string{}
		for _, k := range DBProperties {
			if v, ok := ev.Resources[r.LogicalID].Props[k]; ok {
				props[k] = stack.Render(v)
			}
		}
		out[r.LogicalID] = props
	}
	return out
}
