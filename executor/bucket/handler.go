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
		plan.BucketCreate:    &CreateHandler{d},
		plan.BucketCopy:      &CopyHandler{d},
		plan.BucketUpdate:    &UpdateHandler{d},
		plan.BucketDelete:    &DeleteHandler{d},
		plan.VerifyBucket:    &VerifyHandler{d},
		plan.BucketConfigure: &ConfigureHandler{d},
		plan.BucketCapture:   &CaptureHandler{d},
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
	case plan.BucketConfigureParams:
		if p.Bucket == bucket && p.Region != "" {
			return p.Region
		}
	case plan.BucketCaptureParams:
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
		if p.Settings != nil && carryOf(*p.Settings, name).ObjectLockAtCreate() {
			in.ObjectLockEnabledForBucket = aws.Bool(true)
		}
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
	if err := sc.Record("region", region); err != nil {
		return err
	}
	if p.Settings == nil {
		return nil
	}
	return ConfigureAtCreate(ctx, sc, h.settingsClients(ctx, sc, p.Settings.Source, region), carryOf(*p.Settings, name))
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
// delete marker) and deletes it (with KeepBucket, only empties it: its
// CloudFormation stack deletes it). A bucket already gone is done. With a
// Guard (an original whose objects live on in a verified copy), the
// original is first checked against its manifest, and only what the
// manifest lists is deleted: whatever was written since stays, the bucket
// is kept, and the step fails saying what it kept.
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
	c := h.clients(h.region(ctx, sc, name))
	if err := h.deletable(ctx, sc, c, name, p.Guard != nil); err != nil {
		return err
	}
	if !p.KeepModifiedAfter.IsZero() {
		if err := modifiedAfter(ctx, c, name, p.KeepModifiedAfter); err != nil {
			return err
		}
	}
	var opts EmptyOptions
	if p.Guard != nil {
		if ok, err := exists(ctx, c, name); err != nil || !ok {
			return err // already deleted by an earlier attempt
		}
		// Once the emptying began, the original differs from its manifest
		// by what this step deleted: the guard would take that for a
		// change (and a catch-up would copy the deletions into the copy).
		// What the emptying still deletes is limited to the manifest, so
		// a later write stays either way.
		if sc.Value("emptying") == "" {
			if err := h.Guard(ctx, sc, *p.Guard); err != nil {
				var ce *executor.ChangedError
				if p.Guard.Copy == "" && errors.As(err, &ce) {
					return fmt.Errorf("bucket %s is kept: it changed since run %s copied it (%s); cleanup never deletes what the run did not retire", name, p.Guard.Run, strings.Join(ce.Changes, "; "))
				}
				return err
			}
		}
		r, err := openManifest(ctx, sc, *p.Guard)
		if err != nil {
			return err
		}
		defer r.Close()
		opts.Only = r
	}
	del := DeleteBucket
	if p.KeepBucket {
		// Its CloudFormation stack deletes the bucket itself.
		del = func(ctx context.Context, api EmptyAPI, bucket string, opts EmptyOptions) (Emptied, error) {
			if ok, err := exists(ctx, api, bucket); err != nil || !ok {
				return Emptied{}, err
			}
			return EmptyBucket(ctx, api, bucket, opts)
		}
	}
	if p.Guard != nil {
		if err := sc.Record("emptying", "started"); err != nil {
			return err
		}
	}
	res, err := del(ctx, acceptedDeletes{c, sc}, name, opts)
	if err != nil {
		return err
	}
	return sc.Record("deleted_objects", strconv.FormatInt(res.Deleted, 10))
}

// acceptedDeletes marks each batch of deletes and the bucket's delete that
// S3 accepted as a crash point: a kill there leaves the bucket half
// emptied, or gone with its step not journaled done.
type acceptedDeletes struct {
	EmptyAPI
	sc *executor.StepContext
}

func (a acceptedDeletes) DeleteObjects(ctx context.Context, in *s3.DeleteObjectsInput, optFns ...func(*s3.Options)) (*s3.DeleteObjectsOutput, error) {
	out, err := a.EmptyAPI.DeleteObjects(ctx, in, optFns...)
	if err == nil {
		a.sc.Accepted()
	}
	return out, err
}

func (a acceptedDeletes) DeleteBucket(ctx context.Context, in *s3.DeleteBucketInput, optFns ...func(*s3.Options)) (*s3.DeleteBucketOutput, error) {
	out, err := a.EmptyAPI.DeleteBucket(ctx, in, optFns...)
	if err == nil {
		a.sc.Accepted()
	}
	return out, err
}

