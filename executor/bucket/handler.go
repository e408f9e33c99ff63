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

// required fails when a required parameter is empty: the plan is
// malformed.
func required(sc *executor.StepContext, pairs ...string) error {
	for i := 0; i+1 < len(pairs); i += 2 {
		if pairs[i+1] == "" {
			return fmt.Errorf("step %s has no %q parameter: the plan is malformed", sc.Step.ID, pairs[i])
		}
	}
	return nil
}

// region finds where bucket is for this step: the step's own region when it
// names one for that bucket, else the region of the last BucketCreate of it
// before this step in the plan, else the planner's observation of it, else
// S3's answer to a HEAD, else the plan's region.
func (d *deps) region(ctx context.Context, sc *executor.StepContext, bucket string) string {
	switch p := sc.Step.Params.(type) {
	case plan.BucketCreateParams:
		if p.Bucket == bucket && p.Region != "" {
			return p.Region
		}
	case plan.BucketDeleteParams:
		if p.Bucket == bucket && p.Region != "" {
			return p.Region
		}
	case plan.BucketUpdateParams:
		if p.Bucket == bucket && p.Region != "" {
			return p.Region
		}
	}
	if sc.Plan != nil {
		r := ""
		for _, s := range sc.Plan.Steps {
			if s.ID == sc.Step.ID {
				break
			}
			if c, ok := s.Params.(plan.BucketCreateParams); ok && c.Bucket == bucket && c.Region != "" {
				r = c.Region
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
	p, err := executor.Params[plan.BucketCreateParams](sc)
	if err == nil {
		err = required(sc, "bucket", p.Bucket)
	}
	if err != nil {
		return err
	}
	name := p.Bucket
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
	for k, v := range p.Tags {
		tags[k] = v
	}
	if err := putTags(ctx, c, name, tags); err != nil {
		return err
	}
	if err := setVersioning(ctx, c, name, p.Versioning); err != nil {
		return err
	}
	return sc.Record("region", region)
}

// NotThisRunError says why an existing bucket is not this run's: envmig
// never writes into, empties or deletes it.
type NotThisRunError struct {
	Bucket, Why string
}

func (e *NotThisRunError) Error() string {
	return fmt.Sprintf("bucket %s exists and %s: envmig never writes into a bucket it did not create; delete it or choose another name", e.Bucket, e.Why)
}

// adoptable accepts an existing bucket only when it is provably this run's:
// it carries the run's tag, it is owned by the caller's account (every
// request names the expected owner, so another account's bucket answers
// 403 before this is reached) and it was created after the run began — or
// this step sent its create (a crash before the tag was put) and the
// bucket has no tags and no objects. It returns a *NotThisRunError when the
// bucket is decidedly not the run's, and any other error when it could not
// decide (a throttled or denied read): the caller must not take that for
// "not ours".
func (h *CreateHandler) adoptable(ctx context.Context, sc *executor.StepContext, c S3API, name string) error {
	tags, err := bucketTags(ctx, c, name)
	if err != nil {
		return err
	}
	if tags[executor.RunTagKey] == sc.Lineage() {
		created, err := creationDate(ctx, c, name)
		if err != nil {
			return err
		}
		if !sc.CreatedByRun(created) {
			return &NotThisRunError{Bucket: name, Why: fmt.Sprintf("carries this run's tag but was created at %s, before the run began at %s (someone who read the plan made it)",
				created.UTC().Format(time.RFC3339), sc.RunStarted().UTC().Format(time.RFC3339))}
		}
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
		return &NotThisRunError{Bucket: name, Why: fmt.Sprintf("belongs to another envmig run (%s=%s); finish that run first", executor.RunTagKey, run)}
	}
	return &NotThisRunError{Bucket: name, Why: fmt.Sprintf("was not created by this run (no %s=%s tag)", executor.RunTagKey, sc.Lineage())}
}

// creationDate returns when bucket was created, from the caller's own
// bucket list (zero when S3 does not list it: an emulator's quirk).
func creationDate(ctx context.Context, c S3API, name string) (time.Time, error) {
	p := s3.NewListBucketsPaginator(c, &s3.ListBucketsInput{Prefix: aws.String(name)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return time.Time{}, fmt.Errorf("read the creation date of bucket %s: %w", name, err)
		}
		for _, b := range page.Buckets {
			if aws.ToString(b.Name) == name {
				return aws.ToTime(b.CreationDate), nil
			}
		}
	}
	return time.Time{}, nil
}

func (h *CreateHandler) Revert(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.BucketCreateParams](sc)
	if err == nil {
		err = required(sc, "bucket", p.Bucket)
	}
	if err != nil {
		return err
	}
	name := p.Bucket
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
	// between the create and the tagging): the rule Apply adopts by. A
	// read that could not decide fails the undo, which stays resumable:
	// an undo never reports success for a bucket it may have left full.
	var notOurs *NotThisRunError
	switch err := h.adoptable(ctx, sc, c, name); {
	case errors.As(err, &notOurs):
		sc.Report(executor.Progress{Message: fmt.Sprintf("left bucket %s alone: %s", name, notOurs.Why), Percent: -1})
		return nil
	case err != nil:
		return fmt.Errorf("undo the create of bucket %s: cannot tell whether it is this run's: %w", name, err)
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
	p, err := executor.Params[plan.BucketUpdateParams](sc)
	if err == nil {
		err = required(sc, "bucket", p.Bucket)
	}
	if err != nil {
		return err
	}
	c := h.clients(h.region(ctx, sc, p.Bucket))
	if p.Versioning != nil {
		if err := setVersioning(ctx, c, p.Bucket, *p.Versioning); err != nil {
			return err
		}
	}
	if p.Tags != nil {
		return putTags(ctx, c, p.Bucket, *p.Tags)
	}
	return nil
}

func (h *UpdateHandler) Revert(context.Context, *executor.StepContext) error { return nil }

// DeleteHandler runs BucketDelete: it empties the bucket (every version and
// delete marker) and deletes it. A bucket already gone is done.
type DeleteHandler struct{ *deps }

func (h *DeleteHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.BucketDeleteParams](sc)
	if err == nil {
		err = required(sc, "bucket", p.Bucket)
	}
	if err != nil {
		return err
	}
	name := p.Bucket
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
	p, err := executor.Params[plan.VerifyBucketParams](sc)
	if err == nil {
		err = required(sc, "source", p.Source, "destination", p.Destination)
	}
	if err != nil {
		return err
	}
	src, dst, level := p.Source, p.Destination, p.Objects
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
