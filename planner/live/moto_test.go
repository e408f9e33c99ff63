package live_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"golang.org/x/sync/errgroup"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/live"
)

func TestMain(m *testing.M) { os.Exit(testaws.Main(m)) }

const (
	dbID       = "shop-prod-db"
	uploads    = "shop-prod-uploads" // us-east-1
	archive    = "shop-prod-archive" // eu-west-1
	groupName  = "shop-prod-web"
	stackName  = "shop-prod"
	runLineage = "0badc0de"
	snapshotID = "envmig-" + runLineage + "-main"
	euWest1    = "eu-west-1"
	arnPrefix  = "arn:aws:rds:us-east-1:" + testaws.Account
)

// Objects in the uploads bucket: rootObjects at the root and objectsPerPrefix
// under each of prefixes, every one objectSize bytes.
var prefixes = []string{"avatars/", "docs/", "images/", "thumbs/", "videos/"}

const (
	rootObjects      = 7
	objectsPerPrefix = 60
	objectSize       = 11
)

// fixture is what environment() created that the assertions need.
type fixture struct {
	keyID, keyARN   string
	disabledKeyID   string
	securityGroups  []string
	snapshotCreated time.Time
	targetGroupARN  string
	instances       []string // the group's first two, sorted
	standbyInstance string   // one of instances, put in Standby
	replacement     string   // the instance the group launched for it
	stackBucketName string
}

