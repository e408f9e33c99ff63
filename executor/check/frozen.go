package check

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/executor/bucket"
	"github.com/envmig/envmig/planner/plan"
)

// GroupReader reads Auto Scaling groups.
type GroupReader interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, optFns ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
}

// DBReader reads DB instances.
type DBReader interface {
	DescribeDBInstances(ctx context.Context, in *rds.DescribeDBInstancesInput, optFns ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
}

// Frozen verifies the freeze held: every instance of the groups is still
// out of service, every writer a switch step turned off is still off (a
// command switch cannot be observed), every original database still has the settings the plan
// observed and is available, and every copied bucket still matches the
// manifest its copy recorded in the standby — keys, sizes, ETags, versions,
// deletes included — with nothing in that manifest written after the
// standby began. It is the last check before the point of no return, and
// the point of no return runs it again after its confirmation: what users
// did during the window is caught while rollback is still possible.
//
// A bucket that changed is a freeze that did not hold, not a bad copy: the
// step fails with an *executor.ChangedError, which stops the run without
// undoing it; `envmig resume` (once the writers are stopped) copies the
// difference and verifies again, `envmig rollback` undoes the run.
// Database writes are invisible to envmig (only settings and status are
// compared; LatestRestorableTime moving proves nothing): the spec's own
// verify { command } checks are the proof for database rows.
//
// The freeze time is the standby step's frozen_at: a whole second after
// which every write is late (S3 times objects to the second). It comes from
// this machine's clock: a skew with S3's of more than a second can hide or
// invent a late write.
type Frozen struct {
	Groups  GroupReader
	DBs     DBReader
	Buckets BucketGuard
	// Switches re-observes the writers the run's switch steps turned off
	// (nil: not checked); switches.Checker satisfies it.
	Switches SwitchChecker
}

// SwitchChecker lists the writers a run switched off that are on again.
type SwitchChecker interface {
	StillOff(ctx context.Context, sc *executor.StepContext) ([]string, error)
}

// BucketGuard checks an original bucket against its recorded manifest;
// bucket.Guards satisfies it.
type BucketGuard interface {
	Guard(ctx context.Context, sc *executor.StepContext, g plan.BucketGuard) error
}

var _ executor.Handler = (*Frozen)(nil)

// dbFrozenAttrs are the settings an out-of-band change would show in.
var dbFrozenAttrs = []string{"instance_class", "engine_version", "allocated_storage", "storage_encrypted", "multi_az", "parameter_group", "db_subnet_group", "deletion_protection"}

func (f *Frozen) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.VerifyFrozenParams](sc)
	if err != nil {
		return err
	}
	return f.Check(ctx, sc, p)
}

// Check runs the checks of p in sc's step (the point of no return runs the
// verify.frozen step's checks again this way).
func (f *Frozen) Check(ctx context.Context, sc *executor.StepContext, p plan.VerifyFrozenParams) error {
	var problems []string
	for _, g := range p.Groups {
		pr, err := f.group(ctx, g)
		if err != nil {
			return err
		}
		problems = append(problems, pr...)
	}
	for _, id := range p.Databases {
		pr, err := f.database(ctx, sc.Plan, id)
		if err != nil {
			return err
		}
		problems = append(problems, pr...)
	}
	if f.Switches != nil {
		pr, err := f.Switches.StillOff(ctx, sc)
		if err != nil {
			return err
		}
		problems = append(problems, pr...)
	}
	var freeze time.Time
	for _, id := range p.StandbySteps {
		t, err := time.Parse(time.RFC3339, sc.StepValue(id, "frozen_at"))
		if err != nil {
			return fmt.Errorf("step %s recorded no freeze time (%s): resume the run so that it takes the group out of service again", id, sc.StepValue(id, "frozen_at"))
		}
		if t.After(freeze) {
			freeze = t
		}
	}
	var changed []string
	for _, g := range p.Buckets {
		resumed := bucket.ResumedAfterChange(sc, g.Bucket)
		err := f.Buckets.Guard(ctx, sc, g)
		var ce *executor.ChangedError
		switch {
		case errors.As(err, &ce):
			changed = append(changed, ce.Changes...)
			continue
		case err != nil:
			return err
		}
		// Writes between the standby and the copy's listing are in the
		// copy, but their writer was not switched off. Once the operator
		// resumed after such a finding (or after a change the guard has
		// just copied), they are accepted.
		if freeze.IsZero() || resumed || sc.Value(lateKey+g.Bucket) == "acknowledged" {
			continue
		}
		n, first, err := bucket.WrittenSince(ctx, sc, g, freeze)
		if err != nil {
			return err
		}
		if n == 0 {
			continue
		}
		if sc.Value(lateKey+g.Bucket) != "" {
			if err := sc.Record(lateKey+g.Bucket, "acknowledged"); err != nil {
				return err
			}
			continue
		}
		msg := fmt.Sprintf("s3://%s: %d object(s) written after the standby began at %s (e.g. %q): something still writes", g.Bucket, n, freeze.Format(time.RFC3339), first)
		if err := sc.Record(lateKey+g.Bucket, msg); err != nil {
			return err
		}
		changed = append(changed, msg)
	}
	switch {
	case len(problems) > 0:
		return fmt.Errorf("the environment changed during the standby, so the copy may miss data:\n  - %s", strings.Join(append(problems, changed...), "\n  - "))
	case len(changed) > 0:
		return &executor.ChangedError{Changes: changed}
	}
	return nil
}

