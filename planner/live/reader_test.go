package live_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/smithy-go"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/envmig/envmig/planner/live"
)

func groupOf(name string, n int) astypes.AutoScalingGroup {
	g := astypes.AutoScalingGroup{AutoScalingGroupName: aws.String(name), MinSize: aws.Int32(1), MaxSize: aws.Int32(3), DesiredCapacity: aws.Int32(int32(n))}
	for i := range n {
		g.Instances = append(g.Instances, astypes.Instance{InstanceId: aws.String(fmt.Sprintf("i-%d", n-i)), LifecycleState: astypes.LifecycleStateInService, HealthStatus: aws.String("Healthy")})
	}
	return g
}

func TestIdentityAllowList(t *testing.T) {
	stsDown := errors.New("dial tcp: connection refused")
	const other = "111111111111"
	tests := map[string]struct {
		account string
		stsErr  error
		allowed []string
		want    live.Identity
		// wantAccountErr is the *AccountError expected (Err compared with
		// errors.Is); wantRead expects a *ReadError.
		wantAccountErr *live.AccountError
		unreadable     bool // the AccountError says why the identity is unknown
		wantRead       bool
		wantMessage    string
	}{
		"allowed account": {
			account: "123456789012", allowed: []string{other, "123456789012"},
			want: live.Identity{Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/test", UserID: "AIDTEST"},
		},
		"no allow-list, any account": {
			account: other,
			want:    live.Identity{Account: other, ARN: "arn:aws:iam::111111111111:user/test", UserID: "AIDTEST"},
		},
		"account not allowed": {
			account: other, allowed: []string{"123456789012"},
			wantAccountErr: &live.AccountError{Account: other, Allowed: []string{"123456789012"}},
			wantMessage:    "AWS account 111111111111 is not in allowed_account_ids (123456789012) of the spec; check AWS_PROFILE or your credentials",
		},
		"several allowed, none matches": {
			account: other, allowed: []string{"123456789012", "210987654321"},
			wantAccountErr: &live.AccountError{Account: other, Allowed: []string{"123456789012", "210987654321"}},
			wantMessage:    "AWS account 111111111111 is not in allowed_account_ids (123456789012, 210987654321) of the spec; check AWS_PROFILE or your credentials",
		},
		"identity unreadable with an allow-list fails closed": {
			stsErr: stsDown, allowed: []string{"123456789012"},
			wantAccountErr: &live.AccountError{Allowed: []string{"123456789012"}, Err: stsDown}, unreadable: true,
		},
		"empty account with an allow-list fails closed": {
			account: "", allowed: []string{"123456789012"},
			wantAccountErr: &live.AccountError{Allowed: []string{"123456789012"}}, unreadable: true,
		},
		"identity unreadable without an allow-list is still an error": {
			stsErr: stsDown, wantRead: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.account, f.stsErr = tc.account, tc.stsErr
			got, err := f.reader().Identity(context.Background(), tc.allowed)
			var ae *live.AccountError
			var re *live.ReadError
			switch {
			case tc.wantAccountErr != nil:
				if !errors.As(err, &ae) {
					t.Fatalf("err = %v, want *AccountError", err)
				}
				if ae.Account != tc.wantAccountErr.Account || !cmp.Equal(ae.Allowed, tc.wantAccountErr.Allowed) {
					t.Errorf("AccountError = %+v, want %+v", ae, tc.wantAccountErr)
				}
				if tc.unreadable != (ae.Err != nil) || (tc.wantAccountErr.Err != nil && !errors.Is(err, tc.wantAccountErr.Err)) {
					t.Errorf("AccountError.Err = %v, want %v (unreadable: %v)", ae.Err, tc.wantAccountErr.Err, tc.unreadable)
				}
				if tc.wantMessage != "" && err.Error() != tc.wantMessage {
					t.Errorf("message:\n got %s\nwant %s", err, tc.wantMessage)
				}
				if ae.Err != nil && !strings.Contains(err.Error(), "refuses") {
					t.Errorf("fail-closed message does not say envmig refuses: %s", err)
				}
			case tc.wantRead:
				if !errors.As(err, &re) || errors.As(err, &ae) || !errors.Is(err, stsDown) {
					t.Fatalf("err = %v, want a *ReadError wrapping the STS error", err)
				}
			default:
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(tc.want, got); diff != "" {
					t.Errorf("Identity (-want +got):\n%s", diff)
				}
			}
		})
	}
}

