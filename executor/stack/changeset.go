package stack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/envmig/envmig/executor"
)

// ChangeSetInput is an in-place update of a stack, reviewed as a change
// set.
type ChangeSetInput struct {
	StackName string
	// ExpectedID is the stack ID the plan observed; another stack of that
	// name is refused.
	ExpectedID   string
	TemplateBody string
	// Parameters are the new values; UsePrevious names parameters that
	// keep their current value (NoEcho ones, whose value envmig never
	// reads).
	Parameters   map[string]string
	UsePrevious  []string
	Capabilities []string
}

// ChangeSet is a change set as CloudFormation describes it.
type ChangeSet struct {
	Name            string
	ID              string
	StackID         string
	Status          string // "CREATE_COMPLETE", "FAILED", ...
	StatusReason    string
	ExecutionStatus string // "AVAILABLE", "EXECUTE_COMPLETE", ...
	// NoChanges is true when the change set failed without any change:
	// what CloudFormation does when the update changes nothing.
	NoChanges bool
	Changes   []Change
}

// Change is one resource change of a change set.
type Change struct {
	LogicalID  string
	PhysicalID string
	Type       string
	Action     string // "Add", "Modify", "Remove", "Import", "Dynamic"
	// Replacement is "True", "False" or "Conditional" for a Modify (moto
	// leaves it empty: envmig's own table decides, see planner/stack).
	Replacement string
	Scope       []string
	Details     []ChangeDetail
}

// ChangeDetail is one property change behind a Change.
type ChangeDetail struct {
	Attribute          string // "Properties", "Tags", ...
	Name               string // the property
	RequiresRecreation string // "Never", "Conditionally", "Always"
	Evaluation         string // "Static", "Dynamic"
	ChangeSource       string
	CausingEntity      string
}

// CreateChangeSet creates the run's change set (ChangeSetName(lineage))
// for an update of the stack, waits until CloudFormation has computed it,
// and describes every change with its Replacement value.
//
// Idempotent: a change set of that name found on the stack is this run's
// and is waited for and described, not created again. A change set that
// failed without changes is returned with NoChanges; one that failed
// otherwise is an error with its reason.
func (o *Ops) CreateChangeSet(ctx context.Context, sc *executor.StepContext, in ChangeSetInput) (*ChangeSet, error) {
	name := ChangeSetName(sc.Lineage())
	s, err := o.describe(ctx, in.StackName)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("stack %s does not exist: it %w since the plan; plan again", in.StackName, ErrChangedOutOfBand)
	}
	if id := aws.ToString(s.StackId); in.ExpectedID != "" && id != in.ExpectedID {
		return nil, fmt.Errorf("stack %s is not the stack the plan observed (%s, now %s): it %w; plan again", in.StackName, in.ExpectedID, id, ErrChangedOutOfBand)
	}
	cs, err := o.describeChangeSet(ctx, in.StackName, name)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		if err := sc.Record(KeyCreateSent, "true"); err != nil {
			return nil, err
		}
		out, err := o.CF.CreateChangeSet(ctx, &cloudformation.CreateChangeSetInput{
			StackName:     aws.String(in.StackName),
			ChangeSetName: aws.String(name),
			ChangeSetType: cftypes.ChangeSetTypeUpdate,
			TemplateBody:  aws.String(in.TemplateBody),
			Parameters:    cfParameters(in.Parameters, in.UsePrevious),
			Capabilities:  capabilities(in.Capabilities),
			ClientToken:   aws.String(token(sc.Lineage(), sc.Step.ID, "change-set")),
			Description:   aws.String("envmig run " + sc.Lineage()),
		})
		if err != nil && errorCode(err) != "AlreadyExistsException" {
			if executor.Refused(err) {
				_ = sc.Record(KeyCreateSent, "")
			}
			return nil, fmt.Errorf("create change set %s of stack %s: %w", name, in.StackName, err)
		}
		sc.Accepted()
		if out != nil {
			if err := sc.Record(KeyChangeSetID, aws.ToString(out.Id)); err != nil {
				return nil, err
			}
		}
	}
	if _, err := o.waitChangeSet(ctx, sc, in.StackName, name); err != nil {
		return nil, err
	}
	cs, err = o.describeChangeSet(ctx, in.StackName, name)
	if err != nil {
		return nil, err
	}
	if cs == nil {
		return nil, fmt.Errorf("change set %s of stack %s vanished while it was being created; run `envmig resume`", name, in.StackName)
	}
	if cs.Status == string(cftypes.ChangeSetStatusFailed) && !cs.NoChanges {
		return cs, fmt.Errorf("change set %s of stack %s failed: %s", name, in.StackName, cs.StatusReason)
	}
	for _, c := range cs.Changes {
		line := fmt.Sprintf("change set %s: %s %s (%s)", name, c.Action, c.LogicalID, c.Type)
		if c.Replacement != "" {
			line += ", Replacement: " + c.Replacement
		}
		sc.Report(executor.Progress{Line: line})
	}
	return cs, nil
}

