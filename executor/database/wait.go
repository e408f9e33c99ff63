package database

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/envmig/envmig/executor"
)

// The waits use the SDK's waiters (their backoff, their terminal states)
// with a Retryable wrapped to report every observation through sc.Report
// (the heartbeat and the "waiting" crash point) and to treat "not found"
// as "not visible yet": right after a create or a rename, RDS answers
// NotFound for a while.

// watch follows one wait: what is being waited for and what was last seen.
type watch struct {
	sc       *executor.StepContext
	what     string // "DB snapshot envmig-3fa2-main"
	goal     string // "available"
	maxWait  time.Duration
	status   string
	retrying bool
}

// seen reports one observation and passes the waiter's verdict through.
func (w *watch) seen(status string, pct *int32, retry bool, err error) (bool, error) {
	w.retrying = retry && err == nil
	if status != "" {
		w.status = status
	}
	if err == nil && w.status != "" {
		p := executor.Progress{Message: fmt.Sprintf("waiting for %s to be %s: %s", w.what, w.goal, w.status), Percent: -1}
		if !retry {
			p.Message = fmt.Sprintf("%s is %s", w.what, w.goal)
		}
		if pct != nil {
			p.Percent = float64(*pct)
			p.Message += fmt.Sprintf(" (%d%%)", *pct)
		}
		w.sc.Report(p)
	}
	return retry, err
}

// err explains why a wait ended without success.
func (w *watch) err(ctx context.Context, err error) error {
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("wait for %s to be %s: %w", w.what, w.goal, ctx.Err())
	case w.retrying:
		// The last observation asked for another: the waiter ran out of time.
		return fmt.Errorf("%s is still %s after %s; AWS carries on with it: run `envmig resume` to wait for it again", w.what, w.status, w.maxWait)
	case w.status != "":
		return fmt.Errorf("wait for %s to be %s: it is %s: %w", w.what, w.goal, w.status, err)
	default:
		return fmt.Errorf("wait for %s to be %s: %w", w.what, w.goal, err)
	}
}

func (d *deps) watch(sc *executor.StepContext, what, goal string) *watch {
	return &watch{sc: sc, what: what, goal: goal, maxWait: d.o.MaxWait}
}

// waitSnapshot waits until the snapshot is available.
func (d *deps) waitSnapshot(ctx context.Context, sc *executor.StepContext, id string) (*types.DBSnapshot, error) {
	wt := d.watch(sc, "DB snapshot "+id, "available")
	waiter := rds.NewDBSnapshotAvailableWaiter(d.c, func(o *rds.DBSnapshotAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = d.o.MinDelay, d.o.MaxDelay
		next := o.Retryable
		o.Retryable = func(ctx context.Context, in *rds.DescribeDBSnapshotsInput, out *rds.DescribeDBSnapshotsOutput, err error) (bool, error) {
			if errorCode(err) == codeSnapshotNotFound {
				return wt.seen("not visible yet", nil, true, nil)
			}
			var status string
			var pct *int32
			if err == nil && len(out.DBSnapshots) > 0 {
				status, pct = aws.ToString(out.DBSnapshots[0].Status), out.DBSnapshots[0].PercentProgress
			}
			retry, err := next(ctx, in, out, err)
			return wt.seen(status, pct, retry, err)
		}
	})
	out, err := waiter.WaitForOutput(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(id)}, d.o.MaxWait)
	if err != nil {
		return nil, wt.err(ctx, err)
	}
	return &out.DBSnapshots[0], nil
}

// waitSnapshotGone waits until the snapshot no longer exists.
func (d *deps) waitSnapshotGone(ctx context.Context, sc *executor.StepContext, id string) error {
	wt := d.watch(sc, "DB snapshot "+id, "deleted")
	waiter := rds.NewDBSnapshotDeletedWaiter(d.c, func(o *rds.DBSnapshotDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = d.o.MinDelay, d.o.MaxDelay
		next := o.Retryable
		o.Retryable = func(ctx context.Context, in *rds.DescribeDBSnapshotsInput, out *rds.DescribeDBSnapshotsOutput, err error) (bool, error) {
			status := "deleted"
			if err == nil && len(out.DBSnapshots) > 0 {
				status = aws.ToString(out.DBSnapshots[0].Status)
			}
			retry, err := next(ctx, in, out, err)
			return wt.seen(status, nil, retry, err)
		}
	})
	if err := waiter.Wait(ctx, &rds.DescribeDBSnapshotsInput{DBSnapshotIdentifier: aws.String(id)}, d.o.MaxWait); err != nil {
		return wt.err(ctx, err)
	}
	return nil
}