// TestObserveRefusedAccountReadsNothing: the allow-list check comes before
// every other read.
func TestObserveRefusedAccountReadsNothing(t *testing.T) {
	for name, stsErr := range map[string]error{"other account": nil, "identity unreadable": errors.New("no credentials")} {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.account, f.stsErr = "111111111111", stsErr
			f.instances["db"] = rdstypes.DBInstance{DBInstanceIdentifier: aws.String("db")}
			f.addObjects("bucket", "", 3, 1, time.Now())
			obs, err := f.reader().Observe(context.Background(), live.Request{
				Databases: []string{"db"}, Buckets: []string{"bucket"}, Groups: []string{"g"}, KMSKeys: []string{"k"},
				Stack: "s", CountObjects: true, AllowedAccountIDs: []string{"123456789012"},
			})
			var ae *live.AccountError
			if !errors.As(err, &ae) || obs != nil {
				t.Fatalf("Observe = %v, %v; want nil and an *AccountError", obs, err)
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			if diff := cmp.Diff(map[string]int{"GetCallerIdentity": 1}, f.calls); diff != "" {
				t.Errorf("calls (-want +got):\n%s", diff)
			}
		})
	}
}

// TestReadErrorsAreNotMissing: a read that fails, access denied above all,
// is an error naming the resource and the IAM action, never "missing".
func TestReadErrorsAreNotMissing(t *testing.T) {
	tests := map[string]struct {
		op, resource, action string
		status               int
		code                 string
	}{
		"DescribeDBInstances":        {"DescribeDBInstances", `database "db"`, "rds:DescribeDBInstances", 403, "AccessDenied"},
		"DescribeDBSnapshots":        {"DescribeDBSnapshots", "envmig's DB snapshots", "rds:DescribeDBSnapshots", 403, "AccessDenied"},
		"GetBucketLocation":          {"GetBucketLocation", `bucket "bucket"`, "s3:GetBucketLocation", 403, "AccessDenied"},
		"HeadBucket":                 {"HeadBucket", `bucket "bucket"`, "s3:ListBucket", 403, "Forbidden"},
		"GetBucketVersioning":        {"GetBucketVersioning", `bucket "bucket"`, "s3:GetBucketVersioning", 403, "AccessDenied"},
		"GetBucketEncryption":        {"GetBucketEncryption", `bucket "bucket"`, "s3:GetEncryptionConfiguration", 403, "AccessDenied"},
		"GetBucketTagging":           {"GetBucketTagging", `bucket "bucket"`, "s3:GetBucketTagging", 403, "AccessDenied"},
		"GetBucketPolicy":            {"GetBucketPolicy", `bucket "bucket"`, "s3:GetBucketPolicy", 403, "AccessDenied"},
		"GetObjectLockConfiguration": {"GetObjectLockConfiguration", `bucket "bucket"`, "s3:GetBucketObjectLockConfiguration", 403, "AccessDenied"},
		"ListObjectsV2":              {"ListObjectsV2", `bucket "bucket"`, "s3:ListBucket", 403, "AccessDenied"},
		"DescribeAutoScalingGroups":  {"DescribeAutoScalingGroups", `Auto Scaling group "web"`, "autoscaling:DescribeAutoScalingGroups", 403, "AccessDenied"},
		"ListStackResources":         {"ListStackResources", `CloudFormation stack "stack"`, "cloudformation:ListStackResources", 403, "AccessDenied"},
		"KMS throttled":              {"DescribeKey", `KMS key "alias/k"`, "kms:DescribeKey", 400, "ThrottlingException"},
		"KMS server error":           {"DescribeKey", `KMS key "alias/k"`, "kms:DescribeKey", 500, "InternalFailure"},
		"S3 server error":            {"GetBucketPolicy", `bucket "bucket"`, "s3:GetBucketPolicy", 503, "ServiceUnavailable"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.instances["db"] = rdstypes.DBInstance{DBInstanceIdentifier: aws.String("db")}
			f.addObjects("bucket", "a/", 3, 1, time.Now())
			f.groups["web"] = 1
			f.keys["alias/k"] = nil
			f.fail[tc.op] = awsError(tc.op, tc.status, tc.code)
			obs, err := f.reader().Observe(context.Background(), live.Request{
				Databases: []string{"db"}, Buckets: []string{"bucket"}, Groups: []string{"web"}, KMSKeys: []string{"alias/k"},
				Stack: "stack", CountObjects: true,
			})
			var re *live.ReadError
			if !errors.As(err, &re) || obs != nil {
				t.Fatalf("Observe = %v, %v; want nil and a *ReadError", obs, err)
			}
			if re.Resource != tc.resource || re.Action != tc.action {
				t.Errorf("ReadError{Resource: %q, Action: %q}, want %q, %q", re.Resource, re.Action, tc.resource, tc.action)
			}
			denied := tc.status == 403
			if re.AccessDenied() != denied {
				t.Errorf("AccessDenied() = %v, want %v", re.AccessDenied(), denied)
			}
			if msg := err.Error(); !strings.Contains(msg, tc.resource) || !strings.Contains(msg, tc.action) || denied != strings.Contains(msg, "access denied to "+tc.action) {
				t.Errorf("message %q does not name the resource, the action and (only when denied) the denial", msg)
			}
		})
	}
}

