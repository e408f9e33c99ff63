package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/envmig/envmig/cmd/envmig/view"
	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner"
)

// runCloneDestroy removes the clone o.destroy of an environment: it plans
// the deletes (only what carries the clone's tag), shows them, asks, and
// runs them journaled under the clone's own journal.
func runCloneDestroy(ctx context.Context, g *globals, o cloneOptions) error {
	name := o.destroy
	return runCloneOp(ctx, g, o, cloneOp{
		name: name, operation: opCloneDestroy, plan: planner.CloneDestroy,
		unfinished: func(env, journal string) string {
			return fmt.Sprintf("the clone %q of %q has an unfinished run: run `envmig resume -environment %s` or `envmig rollback -environment %s` first", name, env, journal, journal)
		},
		question: func(env, _ string) string {
			return fmt.Sprintf("\nDestroy the clone %q of %q? Everything listed above is deleted for good; the originals are not touched.\nOnly 'yes' will be accepted.", name, env)
		},
		start: func(env, _ string) string {
			return fmt.Sprintf("%s the clone %q of %q", g.style().Bold("Destroying"), name, env)
		},
		done: func(env, _ string) string {
			return fmt.Sprintf("%s The clone %q of %q is gone.", g.style().Green("Destroy complete!"), name, env)
		},
		nothing: func(env string) string {
			return fmt.Sprintf("Nothing to destroy: environment %q has no clone %q.", env, name)
		},
	})
}

// cloneInfo is one clone as -list shows it.
type cloneInfo struct {
	name      string
	created   time.Time
	databases []string
	dbGiB     int64
	buckets   []string
	objects   int64
	bytes     int64
	sizeKnown bool
}

// runCloneList lists the clones of an environment: the databases and
// buckets under <original>-NAME that carry envmig:clone-of naming their
// original.
func runCloneList(ctx context.Context, g *globals, o cloneOptions) error {
	cfg, err := g.loadConfig(o.vars)
	if err != nil {
		return err
	}
	env, err := pickEnvironment(cfg, o.environment)
	if err != nil {
		return err
	}
	cl, err := g.awsFor(ctx, cfg)
	if err != nil {
		return err
	}
	originals := cloneOriginals(env)
	clones := map[string]*cloneInfo{}
	get := func(name string, created time.Time) *cloneInfo {
		c := clones[name]
		if c == nil {
			c = &cloneInfo{name: name, created: created, sizeKnown: true}
			clones[name] = c
		}
		if !created.IsZero() && (c.created.IsZero() || created.Before(c.created)) {
			c.created = created
		}
		return c
	}
	dbs := rds.NewDescribeDBInstancesPaginator(cl.RDS, &rds.DescribeDBInstancesInput{})
	for dbs.HasMorePages() {
		page, err := dbs.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list DB instances: %w", err)
		}
		for _, d := range page.DBInstances {
			id := aws.ToString(d.DBInstanceIdentifier)
			of := ""
			for _, t := range d.TagList {
				if aws.ToString(t.Key) == planner.CloneTagKey {
					of = aws.ToString(t.Value)
				}
			}
			name, ok := strings.CutPrefix(id, of+"-")
			if of == "" || !ok || !originals.dbs[of] {
				continue
			}
			c := get(name, aws.ToTime(d.InstanceCreateTime))
			c.databases = append(c.databases, id)
			c.dbGiB += int64(aws.ToInt32(d.AllocatedStorage))
		}
	}
	buckets := s3.NewListBucketsPaginator(cl.S3, &s3.ListBucketsInput{})
	for buckets.HasMorePages() {
		page, err := buckets.NextPage(ctx)
		if err != nil {
			return fmt.Errorf("list buckets: %w", err)
		}
		for _, b := range page.Buckets {
			bn := aws.ToString(b.Name)
			var of string
			for orig := range originals.buckets {
				if strings.HasPrefix(bn, orig+"-") && len(orig) > len(of) {
					of = orig
				}
			}
			if of == "" {
				continue
			}
			tags, err := cl.S3.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: b.Name})
			if err != nil {
				continue // no tags (or not readable): not provably a clone
			}
			tagged := false
			for _, t := range tags.TagSet {
				tagged = tagged || (aws.ToString(t.Key) == planner.CloneTagKey && aws.ToString(t.Value) == of)
			}
			if !tagged {
				continue
			}
			c := get(strings.TrimPrefix(bn, of+"-"), aws.ToTime(b.CreationDate))
			c.buckets = append(c.buckets, bn)
			n, size, err := bucketSize(ctx, cl.S3, bn)
			if err != nil {
				c.sizeKnown = false
				continue
			}
			c.objects += n
			c.bytes += size
		}
	}
	if len(clones) == 0 {
		fmt.Fprintf(g.stdout, "Environment %q has no clones.\n", env.Name)
		return nil
	}
	list := make([]*cloneInfo, 0, len(clones))
	for _, c := range clones {
		list = append(list, c)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].name < list[j].name })
	tw := tabwriter.NewWriter(g.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CLONE\tAGE\tDATABASES\tBUCKETS\tSIZE")
	now := time.Now()
	for _, c := range list {
		size := fmt.Sprintf("%d GiB allocated", c.dbGiB)
		if len(c.buckets) > 0 {
			objects := fmt.Sprintf("%s objects (%s)", view.Count(c.objects), view.Bytes(c.bytes))
			if !c.sizeKnown {
				objects = "objects unknown"
			}
			size += ", " + objects
		}
		age := "unknown"
		if !c.created.IsZero() {
			age = view.Duration(int64(now.Sub(c.created).Seconds()))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", c.name, age, dash(strings.Join(c.databases, ", ")), dash(strings.Join(c.buckets, ", ")), size)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, c := range list {
		journal := planner.CloneJournal(env.Name, c.name)
		st, err := g.unfinishedRun(ctx, o.vars, journal)
		if err != nil {
			return err
		}
		if st != nil {
			fmt.Fprintf(g.stdout, "\n! %s: its %s run %s is unfinished: `envmig resume -environment %s` finishes it", c.name, st.Operation, st.Lineage, journal)
			if !st.GatePassed() {
				fmt.Fprintf(g.stdout, ", `envmig rollback -environment %s` undoes it", journal)
			}
			fmt.Fprintln(g.stdout)
		}
	}
	fmt.Fprintf(g.stdout, "\nRemove one with: envmig clone %s -destroy NAME\n", env.Name)
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// originalNames are the environment's databases and buckets, the originals
// a clone is named after.
type originalNames struct{ dbs, buckets map[string]bool }

func cloneOriginals(env *config.Environment) originalNames {
	names := originalNames{dbs: map[string]bool{}, buckets: map[string]bool{}}
	dbs, buckets := planner.CloneOriginals(env)
	for _, id := range dbs {
		names.dbs[id] = true
	}
	for _, b := range buckets {
		names.buckets[b] = true
	}
	return names
}

// bucketSize counts a bucket's current objects and their bytes.
func bucketSize(ctx context.Context, c *s3.Client, bucket string) (n, size int64, err error) {
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return 0, 0, err
		}
		for _, o := range page.Contents {
			n++
			size += aws.ToInt64(o.Size)
		}
	}
	return n, size, nil
}
