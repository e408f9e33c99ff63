package bucket

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// Options tune the bucket steps. Zero fields take the Syncer's defaults.
type Options struct {
	Concurrency        int
	ListParallel       int
	MultipartThreshold int64
	PartSize           int64
	// PreserveEncryption: see Syncer.PreserveEncryption.
	PreserveEncryption bool
	// ReportEvery is how often a copy reports progress (default 1s).
	ReportEvery time.Duration
	// VisibleWithin is how long a bucket whose create was sent may stay
	// invisible before a NotFound is believed (default 1 minute).
	VisibleWithin time.Duration
}

func (o Options) visibleWithin() time.Duration {
	if o.VisibleWithin > 0 {
		return o.VisibleWithin
	}
	return time.Minute
}

// Clients returns the S3 client for a region ("" = the run's default).
type Clients func(region string) S3API

// Handlers returns the handler of every bucket step action.
func Handlers(clients Clients, opts Options) map[plan.StepAction]executor.Handler {
	d := &deps{clients: clients, opts: opts}
	return map[plan.StepAction]executor.Handler{
		plan.BucketCreate: &CreateHandler{d},
		plan.BucketCopy:   &CopyHandler{d},
		plan.BucketUpdate: &UpdateHandler{d},
		plan.BucketDelete: &DeleteHandler{d},
		plan.VerifyBucket: &VerifyHandler{d},
	}
}

type deps struct {
	clients Clients
	opts    Options
}

var (
	_ executor.Handler = (*CreateHandler)(nil)
	_ executor.Handler = (*CopyHandler)(nil)
	_ executor.Handler = (*UpdateHandler)(nil)
	_ executor.Handler = (*DeleteHandler)(nil)
	_ executor.Handler = (*VerifyHandler)(nil)
)

// param returns a required step parameter.
func param(sc *executor.StepContext, key string) (string, error) {
	v := sc.Param(key)
	if v == "" {
		return "", fmt.Errorf("step %s has no %q parameter: the plan is malformed", sc.Step.ID, key)
	}
	return v, nil
}

// region finds where bucket is for this step: the region of the last
// BucketCreate of it before this step in the plan, else the planner's
// observation of it, else S3's answer to a HEAD, else the plan's region.
func (d *deps) region(ctx context.Context, sc *executor.StepContext, bucket string) string {
	if r := sc.Param("region"); r != "" && sc.Param("bucket") == bucket {
		return r
	}
	if sc.Plan != nil {
		r := ""
		for _, s := range sc.Plan.Steps {
			if s.ID == sc.Step.ID {
				break
			}
			if s.Action == plan.BucketCreate && s.Param("bucket") == bucket && s.Param("region") != "" {
				r = s.Param("region")
			}
		}
		if r != "" {
			return r
		}
		for _, o := range sc.Plan.Observations {
			if o.Kind == plan.KindBucket && o.ID == bucket && o.Exists && o.Attrs["region"] != "" {
				return o.Attrs["region"]
			}
		}
	}
	if out, err := d.clients("").HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(bucket)}); err == nil && aws.ToString(out.BucketRegion) != "" {
		return aws.ToString(out.BucketRegion)
	}
	if sc.Plan != nil {
		return sc.Plan.Region
	}
	return ""
}

// observedAttr returns an attribute the planner observed of bucket.
func observedAttr(sc *executor.StepContext, bucket, attr string) string {
	if sc.Plan == nil {
		return ""
	}
	for _, o := range sc.Plan.Observations {
		if o.Kind == plan.KindBucket && o.ID == bucket {
			if v := o.Attrs[attr]; v != "" {
				return v
			}
			if v := o.Info[attr]; v != "" {
				return v
			}
		}
	}
	return ""
}

// CreateHandler runs BucketCreate: it creates the bucket with the run's tag,
// the step's tags and versioning, or adopts one that carries this run's tag.
// Revert empties and deletes the bucket only when it carries this run's tag.
type CreateHandler struct{ *deps }

func (h *CreateHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	name, err := param(sc, "bucket")
	if err != nil {
		return err
	}
	region := h.region(ctx, sc, name)
	c := h.clients(region)
	ok, err := exists(ctx, c, name)
	if err != nil {
		return err
	}
	if ok {
		if err := h.adoptable(ctx, sc, c, name); err != nil {
			return err
		}
	} else {
		if err := sc.Record("create_sent", "true"); err != nil {
			return err
		}
		in := &s3.CreateBucketInput{Bucket: aws.String(name)}
		if region != "" && region != "us-east-1" {
			in.CreateBucketConfiguration = &types.CreateBucketConfiguration{LocationConstraint: types.BucketLocationConstraint(region)}
		}
		if _, err := c.CreateBucket(ctx, in); err != nil {
			switch errorCode(err) {
			case "BucketAlreadyOwnedByYou":
				if err := h.adoptable(ctx, sc, c, name); err != nil {
					return err
				}
			case "BucketAlreadyExists":
				return fmt.Errorf("create bucket %s: the name is taken by another account; choose another name", name)
			default:
				if executor.Refused(err) { // not applied: nothing to look for on undo
					_ = sc.Record("create_sent", "")
				}
				return fmt.Errorf("create bucket %s in %s: %w", name, region, err)
			}
		}
		sc.Accepted()
	}
	tags := sc.RunTags()
	for k, v := range sc.Step.Tags {
		tags[k] = v
	}
	if err := putTags(ctx, c, name, tags); err != nil {
		return err
	}
	if v := sc.Param("versioning"); v != "" {
		enable, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("step %s: versioning %q is not true or false", sc.Step.ID, v)
		}
		if err := setVersioning(ctx, c, name, enable); err != nil {
			return err
		}
	}
	return sc.Record("region", region)
}

