package clitest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/demo"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/live"
)

// CanaryPassword is the seeded database's master password: it must never
// appear in any output or file.
const CanaryPassword = "Canary-Pw-7f3a9d2e"

// SeedShop resets the emulator and creates the demo's shop environment,
// small.
func SeedShop(t testing.TB) *awsclient.Clients {
	t.Helper()
	testaws.Reset(t)
	cl := testaws.Clients(t)
	if err := demo.Seed(context.Background(), cl, demo.Options{Uploads: 25, Assets: 40, Instances: 3, Password: CanaryPassword}); err != nil {
		t.Fatal(err)
	}
	return cl
}

// ShopSpec is the demo's spec (examples/demo/shop.envmig.hcl) with the
// given strategy: the database is encrypted and resized, the legacy assets
// bucket moves to a new name, a command check runs against the clone. The
// tests run exactly what `make demo` shows.
func ShopSpec(strategy string) string {
	root, err := testaws.ModuleRoot()
	if err != nil {
		panic(err)
	}
	b, err := os.ReadFile(filepath.Join(root, "examples", "demo", "shop.envmig.hcl"))
	if err != nil {
		panic(err)
	}
	const def = `strategy = "rename-swap"`
	if !bytes.Contains(b, []byte(def)) {
		panic("examples/demo/shop.envmig.hcl no longer says " + def)
	}
	return strings.Replace(string(b), def, `strategy = "`+strategy+`"`, 1)
}

// World is what the invariants compare: every instance, manual snapshot,
// bucket (every object's key, size, ETag, content type, cache control,
// metadata and tags) and group.
type World struct {
	Databases map[string]string
	Snapshots []string
	Buckets   map[string][]string
	Groups    map[string]string
}

// Observe reads the world.
func Observe(t testing.TB, cl *awsclient.Clients) World {
	t.Helper()
	ctx := context.Background()
	w := World{Databases: map[string]string{}, Buckets: map[string][]string{}, Groups: map[string]string{}}
	dbs, err := cl.RDS.DescribeDBInstances(ctx, &rds.DescribeDBInstancesInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range dbs.DBInstances {
		var tags []string
		for _, tg := range d.TagList {
			tags = append(tags, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
		}
		sort.Strings(tags)
		w.Databases[aws.ToString(d.DBInstanceIdentifier)] = fmt.Sprintf("%s %s enc=%t storage=%d protect=%t tags=%v",
			aws.ToString(d.DBInstanceStatus), aws.ToString(d.DBInstanceClass), aws.ToBool(d.StorageEncrypted), aws.ToInt32(d.AllocatedStorage), aws.ToBool(d.DeletionProtection), tags)
	}
	snaps, err := cl.RDS.DescribeDBSnapshots(ctx, &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range snaps.DBSnapshots {
		w.Snapshots = append(w.Snapshots, aws.ToString(s.DBSnapshotIdentifier))
	}
	sort.Strings(w.Snapshots)
	bl, err := cl.S3.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bl.Buckets {
		w.Buckets[aws.ToString(b.Name)] = BucketObjects(t, cl, aws.ToString(b.Name))
	}
	gs, err := cl.AutoScaling.DescribeAutoScalingGroups(ctx, &autoscaling.DescribeAutoScalingGroupsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range gs.AutoScalingGroups {
		var procs, states []string
		for _, p := range g.SuspendedProcesses {
			procs = append(procs, aws.ToString(p.ProcessName))
		}
		for _, i := range g.Instances {
			states = append(states, string(i.LifecycleState))
		}
		sort.Strings(procs)
		sort.Strings(states)
		w.Groups[aws.ToString(g.AutoScalingGroupName)] = fmt.Sprintf("min=%d max=%d desired=%d suspended=%v instances=%v",
			aws.ToInt32(g.MinSize), aws.ToInt32(g.MaxSize), aws.ToInt32(g.DesiredCapacity), procs, states)
	}
	return w
}

// BucketObjects lists every object of a bucket with its identity and
// metadata.
func BucketObjects(t testing.TB, cl *awsclient.Clients, bucket string) []string {
	t.Helper()
	ctx := context.Background()
	var out []string
	pg := s3.NewListObjectsV2Paginator(cl.S3, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for pg.HasMorePages() {
		page, err := pg.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			head, err := cl.S3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: o.Key})
			if err != nil {
				t.Fatal(err)
			}
			tags, err := cl.S3.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String(bucket), Key: o.Key})
			if live.Archived(string(o.StorageClass)) && err != nil {
				// The emulator refuses to read an archived object's tags
				// (InvalidObjectState); its storage class stands in.
				tags, err = &s3.GetObjectTaggingOutput{TagSet: []s3types.Tag{{Key: aws.String("(storage class)"), Value: aws.String(string(o.StorageClass))}}}, nil
			}
			if err != nil {
				t.Fatal(err)
			}
			var ts []string
			for _, tg := range tags.TagSet {
				ts = append(ts, aws.ToString(tg.Key)+"="+aws.ToString(tg.Value))
			}
			out = append(out, fmt.Sprintf("%s size=%d etag=%s type=%s cache=%s meta=%v tags=%v", aws.ToString(o.Key), aws.ToInt64(o.Size),
				aws.ToString(o.ETag), aws.ToString(head.ContentType), aws.ToString(head.CacheControl), head.Metadata, ts))
		}
	}
	return out
}

