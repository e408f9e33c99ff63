package stack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudformation"
	cftypes "github.com/aws/aws-sdk-go-v2/service/cloudformation/types"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	rdstypes "github.com/aws/aws-sdk-go-v2/service/rds/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/envmig/envmig/executor"
	tmpl "github.com/envmig/envmig/planner/stack"
)

// DeleteInput is a stack to delete.
type DeleteInput struct {
	StackName string
	// OwnerTag, when set, makes Delete refuse a stack that does not carry
	// OwnerTag=lineage (a run deletes only its own temporary stacks that
	// way). For an original, leave it empty and set ExpectedID.
	OwnerTag string
	// ExpectedID is the stack ID the plan observed: a stack of that name
	// with another ID is refused (ErrChangedOutOfBand). Required when
	// OwnerTag is empty.
	ExpectedID string
	// EmptyOwnBuckets empties the stack's buckets before the delete. Only
	// for a stack this run created (OwnerTag set): its buckets hold copies.
	EmptyOwnBuckets bool
}

// Deleted reports what a stack delete left.
type Deleted struct {
	StackID string
	// AlreadyGone is true when the stack was already deleted (by an
	// earlier attempt of this step, or out of band).
	AlreadyGone bool
	// Retained are the resources kept by DeletionPolicy Retain (or
	// RetainExceptOnCreate).
	Retained []Resource
	// FinalSnapshots maps a database's logical ID to the final snapshot
	// CloudFormation took for DeletionPolicy Snapshot.
	FinalSnapshots map[string]string
	// MissingFinalSnapshots are databases with DeletionPolicy Snapshot for
	// which no final snapshot was found (moto takes none), or that could
	// not be looked for (no RDS client).
	MissingFinalSnapshots []string
	// LeftBehind are buckets the stack should have deleted that still
	// exist: moto silently leaves a non-empty bucket behind where AWS
	// fails the delete.
	LeftBehind []Resource
}

// NonEmptyBucketsError refuses to delete a stack whose buckets (with
// DeletionPolicy Delete) hold objects: CloudFormation would fail the delete
// half-way (DELETE_FAILED), after deleting other resources.
type NonEmptyBucketsError struct {
	Stack   string
	Buckets []string // "Uploads (shop-staging-uploads)"
}

func (e *NonEmptyBucketsError) Error() string {
	return fmt.Sprintf("stack %s %v: %s; CloudFormation cannot delete a bucket that holds objects: empty each one once its copy is verified, then run `envmig resume`", e.Stack, ErrNonEmptyBuckets, strings.Join(e.Buckets, ", "))
}

func (e *NonEmptyBucketsError) Unwrap() error { return ErrNonEmptyBuckets }

// LeftBehindError reports buckets still there after their stack was
// deleted.
type LeftBehindError struct {
	Stack   string
	Buckets []Resource
}

func (e *LeftBehindError) Error() string {
	var names []string
	for _, b := range e.Buckets {
		names = append(names, fmt.Sprintf("%s (%s)", b.LogicalID, b.PhysicalID))
	}
	return fmt.Sprintf("stack %s is deleted but %v: bucket %s still exists (moto leaves a non-empty bucket behind where AWS fails the delete); a stack created again under that name would collide with it", e.Stack, ErrLeftBehind, strings.Join(names, ", "))
}

func (e *LeftBehindError) Unwrap() error { return ErrLeftBehind }