// adoptable accepts an existing bucket only when it carries this run's tag,
// or when this step sent its create (a crash before the tag was put) and the
// bucket has no tags and no objects.
func (h *CreateHandler) adoptable(ctx context.Context, sc *executor.StepContext, c S3API, name string) error {
	tags, err := bucketTags(ctx, c, name)
	if err != nil {
		return err
	}
	if tags[executor.RunTagKey] == sc.Lineage() {
		return nil
	}
	if len(tags) == 0 && sc.Value("create_sent") == "true" {
		out, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(name), MaxKeys: aws.Int32(1)})
		if err != nil {
			return fmt.Errorf("look into bucket %s: %w", name, err)
		}
		if len(out.Versions) == 0 && len(out.DeleteMarkers) == 0 {
			return nil
		}
	}
	if run := tags[executor.RunTagKey]; run != "" {
		return fmt.Errorf("bucket %s exists and belongs to another envmig run (%s=%s): delete it or finish that run first", name, executor.RunTagKey, run)
	}
	return fmt.Errorf("bucket %s exists and was not created by this run (no %s=%s tag): envmig never writes into a bucket it did not create; delete it or choose another name", name, executor.RunTagKey, sc.Lineage())
}

func (h *CreateHandler) Revert(ctx context.Context, sc *executor.StepContext) error {
	name, err := param(sc, "bucket")
	if err != nil {
		return err
	}
	region := sc.Value("region")
	if region == "" {
		region = h.region(ctx, sc, name)
	}
	c := h.clients(region)
	ok, err := exists(ctx, c, name)
	if err == nil && !ok && sc.Value("create_sent") == "true" && sc.Value("revert_deleted_objects") == "" {
		// S3 may not show a bucket right after its create.
		ok, err = executor.Eventually(ctx, sc, h.opts.visibleWithin(), "bucket "+name, func() (bool, error) { return exists(ctx, c, name) })
	}
	if err != nil || !ok {
		return err
	}
	// The bucket is this run's when it carries the run's tag, or when this
	// step sent its create and it is still untagged and empty (a crash
	// between the create and the tagging): the rule Apply adopts by.
	if h.adoptable(ctx, sc, c, name) != nil {
		return nil // not this run's: never touched
	}
	n, err := deleteBucket(ctx, c, name)
	if err != nil {
		return fmt.Errorf("remove bucket %s: %w", name, err)
	}
	return sc.Record("revert_deleted_objects", strconv.FormatInt(n, 10))
}

// UpdateHandler runs BucketUpdate: versioning and, with tags = "replace",
// the step's tags.
type UpdateHandler struct{ *deps }

func (h *UpdateHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	name, err := param(sc, "bucket")
	if err != nil {
		return err
	}
	c := h.clients(h.region(ctx, sc, name))
	if v := sc.Param("versioning"); v != "" {
		enable, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("step %s: versioning %q is not true or false", sc.Step.ID, v)
		}
		if err := setVersioning(ctx, c, name, enable); err != nil {
			return err
		}
	}
	if sc.Param("tags") == "replace" {
		return putTags(ctx, c, name, sc.Step.Tags)
	}
	return nil
}

func (h *UpdateHandler) Revert(context.Context, *executor.StepContext) error { return nil }

// DeleteHandler runs BucketDelete: it empties the bucket (every version and
// delete marker) and deletes it. A bucket already gone is done.
type DeleteHandler struct{ *deps }

func (h *DeleteHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	name, err := param(sc, "bucket")
	if err != nil {
		return err
	}
	n, err := deleteBucket(ctx, h.clients(h.region(ctx, sc, name)), name)
	if err != nil {
		return err
	}
	return sc.Record("deleted_objects", strconv.FormatInt(n, 10))
}

func (h *DeleteHandler) Revert(context.Context, *executor.StepContext) error { return nil }

// VerifyHandler runs VerifyBucket: a manifest comparison at the step's
// objects level; any difference fails the step, naming the first keys.
type VerifyHandler struct{ *deps }

// shownDifferences is how many differences a failed verification names.
const shownDifferences = 10

func (h *VerifyHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	src, err := param(sc, "source")
	if err != nil {
		return err
	}
	dst, err := param(sc, "destination")
	if err != nil {
		return err
	}
	level := sc.Param("objects")
	if level == "" {
		level = LevelChecksum
	}
	sc.Report(executor.Progress{Message: fmt.Sprintf("comparing s3://%s with s3://%s by manifest (%s)", dst, src, level), Percent: -1})
	rep, err := Verify(ctx, h.clients(h.region(ctx, sc, src)), h.clients(h.region(ctx, sc, dst)), src, dst, level)
	if err != nil {
		return err
	}
	if err := errors.Join(
		sc.Record("objects", strconv.FormatInt(rep.Objects, 10)),
		sc.Record("differences", strconv.FormatInt(rep.Count, 10)),
	); err != nil {
		return err
	}
	if rep.OK() {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "s3://%s does not match s3://%s: %d of %d objects differ (objects = %q)", dst, src, rep.Count, rep.Objects, level)
	for i, d := range rep.Differences {
		if i == shownDifferences {
			fmt.Fprintf(&b, "\n  ... and %d more", rep.Count-shownDifferences)
			break
		}
		fmt.Fprintf(&b, "\n  %s", d)
	}
	return errors.New(b.String())
}

func (h *VerifyHandler) Revert(context.Context, *executor.StepContext) error { return nil }
