package live

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
)

// RunTagKey is the tag envmig puts on everything a run creates; its value is
// the run's lineage.
const RunTagKey = "envmig:run"

// database reads one DB instance; a missing one has Exists false.
func (o *observation) database(ctx context.Context, id string) (*Database, error) {
	what := fmt.Sprintf("database %q", id)
	out, err := o.r.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{DBInstanceIdentifier: aws.String(id)})
	var notFound *rdstypes.DBInstanceNotFoundFault
	switch {
	case errors.As(err, &notFound):
		return &Database{Identifier: id}, nil
	case err != nil:
		return nil, readError(what, "rds:DescribeDBInstances", err)
	}
	i := slices.IndexFunc(out.DBInstances, func(d rdstypes.DBInstance) bool {
		return aws.ToString(d.DBInstanceIdentifier) == id
	})
	if i < 0 {
		return &Database{Identifier: id}, nil
	}
	d := databaseOf(out.DBInstances[i])
	if out.DBInstances[i].TagList == nil {
		if d.Tags, err = o.rdsTags(ctx, d.ARN); err != nil {
			return nil, readError(what, "rds:ListTagsForResource", err)
		}
	}
	return d, nil
}

// databaseOf converts what DescribeDBInstances says of one instance; tags
// come from its TagList.
func databaseOf(in rdstypes.DBInstance) *Database {
	d := &Database{
		Identifier:         aws.ToString(in.DBInstanceIdentifier),
		Exists:             true,
		ARN:                aws.ToString(in.DBInstanceArn),
		Status:             aws.ToString(in.DBInstanceStatus),
		Engine:             aws.ToString(in.Engine),
		EngineVersion:      aws.ToString(in.EngineVersion),
		InstanceClass:      aws.ToString(in.DBInstanceClass),
		AllocatedStorage:   int64(aws.ToInt32(in.AllocatedStorage)),
		StorageType:        aws.ToString(in.StorageType),
		StorageEncrypted:   aws.ToBool(in.StorageEncrypted),
		KMSKeyID:           aws.ToString(in.KmsKeyId),
		MultiAZ:            aws.ToBool(in.MultiAZ),
		Port:               aws.ToInt32(in.DbInstancePort),
		PubliclyAccessible: aws.ToBool(in.PubliclyAccessible),
		DeletionProtection: aws.ToBool(in.DeletionProtection),
		Tags:               tagMap(in.TagList),
	}
	if in.DBSubnetGroup != nil {
		d.DBSubnetGroup = aws.ToString(in.DBSubnetGroup.DBSubnetGroupName)
	}
	if len(in.DBParameterGroups) > 0 {
		d.ParameterGroup = aws.ToString(in.DBParameterGroups[0].DBParameterGroupName)
	}
	if len(in.OptionGroupMemberships) > 0 {
		d.OptionGroup = aws.ToString(in.OptionGroupMemberships[0].OptionGroupName)
	}
	for _, sg := range in.VpcSecurityGroups {
		d.VPCSecurityGroupIDs = append(d.VPCSecurityGroupIDs, aws.ToString(sg.VpcSecurityGroupId))
	}
	slices.Sort(d.VPCSecurityGroupIDs)
	if e := in.Endpoint; e != nil {
		if e.Port != nil {
			d.Port = aws.ToInt32(e.Port)
		}
		if addr := aws.ToString(e.Address); addr != "" {
			d.Endpoint = net.JoinHostPort(addr, strconv.Itoa(int(d.Port)))
		}
	}
	return d
}

// snapshots reads the manual DB snapshots tagged envmig:run, by ID.
func (o *observation) snapshots(ctx context.Context) (map[string]*Snapshot, error) {
	out := map[string]*Snapshot{}
	p := rds.NewDescribeDBSnapshotsPaginator(o.r.RDS, &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, readError("envmig's DB snapshots", "rds:DescribeDBSnapshots", err)
		}
		for _, s := range page.DBSnapshots {
			tags := tagMap(s.TagList)
			if s.TagList == nil {
				if tags, err = o.rdsTags(ctx, aws.ToString(s.DBSnapshotArn)); err != nil {
					return nil, readError(fmt.Sprintf("DB snapshot %q", aws.ToString(s.DBSnapshotIdentifier)), "rds:ListTagsForResource", err)
				}
			}
			run := tags[RunTagKey]
			if run == "" {
				continue
			}
			id := aws.ToString(s.DBSnapshotIdentifier)
			out[id] = &Snapshot{
				ID:         id,
				Instance:   aws.ToString(s.DBInstanceIdentifier),
				Status:     aws.ToString(s.Status),
				Encrypted:  aws.ToBool(s.Encrypted),
				KMSKeyID:   aws.ToString(s.KmsKeyId),
				Created:    aws.ToTime(s.SnapshotCreateTime),
				Lineage:    run,
				StorageGiB: int64(aws.ToInt32(s.AllocatedStorage)),
			}
		}
	}
	return out, nil
}

// rdsTags reads the tags of an RDS resource whose description came without
// its TagList.
func (o *observation) rdsTags(ctx context.Context, arn string) (map[string]string, error) {
	out, err := o.r.RDS.ListTagsForResource(ctx, &rds.ListTagsForResourceInput{ResourceName: aws.String(arn)})
	if err != nil {
		return nil, err
	}
	return tagMap(out.TagList), nil
}

func tagMap(tags []rdstypes.Tag) map[string]string {
	m := make(map[string]string, len(tags))
	for _, t := range tags {
		m[aws.ToString(t.Key)] = aws.ToString(t.Value)
	}
	return m
}