// TestMissingBucketNamesSomeoneElses: S3 answers 403 for a bucket another
// account owns, and the message says it may be that.
func TestMissingBucketNamesSomeoneElses(t *testing.T) {
	f := newFake()
	f.fail["GetBucketLocation"] = awsError("GetBucketLocation", 403, "AccessDenied")
	_, err := f.reader().Observe(context.Background(), live.Request{Buckets: []string{"taken"}})
	if err == nil || !strings.Contains(err.Error(), "belongs to another AWS account") {
		t.Fatalf("err = %v, want one that mentions another account", err)
	}
}

func TestKMSKeyObservations(t *testing.T) {
	tests := map[string]struct {
		err  error
		want *live.KMSKey
	}{
		"readable": {nil, &live.KMSKey{Ref: "alias/k", ARN: "arn:aws:kms:us-east-1:123456789012:key/alias/k", Readable: true, Enabled: true}},
		"not found (typed)": {&kmstypes.NotFoundException{Message: aws.String("x")},
			&live.KMSKey{Ref: "alias/k", Error: "NotFoundException"}},
		"access denied (HTTP 400)": {awsError("DescribeKey", 400, "AccessDeniedException"),
			&live.KMSKey{Ref: "alias/k", Error: "AccessDeniedException"}},
		"invalid ARN (typed)": {&kmstypes.InvalidArnException{Message: aws.String("x")},
			&live.KMSKey{Ref: "alias/k", Error: "InvalidArnException"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newFake()
			f.keys["alias/k"] = tc.err
			obs, err := f.reader().Observe(context.Background(), live.Request{KMSKeys: []string{"alias/k"}})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, obs.KMSKeys["alias/k"]); diff != "" {
				t.Errorf("KMS key (-want +got):\n%s", diff)
			}
		})
	}
	// Not an API answer at all: an error, not an observation.
	f := newFake()
	f.keys["alias/k"] = &smithy.OperationError{OperationName: "DescribeKey", Err: errors.New("connection reset")}
	if _, err := f.reader().Observe(context.Background(), live.Request{KMSKeys: []string{"alias/k"}}); err == nil {
		t.Fatal("a network failure of DescribeKey was taken for an observation")
	}
}

