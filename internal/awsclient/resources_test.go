package awsclient

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
)

func TestResourcesNameWhatACallActsOn(t *testing.T) {
	cases := map[string]struct {
		svc  string
		in   any
		want []string
	}{
		"copy object": {"S3", &s3.CopyObjectInput{Bucket: aws.String("dst"), Key: aws.String("a b/c"), CopySource: aws.String("src/a%20b/c?versionId=v1")},
			[]string{"object:dst/a b/c", "object:src/a b/c"}},
		"list":           {"S3", &s3.ListObjectsV2Input{Bucket: aws.String("b")}, []string{"bucket:b"}},
		"delete objects": {"S3", &s3.DeleteObjectsInput{Bucket: aws.String("b"), Delete: &s3types.Delete{}}, []string{"object:b/*"}},
		"list buckets":   {"S3", &s3.ListBucketsInput{}, nil},
		"restore": {"RDS", &rds.RestoreDBInstanceFromDBSnapshotInput{DBInstanceIdentifier: aws.String("db1"), DBSnapshotIdentifier: aws.String("snap"),
			DBSubnetGroupName: aws.String("private"), DBParameterGroupName: aws.String("pg1")},
			[]string{"db:db1", "snapshot:snap", "subgrp:private", "pg:pg1"}},
		"rename":     {"RDS", &rds.ModifyDBInstanceInput{DBInstanceIdentifier: aws.String("a"), NewDBInstanceIdentifier: aws.String("b")}, []string{"db:a", "db:b"}},
		"tags":       {"RDS", &rds.AddTagsToResourceInput{ResourceName: aws.String("arn:aws:rds:us-east-1:1:db:a")}, []string{"arn:aws:rds:us-east-1:1:db:a"}},
		"standby":    {"Auto Scaling", &autoscaling.EnterStandbyInput{AutoScalingGroupName: aws.String("web")}, []string{"group:web"}},
		"group tags": {"Auto Scaling", &autoscaling.DeleteTagsInput{Tags: []astypes.Tag{{ResourceId: aws.String("web")}}}, []string{"group:web"}},
		"ec2 tags":   {"EC2", &ec2.CreateTagsInput{Resources: []string{"i-1", "i-2"}}, []string{"instance:i-1", "instance:i-2"}},
	}
	for name, tc := range cases {
		if diff := cmp.Diff(tc.want, Resources(tc.svc, tc.in)); diff != "" {
			t.Errorf("%s: %s", name, diff)
		}
	}
}