// Delete deletes a stack and waits until it is gone, then reports what it
// left: retained resources, the final snapshots of databases with
// DeletionPolicy Snapshot (or their absence), and buckets that survived.
//
// Before deleting it records the stack's ID, resources and deletion
// policies (from its template), so that after a crash Delete finds the
// stack by ID (a deleted stack is not found by name) and reports the same.
// It refuses, before any change, a stack whose buckets to be deleted are
// not empty (*NonEmptyBucketsError), unless EmptyOwnBuckets empties them
// first. A delete that fails is a *StackError with the failed events. A
// bucket still there once the stack is gone is reported and returned as a
// *LeftBehindError along with the result.
//
// Idempotent: a second call after success makes no mutating call.
func (o *Ops) Delete(ctx context.Context, sc *executor.StepContext, in DeleteInput) (*Deleted, error) {
	if in.OwnerTag == "" && in.ExpectedID == "" {
		return nil, fmt.Errorf("delete stack %s: neither an owner tag nor the expected stack ID was given", in.StackName)
	}
	if in.EmptyOwnBuckets && in.OwnerTag == "" {
		return nil, fmt.Errorf("delete stack %s: buckets are emptied only in a stack this run created", in.StackName)
	}
	id := sc.Value(KeyStackID)
	var s *cftypes.Stack
	var err error
	if id != "" && sc.Value(KeyResources) != "" {
		s, err = o.describe(ctx, id)
	} else {
		s, err = o.describe(ctx, in.StackName)
		if err == nil && s == nil && in.ExpectedID != "" {
			s, err = o.describe(ctx, in.ExpectedID)
		}
	}
	if err != nil {
		return nil, err
	}
	if s == nil || (s.StackStatus == cftypes.StackStatusDeleteComplete && sc.Value(KeyResources) == "") {
		return &Deleted{StackID: id, AlreadyGone: true, FinalSnapshots: map[string]string{}}, nil
	}
	id = aws.ToString(s.StackId)
	if s.StackStatus != cftypes.StackStatusDeleteComplete {
		if err := o.deletable(s, in, sc); err != nil {
			return nil, err
		}
	}
	res, err := o.recordResources(ctx, sc, in.StackName, s)
	if err != nil {
		return nil, err
	}
	if s.StackStatus != cftypes.StackStatusDeleteComplete {
		if in.EmptyOwnBuckets {
			if err := o.emptyBuckets(ctx, sc, res); err != nil {
				return nil, err
			}
		}
		if err := o.checkBucketsEmpty(ctx, in.StackName, res); err != nil {
			return nil, err
		}
		if err := o.deleteAndWait(ctx, sc, in.StackName, id, s.StackStatus); err != nil {
			return nil, err
		}
	}
	return o.report(ctx, sc, in.StackName, id, res)
}

// deletable checks that s is the stack the caller means.
func (o *Ops) deletable(s *cftypes.Stack, in DeleteInput, sc *executor.StepContext) error {
	id := aws.ToString(s.StackId)
	if rec := sc.Value(KeyStackID); rec != "" && rec != id && in.OwnerTag == "" {
		return fmt.Errorf("stack %s is not the stack this step began to delete (%s, now %s): it %w; plan again", in.StackName, rec, id, ErrChangedOutOfBand)
	}
	if in.OwnerTag != "" {
		return owner(s, in.OwnerTag, sc.Lineage())
	}
	if id != in.ExpectedID {
		return fmt.Errorf("stack %s is not the stack the plan observed (%s, now %s): it %w; plan again", in.StackName, in.ExpectedID, id, ErrChangedOutOfBand)
	}
	return nil
}

// recordResources journals the stack's resources and their deletion
// policies before the delete, or returns those an earlier attempt
// journaled.
func (o *Ops) recordResources(ctx context.Context, sc *executor.StepContext, name string, s *cftypes.Stack) ([]Resource, error) {
	var res []Resource
	if rec := sc.Value(KeyResources); rec != "" {
		if err := json.Unmarshal([]byte(rec), &res); err != nil {
			return nil, fmt.Errorf("read the resources of stack %s from the journal: %w", name, err)
		}
		return res, nil
	}
	id := aws.ToString(s.StackId)
	live, err := o.resources(ctx, id)
	if err != nil {
		return nil, err
	}
	tpl, err := o.CF.GetTemplate(ctx, &cloudformation.GetTemplateInput{StackName: aws.String(id), TemplateStage: cftypes.TemplateStageOriginal})
	if err != nil {
		return nil, fmt.Errorf("read the template of stack %s: %w", name, err)
	}
	t, err := tmpl.Parse([]byte(aws.ToString(tpl.TemplateBody)))
	if err != nil {
		return nil, fmt.Errorf("stack %s: %w", name, err)
	}
	for _, lid := range sortedKeys(live) {
		r := live[lid]
		r.DeletionPolicy = "Delete"
		if tr, ok := t.Resources[lid]; ok {
			r.DeletionPolicy = tr.EffectiveDeletionPolicy()
		}
		res = append(res, r)
	}
	b, _ := json.Marshal(res)
	if err := sc.Record(KeyStackID, id); err != nil {
		return nil, err
	}
	if err := sc.Record(KeyDeleteAt, sc.Now().UTC().Format(time.RFC3339)); err != nil {
		return nil, err
	}
	if err := sc.Record(KeyResources, string(b)); err != nil {
		return nil, err
	}
	return res, nil
}

