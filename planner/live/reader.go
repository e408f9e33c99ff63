package live

import (
	"context"
	"fmt"
	"github.com/envmig/envmig/internal/s3settings"
	"slices"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"golang.org/x/sync/errgroup"
)

// STSAPI reads the caller's identity.
type STSAPI interface {
	GetCallerIdentity(ctx context.Context, in *sts.GetCallerIdentityInput, opts ...func(*sts.Options)) (*sts.GetCallerIdentityOutput, error)
}

// RDSAPI reads DB instances, manual snapshots and their tags.
type RDSAPI interface {
	DescribeDBInstances(ctx context.Context, in *rds.DescribeDBInstancesInput, opts ...func(*rds.Options)) (*rds.DescribeDBInstancesOutput, error)
	DescribeDBSnapshots(ctx context.Context, in *rds.DescribeDBSnapshotsInput, opts ...func(*rds.Options)) (*rds.DescribeDBSnapshotsOutput, error)
	ListTagsForResource(ctx context.Context, in *rds.ListTagsForResourceInput, opts ...func(*rds.Options)) (*rds.ListTagsForResourceOutput, error)
}

// S3API reads a bucket's settings and lists its objects.
type S3API interface {
	HeadBucket(ctx context.Context, in *s3.HeadBucketInput, opts ...func(*s3.Options)) (*s3.HeadBucketOutput, error)
	GetBucketLocation(ctx context.Context, in *s3.GetBucketLocationInput, opts ...func(*s3.Options)) (*s3.GetBucketLocationOutput, error)
	GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, opts ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
	GetBucketEncryption(ctx context.Context, in *s3.GetBucketEncryptionInput, opts ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error)
	GetBucketTagging(ctx context.Context, in *s3.GetBucketTaggingInput, opts ...func(*s3.Options)) (*s3.GetBucketTaggingOutput, error)
	GetBucketPolicy(ctx context.Context, in *s3.GetBucketPolicyInput, opts ...func(*s3.Options)) (*s3.GetBucketPolicyOutput, error)
	GetObjectLockConfiguration(ctx context.Context, in *s3.GetObjectLockConfigurationInput, opts ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error)
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	ListObjectVersions(ctx context.Context, in *s3.ListObjectVersionsInput, opts ...func(*s3.Options)) (*s3.ListObjectVersionsOutput, error)
	s3settings.API
}

// AutoScalingAPI reads Auto Scaling groups.
type AutoScalingAPI interface {
	DescribeAutoScalingGroups(ctx context.Context, in *autoscaling.DescribeAutoScalingGroupsInput, opts ...func(*autoscaling.Options)) (*autoscaling.DescribeAutoScalingGroupsOutput, error)
}

// CloudFormationAPI lists a stack's resources.
type CloudFormationAPI interface {
	ListStackResources(ctx context.Context, in *cloudformation.ListStackResourcesInput, opts ...func(*cloudformation.Options)) (*cloudformation.ListStackResourcesOutput, error)
}

// KMSAPI describes KMS keys.
type KMSAPI interface {
	DescribeKey(ctx context.Context, in *kms.DescribeKeyInput, opts ...func(*kms.Options)) (*kms.DescribeKeyOutput, error)
}

var (
	_ STSAPI            = (*sts.Client)(nil)
	_ RDSAPI            = (*rds.Client)(nil)
	_ S3API             = (*s3.Client)(nil)
	_ AutoScalingAPI    = (*autoscaling.Client)(nil)
	_ CloudFormationAPI = (*cloudformation.Client)(nil)
	_ KMSAPI            = (*kms.Client)(nil)
)

// Defaults of the Reader's knobs.
const (
	DefaultConcurrency = 8
	DefaultObjectCap   = 1_000_000
)