// environment creates, with the real SDK clients, everything Observe reads.
func environment(t *testing.T, cfg aws.Config) fixture {
	t.Helper()
	ctx := context.Background()
	cl := awsclient.New(cfg)
	var f fixture

	// KMS: a key with an alias, and a disabled key.
	key, err := cl.KMS.CreateKey(ctx, &kms.CreateKeyInput{Description: aws.String("envmig live test")})
	must(t, err)
	f.keyID, f.keyARN = aws.ToString(key.KeyMetadata.KeyId), aws.ToString(key.KeyMetadata.Arn)
	_, err = cl.KMS.CreateAlias(ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/shop-prod"), TargetKeyId: key.KeyMetadata.KeyId})
	must(t, err)
	off, err := cl.KMS.CreateKey(ctx, &kms.CreateKeyInput{})
	must(t, err)
	f.disabledKeyID = aws.ToString(off.KeyMetadata.KeyId)
	_, err = cl.KMS.DisableKey(ctx, &kms.DisableKeyInput{KeyId: off.KeyMetadata.KeyId})
	must(t, err)

	// RDS: an encrypted postgres instance with tags, a snapshot of it
	// tagged by a run, and one that is not envmig's.
	db, err := cl.RDS.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(dbID),
		Engine:               aws.String("postgres"),
		EngineVersion:        aws.String("16.4"),
		DBInstanceClass:      aws.String("db.t3.large"),
		AllocatedStorage:     aws.Int32(50),
		StorageType:          aws.String("gp3"),
		StorageEncrypted:     aws.Bool(true),
		KmsKeyId:             aws.String(f.keyARN),
		MasterUsername:       aws.String("app"),
		MasterUserPassword:   aws.String("not-a-secret-test-value"),
		DeletionProtection:   aws.Bool(true),
		MultiAZ:              aws.Bool(true),
		Tags:                 []rdstypes.Tag{{Key: aws.String("owner"), Value: aws.String("platform")}},
	})
	must(t, err)
	for _, sg := range db.DBInstance.VpcSecurityGroups {
		f.securityGroups = append(f.securityGroups, aws.ToString(sg.VpcSecurityGroupId))
	}
	snap, err := cl.RDS.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{
		DBInstanceIdentifier: aws.String(dbID),
		DBSnapshotIdentifier: aws.String(snapshotID),
		Tags:                 []rdstypes.Tag{{Key: aws.String(live.RunTagKey), Value: aws.String(runLineage)}},
	})
	must(t, err)
	f.snapshotCreated = aws.ToTime(snap.DBSnapshot.SnapshotCreateTime)
	_, err = cl.RDS.CreateDBSnapshot(ctx, &rds.CreateDBSnapshotInput{
		DBInstanceIdentifier: aws.String(dbID),
		DBSnapshotIdentifier: aws.String("someone-elses-snapshot"),
		Tags:                 []rdstypes.Tag{{Key: aws.String("owner"), Value: aws.String("dba")}},
	})
	must(t, err)

	// S3: uploads in us-east-1 (versioning, tags, a policy with a
	// Condition, objects under several prefixes), archive in eu-west-1
	// (object lock, default encryption, a policy without conditions).
	s3us := cl.S3
	_, err = s3us.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(uploads)})
	must(t, err)
	_, err = s3us.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(uploads),
		VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}})
	must(t, err)
	_, err = s3us.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(uploads), Tagging: &s3types.Tagging{
		TagSet: []s3types.Tag{{Key: aws.String("owner"), Value: aws.String("platform")}, {Key: aws.String("tier"), Value: aws.String("gold")}}}})
	must(t, err)
	// Objects first: moto evaluates bucket policies on object requests.
	putObjects(t, s3us, uploads)
	_, err = s3us.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(uploads), Policy: aws.String(`{
		"Version": "2012-10-17",
		"Statement": [
			{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shop-prod-uploads/*"},
			{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:PutObject", "Resource": "arn:aws:s3:::shop-prod-uploads/*",
			 "Condition": {"StringEquals": {"aws:PrincipalAccount": "123456789012"}}}
		]}`)})
	must(t, err)

	s3eu := awsclient.NewS3(cfg, euWest1)
	_, err = s3eu.CreateBucket(ctx, &s3.CreateBucketInput{
		Bucket:                     aws.String(archive),
		CreateBucketConfiguration:  &s3types.CreateBucketConfiguration{LocationConstraint: s3types.BucketLocationConstraintEuWest1},
		ObjectLockEnabledForBucket: aws.Bool(true),
	})
	must(t, err)
	_, err = s3eu.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String(archive),
		ServerSideEncryptionConfiguration: &s3types.ServerSideEncryptionConfiguration{Rules: []s3types.ServerSideEncryptionRule{{
			ApplyServerSideEncryptionByDefault: &s3types.ServerSideEncryptionByDefault{SSEAlgorithm: s3types.ServerSideEncryptionAes256}}}}})
	must(t, err)
	_, err = s3eu.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(archive), Policy: aws.String(`{
		"Version": "2012-10-17",
		"Statement": {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:root"}, "Action": "s3:GetObject", "Resource": "arn:aws:s3:::shop-prod-archive/*"}}`)})
	must(t, err)
	_, err = s3eu.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(archive), Key: aws.String("ledger/2024.csv"), Body: strings.NewReader("a,b\n")})
	must(t, err)

	// Auto Scaling: a group from a launch template in a target group with
	// two instances, one of them then in Standby (the group launches a
	// replacement), and two suspended processes.
	f.targetGroupARN = createTargetGroup(t, cfg, "shop-prod-web")
	_, err = ec2.NewFromConfig(cfg).CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("shop-web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Micro},
	})
	must(t, err)
	_, err = cl.AutoScaling.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(groupName),
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("shop-web"), Version: aws.String("$Latest")},
		MinSize:              aws.Int32(1),
		MaxSize:              aws.Int32(4),
		DesiredCapacity:      aws.Int32(2),
		AvailabilityZones:    []string{"us-east-1a"},
		TargetGroupARNs:      []string{f.targetGroupARN},
	})
	must(t, err)
	g, err := cl.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{groupName}})
	must(t, err)
	for _, i := range g.AutoScalingGroups[0].Instances {
		f.instances = append(f.instances, aws.ToString(i.InstanceId))
	}
	slices.Sort(f.instances)
	if len(f.instances) != 2 {
		t.Fatalf("group has %d instances, want 2", len(f.instances))
	}
	f.standbyInstance = f.instances[1]
	_, err = cl.AutoScaling.EnterStandby(ctx, &autoscaling.EnterStandbyInput{
		AutoScalingGroupName:           aws.String(groupName),
		InstanceIds:                    []string{f.standbyInstance},
		ShouldDecrementDesiredCapacity: aws.Bool(false),
	})
	must(t, err)
	g, err = cl.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{AutoScalingGroupNames: []string{groupName}})
	must(t, err)
	for _, i := range g.AutoScalingGroups[0].Instances {
		if id := aws.ToString(i.InstanceId); !slices.Contains(f.instances, id) {
			f.replacement = id
		}
	}
	_, err = cl.AutoScaling.SuspendProcesses(ctx, &autoscaling.SuspendProcessesInput{
		AutoScalingGroupName: aws.String(groupName),
		ScalingProcesses:     []string{"ReplaceUnhealthy", "AZRebalance"},
	})
	must(t, err)

	// CloudFormation: a stack with one bucket.
	f.stackBucketName = "shop-prod-stack-assets"
	_, err = cl.CloudFormation.CreateStack(ctx, &cloudformation.CreateStackInput{
		StackName: aws.String(stackName),
		TemplateBody: aws.String(fmt.Sprintf(`{"Resources": {"Assets": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": %q}}}}`,
			f.stackBucketName)),
	})
	must(t, err)
	return f
}