// waitInstance waits until the instance is available (or, after a storage
// change, optimizing its storage, which it serves through) with none of
// the settings in pending still pending.
func (d *deps) waitInstance(ctx context.Context, sc *executor.StepContext, id string, pending []string) (*types.DBInstance, error) {
	wt := d.watch(sc, "DB instance "+id, "available")
	waiter := rds.NewDBInstanceAvailableWaiter(d.c, func(o *rds.DBInstanceAvailableWaiterOptions) {
		o.MinDelay, o.MaxDelay = d.o.MinDelay, d.o.MaxDelay
		next := o.Retryable
		o.Retryable = func(ctx context.Context, in *rds.DescribeDBInstancesInput, out *rds.DescribeDBInstancesOutput, err error) (bool, error) {
			if errorCode(err) == codeInstanceNotFound {
				return wt.seen("not visible yet", nil, true, nil)
			}
			if err != nil {
				return wt.seen("", nil, false, err)
			}
			if len(out.DBInstances) == 0 {
				return wt.seen("not visible yet", nil, true, nil)
			}
			inst := &out.DBInstances[0]
			status := aws.ToString(inst.DBInstanceStatus)
			if status == "available" || status == "storage-optimization" {
				if p := pendingOf(inst, pending); len(p) > 0 {
					return wt.seen(status+", "+strings.Join(p, ", ")+" pending", nil, true, nil)
				}
				return wt.seen(status, nil, false, nil)
			}
			retry, err := next(ctx, in, out, err)
			return wt.seen(status, nil, retry, err)
		}
	})
	out, err := waiter.WaitForOutput(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, d.o.MaxWait)
	if err != nil {
		return nil, wt.err(ctx, err)
	}
	return &out.DBInstances[0], nil
}

// waitInstanceGone waits until the instance no longer exists.
func (d *deps) waitInstanceGone(ctx context.Context, sc *executor.StepContext, id string) error {
	wt := d.watch(sc, "DB instance "+id, "deleted")
	waiter := rds.NewDBInstanceDeletedWaiter(d.c, func(o *rds.DBInstanceDeletedWaiterOptions) {
		o.MinDelay, o.MaxDelay = d.o.MinDelay, d.o.MaxDelay
		next := o.Retryable
		o.Retryable = func(ctx context.Context, in *rds.DescribeDBInstancesInput, out *rds.DescribeDBInstancesOutput, err error) (bool, error) {
			status := "deleted"
			if err == nil && len(out.DBInstances) > 0 {
				status = aws.ToString(out.DBInstances[0].DBInstanceStatus)
			}
			retry, err := next(ctx, in, out, err)
			return wt.seen(status, nil, retry, err)
		}
	})
	if err := waiter.Wait(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)}, d.o.MaxWait); err != nil {
		return wt.err(ctx, err)
	}
	return nil
}

// pendingOf returns which of the named settings RDS still has pending.
func pendingOf(inst *types.DBInstance, settings []string) []string {
	var out []string
	pv := inst.PendingModifiedValues
	for _, s := range settings {
		var p bool
		switch s {
		case "instance_class":
			p = pv != nil && pv.DBInstanceClass != nil
		case "engine_version":
			p = pv != nil && pv.EngineVersion != nil
		case "allocated_storage":
			p = pv != nil && pv.AllocatedStorage != nil
		case "multi_az":
			p = pv != nil && pv.MultiAZ != nil
		case "storage_type":
			p = pv != nil && pv.StorageType != nil
		case "parameter_group":
			for _, g := range inst.DBParameterGroups {
				p = p || aws.ToString(g.ParameterApplyStatus) == "applying"
			}
		}
		if p {
			out = append(out, s)
		}
	}
	return out
}