// Reader observes live AWS, read-only. Its zero knobs take the defaults; a
// Reader is safe for concurrent use once built.
type Reader struct {
	STS STSAPI
	RDS RDSAPI
	// S3 returns a client for a bucket's region ("" = the default region).
	// It is called once per region and observation.
	S3             func(region string) S3API
	AutoScaling    AutoScalingAPI
	CloudFormation CloudFormationAPI
	KMS            KMSAPI
	// The services of the availability switches (nil when the spec has
	// none of a kind: a switch of that kind is then an error).
	EventBridge    EventBridgeAPI
	Scheduler      SchedulerAPI
	ECS            ECSAPI
	AppAutoScaling AppAutoScalingAPI
	Lambda         LambdaAPI
	// Concurrency bounds the resources read at once and, separately, the
	// ListObjectsV2 requests in flight across all buckets (default 8).
	Concurrency int
	// ObjectCap is the most objects counted per bucket (default 1,000,000);
	// a bucket with more reports Objects == ObjectCap and Truncated.
	ObjectCap int64
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (r *Reader) concurrency() int {
	if r.Concurrency > 0 {
		return r.Concurrency
	}
	return DefaultConcurrency
}

func (r *Reader) objectCap() int64 {
	if r.ObjectCap > 0 {
		return r.ObjectCap
	}
	return DefaultObjectCap
}

func (r *Reader) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

// Observe checks the caller's account against req.AllowedAccountIDs (see
// Identity), then reads, concurrently, every database, bucket, group and KMS
// key req names, the stack req.Stack, and envmig's own manual DB snapshots
// (those tagged envmig:run). Every name req lists has an entry in the
// result. The first read that fails is returned as the error; missing
// resources are not failures.
func (r *Reader) Observe(ctx context.Context, req Request) (*Observed, error) {
	readAt := r.now()
	id, err := r.Identity(ctx, req.AllowedAccountIDs)
	if err != nil {
		return nil, err
	}
	obs := &Observed{
		Identity:  id,
		Region:    req.Region,
		ReadAt:    readAt,
		Databases: map[string]*Database{},
		Snapshots: map[string]*Snapshot{},
		Buckets:   map[string]*Bucket{},
		Groups:    map[string]*Group{},
		KMSKeys:   map[string]*KMSKey{},
		Switches:  map[string]*Switch{},
	}
	o := &observation{
		r:       r,
		readAt:  readAt,
		lists:   make(chan struct{}, r.concurrency()),
		clients: map[string]S3API{},
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(r.concurrency())
	var mu sync.Mutex // guards obs
	for _, name := range distinct(req.Databases) {
		g.Go(func() error {
			d, err := o.database(ctx, name)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			obs.Databases[name] = d
			return nil
		})
	}
	g.Go(func() error {
		snaps, err := o.snapshots(ctx)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		obs.Snapshots = snaps
		return nil
	})
	for _, name := range distinct(req.Buckets) {
		g.Go(func() error {
			b, err := o.bucket(ctx, name, req.CountObjects, req.ModifiedSince[name])
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			obs.Buckets[name] = b
			return nil
		})
	}
	for _, name := range distinct(req.Groups) {
		g.Go(func() error {
			grp, err := r.group(ctx, name)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			obs.Groups[name] = grp
			return nil
		})
	}
	for _, ref := range distinct(req.KMSKeys) {
		g.Go(func() error {
			k, err := r.kmsKey(ctx, ref)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			obs.KMSKeys[ref] = k
			return nil
		})
	}
	for _, s := range req.Switches {
		g.Go(func() error {
			sw, err := r.observeSwitch(ctx, s)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			obs.Switches[SwitchKey(s.Kind, s.Ref)] = sw
			return nil
		})
	}
	for _, name := range distinct(req.StackInfo) {
		g.Go(func() error {
			cf, ok := r.CloudFormation.(StackInfoAPI)
			if !ok {
				return fmt.Errorf("reading stack %s in full needs a CloudFormation client that can describe stacks", name)
			}
			info, err := ReadStackInfo(ctx, cf, name)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			if obs.Stacks == nil {
				obs.Stacks = map[string]*StackInfo{}
			}
			obs.Stacks[name] = info
			return nil
		})
	}
	if req.Stack != "" {
		g.Go(func() error {
			res, found, err := r.Stack(ctx, req.Stack)
			if err != nil {
				return err
			}
			mu.Lock()
			defer mu.Unlock()
			obs.StackResources, obs.StackFound = res, found
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return obs, nil
}

// observation is the state one Observe shares between its reads.
type observation struct {
	r      *Reader
	readAt time.Time
	// lists bounds the ListObjectsV2 requests in flight across buckets.
	lists chan struct{}

	mu      sync.Mutex
	clients map[string]S3API // by region
}

// s3 returns the client for region, made once per observation.
func (o *observation) s3(region string) S3API {
	o.mu.Lock()
	defer o.mu.Unlock()
	c, ok := o.clients[region]
	if !ok {
		c = o.r.S3(region)
		o.clients[region] = c
	}
	return c
}

// distinct returns names sorted, without duplicates and empty names.
func distinct(names []string) []string {
	out := slices.Clone(names)
	out = slices.DeleteFunc(out, func(s string) bool { return s == "" })
	slices.Sort(out)
	return slices.Compact(out)
}