// putObjects writes the uploads bucket's objects, a few at a time.
func putObjects(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	var keys []string
	for i := range rootObjects {
		keys = append(keys, fmt.Sprintf("root-%02d.txt", i))
	}
	for _, p := range prefixes {
		for i := range objectsPerPrefix {
			keys = append(keys, fmt.Sprintf("%s%03d/object.bin", p, i))
		}
	}
	var g errgroup.Group
	g.SetLimit(8)
	body := strings.Repeat("x", objectSize)
	for _, k := range keys {
		g.Go(func() error {
			_, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(body)})
			return err
		})
	}
	must(t, g.Wait())
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// newReader builds a Reader from cfg as the product does, noting the
// regions it asks S3 clients for.
func newReader(cfg aws.Config, regions *[]string) *live.Reader {
	cl := awsclient.New(cfg)
	var mu sync.Mutex
	return &live.Reader{
		STS: cl.STS,
		RDS: cl.RDS,
		S3: func(region string) live.S3API {
			mu.Lock()
			defer mu.Unlock()
			if regions != nil {
				*regions = append(*regions, region)
			}
			return awsclient.NewS3(cfg, region)
		},
		AutoScaling:    cl.AutoScaling,
		CloudFormation: cl.CloudFormation,
		KMS:            cl.KMS,
	}
}

