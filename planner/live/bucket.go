package live

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// bucket reads one bucket: its region first, with the default client, then
// everything else with a client of that region. A missing bucket has Exists
// false.
func (o *observation) bucket(ctx context.Context, name string, count bool) (*Bucket, error) {
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
		if err := o.countObjects(ctx, c, b); err != nil {
			return nil, readError(what, "s3:ListBucket", err)
		}
	}
	return b, nil
}

// actionError is a failed read and the IAM action it needed.
type actionError struct {
	action string
	err    error
}

// readSettings reads versioning, default encryption, tags, policy and
// object lock. The "not configured" errors S3 answers with are observations.
func readSettings(ctx context.Context, c S3API, b *Bucket) *actionError {
	name := aws.String(b.Name)
	ver, err := c.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: name})
	if err != nil {
		return &actionError{"s3:GetBucketVersioning", err}
	}
	b.Versioning = string(ver.Status)

	enc, err := c.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: name})
	switch {
	case errorCode(err) == "ServerSideEncryptionConfigurationNotFoundError":
	case err != nil:
		return &actionError{"s3:GetEncryptionConfiguration", err}
	case enc.ServerSideEncryptionConfiguration != nil:
		for _, rule := range enc.ServerSideEncryptionConfiguration.Rules {
			if d := rule.ApplyServerSideEncryptionByDefault; d != nil {
				b.Encryption = string(d.SSEAlgorithm)
				break
			}
		}
	}

	b.Tags = map[string]string{}
	tags, err := c.GetBucketTagging(ctx, &s3.GetBucketTaggingInput{Bucket: name})
	switch {
	case errorCode(err) == "NoSuchTagSet":
	case err != nil:
		return &actionError{"s3:GetBucketTagging", err}
	default:
		for _, t := range tags.TagSet {
			b.Tags[aws.ToString(t.Key)] = aws.ToString(t.Value)
		}
	}

	pol, err := c.GetBucketPolicy(ctx, &s3.GetBucketPolicyInput{Bucket: name})
	switch {
	case errorCode(err) == "NoSuchBucketPolicy":
	case err != nil:
		return &actionError{"s3:GetBucketPolicy", err}
	default:
		b.HasPolicy = true
		cond, err := policyHasConditions(aws.ToString(pol.Policy))
		if err != nil {
			return &actionError{"s3:GetBucketPolicy", err}
		}
		b.PolicyHasConditions = cond
	}

	lock, err := c.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: name})
	switch {
	case errorCode(err) == "ObjectLockConfigurationNotFoundError":
	case err != nil:
		return &actionError{"s3:GetBucketObjectLockConfiguration", err}
	case lock.ObjectLockConfiguration != nil:
		b.ObjectLock = lock.ObjectLockConfiguration.ObjectLockEnabled == s3types.ObjectLockEnabledEnabled
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