// describeChangeSet describes a change set of a stack with every change
// (the SDK's paginator), nil when there is none of that name.
func (o *Ops) describeChangeSet(ctx context.Context, stackName, name string) (*ChangeSet, error) {
	var cs *ChangeSet
	p := cloudformation.NewDescribeChangeSetPaginator(o.CF, &cloudformation.DescribeChangeSetInput{StackName: aws.String(stackName), ChangeSetName: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		var nf *cftypes.ChangeSetNotFoundException
		if errorAs(err, &nf) || errorCode(err) == "ChangeSetNotFound" || errorCode(err) == "ValidationError" {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("describe change set %s of stack %s: %w", name, stackName, err)
		}
		if cs == nil {
			cs = &ChangeSet{
				Name: aws.ToString(page.ChangeSetName), ID: aws.ToString(page.ChangeSetId), StackID: aws.ToString(page.StackId),
				Status: string(page.Status), StatusReason: aws.ToString(page.StatusReason), ExecutionStatus: string(page.ExecutionStatus),
			}
		}
		for _, ch := range page.Changes {
			rc := ch.ResourceChange
			if rc == nil {
				continue
			}
			c := Change{
				LogicalID: aws.ToString(rc.LogicalResourceId), PhysicalID: aws.ToString(rc.PhysicalResourceId),
				Type: aws.ToString(rc.ResourceType), Action: string(rc.Action), Replacement: string(rc.Replacement),
			}
			for _, s := range rc.Scope {
				c.Scope = append(c.Scope, string(s))
			}
			for _, d := range rc.Details {
				cd := ChangeDetail{Evaluation: string(d.Evaluation), ChangeSource: string(d.ChangeSource), CausingEntity: aws.ToString(d.CausingEntity)}
				if d.Target != nil {
					cd.Attribute, cd.Name, cd.RequiresRecreation = string(d.Target.Attribute), aws.ToString(d.Target.Name), string(d.Target.RequiresRecreation)
				}
				c.Details = append(c.Details, cd)
			}
			cs.Changes = append(cs.Changes, c)
		}
	}
	if cs != nil {
		cs.NoChanges = cs.Status == string(cftypes.ChangeSetStatusFailed) && len(cs.Changes) == 0
	}
	return cs, nil
}

// DeleteChangeSet deletes the run's change set of the stack when it
// exists and has not been executed: CreateChangeSet's undo. Idempotent.
func (o *Ops) DeleteChangeSet(ctx context.Context, sc *executor.StepContext, stackName string) error {
	name := ChangeSetName(sc.Lineage())
	cs, err := o.describeChangeSet(ctx, stackName, name)
	if err != nil || cs == nil {
		return err
	}
	if cs.ExecutionStatus == string(cftypes.ExecutionStatusExecuteInProgress) || cs.ExecutionStatus == string(cftypes.ExecutionStatusExecuteComplete) {
		sc.Report(executor.Progress{Line: fmt.Sprintf("change set %s of stack %s was executed: it is not deleted", name, stackName)})
		return nil
	}
	_, err = o.CF.DeleteChangeSet(ctx, &cloudformation.DeleteChangeSetInput{StackName: aws.String(stackName), ChangeSetName: aws.String(name)})
	var nf *cftypes.ChangeSetNotFoundException
	if errorAs(err, &nf) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("delete change set %s of stack %s: %w", name, stackName, err)
	}
	sc.Accepted()
	return nil
}

