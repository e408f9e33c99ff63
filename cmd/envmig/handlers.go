package main

import (
	"context"
	"maps"
	"strconv"

	"github.com/dustin/go-humanize"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/executor/bucket"
	"github.com/envmig/envmig/executor/check"
	"github.com/envmig/envmig/executor/database"
	"github.com/envmig/envmig/executor/group"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/planner/plan"
)

// handlers is the executor's table: one handler per step action, over the
// run's AWS clients.
func (g *globals) handlers(cl *awsclient.Clients, p *plan.Plan, autoApprove bool) map[plan.StepAction]executor.Handler {
	s3For := func(region string) bucket.S3API { return awsclient.NewS3(cl.Config, region) }
	h := map[plan.StepAction]executor.Handler{}
	maps.Copy(h, group.Handlers(cl.AutoScaling, group.Options{}))
	maps.Copy(h, database.Handlers(cl.RDS, cl.KMS, database.Options{}))
	maps.Copy(h, bucket.Handlers(s3For, g.bucketOptions()))
	maps.Copy(h, check.Handlers(&check.Frozen{
		Groups: cl.AutoScaling,
		DBs:    cl.RDS,
		S3:     func(region string) check.ObjectLister { return awsclient.NewS3(cl.Config, region) },
	}))
	h[plan.Preflight] = executor.HandlerFunc(func(ctx context.Context, sc *executor.StepContext) error {
		return checkIdentity(ctx, cl, sc.Plan)
	})
	h[plan.Gate] = g.gate(cl, autoApprove)
	return h
}

// bucketOptions tunes the copy engine from the environment:
// ENVMIG_COPY_CONCURRENCY (copies in flight) and ENVMIG_MULTIPART_THRESHOLD
// (a size such as "5GiB" or "8MiB": larger objects are copied in parts).
func (g *globals) bucketOptions() bucket.Options {
	var o bucket.Options
	if v, err := humanize.ParseBytes(g.getenv("ENVMIG_MULTIPART_THRESHOLD")); err == nil && v > 0 {
		o.MultipartThreshold = int64(v)
	}
	if n, err := strconv.Atoi(g.getenv("ENVMIG_COPY_CONCURRENCY")); err == nil && n > 0 {
		o.Concurrency = n
	}
	return o
}