// deletable refuses to empty a bucket that is neither one the plan
// observed as the spec's (an original, or a bucket a run kept) nor one
// this run created: a delete step never acts on a stranger's bucket, even
// in a plan that passed every other check.
func (h *DeleteHandler) deletable(ctx context.Context, sc *executor.StepContext, c S3API, name string, original bool) error {
	if sc.Plan != nil {
		for _, o := range sc.Plan.Observations {
			if o.Kind == plan.KindBucket && o.ID == name && o.Exists {
				return nil
			}
		}
	}
	tags, err := bucketTags(ctx, c, name)
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if tags[executor.RunTagKey] == sc.Lineage() && !original {
		return nil
	}
	return fmt.Errorf("delete bucket %s: the plan never observed it and this run did not create it; envmig deletes only what the spec names or the run made", name)
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
	if p.Guard != nil {
		// Once the emptying began, the original differs from its manifest
		// by what this step deleted: the guard would take that for a
		// change (and a catch-up would copy the deletions into the copy).
		// What the emptying still deletes is limited to the manifest, so
		// a later write stays either way.
		if sc.Value("emptying") != "" {
			// checked before this step's first delete
		} else if err := h.Guard(ctx, sc, *p.Guard); err != nil {
			return err
		}
	}
	srcRegion, dstRegion := h.region(ctx, sc, p.Source), h.region(ctx, sc, p.Destination)
	if p.AsOfStep != "" {
		at, err := asOfTime(sc, p.AsOfStep)
		if err != nil {
			return err
		}
		return VerifyAsOfStep(ctx, sc, h.clients(srcRegion), h.clients(dstRegion), p.Source, p.Destination, at, level(p.Objects))
	}
	if p.History {
		return VerifyHistoryStep(ctx, sc, h.clients(srcRegion), h.clients(dstRegion), p.Source, p.Destination, level(p.Objects), time.Time{})
	}
	if p.FromManifest {
		return h.verifyManifest(ctx, sc, p, srcRegion, dstRegion)
	}
	var allowed map[string]bool
	if p.AllowKept != "" {
		if allowed, err = keptBy(sc, p.AllowKept); err != nil {
			return err
		}
	}
	return h.verify(ctx, sc, p.Source, p.Destination, srcRegion, dstRegion, p.Objects, allowed)
}

func level(objects string) string {
	if objects == "" {
		return LevelChecksum
	}
	return objects
}

// keptBy returns the objects a protected copy step kept: the differences
// its destination may show. Past MaxKeptKeys the copy named only some, and
// no difference can be told from a kept object: the check fails safe.
func keptBy(sc *executor.StepContext, step string) (map[string]bool, error) {
	n, _ := strconv.ParseInt(sc.StepValue(step, KeyKept), 10, 64)
	if n > MaxKeptKeys {
		return nil, fmt.Errorf("the copy %s kept %d objects that changed after their verification, more than the %d it names: compare the buckets yourself before you go on, then resume", step, n, MaxKeptKeys)
	}
	out := map[string]bool{}
	for _, k := range strings.Split(sc.StepValue(step, KeyKeptKeys), "\n") {
		if k != "" {
			out[k] = true
		}
	}
	return out, nil
}

// verifyManifest compares the destination with the source as its copy
// listed it: the manifest the copy recorded.
func (h *VerifyHandler) verifyManifest(ctx context.Context, sc *executor.StepContext, p plan.VerifyBucketParams, srcRegion, dstRegion string) error {
	r, err := sc.OpenBlob(ctx, "", plan.ManifestName(p.Source))
	if err != nil {
		return fmt.Errorf("read the manifest of %s its copy recorded: %w", p.Source, err)
	}
	defer r.Close()
	lvl := level(p.Objects)
	sc.Report(executor.Progress{Message: fmt.Sprintf("comparing s3://%s with s3://%s as its copy listed it, by manifest (%s)", p.Destination, p.Source, lvl), Percent: -1})
	rep, err := VerifyManifest(ctx, h.clients(srcRegion), h.clients(dstRegion), p.Source, p.Destination, lvl, r)
	if err != nil {
		return err
	}
	return report(sc, p.Source, p.Destination, lvl, rep, nil)
}

// verify compares dst with src at level; differences at allowed keys (kept
// by a protected copy) are reported but accepted.
func (d *deps) verify(ctx context.Context, sc *executor.StepContext, src, dst, srcRegion, dstRegion, objects string, allowed map[string]bool) error {
	lvl := level(objects)
	sc.Report(executor.Progress{Message: fmt.Sprintf("comparing s3://%s with s3://%s by manifest (%s)", dst, src, lvl), Percent: -1})
	rep, err := Verify(ctx, d.clients(srcRegion), d.clients(dstRegion), src, dst, lvl)
	if err != nil {
		return err
	}
	return report(sc, src, dst, lvl, rep, allowed)
}

