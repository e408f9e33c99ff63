package live_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/envmig/envmig/planner/live"
)

// awsError is an error as the SDK returns it for an HTTP error response:
// an operation error around a response error around the API error.
func awsError(op string, status int, code string) error {
	return &smithy.OperationError{ServiceID: "stub", OperationName: op, Err: &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}},
			Err:      &smithy.GenericAPIError{Code: code, Message: "stub says " + code},
		},
	}}
}

// fake is an in-memory AWS account that serves every read a Reader makes.
// Failures can be injected per operation; calls are counted.
type fake struct {
	account string
	stsErr  error

	instances map[string]rdstypes.DBInstance
	snapshots []rdstypes.DBSnapshot
	rdsTags   map[string][]rdstypes.Tag // by ARN, for ListTagsForResource

	buckets  map[string]*fakeBucket
	pageSize int

	groups map[string]int // name -> instances
	keys   map[string]error

	// block, when set, runs at the start of every call (for concurrency
	// tests).
	block func(op string)

	mu    sync.Mutex
	fail  map[string]error // by operation
	calls map[string]int   // by operation
}

type fakeBucket struct {
	region  string
	objects []s3types.Object // sorted by key
}

func newFake() *fake {
	return &fake{
		account:   "123456789012",
		instances: map[string]rdstypes.DBInstance{},
		rdsTags:   map[string][]rdstypes.Tag{},
		buckets:   map[string]*fakeBucket{},
		pageSize:  1000,
		groups:    map[string]int{},
		keys:      map[string]error{},
		fail:      map[string]error{},
		calls:     map[string]int{},
	}
}

// reader is a Reader over f.
func (f *fake) reader() *live.Reader {
	return &live.Reader{STS: f, RDS: f, S3: func(string) live.S3API { return f }, AutoScaling: f, CloudFormation: f, KMS: f}
}

// call counts op, runs block, and returns op's injected failure.
func (f *fake) call(op string) error {
	f.mu.Lock()
	f.calls[op]++
	err := f.fail[op]
	f.mu.Unlock()
	if f.block != nil {
		f.block(op)
	}
	return err
}

func (f *fake) count(op string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[op]
}

// addObjects puts n objects of size bytes into bucket under prefix,
// modified at t.
func (f *fake) addObjects(bucket, prefix string, n int, size int64, t time.Time) {
	b := f.buckets[bucket]
	if b == nil {
		b = &fakeBucket{region: "us-east-1"}
		f.buckets[bucket] = b
	}
	for i := range n {
		b.objects = append(b.objects, s3types.Object{Key: aws.String(fmt.Sprintf("%s%04d", prefix, i)), Size: aws.Int64(size), LastModified: aws.Time(t)})
	}
	slices.SortFunc(b.objects, func(x, y s3types.Object) int { return strings.Compare(*x.Key, *y.Key) })
}

func (f *fake) GetCallerIdentity(context.Context, *sts.GetCallerIdentityInput, ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error) {
	if err := f.call("GetCallerIdentity"); err != nil {
		return nil, err
	}
	if f.stsErr != nil {
		return nil, f.stsErr
	}
	return &sts.GetCallerIdentityOutput{Account: aws.String(f.account), Arn: aws.String("arn:aws:iam::" + f.account + ":user/test"), UserId: aws.String("AIDTEST")}, nil
}

func (f *fake) DescribeDBInstances(_ context.Context, in *rds.DescribeDBInstancesInput, _ ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error) {
	if err := f.call("DescribeDBInstances"); err != nil {
		return nil, err
	}
	d, ok := f.instances[aws.ToString(in.DBInstanceIdentifier)]
	if !ok {
		return nil, &rdstypes.DBInstanceNotFoundFault{Message: aws.String("not found")}
	}
	return &rds.DescribeDBInstancesOutput{DBInstances: []rdstypes.DBInstance{d}}, nil
}

func (f *fake) DescribeDBSnapshots(_ context.Context, in *rds.DescribeDBSnapshotsInput, _ ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error) {
	if err := f.call("DescribeDBSnapshots"); err != nil {
		return nil, err
	}
	if aws.ToString(in.SnapshotType) != "manual" {
		return nil, fmt.Errorf("stub: snapshot type %q, want manual", aws.ToString(in.SnapshotType))
	}
	// Pages of one snapshot, to exercise the paginator.
	i := 0
	if in.Marker != nil {
		i, _ = strconv.Atoi(*in.Marker)
	}
	out := &rds.DescribeDBSnapshotsOutput{}
	if i < len(f.snapshots) {
		out.DBSnapshots = f.snapshots[i : i+1]
	}
	if i+1 < len(f.snapshots) {
		out.Marker = aws.String(strconv.Itoa(i + 1))
	}
	return out, nil
}

func (f *fake) ListTagsForResource(_ context.Context, in *rds.ListTagsForResourceInput, _ ...func(*rds.Options)) (*rds.ListTagsForResourceOutput, error) {
	if err := f.call("ListTagsForResource"); err != nil {
		return nil, err
	}
	return &rds.ListTagsForResourceOutput{TagList: f.rdsTags[aws.ToString(in.ResourceName)]}, nil
}

func (f *fake) bucket(op string, name *string) (*fakeBucket, error) {
	if err := f.call(op); err != nil {
		return nil, err
	}
	b, ok := f.buckets[aws.ToString(name)]
	if !ok {
		if op == "HeadBucket" {
			return nil, awsError(op, 404, "NotFound")
		}
		return nil, awsError(op, 404, "NoSuchBucket")
	}
	return b, nil
}

func (f *fake) HeadBucket(_ context.Context, in *s3.HeadBucketInput, _ ...func(*s3.Options)) (*s3.HeadBucketOutput, error) {
	if _, err := f.bucket("HeadBucket", in.Bucket); err != nil {
		return nil, err
	}
	return &s3.HeadBucketOutput{}, nil
}

