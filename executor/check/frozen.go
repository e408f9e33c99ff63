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
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/envmig/envmig/executor"
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

// ObjectLister lists a bucket.
type ObjectLister interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, optFns ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
}

// Frozen verifies the freeze held: every instance of the groups is still
// out of service, every original database still has the settings the plan
// observed and is available, and no object of a copied bucket was written
// after the standby began. It is the last check before the gate, so what
// users did during the window is caught while rollback is still possible.
//
// The freeze time is the standby step's frozen_at: a whole second after
// which every write is late (S3 times objects to the second). It comes from
// this machine's clock: a skew with S3's of more than a second can hide or
// invent a late write.
type Frozen struct {
	Groups GroupReader
	DBs    DBReader
	S3     func(region string) ObjectLister
}

var _ executor.Handler = (*Frozen)(nil)

// dbFrozenAttrs are the settings an out-of-band change would show in.
var dbFrozenAttrs = []string{"instance_class", "engine_version", "allocated_storage", "storage_encrypted", "multi_az", "parameter_group", "db_subnet_group", "deletion_protection"}

func (f *Frozen) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.VerifyFrozenParams](sc)
	if err != nil {
		return err
	}
	var problems []string
	for _, g := range p.Groups {
		p, err := f.group(ctx, g)
		if err != nil {
			return err
		}
		problems = append(problems, p...)
	}
	for _, id := range p.Databases {
		p, err := f.database(ctx, sc.Plan, id)
		if err != nil {
			return err
		}
		problems = append(problems, p...)
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
	if !freeze.IsZero() {
		for _, b := range p.Buckets {
			p, err := f.bucket(ctx, sc, b, freeze)
			if err != nil {
				return err
			}
			problems = append(problems, p...)
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("the environment changed during the standby, so the copy may miss data:\n  - %s", strings.Join(problems, "\n  - "))
	}
	return nil
}

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

func (f *Frozen) bucket(ctx context.Context, sc *executor.StepContext, name string, freeze time.Time) ([]string, error) {
	region := ""
	for _, o := range sc.Plan.Observations {
		if o.Kind == plan.KindBucket && o.ID == name {
			region = o.Attrs["region"]
		}
	}
	var late []string
	n := 0
	pg := s3.NewListObjectsV2Paginator(f.S3(region), &s3.ListObjectsV2Input{Bucket: aws.String(name)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", name, err)
		}
		for _, o := range page.Contents {
			if !aws.ToTime(o.LastModified).Before(freeze) {
				n++
				if len(late) < 5 {
					late = append(late, aws.ToString(o.Key))
				}
			}
		}
		sc.Report(executor.Progress{Message: "checking " + name + " for writes after the freeze", Percent: -1})
	}
	if n == 0 {
		return nil, nil
	}
	return []string{fmt.Sprintf("%d object(s) of %s were written after the standby began at %s (e.g. %q)", n, name, freeze.Format(time.RFC3339), late)}, nil
}