// TestObserveMoto reads a whole environment from moto and checks every
// field, and that the reading changed nothing.
func TestObserveMoto(t *testing.T) {
	testaws.Reset(t)
	f := environment(t, testaws.Config(t, nil))

	cfg := testaws.Config(t, nil)
	rec := testaws.Record(&cfg)
	var regions []string
	r := newReader(cfg, &regions)
	readAt := time.Now()
	r.Now = func() time.Time { return readAt }
	obs, err := r.Observe(context.Background(), live.Request{
		Stack:             stackName,
		Databases:         []string{dbID, dbID + "-envmig", dbID},
		Buckets:           []string{uploads, archive, uploads + "-envmig"},
		Groups:            []string{groupName, "shop-prod-gone"},
		KMSKeys:           []string{f.keyID, f.keyARN, "alias/shop-prod", f.disabledKeyID, "alias/missing"},
		CountObjects:      true,
		AllowedAccountIDs: []string{"111111111111", testaws.Account},
		Region:            testaws.Region,
	})
	if err != nil {
		t.Fatal(err)
	}
	inService := func(id string) live.Instance {
		return live.Instance{ID: id, LifecycleState: "InService", HealthStatus: "Healthy"}
	}
	instances := []live.Instance{inService(f.instances[0]), inService(f.replacement),
		{ID: f.standbyInstance, LifecycleState: "Standby", HealthStatus: "Healthy"}}
	slices.SortFunc(instances, func(a, b live.Instance) int { return strings.Compare(a.ID, b.ID) })
	keyRead := func(ref, arn string, enabled bool) *live.KMSKey {
		return &live.KMSKey{Ref: ref, ARN: arn, Readable: true, Enabled: enabled}
	}
	const (
		uploadsObjects = rootObjects + objectsPerPrefix*5
		uploadsBytes   = uploadsObjects * objectSize
	)
	want := &live.Observed{
		Identity: live.Identity{Account: testaws.Account, ARN: "arn:aws:sts::123456789012:user/moto", UserID: "AKIAIOSFODNN7EXAMPLE"},
		Region:   testaws.Region,
		ReadAt:   readAt,
		Databases: map[string]*live.Database{
			dbID: {
				Identifier: dbID, Exists: true, ARN: arnPrefix + ":db:" + dbID, Status: "available",
				Engine: "postgres", EngineVersion: "16.4", InstanceClass: "db.t3.large",
				AllocatedStorage: 50, StorageType: "gp3", StorageEncrypted: true, KMSKeyID: f.keyARN,
				MultiAZ: true, ParameterGroup: "default.postgres16", OptionGroup: "default:postgres-16-4",
				VPCSecurityGroupIDs: f.securityGroups, Port: 5432, DeletionProtection: true,
				Endpoint: dbID + ".aaaaaaaaaa.us-east-1.rds.amazonaws.com:5432",
				Tags:     map[string]string{"owner": "platform"},
			},
			dbID + "-envmig": {Identifier: dbID + "-envmig"},
		},
		Snapshots: map[string]*live.Snapshot{
			snapshotID: {ID: snapshotID, Instance: dbID, Status: "available", Encrypted: true, KMSKeyID: f.keyARN,
				Created: f.snapshotCreated, Lineage: runLineage, StorageGiB: 50},
		},
		Buckets: map[string]*live.Bucket{
			uploads: {Name: uploads, Exists: true, Region: "us-east-1", Versioning: "Enabled",
				Tags:      map[string]string{"owner": "platform", "tier": "gold"},
				HasPolicy: true, PolicyHasConditions: true,
				Objects: uploadsObjects, Bytes: uploadsBytes, RecentObjects: uploadsObjects, RecentBytes: uploadsBytes},
			archive: {Name: archive, Exists: true, Region: euWest1, Versioning: "Enabled", Encryption: "AES256",
				Tags: map[string]string{}, HasPolicy: true, ObjectLock: true,
				Objects: 1, Bytes: 4, RecentObjects: 1, RecentBytes: 4},
			uploads + "-envmig": {Name: uploads + "-envmig"},
		},
		Groups: map[string]*live.Group{
			groupName: {Name: groupName, Exists: true, MinSize: 1, MaxSize: 4, DesiredCapacity: 2,
				Instances:          instances,
				SuspendedProcesses: []string{"AZRebalance", "ReplaceUnhealthy"},
				TargetGroupARNs:    []string{f.targetGroupARN}},
			"shop-prod-gone": {Name: "shop-prod-gone"},
		},
		KMSKeys: map[string]*live.KMSKey{
			f.keyID:           keyRead(f.keyID, f.keyARN, true),
			f.keyARN:          keyRead(f.keyARN, f.keyARN, true),
			"alias/shop-prod": keyRead("alias/shop-prod", f.keyARN, true),
			f.disabledKeyID:   keyRead(f.disabledKeyID, "arn:aws:kms:us-east-1:123456789012:key/"+f.disabledKeyID, false),
			"alias/missing":   {Ref: "alias/missing", Error: "NotFoundException"},
		},
		StackResources: map[string]live.StackResource{
			"Assets": {LogicalID: "Assets", PhysicalID: f.stackBucketName, Type: "AWS::S3::Bucket"},
		},
		StackFound: true,
		Switches:   map[string]*live.Switch{},
	}
	if diff := cmp.Diff(want, obs, cmpopts.IgnoreFields(live.Bucket{}, "Settings")); diff != "" {
		t.Errorf("Observe (-want +got):\n%s", diff)
	}
	// Every setting of each bucket is observed; those not set are absent.
	wantSettings := map[string]map[string]string{
		uploads: {"policy": "policy: 2 statements, with conditions", "tags": "tags: 2 (owner, tier)"},
		archive: {"policy": "policy: 1 statement", "encryption": "default encryption: SSE-S3", "object_lock": "object lock: enabled, no default retention"},
	}
	for name, present := range wantSettings {
		got := map[string]string{}
		for _, n := range live.BucketSettingNames() {
			s := obs.Buckets[name].Settings[n]
			switch {
			case s.State == live.SettingPresent && len(s.Digest) == 16:
				got[n] = s.Summary
			case s.State != live.SettingAbsent || s.Digest != "absent":
				t.Errorf("%s: setting %s = %+v, want present with a digest or absent", name, n, s)
			}
		}
		if diff := cmp.Diff(present, got); diff != "" {
			t.Errorf("%s: present settings (-want +got):\n%s", name, diff)
		}
	}

	// Read-only, through the S3 client of each bucket's region.
	if m := rec.Mutating(); len(m) != 0 {
		t.Errorf("Observe made mutating calls: %v", m)
	}
	actions := map[string]int{}
	for _, c := range rec.Calls() {
		actions[c.IAMAction()]++
	}
	wantActions := map[string]int{
		"sts:GetCallerIdentity":                 1,
		"rds:DescribeDBInstances":               2,
		"rds:DescribeDBSnapshots":               1,
		"s3:GetBucketLocation":                  3,
		"s3:HeadBucket":                         2,
		"s3:GetBucketVersioning":                2,
		"s3:GetBucketEncryption":                2,
		"s3:GetBucketTagging":                   2,
		"s3:GetBucketPolicy":                    2,
		"s3:GetObjectLockConfiguration":         2,
		"s3:GetPublicAccessBlock":               2,
		"s3:GetBucketOwnershipControls":         2,
		"s3:GetBucketLifecycleConfiguration":    2,
		"s3:GetBucketCors":                      2,
		"s3:GetBucketNotificationConfiguration": 2,
		"s3:GetBucketLogging":                   2,
		"s3:GetBucketWebsite":                   2,
		"s3:GetBucketRequestPayment":            2,
		"s3:GetBucketReplication":               2,
		"s3:GetBucketAccelerateConfiguration":   2,
		"s3:ListObjectsV2":                      1 + len(prefixes) + 1 + 1, // uploads: root + each prefix; archive: root + ledger/
		"s3:ListObjectVersions":                 1 + len(prefixes) + 1 + 1, // both are versioned: their histories are counted too
		"autoscaling:DescribeAutoScalingGroups": 2,
		"kms:DescribeKey":                       5,
		"cloudformation:ListStackResources":     1,
	}
	if diff := cmp.Diff(wantActions, actions); diff != "" {
		t.Errorf("AWS operations (-want +got):\n%s", diff)
	}
	slices.Sort(regions)
	if diff := cmp.Diff([]string{"", "eu-west-1", "us-east-1"}, regions); diff != "" {
		t.Errorf("S3 client regions (-want +got):\n%s", diff)
	}
}

