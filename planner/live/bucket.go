package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/envmig/envmig/internal/s3settings"
)

// bucket reads one bucket: its region first, with the default client, then
// everything else with a client of that region. A missing bucket has Exists
// false.
func (o *observation) bucket(ctx context.Context, name string, count bool, modifiedSince time.Time) (*Bucket, error) {
	what := fmt.Sprintf("bucket %q", name)
	b := &Bucket{Name: name}
	loc, err := o.s3("").GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String(name)})
	switch {
	case bucketMissing(err):
		return b, nil
	case err != nil:
		return nil, readError(what, "s3:GetBucketLocation", ownedElsewhere(err))
	}
	b.Region = bucketRegion(loc.LocationConstraint)
	c := o.s3(b.Region)
	// HeadBucket needs s3:ListBucket, which every later listing needs too.
	_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String(name)})
	switch {
	case bucketMissing(err):
		return &Bucket{Name: name}, nil
	case err != nil:
		return nil, readError(what, "s3:ListBucket", ownedElsewhere(err))
	}
	b.Exists = true
	if err := readSettings(ctx, c, b); err != nil {
		return nil, readError(what, err.action, err.err)
	}
	if count {
		if err := o.countObjects(ctx, c, b, modifiedSince); err != nil {
			return nil, readError(what, "s3:ListBucket", err)
		}
		// A versioned bucket's history is what a copy of its current
		// objects alone would lose.
		if b.Versioning != "" {
			h, err := CountHistory(ctx, limitedLister{api: c, slots: o.lists}, b.Name, o.r.objectCap(), o.r.concurrency())
			if err != nil {
				return nil, readError(what, "s3:ListBucketVersions", err)
			}
			b.NoncurrentVersions, b.DeleteMarkers, b.HistoryTruncated = h.Noncurrent, h.DeleteMarkers, h.Truncated
			b.ArchivedNoncurrent = h.ArchivedNoncurrent
		}
	}
	return b, nil
}

// actionError is a failed read and the IAM action it needed.
type actionError struct {
	action string
	err    error
}

// readSettings reads versioning, then every bucket setting (s3settings.All)
// through s3settings.Read, which the executor uses too, so that both compute
// the same digests. "Not configured" answers are observations (Absent), and
// so are reads the endpoint does not implement (Unsupported, HTTP 501: an
// S3-compatible server without the feature); any other failure is an error
// naming the IAM action the read needs. The policy's text is not kept, only
// its digest and what the planner needs to know of it.
func readSettings(ctx context.Context, c S3API, b *Bucket) *actionError {
	name := aws.String(b.Name)
	ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: name})
	if err != nil {
		return &actionError{"s3:GetBucketVersioning", err}
	}
	b.Versioning = string(ver.Status)

	cfg, err := s3settings.Read(ctx, c, b.Name)
	if err != nil {
		var re *s3settings.ReadError
		if errors.As(err, &re) {
			return &actionError{re.Action, re.Err}
		}
		return &actionError{"s3:GetBucketPolicy", err}
	}
	if err := observeSettings(b, cfg); err != nil {
		return err
	}
	return nil
}

// observeSettings fills b's setting fields from what was read.
func observeSettings(b *Bucket, cfg *s3settings.Config) *actionError {
	b.Settings = make(map[string]BucketSetting, len(s3settings.All))
	for _, n := range s3settings.All {
		b.Settings[string(n)] = BucketSetting{State: string(cfg.State(n)), Summary: cfg.Summary(n), Digest: cfg.Digest(n)}
	}
	present := func(n s3settings.Name) bool { return cfg.State(n) == s3settings.Present }

	b.Tags = map[string]string{}
	for k, v := range cfg.Tags {
		b.Tags[k] = v
	}
	if present(s3settings.Encryption) {
		for _, rule := range cfg.Encryption.Rules {
			if d := rule.ApplyServerSideEncryptionByDefault; d != nil {
				b.Encryption = string(d.SSEAlgorithm)
				b.EncryptionKMSKey = aws.ToString(d.KMSMasterKeyID)
				b.EncryptionBucketKey = aws.ToBool(rule.BucketKeyEnabled)
				break
			}
		}
	}
	if present(s3settings.Policy) {
		b.HasPolicy = true
		cond, err := policyHasConditions(cfg.Policy)
		if err != nil {
			return &actionError{"s3:GetBucketPolicy", err}
		}
		b.PolicyHasConditions = cond
		_, b.PolicyNameMentions = s3settings.PolicyMentions(cfg.Policy, b.Name)
	}
	if present(s3settings.ObjectLock) {
		b.ObjectLock = true
		if r := cfg.ObjectLock.Rule; r != nil && r.DefaultRetention != nil {
			b.ObjectLockRetention = s3settings.RetentionString(r.DefaultRetention)
		}
	}
	b.NotificationTargets = cfg.NotificationTargets()
	b.NotificationEventBridge = present(s3settings.Notifications) && cfg.Notifications.EventBridgeConfiguration != nil
	if present(s3settings.Logging) {
		b.LoggingTarget = aws.ToString(cfg.Logging.TargetBucket)
	}
	if present(s3settings.Replication) {
		b.ReplicationRole = aws.ToString(cfg.Replication.Role)
		b.ReplicationDestinations = cfg.ReplicationDestinations()
	}
	return nil
}

// bucketRegion maps a LocationConstraint to its region: none is us-east-1,
// the legacy "EU" is eu-west-1.
func bucketRegion(c s3types.BucketLocationConstraint) string {
	switch c {
	case "":
		return "us-east-1"
	case s3types.BucketLocationConstraintEu:
		return "eu-west-1"
	}
	return string(c)
}

// bucketMissing reports the answers of GetBucketLocation and HeadBucket for
// a bucket that does not exist.
func bucketMissing(err error) bool {
	if err == nil {
		return false
	}
	var noSuch *s3types.NoSuchBucket
	var notFound *s3types.NotFound
	return errors.As(err, &noSuch) || errors.As(err, &notFound) ||
		errorCode(err) == "NoSuchBucket" || httpStatus(err) == http.StatusNotFound
}

// ownedElsewhere adds the likely reason to a denied read of a bucket's
// existence: bucket names are global, and S3 answers 403 for a bucket that
// another account owns.
func ownedElsewhere(err error) error {
	if isAccessDenied(err) {
		return fmt.Errorf("%w (or the bucket belongs to another AWS account)", err)
	}
	return err
}

// policyHasConditions reports whether any statement of a bucket policy has
// a Condition. Statement may be one object or a list of them.
func policyHasConditions(policy string) (bool, error) {
	var doc struct {
		Statement json.RawMessage
	}
	if err := json.Unmarshal([]byte(policy), &doc); err != nil {
		return false, fmt.Errorf("parse the bucket policy: %w", err)
	}
	if len(doc.Statement) == 0 {
		return false, nil
	}
	type statement struct {
		Condition map[string]json.RawMessage
	}
	var list []statement
	if err := json.Unmarshal(doc.Statement, &list); err != nil {
		var one statement
		if err := json.Unmarshal(doc.Statement, &one); err != nil {
			return false, fmt.Errorf("parse the bucket policy's statements: %w", err)
		}
		list = []statement{one}
	}
	for _, s := range list {
		if len(s.Condition) > 0 {
			return true, nil
		}
	}
	return false, nil
}