// ExecuteChangeSet executes the run's change set and waits until the
// stack is updated, returning its outputs and resources. in gives the
// stack and the template the change set carries.
//
// Idempotent: before sending it records that it does; after a crash it
// finds the change set executing or executed (or, where CloudFormation
// removed it after execution, the stack running in.TemplateBody) and waits
// for the update instead of executing again. A change set with no changes
// executes nothing. A failed update is a *StackError with the failed
// events.
func (o *Ops) ExecuteChangeSet(ctx context.Context, sc *executor.StepContext, in ChangeSetInput) (*Stack, error) {
	name := ChangeSetName(sc.Lineage())
	s, err := o.describe(ctx, in.StackName)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, fmt.Errorf("stack %s does not exist: it %w since the plan; run `envmig status`", in.StackName, ErrChangedOutOfBand)
	}
	id := aws.ToString(s.StackId)
	if in.ExpectedID != "" && id != in.ExpectedID {
		return nil, fmt.Errorf("stack %s is not the stack the plan observed (%s, now %s): it %w", in.StackName, in.ExpectedID, id, ErrChangedOutOfBand)
	}
	if sc.Value(KeyExecuteSent) == "" {
		cs, err := o.describeChangeSet(ctx, in.StackName, name)
		if err != nil {
			return nil, err
		}
		switch {
		case cs == nil:
			return nil, fmt.Errorf("stack %s has no change set %s to execute: create it first (or it was deleted out of band)", in.StackName, name)
		case cs.NoChanges:
			sc.Report(executor.Progress{Line: fmt.Sprintf("change set %s of stack %s has no changes: nothing to execute", name, in.StackName)})
			return o.result(ctx, s)
		case cs.ExecutionStatus == string(cftypes.ExecutionStatusAvailable):
			if err := sc.Record(KeyExecuteSent, "true"); err != nil {
				return nil, err
			}
			_, err := o.CF.ExecuteChangeSet(ctx, &cloudformation.ExecuteChangeSetInput{
				StackName: aws.String(in.StackName), ChangeSetName: aws.String(name),
				ClientRequestToken: aws.String(token(sc.Lineage(), sc.Step.ID, "execute")),
			})
			if err != nil {
				if executor.Refused(err) {
					_ = sc.Record(KeyExecuteSent, "")
				}
				return nil, fmt.Errorf("execute change set %s of stack %s: %w", name, in.StackName, err)
			}
			sc.Accepted()
		case cs.ExecutionStatus == string(cftypes.ExecutionStatusExecuteInProgress), cs.ExecutionStatus == string(cftypes.ExecutionStatusExecuteComplete):
			// Executed by an attempt whose record was lost.
		default:
			return nil, fmt.Errorf("change set %s of stack %s cannot be executed: it is %s, %s (%s)", name, in.StackName, cs.Status, cs.ExecutionStatus, cs.StatusReason)
		}
	}
	done, err := o.waitUpdated(ctx, sc, in.StackName, id)
	if err != nil {
		return nil, err
	}
	tpl, err := o.CF.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String(id), TemplateStage: cftypes.TemplateStageOriginal})
	if err != nil {
		return nil, fmt.Errorf("read the template of stack %s: %w", in.StackName, err)
	}
	if aws.ToString(tpl.TemplateBody) != in.TemplateBody {
		return nil, fmt.Errorf("stack %s is updated but does not run the change set's template: it %w; look at it", in.StackName, ErrChangedOutOfBand)
	}
	return o.result(ctx, done)
}