func (f *fake) GetBucketLocation(_ context.Context, in *s3.GetBucketLocationInput, _ ...func(*s3.Options)) (*s3.GetBucketLocationOutput, error) {
	b, err := f.bucket("GetBucketLocation", in.Bucket)
	if err != nil {
		return nil, err
	}
	loc := s3types.BucketLocationConstraint(b.region)
	if b.region == "us-east-1" {
		loc = ""
	}
	return &s3.GetBucketLocationOutput{LocationConstraint: loc}, nil
}

func (f *fake) GetBucketVersioning(_ context.Context, in *s3.GetBucketVersioningInput, _ ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error) {
	if _, err := f.bucket("GetBucketVersioning", in.Bucket); err != nil {
		return nil, err
	}
	return &s3.GetBucketVersioningOutput{}, nil
}

func (f *fake) GetBucketEncryption(_ context.Context, in *s3.GetBucketEncryptionInput, _ ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error) {
	if _, err := f.bucket("GetBucketEncryption", in.Bucket); err != nil {
		return nil, err
	}
	return nil, awsError("GetBucketEncryption", 404, "ServerSideEncryptionConfigurationNotFoundError")
}

func (f *fake) GetBucketTagging(_ context.Context, in *s3.GetBucketTaggingInput, _ ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error) {
	if _, err := f.bucket("GetBucketTagging", in.Bucket); err != nil {
		return nil, err
	}
	return nil, awsError("GetBucketTagging", 404, "NoSuchTagSet")
}

func (f *fake) GetBucketPolicy(_ context.Context, in *s3.GetBucketPolicyInput, _ ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error) {
	if _, err := f.bucket("GetBucketPolicy", in.Bucket); err != nil {
		return nil, err
	}
	return nil, awsError("GetBucketPolicy", 404, "NoSuchBucketPolicy")
}

func (f *fake) GetObjectLockConfiguration(_ context.Context, in *s3.GetObjectLockConfigurationInput, _ ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error) {
	if _, err := f.bucket("GetObjectLockConfiguration", in.Bucket); err != nil {
		return nil, err
	}
	return nil, awsError("GetObjectLockConfiguration", 404, "ObjectLockConfigurationNotFoundError")
}

// ListObjectsV2 serves Prefix, Delimiter "/" and continuation tokens (the
// index of the next entry), pageSize entries a page.
func (f *fake) ListObjectVersions(context.Context, *s3.ListObjectVersionsInput, ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error) {
	return &s3.ListObjectVersionsOutput{}, nil
}

func (f *fake) ListObjectsV2(_ context.Context, in *s3.ListObjectsV2Input, _ ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	b, err := f.bucket("ListObjectsV2", in.Bucket)
	if err != nil {
		return nil, err
	}
	prefix, delim := aws.ToString(in.Prefix), aws.ToString(in.Delimiter)
	type entry struct {
		obj    *s3types.Object
		prefix string
	}
	var entries []entry
	for i := range b.objects {
		key := *b.objects[i].Key
		if !strings.HasPrefix(key, prefix) {
			continue
		}
		if delim != "" {
			if j := strings.Index(key[len(prefix):], delim); j >= 0 {
				cp := key[:len(prefix)+j+len(delim)]
				if len(entries) == 0 || entries[len(entries)-1].prefix != cp {
					entries = append(entries, entry{prefix: cp})
				}
				continue
			}
		}
		entries = append(entries, entry{obj: &b.objects[i]})
	}
	start := 0
	if in.ContinuationToken != nil {
		start, _ = strconv.Atoi(*in.ContinuationToken)
	}
	end := min(start+f.pageSize, len(entries))
	out := &s3.ListObjectsV2Output{}
	for _, e := range entries[start:end] {
		if e.obj != nil {
			out.Contents = append(out.Contents, *e.obj)
		} else {
			out.CommonPrefixes = append(out.CommonPrefixes, s3types.CommonPrefix{Prefix: aws.String(e.prefix)})
		}
	}
	if end < len(entries) {
		out.IsTruncated = aws.Bool(true)
		out.NextContinuationToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

func (f *fake) DescribeAutoScalingGroups(_ context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, _ ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error) {
	if err := f.call("DescribeAutoScalingGroups"); err != nil {
		return nil, err
	}
	out := &autoscaling.DescribeAutoScalingGroupsOutput{}
	for _, name := range in.AutoScalingGroupNames {
		if _, ok := f.groups[name]; ok {
			out.AutoScalingGroups = append(out.AutoScalingGroups, groupOf(name, f.groups[name]))
		}
	}
	return out, nil
}

func (f *fake) ListStackResources(_ context.Context, in *cloudformation.ListStackResourcesInput, _ ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error) {
	if err := f.call("ListStackResources"); err != nil {
		return nil, err
	}
	return nil, awsError("ListStackResources", 400, "ValidationError")
}

func (f *fake) DescribeKey(_ context.Context, in *kms.DescribeKeyInput, _ ...func(*kms.Options)) (*kms.DescribeKeyOutput, error) {
	if err := f.call("DescribeKey"); err != nil {
		return nil, err
	}
	ref := aws.ToString(in.KeyId)
	if err, ok := f.keys[ref]; !ok || err != nil {
		if !ok {
			err = &kmstypes.NotFoundException{Message: aws.String("no such key")}
		}
		return nil, err
	}
	return &kms.DescribeKeyOutput{KeyMetadata: &kmstypes.KeyMetadata{KeyId: aws.String(ref), Arn: aws.String("arn:aws:kms:us-east-1:123456789012:key/" + ref), Enabled: true}}, nil
}