// checkBucketsEmpty refuses when a bucket the delete would remove holds
// any object version or delete marker.
func (o *Ops) checkBucketsEmpty(ctx context.Context, name string, res []Resource) error {
	if o.S3 == nil {
		return nil
	}
	var full []string
	for _, r := range res {
		if r.Type != tmpl.TypeBucket || r.PhysicalID == "" || retained(r.DeletionPolicy) {
			continue
		}
		out, err := o.S3.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: aws.String(r.PhysicalID), MaxKeys: aws.Int32(1)})
		var nb *s3types.NoSuchBucket
		if errorAs(err, &nb) || errorCode(err) == "NoSuchBucket" {
			continue
		}
		if err != nil {
			return fmt.Errorf("look into bucket %s of stack %s: %w", r.PhysicalID, name, err)
		}
		if len(out.Versions) > 0 || len(out.DeleteMarkers) > 0 {
			full = append(full, fmt.Sprintf("%s (%s)", r.LogicalID, r.PhysicalID))
		}
	}
	if len(full) > 0 {
		return &NonEmptyBucketsError{Stack: name, Buckets: full}
	}
	return nil
}

// emptyBuckets deletes every object version and delete marker of the
// stack's buckets (a temporary stack of this run: its buckets hold copies).
func (o *Ops) emptyBuckets(ctx context.Context, sc *executor.StepContext, res []Resource) error {
	if o.S3 == nil {
		return errors.New("empty buckets: no S3 client")
	}
	for _, r := range res {
		if r.Type != tmpl.TypeBucket || r.PhysicalID == "" || retained(r.DeletionPolicy) {
			continue
		}
		p := s3.NewListObjectVersionsPaginator(o.S3, &s3.ListObjectVersionsInput{Bucket: aws.String(r.PhysicalID)})
		n := 0
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			var nb *s3types.NoSuchBucket
			if errorAs(err, &nb) || errorCode(err) == "NoSuchBucket" {
				break
			}
			if err != nil {
				return fmt.Errorf("list bucket %s to empty it: %w", r.PhysicalID, err)
			}
			var ids []s3types.ObjectIdentifier
			for _, v := range page.Versions {
				ids = append(ids, s3types.ObjectIdentifier{Key: v.Key, VersionId: v.VersionId})
			}
			for _, m := range page.DeleteMarkers {
				ids = append(ids, s3types.ObjectIdentifier{Key: m.Key, VersionId: m.VersionId})
			}
			if len(ids) == 0 {
				continue
			}
			out, err := o.S3.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String(r.PhysicalID), Delete: &s3types.Delete{Objects: ids, Quiet: aws.Bool(true)}})
			if err != nil {
				return fmt.Errorf("empty bucket %s: %w", r.PhysicalID, err)
			}
			if len(out.Errors) > 0 {
				e := out.Errors[0]
				return fmt.Errorf("empty bucket %s: %s: %s %s", r.PhysicalID, aws.ToString(e.Key), aws.ToString(e.Code), aws.ToString(e.Message))
			}
			sc.Accepted()
			n += len(ids)
		}
		if n > 0 {
			sc.Report(executor.Progress{Line: fmt.Sprintf("emptied bucket %s of this run's stack: %d object versions deleted", r.PhysicalID, n)})
		}
	}
	return nil
}

// deleteAndWait sends DeleteStack (unless a delete is already under way)
// and waits until the stack is gone.
func (o *Ops) deleteAndWait(ctx context.Context, sc *executor.StepContext, name, id string, status cftypes.StackStatus) error {
	if status != cftypes.StackStatusDeleteInProgress {
		if err := sc.Record(KeyDeleteSent, "true"); err != nil {
			return err
		}
		_, err := o.CF.DeleteStack(ctx, &cloudformation.DeleteStackInput{
			StackName:          aws.String(id),
			ClientRequestToken: aws.String(token(sc.Lineage(), sc.Step.ID, "delete", string(status))),
		})
		if err != nil {
			return fmt.Errorf("delete stack %s: %w", name, err)
		}
		sc.Accepted()
	}
	return o.waitDeleted(ctx, sc, name, id)
}