// NoSecrets fails when any of secrets appears in a file under dir or in
// the results' output.
func NoSecrets(t testing.TB, dir string, secrets []string, rs ...Result) {
	t.Helper()
	for _, s := range secrets {
		for _, r := range rs {
			if strings.Contains(r.Stdout+r.Stderr, s) {
				t.Fatalf("a secret was printed:\n%s", r)
			}
		}
		filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
			if err != nil || info.IsDir() {
				return nil
			}
			b, _ := os.ReadFile(path)
			if bytes.Contains(b, []byte(s)) {
				t.Fatalf("a secret was written to %s", path)
			}
			return nil
		})
	}
}

// DirDigest hashes every file's path, mode and content under dir ("" when
// dir does not exist): equal digests mean byte-identical directories.
func DirDigest(t testing.TB, dir string) string {
	t.Helper()
	if _, err := os.Lstat(dir); os.IsNotExist(err) {
		return ""
	}
	h := sha256.New()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		fmt.Fprintf(h, "%s %v\n", rel, info.Mode())
		if info.Mode().IsRegular() {
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			h.Write(b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// CheckShopMigrated is the invariant after a finished run of ShopSpec: the
// database encrypted and resized under its name, no clone left under its
// temporary name, the group restored exactly, the uploads untouched, the
// assets moved with every object identical, and exactly the run's two
// snapshots (no duplicate).
func CheckShopMigrated(t testing.TB, before, after World) {
	t.Helper()
	if got := after.Databases[demo.Database]; !strings.Contains(got, "available db.t3.large enc=true") {
		t.Fatalf("database after the run: %s", got)
	}
	if _, ok := after.Databases[demo.Database+"-envmig"]; ok {
		t.Fatal("the clone is left under its temporary name")
	}
	if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
		t.Fatalf("group not restored exactly:\n%s", diff)
	}
	if diff := cmp.Diff(before.Buckets[demo.UploadsBucket], after.Buckets[demo.UploadsBucket]); diff != "" {
		t.Fatalf("uploads changed:\n%s", diff)
	}
	if diff := cmp.Diff(before.Buckets[demo.LegacyAssets], after.Buckets[demo.Assets]); diff != "" {
		t.Fatalf("moved objects differ from the source:\n%s", diff)
	}
	if len(after.Snapshots) != 2 {
		t.Fatalf("snapshots = %v, want exactly the run's two (no duplicate)", after.Snapshots)
	}
}