// TestTagsWithoutTagList: when a description comes without its TagList,
// the tags are read with ListTagsForResource, for instances and snapshots.
func TestTagsWithoutTagList(t *testing.T) {
	f := newFake()
	dbARN := "arn:aws:rds:us-east-1:123456789012:db:db"
	f.instances["db"] = rdstypes.DBInstance{DBInstanceIdentifier: aws.String("db"), DBInstanceArn: aws.String(dbARN)}
	f.rdsTags[dbARN] = []rdstypes.Tag{{Key: aws.String("owner"), Value: aws.String("platform")}}
	created := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	snap := func(id string, tags []rdstypes.Tag) rdstypes.DBSnapshot {
		return rdstypes.DBSnapshot{DBSnapshotIdentifier: aws.String(id), DBSnapshotArn: aws.String("arn:snap:" + id),
			DBInstanceIdentifier: aws.String("db"), Status: aws.String("available"), Encrypted: aws.Bool(true),
			KmsKeyId: aws.String("arn:key"), SnapshotCreateTime: aws.Time(created), AllocatedStorage: aws.Int32(20), TagList: tags}
	}
	f.snapshots = []rdstypes.DBSnapshot{
		snap("with-list", []rdstypes.Tag{{Key: aws.String(live.RunTagKey), Value: aws.String("run1")}}),
		snap("without-list", nil),
		snap("not-envmigs", []rdstypes.Tag{}),
		snap("not-envmigs-either", nil),
	}
	f.rdsTags["arn:snap:without-list"] = []rdstypes.Tag{{Key: aws.String(live.RunTagKey), Value: aws.String("run2")}}
	obs, err := f.reader().Observe(context.Background(), live.Request{Databases: []string{"db"}})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]string{"owner": "platform"}, obs.Databases["db"].Tags); diff != "" {
		t.Errorf("database tags (-want +got):\n%s", diff)
	}
	want := map[string]*live.Snapshot{
		"with-list":    {ID: "with-list", Instance: "db", Status: "available", Encrypted: true, KMSKeyID: "arn:key", Created: created, Lineage: "run1", StorageGiB: 20},
		"without-list": {ID: "without-list", Instance: "db", Status: "available", Encrypted: true, KMSKeyID: "arn:key", Created: created, Lineage: "run2", StorageGiB: 20},
	}
	if diff := cmp.Diff(want, obs.Snapshots); diff != "" {
		t.Errorf("snapshots (-want +got):\n%s", diff)
	}
	// One for the instance, one for each snapshot without a TagList.
	if n := f.count("ListTagsForResource"); n != 3 {
		t.Errorf("ListTagsForResource calls = %d, want 3", n)
	}
	if n := f.count("DescribeDBSnapshots"); n != len(f.snapshots) {
		t.Errorf("DescribeDBSnapshots calls = %d, want %d (one page each)", n, len(f.snapshots))
	}
}

// TestGroupSorted: instances and suspended processes come sorted whatever
// order AWS lists them in.
func TestGroupSorted(t *testing.T) {
	f := newFake()
	f.groups["web"] = 3
	obs, err := f.reader().Observe(context.Background(), live.Request{Groups: []string{"web", "gone"}})
	if err != nil {
		t.Fatal(err)
	}
	in := func(id string) live.Instance {
		return live.Instance{ID: id, LifecycleState: "InService", HealthStatus: "Healthy"}
	}
	want := map[string]*live.Group{
		"web":  {Name: "web", Exists: true, MinSize: 1, MaxSize: 3, DesiredCapacity: 3, Instances: []live.Instance{in("i-1"), in("i-2"), in("i-3")}, SuspendedProcesses: []string{}},
		"gone": {Name: "gone"},
	}
	if diff := cmp.Diff(want, obs.Groups); diff != "" {
		t.Errorf("groups (-want +got):\n%s", diff)
	}
}