// report records a verification's figures and fails on any difference
// but those at allowed keys, naming the first ones.
func report(sc *executor.StepContext, src, dst, lvl string, rep Report, allowed map[string]bool) error {
	var left []Difference
	for _, diff := range rep.Differences {
		if allowed[diff.Key] {
			sc.Report(executor.Progress{Line: fmt.Sprintf("s3://%s/%s differs from the copy: it was kept (%s)", dst, diff.Key, diff.Kind)})
			continue
		}
		left = append(left, diff)
	}
	count := rep.Count - int64(len(rep.Differences)-len(left))
	if err := errors.Join(
		sc.Record("objects", strconv.FormatInt(rep.Objects, 10)),
		sc.Record("differences", strconv.FormatInt(count, 10)),
	); err != nil {
		return err
	}
	if count == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, "s3://%s does not match s3://%s: %d of %d objects differ (objects = %q)", dst, src, count, rep.Objects, lvl)
	for i, diff := range left {
		if i == shownDifferences {
			fmt.Fprintf(&b, "\n  ... and %d more", count-shownDifferences)
			break
		}
		fmt.Fprintf(&b, "\n  %s", diff)
	}
	return errors.New(b.String())
}

func (h *VerifyHandler) Revert(context.Context, *executor.StepContext) error { return nil }

// carryOf is the settings carry of a plan to dst.
func carryOf(c plan.SettingsCarry, dst string) SettingsCarry {
	return SettingsCarry{Source: c.Source, Destination: dst, Expected: c.Expected, Temporary: c.Temporary, CapturedBy: c.CapturedBy}
}

// settingsClients are the clients a carry from source into a bucket of
// dstRegion uses.
func (d *deps) settingsClients(ctx context.Context, sc *executor.StepContext, source, dstRegion string) SettingsClients {
	return SettingsClients{Source: d.clients(d.region(ctx, sc, source)), Destination: d.clients(dstRegion), VisibleWithin: d.opts.visibleWithin()}
}

// ConfigureHandler runs BucketConfigure: the carried settings that act on
// objects or users, once the bucket's copy is verified (settings phase 2).
type ConfigureHandler struct{ *deps }

func (h *ConfigureHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.BucketConfigureParams](sc)
	if err == nil {
		err = required(sc, "bucket", p.Bucket)
	}
	if err != nil {
		return err
	}
	region := h.region(ctx, sc, p.Bucket)
	return ConfigureAfterCopy(ctx, sc, h.settingsClients(ctx, sc, p.Settings.Source, region), carryOf(p.Settings, p.Bucket))
}

// Revert does nothing: the configuration is applied after the point of no
// return (or, for a clone, on a bucket whose create step's undo deletes it).
func (h *ConfigureHandler) Revert(context.Context, *executor.StepContext) error { return nil }

// CaptureHandler runs BucketCapture: it records the bucket's carried
// settings (checked against the plan's digests) in the journal, for a
// re-created bucket of the same name to receive once the original is gone.
type CaptureHandler struct{ *deps }

func (h *CaptureHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.BucketCaptureParams](sc)
	if err == nil {
		err = required(sc, "bucket", p.Bucket)
	}
	if err != nil {
		return err
	}
	_, err = CaptureSettings(ctx, sc, h.clients(h.region(ctx, sc, p.Bucket)), carryOf(p.Settings, p.Bucket))
	return err
}

// Revert does nothing: capturing only reads.
func (h *CaptureHandler) Revert(context.Context, *executor.StepContext) error { return nil }

// modifiedAfter fails, naming them, when bucket holds objects written after
// t: they are not what the run that kept the bucket retired.
func modifiedAfter(ctx context.Context, c Lister, bucket string, t time.Time) error {
	var n int64
	var first []string
	err := eachObject(ctx, c, bucket, func(o *Object) error {
		if o.LastModified.After(t) {
			n++
			if len(first) < 5 {
				first = append(first, o.Key)
			}
		}
		return nil
	})
	if isNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if n > 0 {
		return fmt.Errorf("bucket %s is kept: %d object(s) were written to it after %s, when the run that kept it finished (e.g. %q); cleanup never deletes what the run did not retire", bucket, n, t.Format(time.RFC3339), first)
	}
	return nil
}
