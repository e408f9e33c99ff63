package main

import (
	"context"
	"maps"
	"os"
	"strconv"

	"github.com/dustin/go-humanize"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/executor/bucket"
	"github.com/envmig/envmig/executor/check"
	"github.com/envmig/envmig/executor/database"
	"github.com/envmig/envmig/executor/group"
	"github.com/envmig/envmig/executor/stack"
	"github.com/envmig/envmig/executor/switches"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/planner/plan"
)

// handlers is the executor's table: one handler per step action, over the
// run's AWS clients.
func (g *globals) handlers(cl *awsclient.Clients, p *plan.Plan, autoApprove bool) map[plan.StepAction]executor.Handler {
	s3For := func(region string) bucket.S3API { return awsclient.NewS3(cl.Config, region) }
	h := map[plan.StepAction]executor.Handler{}
	maps.Copy(h, group.New(group.Clients{ASG: cl.AutoScaling, EC2: cl.EC2, ELBv2: cl.ELBv2, ELB: cl.ELB}, group.Options{}).Handlers())
	sw := switches.Clients{Rules: cl.EventBridge, Schedules: cl.Scheduler, Services: cl.ECS, Scaling: cl.AppAutoScaling,
		Mappings: cl.Lambda, Dir: g.specDir()}
	maps.Copy(h, switches.Handlers(sw, switches.Options{}))
	maps.Copy(h, database.Handlers(cl.RDS, cl.KMS, database.Options{}))
	bo := g.bucketOptions()
	maps.Copy(h, bucket.Handlers(s3For, bo))
	frozen := &check.Frozen{Groups: cl.AutoScaling, DBs: cl.RDS, Buckets: bucket.NewGuards(s3For, bo), Switches: switches.NewChecker(sw, switches.Options{})}
	maps.Copy(h, check.Handlers(frozen))
	ops := &stack.Ops{CF: cl.CloudFormation, S3: cl.S3, RDS: cl.RDS}
	maps.Copy(h, ops.Handlers())
	h[plan.Preflight] = executor.HandlerFunc(func(ctx context.Context, sc *executor.StepContext) error {
		return checkIdentity(ctx, cl, sc.Plan)
	})
	h[plan.Gate] = g.gate(cl, frozen, autoApprove)
	return h
}

// specDir is where the spec is: commands of the spec run there.
func (g *globals) specDir() string {
	dir, err := os.Getwd()
	if err != nil {
		return "."
	}
	return dir
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
