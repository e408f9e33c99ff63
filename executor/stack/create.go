package stack

import (
	"context"
	"fmt"
	"maps"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/envmig/envmig/executor"
	tmpl "github.com/envmig/envmig/planner/stack"
)

// CreateInput is a stack to create.
type CreateInput struct {
	StackName    string
	TemplateBody string
	// Parameters are every parameter value the stack is created with
	// (those left out take the template's defaults).
	Parameters map[string]string
	// Tags are the user's tags; the owner tag is added.
	Tags map[string]string
	// Capabilities acknowledge IAM resources or macros
	// ("CAPABILITY_NAMED_IAM", ...).
	Capabilities []string
	// OwnerTag marks the stack as this run's, valued with the run's
	// lineage: executor.RunTagKey for a temporary stack, TagRecreatedBy for
	// the stack created again under an original's name.
	OwnerTag string
}

// Create creates a stack from a template body and waits until it is
// created, returning its outputs and resources.
//
// Idempotent: it observes the stack by name first. A stack carrying
// OwnerTag=lineage is this run's and is adopted: waited for while it is
// being created; returned when created, provided it still runs the same
// template and parameters (else ErrChangedOutOfBand); deleted and created
// again when an earlier attempt failed (ROLLBACK_COMPLETE and the like: the
// failure was reported by that attempt). A stack of that name without the
// tag is refused (ErrNotThisRun). A create whose response was lost is found
// by the same observation. CreateStack carries a request token made of the
// run, the step and the attempt, so the SDK's retries of one call create
// one stack.
//
// A failed create is a *StackError listing the stack's failed events, each
// also shown through sc.Report. The stack is left in its failed state:
// resume deletes and creates it again, rollback (RevertCreate) deletes it.
func (o *Ops) Create(ctx context.Context, sc *executor.StepContext, in CreateInput) (*Stack, error) {
	if in.StackName == "" || in.TemplateBody == "" || in.OwnerTag == "" {
		return nil, fmt.Errorf("create stack: a stack name, a template and an owner tag are required")
	}
	for range 3 { // at most: delete a failed attempt, create, adopt
		s, err := o.describe(ctx, in.StackName)
		if err != nil {
			return nil, err
		}
		if s == nil {
			id, err := o.sendCreate(ctx, sc, in)
			if err != nil {
				return nil, err
			}
			if id == "" { // it already existed: observe it
				continue
			}
			if s, err = o.waitCreated(ctx, sc, in.StackName, id); err != nil {
				return nil, err
			}
			return o.adopt(ctx, in, s)
		}
		if err := owner(s, in.OwnerTag, sc.Lineage()); err != nil {
			return nil, err
		}
		id := aws.ToString(s.StackId)
		if err := sc.Record(KeyStackID, id); err != nil {
			return nil, err
		}
		switch s.StackStatus {
		case cftypes.StackStatusCreateInProgress:
			if s, err = o.waitCreated(ctx, sc, in.StackName, id); err != nil {
				return nil, err
			}
			return o.adopt(ctx, in, s)
		case cftypes.StackStatusCreateComplete, cftypes.StackStatusUpdateComplete:
			return o.adopt(ctx, in, s)
		case cftypes.StackStatusRollbackComplete, cftypes.StackStatusRollbackFailed, cftypes.StackStatusCreateFailed,
			cftypes.StackStatusRollbackInProgress, cftypes.StackStatusReviewInProgress, cftypes.StackStatusDeleteFailed:
			// An earlier attempt of this run failed (or a change set was
			// never executed): delete it, then create afresh.
			sc.Report(executor.Progress{Line: fmt.Sprintf("stack %s of this run is %s from an earlier attempt: deleting it to create it again", in.StackName, s.StackStatus)})
			if err := o.deleteAndWait(ctx, sc, in.StackName, id, s.StackStatus); err != nil {
				return nil, err
			}
		case cftypes.StackStatusDeleteInProgress:
			if err := o.waitDeleted(ctx, sc, in.StackName, id); err != nil {
				return nil, err
			}
		default:
			return nil, fmt.Errorf("stack %s of this run is %s: it %w (only a create was expected); look at it, then run `envmig resume`", in.StackName, s.StackStatus, ErrChangedOutOfBand)
		}
	}
	return nil, fmt.Errorf("create stack %s: it did not settle after three observations; run `envmig resume`", in.StackName)
}

