// Package demo creates a realistic production environment, "shop", in an
// AWS emulator: the demo and the end-to-end tests start from it.
//
// The environment: a Postgres database (unencrypted, db.t3.medium, tagged)
// behind an Auto Scaling group of running instances launched from a launch
// template, a bucket of user uploads, and a bucket of assets under a legacy
// name, each holding objects of varied keys, sizes, content types, user
// metadata and tags.
package demo

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	astypes "github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"golang.org/x/sync/errgroup"

	"github.com/envmig/envmig/internal/awsclient"
)

// Names of the shop environment.
const (
	Database      = "shop-prod-db"
	Group         = "shop-prod-web"
	UploadsBucket = "shop-prod-uploads"
	LegacyAssets  = "shop-prod-assets-legacy"
	Assets        = "shop-prod-assets"
)

// Options size the environment.
type Options struct {
	Uploads   int // objects in the uploads bucket
	Assets    int // objects in the legacy assets bucket
	Instances int32
	// Password is the database's master password; random when empty. It is
	// never printed: tests plant it as a canary.
	Password string
}

// Seed creates the shop environment through cl.
func Seed(ctx context.Context, cl *awsclient.Clients, o Options) error {
	if o.Password == "" {
		var b [12]byte
		_, _ = rand.Read(b[:])
		o.Password = "P" + hex.EncodeToString(b[:])
	}
	if o.Instances == 0 {
		o.Instances = 3
	}
	if err := seedDatabase(ctx, cl.RDS, o.Password); err != nil {
		return err
	}
	if err := seedGroup(ctx, cl, o.Instances); err != nil {
		return err
	}
	if err := seedBucket(ctx, cl.S3, UploadsBucket, true, map[string]string{"owner": "platform", "data": "user-uploads"}, o.Uploads); err != nil {
		return err
	}
	return seedBucket(ctx, cl.S3, LegacyAssets, false, map[string]string{"owner": "web"}, o.Assets)
}

func seedDatabase(ctx context.Context, c *rds.Client, password string) error {
	_, err := c.CreateDBInstance(ctx, &rds.CreateDBInstanceInput{
		DBInstanceIdentifier: aws.String(Database),
		Engine:               aws.String("postgres"),
		EngineVersion:        aws.String("16.4"),
		DBInstanceClass:      aws.String("db.t3.medium"),
		AllocatedStorage:     aws.Int32(50),
		StorageType:          aws.String("gp3"),
		MasterUsername:       aws.String("shop"),
		MasterUserPassword:   aws.String(password),
		DBName:               aws.String("shop"),
		Tags: []rdstypes.Tag{
			{Key: aws.String("owner"), Value: aws.String("platform")},
			{Key: aws.String("cost-center"), Value: aws.String("shop-42")},
		},
	})
	if err != nil {
		return fmt.Errorf("create database %s: %w", Database, err)
	}
	return nil
}

func seedGroup(ctx context.Context, cl *awsclient.Clients, n int32) error {
	ec := ec2.NewFromConfig(cl.Config)
	if _, err := ec.CreateLaunchTemplate(ctx, &ec2.CreateLaunchTemplateInput{
		LaunchTemplateName: aws.String("shop-prod-web"),
		LaunchTemplateData: &ec2types.RequestLaunchTemplateData{ImageId: aws.String("ami-12c6146b"), InstanceType: ec2types.InstanceTypeT3Small},
	}); err != nil {
		return fmt.Errorf("create launch template: %w", err)
	}
	_, err := cl.AutoScaling.CreateAutoScalingGroup(ctx, &autoscaling.CreateAutoScalingGroupInput{
		AutoScalingGroupName: aws.String(Group),
		MinSize:              aws.Int32(2),
		MaxSize:              aws.Int32(n + 3),
		DesiredCapacity:      aws.Int32(n),
		AvailabilityZones:    []string{"us-east-1a", "us-east-1b"},
		LaunchTemplate:       &astypes.LaunchTemplateSpecification{LaunchTemplateName: aws.String("shop-prod-web"), Version: aws.String("$Latest")},
		Tags:                 []astypes.Tag{{Key: aws.String("owner"), Value: aws.String("web"), PropagateAtLaunch: aws.Bool(true)}},
	})
	if err != nil {
		return fmt.Errorf("create group %s: %w", Group, err)
	}
	return nil
}

// keyShapes are the awkward keys every copy must survive.
var keyShapes = []string{
	"unicode/über-café-東京.txt", "spaces/a file with spaces.txt", "plus/a+b=c.txt", "percent/100%.txt",
	"question/why?.txt", "hash/#tag.txt", "tilde/~home.txt", "dir/trailing/", "empty/zero-bytes",
}

func seedBucket(ctx context.Context, c *s3.Client, name string, versioned bool, tags map[string]string, n int) error {
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
		return fmt.Errorf("create bucket %s: %w", name, err)
	}
	if versioned {
		if _, err := c.PutBucketVersioning(ctx, &s3.PutBucketVersioningInput{Bucket: aws.String(name),
			VersioningConfiguration: &s3types.VersioningConfiguration{Status: s3types.BucketVersioningStatusEnabled}}); err != nil {
			return fmt.Errorf("version bucket %s: %w", name, err)
		}
	}
	var ts []s3types.Tag
	for k, v := range tags {
		ts = append(ts, s3types.Tag{Key: aws.String(k), Value: aws.String(v)})
	}
	if _, err := c.PutBucketTagging(ctx, &s3.PutBucketTaggingInput{Bucket: aws.String(name), Tagging: &s3types.Tagging{TagSet: ts}}); err != nil {
		return fmt.Errorf("tag bucket %s: %w", name, err)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i := 0; i < n; i++ {
		key, body, ctype := object(i)
		g.Go(func() error {
			in := &s3.PutObjectInput{
				Bucket: aws.String(name), Key: aws.String(key), Body: strings.NewReader(body),
				ContentType: aws.String(ctype),
				Metadata:    map[string]string{"uploaded-by": fmt.Sprintf("user-%d", i%17)},
			}
			if i%5 == 0 {
				in.Tagging = aws.String("class=archive")
				in.CacheControl = aws.String("max-age=86400")
			}
			if _, err := c.PutObject(ctx, in); err != nil {
				return fmt.Errorf("put %s/%s: %w", name, key, err)
			}
			return nil
		})
	}
	return g.Wait()
}

// object returns the i-th object's key, body and content type.
func object(i int) (key, body, ctype string) {
	if i < len(keyShapes) {
		k := keyShapes[i]
		if strings.HasSuffix(k, "/") || strings.HasPrefix(k, "empty/") {
			return k, "", "application/octet-stream"
		}
		return k, "shape " + k, "text/plain; charset=utf-8"
	}
	switch i % 3 {
	case 0:
		return fmt.Sprintf("images/%04d/photo-%d.jpg", i%97, i), strings.Repeat("j", 512+i%2048), "image/jpeg"
	case 1:
		return fmt.Sprintf("invoices/2026/%02d/invoice-%06d.pdf", 1+i%12, i), strings.Repeat("p", 1024+i%4096), "application/pdf"
	default:
		return fmt.Sprintf("exports/customer-%d.json", i), fmt.Sprintf(`{"id":%d,"name":"customer %d"}`, i, i), "application/json"
	}
}
