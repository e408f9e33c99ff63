package stack

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"

	"github.com/envmig/envmig/executor"
)

// The waits use the SDK's CloudFormation waiters (their backoff, their
// terminal states) with a Retryable wrapped to report every observation
// through sc.Report: the heartbeat, and the "waiting" crash point.

type watch struct {
	sc       *executor.StepContext
	what     string // "stack shop-staging-envmig"
	goal     string // "created"
	status   string
	retrying bool
}

func (w *watch) seen(status string, retry bool, err error) (bool, error) {
	w.retrying = retry && err == nil
	if status != "" {
		w.status = status
	}
	if err == nil && w.status != "" {
		msg := fmt.Sprintf("waiting for %s to be %s: %s", w.what, w.goal, w.status)
		if !retry {
			msg = fmt.Sprintf("%s is %s", w.what, w.goal)
		}
		w.sc.Report(executor.Progress{Message: msg, Percent: -1})
	}
	return retry, err
}

// err explains why a wait ended without success; a timeout is resumable.
func (w *watch) err(ctx context.Context, maxWait string, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("wait for %s to be %s: %w", w.what, w.goal, ctx.Err())
	case w.retrying:
		return fmt.Errorf("%s is still %s after %s; CloudFormation carries on with it: run `envmig resume` to wait for it again", w.what, w.status, maxWait)
	}
	return fmt.Errorf("wait for %s to be %s: %w", w.what, w.goal, err)
}

func stackStatus(out *cloudformation.DescribeStacksOutput, err error) string {
	if err == nil && out != nil && len(out.Stacks) > 0 {
		return string(out.Stacks[0].StackStatus)
	}
	return ""
}

// waitCreated waits for stack id to be created. A failed create is a
// *StackError with the stack's failed events.
func (o *Ops) waitCreated(ctx context.Context, sc *executor.StepContext, name, id string) (*cftypes.Stack, error) {
	opt := o.Options.withDefaults()
	w := &watch{sc: sc, what: "stack " + name, goal: "created"}
	waiter := cloudformation.NewStackCreateCompleteWaiter(o.CF, func(wo *cloudformation.StackCreateCompleteWaiterOptions) {
		wo.MinDelay, wo.MaxDelay = opt.MinDelay, opt.MaxDelay
		next := wo.Retryable
		wo.Retryable = func(ctx context.Context, in *cloudformation.DescribeStacksInput, out *cloudformation.DescribeStacksOutput, err error) (bool, error) {
			status := stackStatus(out, err)
			if status == string(cftypes.StackStatusCreateComplete) {
				return w.seen(status, false, nil)
			}
			retry, err := next(ctx, in, out, err)
			return w.seen(status, retry, err)
		}
	})
	out, err := waiter.WaitForOutput(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(id)}, opt.MaxWait)
	if err != nil {
		if w.retrying || ctx.Err() != nil {
			return nil, w.err(ctx, opt.MaxWait.String(), err)
		}
		return nil, o.stackError(ctx, sc, "create", name, id, err)
	}
	return &out.Stacks[0], nil
}

// waitDeleted waits for stack id to be deleted (DescribeStacks by ID shows
// a deleted stack as DELETE_COMPLETE).
func (o *Ops) waitDeleted(ctx context.Context, sc *executor.StepContext, name, id string) error {
	opt := o.Options.withDefaults()
	w := &watch{sc: sc, what: "stack " + name, goal: "deleted"}
	waiter := cloudformation.NewStackDeleteCompleteWaiter(o.CF, func(wo *cloudformation.StackDeleteCompleteWaiterOptions) {
		wo.MinDelay, wo.MaxDelay = opt.MinDelay, opt.MaxDelay
		next := wo.Retryable
		wo.Retryable = func(ctx context.Context, in *cloudformation.DescribeStacksInput, out *cloudformation.DescribeStacksOutput, err error) (bool, error) {
			retry, err := next(ctx, in, out, err)
			return w.seen(stackStatus(out, err), retry, err)
		}
	})
	if err := waiter.Wait(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(id)}, opt.MaxWait); err != nil {
		if w.retrying || ctx.Err() != nil {
			return w.err(ctx, opt.MaxWait.String(), err)
		}
		return o.stackError(ctx, sc, "delete", name, id, err)
	}
	return nil
}

// waitUpdated waits for an update of stack id to complete.
func (o *Ops) waitUpdated(ctx context.Context, sc *executor.StepContext, name, id string) (*cftypes.Stack, error) {
	opt := o.Options.withDefaults()
	w := &watch{sc: sc, what: "stack " + name, goal: "updated"}
	waiter := cloudformation.NewStackUpdateCompleteWaiter(o.CF, func(wo *cloudformation.StackUpdateCompleteWaiterOptions) {
		wo.MinDelay, wo.MaxDelay = opt.MinDelay, opt.MaxDelay
		next := wo.Retryable
		wo.Retryable = func(ctx context.Context, in *cloudformation.DescribeStacksInput, out *cloudformation.DescribeStacksOutput, err error) (bool, error) {
			retry, err := next(ctx, in, out, err)
			return w.seen(stackStatus(out, err), retry, err)
		}
	})
	out, err := waiter.WaitForOutput(ctx, &cloudformation.DescribeStacksInput{StackName: aws.String(id)}, opt.MaxWait)
	if err != nil {
		if w.retrying || ctx.Err() != nil {
			return nil, w.err(ctx, opt.MaxWait.String(), err)
		}
		return nil, o.stackError(ctx, sc, "update", name, id, err)
	}
	return &out.Stacks[0], nil
}

// waitChangeSet waits for a change set to be created. It returns the
// change set's last description whether it was created or FAILED (a
// change set with no changes fails); other errors are returned.
func (o *Ops) waitChangeSet(ctx context.Context, sc *executor.StepContext, stackName, name string) (*cloudformation.DescribeChangeSetOutput, error) {
	opt := o.Options.withDefaults()
	w := &watch{sc: sc, what: "change set " + name + " of stack " + stackName, goal: "created"}
	var last *cloudformation.DescribeChangeSetOutput
	waiter := cloudformation.NewChangeSetCreateCompleteWaiter(o.CF, func(wo *cloudformation.ChangeSetCreateCompleteWaiterOptions) {
		wo.MinDelay, wo.MaxDelay = min(opt.MinDelay, 5e9), opt.MaxDelay
		next := wo.Retryable
		wo.Retryable = func(ctx context.Context, in *cloudformation.DescribeChangeSetInput, out *cloudformation.DescribeChangeSetOutput, err error) (bool, error) {
			status := ""
			if err == nil && out != nil {
				last, status = out, string(out.Status)
			}
			if status == string(cftypes.ChangeSetStatusFailed) {
				return w.seen(status, false, nil)
			}
			retry, err := next(ctx, in, out, err)
			return w.seen(status, retry, err)
		}
	})
	err := waiter.Wait(ctx, &cloudformation.DescribeChangeSetInput{StackName: aws.String(stackName), ChangeSetName: aws.String(name)}, opt.MaxWait)
	if err != nil {
		return nil, w.err(ctx, opt.MaxWait.String(), err)
	}
	return last, nil
}