// report says what the deleted stack left.
func (o *Ops) report(ctx context.Context, sc *executor.StepContext, name, id string, res []Resource) (*Deleted, error) {
	d := &Deleted{StackID: id, FinalSnapshots: map[string]string{}}
	since, _ := time.Parse(time.RFC3339, sc.Value(KeyDeleteAt))
	for _, r := range res {
		switch {
		case retained(r.DeletionPolicy):
			d.Retained = append(d.Retained, r)
			sc.Report(executor.Progress{Line: fmt.Sprintf("stack %s: %s (%s) %s was retained (DeletionPolicy %s)", name, r.LogicalID, r.Type, r.PhysicalID, r.DeletionPolicy)})
		case r.Type == tmpl.TypeDBInstance && r.DeletionPolicy == "Snapshot":
			snap, err := o.finalSnapshot(ctx, r.PhysicalID, since)
			if err != nil {
				return nil, err
			}
			if snap == "" {
				d.MissingFinalSnapshots = append(d.MissingFinalSnapshots, r.LogicalID)
				sc.Report(executor.Progress{Line: fmt.Sprintf("stack %s: no final snapshot of database %s (%s) was found, though its DeletionPolicy is Snapshot (moto takes none)", name, r.LogicalID, r.PhysicalID)})
				continue
			}
			d.FinalSnapshots[r.LogicalID] = snap
			sc.Report(executor.Progress{Line: fmt.Sprintf("stack %s: final snapshot of database %s: %s", name, r.LogicalID, snap)})
		case r.Type == tmpl.TypeBucket && o.S3 != nil && r.PhysicalID != "":
			_, err := o.S3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(r.PhysicalID)})
			var nf *s3types.NotFound
			if errorAs(err, &nf) || errorCode(err) == "NotFound" || errorCode(err) == "NoSuchBucket" {
				continue
			}
			if err != nil {
				return nil, fmt.Errorf("look for bucket %s after deleting stack %s: %w", r.PhysicalID, name, err)
			}
			d.LeftBehind = append(d.LeftBehind, r)
			sc.Report(executor.Progress{Line: fmt.Sprintf("stack %s is deleted but its bucket %s (%s) still exists", name, r.LogicalID, r.PhysicalID)})
		}
	}
	if len(d.LeftBehind) > 0 {
		return d, &LeftBehindError{Stack: name, Buckets: d.LeftBehind}
	}
	return d, nil
}

// finalSnapshot finds the newest manual snapshot of instance made since
// the delete began ("" when none, or no RDS client). envmig's own
// snapshots (named envmig-<run>-...) are not CloudFormation's.
func (o *Ops) finalSnapshot(ctx context.Context, instance string, since time.Time) (string, error) {
	if o.RDS == nil || instance == "" {
		return "", nil
	}
	var best *rdstypes.DBSnapshot
	p := rds.NewDescribeDBSnapshotsPaginator(o.RDS, &rds.DescribeDBSnapshotsInput{DBInstanceIdentifier: aws.String(instance), SnapshotType: aws.String("manual")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if errorCode(err) == "DBInstanceNotFound" {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("look for the final snapshot of database %s: %w", instance, err)
		}
		for i := range page.DBSnapshots {
			sn := &page.DBSnapshots[i]
			created := aws.ToTime(sn.SnapshotCreateTime)
			if strings.HasPrefix(aws.ToString(sn.DBSnapshotIdentifier), "envmig-") {
				continue // a run's own snapshot (taken just before), not CloudFormation's
			}
			if !since.IsZero() && created.Before(since.Add(-time.Minute)) {
				continue
			}
			if best == nil || created.After(aws.ToTime(best.SnapshotCreateTime)) {
				best = sn
			}
		}
	}
	if best == nil {
		return "", nil
	}
	return aws.ToString(best.DBSnapshotIdentifier), nil
}

func retained(policy string) bool {
	return policy == "Retain" || policy == "RetainExceptOnCreate"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