// sendCreate sends CreateStack and returns the new stack's ID; an "already
// exists" answer (a retried call whose first response was lost, or a race)
// returns "" and is left to the next observation.
func (o *Ops) sendCreate(ctx context.Context, sc *executor.StepContext, in CreateInput) (string, error) {
	attempt, _ := strconv.Atoi(sc.Value(KeyAttempt))
	attempt++
	if err := sc.Record(KeyAttempt, strconv.Itoa(attempt)); err != nil {
		return "", err
	}
	if err := sc.Record(KeyCreateSent, "true"); err != nil {
		return "", err
	}
	tags := maps.Clone(in.Tags)
	if tags == nil {
		tags = map[string]string{}
	}
	tags[in.OwnerTag] = sc.Lineage()
	out, err := o.CF.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName:          aws.String(in.StackName),
		TemplateBody:       aws.String(in.TemplateBody),
		Parameters:         cfParameters(in.Parameters, nil),
		Tags:               cfTags(tags),
		Capabilities:       capabilities(in.Capabilities),
		ClientRequestToken: aws.String(token(sc.Lineage(), sc.Step.ID, "create", strconv.Itoa(attempt))),
	})
	var exists *cftypes.AlreadyExistsException
	switch {
	case errorAs(err, &exists):
		return "", nil
	case err != nil && executor.Refused(err):
		_ = sc.Record(KeyCreateSent, "")
		return "", fmt.Errorf("create stack %s: %w", in.StackName, err)
	case err != nil:
		return "", fmt.Errorf("create stack %s: %w", in.StackName, err)
	}
	sc.Accepted()
	id := aws.ToString(out.StackId)
	return id, sc.Record(KeyStackID, id)
}

// adopt returns a created stack of this run, after checking it still runs
// the template and parameters it was created with.
func (o *Ops) adopt(ctx context.Context, in CreateInput, s *cftypes.Stack) (*Stack, error) {
	id := aws.ToString(s.StackId)
	tpl, err := o.CF.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String(id), TemplateStage: cftypes.TemplateStageOriginal})
	if err != nil {
		return nil, fmt.Errorf("read the template of stack %s: %w", in.StackName, err)
	}
	if aws.ToString(tpl.TemplateBody) != in.TemplateBody {
		return nil, fmt.Errorf("stack %s of this run no longer runs the template it was created with: it %w; look at it, delete it, then run `envmig resume`", in.StackName, ErrChangedOutOfBand)
	}
	if p, ok := changedParameter(in, s); ok {
		return nil, fmt.Errorf("stack %s of this run has parameter %s changed: it %w; look at it, delete it, then run `envmig resume`", in.StackName, p, ErrChangedOutOfBand)
	}
	return o.result(ctx, s)
}

// changedParameter returns a parameter the stack holds with another value
// than in. NoEcho values are compared only when the stack shows them: the
// template says which are NoEcho, and CloudFormation masks them.
func changedParameter(in CreateInput, s *cftypes.Stack) (string, bool) {
	t, err := tmpl.Parse([]byte(in.TemplateBody))
	if err != nil {
		return "", false
	}
	for _, p := range s.Parameters {
		k, v := aws.ToString(p.ParameterKey), aws.ToString(p.ParameterValue)
		if t.Parameters[k].NoEcho {
			continue
		}
		want, given := in.Parameters[k]
		if !given {
			want = t.Parameters[k].Default
		}
		if v != want {
			return k, true
		}
	}
	return "", false
}

// RevertCreate undoes Create: it deletes the stack when it exists and is
// this run's (OwnerTag=lineage), emptying the stack's buckets first when
// emptyBuckets is set (a temporary stack's buckets hold only the run's
// copies), and waits until it is gone. A stack that is not this run's is
// left alone and reported. Idempotent; succeeds when Create never acted.
func (o *Ops) RevertCreate(ctx context.Context, sc *executor.StepContext, name, ownerTag string, emptyBuckets bool) error {
	s, err := o.describe(ctx, name)
	if err != nil || s == nil {
		return err
	}
	if err := owner(s, ownerTag, sc.Lineage()); err != nil {
		sc.Report(executor.Progress{Line: fmt.Sprintf("left stack %s alone: %v", name, err)})
		return nil
	}
	_, err = o.Delete(ctx, sc, DeleteInput{StackName: name, OwnerTag: ownerTag, EmptyOwnBuckets: emptyBuckets})
	return err
}
