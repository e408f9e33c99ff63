package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// KeyOutputs is the journal key under which a stack.create step records
// the created stack's outputs (a JSON object): the checks read them.
const KeyOutputs = "outputs"

var (
	_ executor.Handler = (*createHandler)(nil)
	_ executor.Handler = (*deleteHandler)(nil)
	_ executor.Handler = (*changeSetHandler)(nil)
	_ executor.Handler = (*updateHandler)(nil)
)

// Handlers returns the handlers of the stack steps: stack.create,
// stack.delete, stack.change-set and stack.update.
func (o *Ops) Handlers() map[plan.StepAction]executor.Handler {
	return map[plan.StepAction]executor.Handler{
		plan.StackCreate:    &createHandler{o},
		plan.StackDelete:    &deleteHandler{o},
		plan.StackChangeSet: &changeSetHandler{o},
		plan.StackUpdate:    &updateHandler{o},
	}
}

// changeSetHandler runs StackChangeSet: CreateChangeSet, which shows every
// change with its Replacement value. Revert deletes the change set.
type changeSetHandler struct{ o *Ops }

func changeSetInput(p plan.StackChangeSetParams) ChangeSetInput {
	return ChangeSetInput{StackName: p.Stack, ExpectedID: p.ExpectedID, TemplateBody: p.Template, Parameters: p.Parameters,
		UsePrevious: p.UsePrevious, Capabilities: p.Capabilities}
}

func (h *changeSetHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.StackChangeSetParams](sc)
	if err != nil {
		return err
	}
	cs, err := h.o.CreateChangeSet(ctx, sc, changeSetInput(p))
	if err != nil {
		return err
	}
	if cs.NoChanges {
		sc.Report(executor.Progress{Line: fmt.Sprintf("stack %s: the change set has no changes", p.Stack)})
	}
	return nil
}

func (h *changeSetHandler) Revert(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.StackChangeSetParams](sc)
	if err != nil {
		return err
	}
	return h.o.DeleteChangeSet(ctx, sc, p.Stack)
}

// updateHandler runs StackUpdate: ExecuteChangeSet of the change set the
// plan's ChangeSetStep created, with that step's template.
type updateHandler struct{ o *Ops }

func (h *updateHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.StackUpdateParams](sc)
	if err != nil {
		return err
	}
	var cs *plan.StackChangeSetParams
	for _, s := range sc.Plan.Steps {
		if c, ok := s.Params.(plan.StackChangeSetParams); ok && s.ID == p.ChangeSetStep {
			cs = &c
		}
	}
	if cs == nil || cs.Stack != p.Stack {
		return fmt.Errorf("step %s executes the change set of step %s, which the plan does not hold for stack %s: the plan is malformed", sc.Step.ID, p.ChangeSetStep, p.Stack)
	}
	in := changeSetInput(*cs)
	in.ExpectedID = p.ExpectedID
	s, err := h.o.ExecuteChangeSet(ctx, sc, in)
	if err != nil {
		return err
	}
	sc.Report(executor.Progress{Line: fmt.Sprintf("stack %s is %s", s.Name, s.Status)})
	return nil
}

func (h *updateHandler) Revert(context.Context, *executor.StepContext) error { return nil }

// createHandler runs StackCreate: Create with the run's tag for a
// temporary stack, with TagRecreatedBy for an original created again. It
// records the stack's outputs. Revert deletes a temporary stack of this
// run, emptying its buckets first (they hold only copies).
type createHandler struct{ o *Ops }

func (h *createHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.StackCreateParams](sc)
	if err != nil {
		return err
	}
	s, err := h.o.Create(ctx, sc, CreateInput{StackName: p.Stack, TemplateBody: p.Template, Parameters: p.Parameters,
		Capabilities: p.Capabilities, OwnerTag: ownerTag(p.Temporary)})
	if err != nil {
		return err
	}
	out, err := json.Marshal(s.Outputs)
	if err != nil {
		return err
	}
	sc.Report(executor.Progress{Line: fmt.Sprintf("stack %s is %s (%d resources)", s.Name, s.Status, len(s.Resources))})
	return sc.Record(KeyOutputs, string(out))
}

func (h *createHandler) Revert(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.StackCreateParams](sc)
	if err != nil {
		return err
	}
	if !p.Temporary {
		return nil // an original created again is never undone
	}
	return h.o.RevertCreate(ctx, sc, p.Stack, executor.RunTagKey, true)
}

func ownerTag(temporary bool) string {
	if temporary {
		return executor.RunTagKey
	}
	return TagRecreatedBy
}

// deleteHandler runs StackDelete: an original by the ID the plan
// observed, a temporary stack only when it is this run's (its buckets
// emptied first). It reports retained resources and final snapshots.
type deleteHandler struct{ o *Ops }

func (h *deleteHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.StackDeleteParams](sc)
	if err != nil {
		return err
	}
	in := DeleteInput{StackName: p.Stack, ExpectedID: p.ExpectedID}
	if p.Temporary {
		in.OwnerTag, in.EmptyOwnBuckets = executor.RunTagKey, true
	}
	d, err := h.o.Delete(ctx, sc, in)
	if d != nil {
		for _, r := range d.Retained {
			sc.Report(executor.Progress{Line: fmt.Sprintf("retained by its DeletionPolicy: %s %s (%s)", r.Type, r.LogicalID, r.PhysicalID)})
		}
		ids := make([]string, 0, len(d.FinalSnapshots))
		for id := range d.FinalSnapshots {
			ids = append(ids, id)
		}
		sort.Strings(ids)
		for _, id := range ids {
			sc.Report(executor.Progress{Line: fmt.Sprintf("final snapshot of %s kept: %s", id, d.FinalSnapshots[id])})
		}
		for _, id := range d.MissingFinalSnapshots {
			sc.Report(executor.Progress{Line: fmt.Sprintf("no final snapshot of %s found (its DeletionPolicy is Snapshot; the run's own snapshots are kept)", id)})
		}
	}
	return err
}

func (h *deleteHandler) Revert(context.Context, *executor.StepContext) error { return nil }