// lateKey prefixes the step value recording writes made between the
// standby and a bucket's copy.
const lateKey = "late."

func (f *Frozen) Revert(context.Context, *executor.StepContext) error { return nil }

func (f *Frozen) group(ctx context.Context, name string) ([]string, error) {
	out, err := f.Groups.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{name}})
	if err != nil {
		return nil, fmt.Errorf("describe group %s: %w", name, err)
	}
	if len(out.AutoScalingGroups) == 0 {
		return []string{fmt.Sprintf("Auto Scaling group %s no longer exists", name)}, nil
	}
	var p []string
	for _, i := range out.AutoScalingGroups[0].Instances {
		switch state := string(i.LifecycleState); state {
		case "InService", "Pending", "Pending:Wait", "Pending:Proceed", "Exiting:Standby":
			p = append(p, fmt.Sprintf("instance %s of %s is %s: something put it back in service or launched it", aws.ToString(i.InstanceId), name, state))
		}
	}
	return p, nil
}

func (f *Frozen) database(ctx context.Context, p *plan.Plan, id string) ([]string, error) {
	var want map[string]string
	for _, o := range p.Observations {
		if o.Kind == plan.KindDatabase && o.ID == id && o.Exists {
			want = o.Attrs
		}
	}
	out, err := f.DBs.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	if err != nil || len(out.DBInstances) == 0 {
		var nf *rdstypes.DBInstanceNotFoundFault
		if err == nil || errors.As(err, &nf) {
			return []string{fmt.Sprintf("database %s no longer exists", id)}, nil
		}
		return nil, fmt.Errorf("describe database %s: %w", id, err)
	}
	d := out.DBInstances[0]
	now := map[string]string{
		"instance_class":      aws.ToString(d.DBInstanceClass),
		"engine_version":      aws.ToString(d.EngineVersion),
		"allocated_storage":   strconv.Itoa(int(aws.ToInt32(d.AllocatedStorage))),
		"storage_encrypted":   strconv.FormatBool(aws.ToBool(d.StorageEncrypted)),
		"multi_az":            strconv.FormatBool(aws.ToBool(d.MultiAZ)),
		"deletion_protection": strconv.FormatBool(aws.ToBool(d.DeletionProtection)),
	}
	if d.DBSubnetGroup != nil {
		now["db_subnet_group"] = aws.ToString(d.DBSubnetGroup.DBSubnetGroupName)
	}
	if len(d.DBParameterGroups) > 0 {
		now["parameter_group"] = aws.ToString(d.DBParameterGroups[0].DBParameterGroupName)
	}
	var problems []string
	for _, k := range dbFrozenAttrs {
		if w, ok := want[k]; ok && w != now[k] {
			problems = append(problems, fmt.Sprintf("database %s was modified: %s was %s, now %s", id, k, w, now[k]))
		}
	}
	if s := aws.ToString(d.DBInstanceStatus); s != "available" && s != "backing-up" {
		problems = append(problems, fmt.Sprintf("database %s is %s: something is modifying it", id, s))
	}
	return problems, nil
}