// TestObjectCap pins the cap's definition: a bucket with more than the cap
// reports exactly the cap and Truncated; one with at most the cap is
// counted exactly.
func TestObjectCap(t *testing.T) {
	const size = 3
	// 120 objects: 20 at the root, 25 under each of 4 prefixes; pages of 7.
	const total = 120
	tests := map[string]struct {
		cap       int64
		want      int64
		truncated bool
	}{
		"cap 1":                {1, 1, true},
		"cap 50":               {50, 50, true},
		"cap one below total":  {total - 1, total - 1, true},
		"cap equals total":     {total, total, false},
		"cap above total":      {total + 1, total, false},
		"default cap (1e6)":    {0, total, false},
		"cap within root page": {5, 5, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for _, concurrency := range []int{1, 3, 16} {
				f := newFake()
				f.pageSize = 7
				now := time.Now()
				f.addObjects("b", "root-", 20, size, now)
				for _, p := range []string{"a/", "b/", "c/", "d/"} {
					f.addObjects("b", p, 25, size, now)
				}
				r := f.reader()
				r.ObjectCap, r.Concurrency = tc.cap, concurrency
				obs, err := r.Observe(context.Background(), live.Request{Buckets: []string{"b"}, CountObjects: true})
				if err != nil {
					t.Fatal(err)
				}
				b := obs.Buckets["b"]
				got := [5]int64{b.Objects, b.Bytes, b.RecentObjects, b.RecentBytes, 0}
				want := [5]int64{tc.want, tc.want * size, tc.want, tc.want * size, 0}
				if got != want || b.Truncated != tc.truncated {
					t.Errorf("concurrency %d: objects, bytes, recent = %v, truncated %v; want %v, %v", concurrency, got[:4], b.Truncated, want[:4], tc.truncated)
				}
			}
		})
	}
}

// TestRecentObjects: objects modified in the 24 hours before ReadAt (the
// boundary included) and after it are recent; older ones are not.
func TestRecentObjects(t *testing.T) {
	readAt := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	f := newFake()
	f.addObjects("b", "old/", 5, 100, readAt.Add(-24*time.Hour-time.Second))
	f.addObjects("b", "edge/", 3, 10, readAt.Add(-24*time.Hour))
	f.addObjects("b", "new/", 2, 1, readAt.Add(-time.Minute))
	f.addObjects("b", "", 1, 1000, readAt.Add(time.Minute)) // written while listing
	r := f.reader()
	r.Now = func() time.Time { return readAt }
	obs, err := r.Observe(context.Background(), live.Request{Buckets: []string{"b"}, CountObjects: true})
	if err != nil {
		t.Fatal(err)
	}
	want := &live.Bucket{Name: "b", Exists: true, Region: "us-east-1", Tags: map[string]string{},
		Objects: 11, Bytes: 500 + 30 + 2 + 1000, RecentObjects: 6, RecentBytes: 30 + 2 + 1000}
	if diff := cmp.Diff(want, obs.Buckets["b"], cmpopts.IgnoreFields(live.Bucket{}, "Settings")); diff != "" {
		t.Errorf("bucket (-want +got):\n%s", diff)
	}
	// Root listing (one page: 1 object, 3 prefixes) and one per prefix.
	if n := f.count("ListObjectsV2"); n != 4 {
		t.Errorf("ListObjectsV2 calls = %d, want 4", n)
	}
}

// TestNoCountingUnlessAsked: without CountObjects no object is listed.
func TestNoCountingUnlessAsked(t *testing.T) {
	f := newFake()
	f.addObjects("b", "p/", 10, 1, time.Now())
	obs, err := f.reader().Observe(context.Background(), live.Request{Buckets: []string{"b"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := f.count("ListObjectsV2"); n != 0 || obs.Buckets["b"].Objects != 0 || !obs.Buckets["b"].Exists {
		t.Errorf("ListObjectsV2 calls = %d, objects = %d, exists = %v; want 0, 0, true", n, obs.Buckets["b"].Objects, obs.Buckets["b"].Exists)
	}
}