// TestObserveMissingMoto: in an empty account every named resource is
// reported missing, none is an error, and nothing is changed.
func TestObserveMissingMoto(t *testing.T) {
	testaws.Reset(t)
	cfg := testaws.Config(t, nil)
	rec := testaws.Record(&cfg)
	r := newReader(cfg, nil)
	obs, err := r.Observe(context.Background(), live.Request{
		Stack:        "no-such-stack",
		Databases:    []string{dbID},
		Buckets:      []string{uploads},
		Groups:       []string{groupName},
		KMSKeys:      []string{"alias/shop-prod"},
		CountObjects: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	want := &live.Observed{
		Identity:  obs.Identity,
		ReadAt:    obs.ReadAt,
		Databases: map[string]*live.Database{dbID: {Identifier: dbID}},
		Snapshots: map[string]*live.Snapshot{},
		Buckets:   map[string]*live.Bucket{uploads: {Name: uploads}},
		Groups:    map[string]*live.Group{groupName: {Name: groupName}},
		KMSKeys:   map[string]*live.KMSKey{"alias/shop-prod": {Ref: "alias/shop-prod", Error: "NotFoundException"}},
		Switches:  map[string]*live.Switch{},
	}
	if diff := cmp.Diff(want, obs); diff != "" {
		t.Errorf("Observe (-want +got):\n%s", diff)
	}
	if obs.Identity.Account != testaws.Account {
		t.Errorf("account = %q, want %q", obs.Identity.Account, testaws.Account)
	}
	if m := rec.Mutating(); len(m) != 0 {
		t.Errorf("Observe made mutating calls: %v", m)
	}
	res, found, err := r.Stack(context.Background(), "no-such-stack")
	if res != nil || found || err != nil {
		t.Errorf("Stack(missing) = %v, %v, %v; want nil, false, nil", res, found, err)
	}
}

// TestObjectCapMoto: a 120-object bucket read with a cap of 50 reports 50
// objects and Truncated; with a cap of 120, all of them and not Truncated.
func TestObjectCapMoto(t *testing.T) {
	testaws.Reset(t)
	cfg := testaws.Config(t, nil)
	c := awsclient.NewS3(cfg, "")
	ctx := context.Background()
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("capped")})
	must(t, err)
	var g errgroup.Group
	g.SetLimit(8)
	for i := range 120 {
		key := fmt.Sprintf("p%d/%03d", i%4, i)
		if i%6 == 0 {
			key = fmt.Sprintf("root-%03d", i) // 20 at the root
		}
		g.Go(func() error {
			_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("capped"), Key: aws.String(key), Body: strings.NewReader("12345")})
			return err
		})
	}
	must(t, g.Wait())
	for objectCap, want := range map[int64]live.Bucket{
		50:  {Objects: 50, Bytes: 250, RecentObjects: 50, RecentBytes: 250, Truncated: true},
		120: {Objects: 120, Bytes: 600, RecentObjects: 120, RecentBytes: 600},
	} {
		r := newReader(cfg, nil)
		r.ObjectCap, r.Concurrency = objectCap, 3
		obs, err := r.Observe(ctx, live.Request{Buckets: []string{"capped"}, CountObjects: true})
		if err != nil {
			t.Fatal(err)
		}
		b := obs.Buckets["capped"]
		got := live.Bucket{Objects: b.Objects, Bytes: b.Bytes, RecentObjects: b.RecentObjects, RecentBytes: b.RecentBytes, Truncated: b.Truncated}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("cap %d (-want +got):\n%s", objectCap, diff)
		}
	}
}
