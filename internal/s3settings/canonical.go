package s3settings

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// Digests of the states without content.
const (
	DigestAbsent      = "absent"
	DigestUnsupported = "unsupported"
)

// CarriedTags returns the bucket's user tags: every tag but envmig's own
// ("envmig:...") and those AWS reserves ("aws:...", which no caller can
// set). It returns an empty map, never nil.
func (c *Config) CarriedTags() map[string]string {
	out := map[string]string{}
	for k, v := range c.Tags {
		if strings.HasPrefix(k, "envmig:") || strings.HasPrefix(k, "aws:") {
			continue
		}
		out[k] = v
	}
	return out
}

// Canonical returns the canonical form of setting n (see the package doc),
// nil when it is not Present.
func (c *Config) Canonical(n Name) []byte {
	if c.States[n] != Present {
		return nil
	}
	var v any
	switch n {
	case Policy:
		return canonicalJSON(c.Policy)
	case PublicAccessBlock:
		p := c.PublicAccessBlock
		v = [4]bool{aws.ToBool(p.BlockPublicAcls), aws.ToBool(p.IgnorePublicAcls), aws.ToBool(p.BlockPublicPolicy), aws.ToBool(p.RestrictPublicBuckets)}
	case Ownership:
		v = c.Ownership.Rules
	case Encryption:
		v = c.Encryption.Rules
	case Lifecycle:
		l := *c.Lifecycle
		l.Rules = slices.Clone(l.Rules)
		slices.SortStableFunc(l.Rules, func(a, b types.LifecycleRule) int { return cmp.Compare(aws.ToString(a.ID), aws.ToString(b.ID)) })
		v = l
	case CORS:
		v = c.CORS
	case Notifications:
		n := *c.Notifications
		n.LambdaFunctionConfigurations = sortedBy(n.LambdaFunctionConfigurations, func(x types.LambdaFunctionConfiguration) string { return aws.ToString(x.Id) })
		n.QueueConfigurations = sortedBy(n.QueueConfigurations, func(x types.QueueConfiguration) string { return aws.ToString(x.Id) })
		n.TopicConfigurations = sortedBy(n.TopicConfigurations, func(x types.TopicConfiguration) string { return aws.ToString(x.Id) })
		v = n
	case Logging:
		v = c.Logging
	case Website:
		v = c.Website
	case RequestPayment:
		v = c.RequestPayer
	case Tags:
		v = c.CarriedTags() // encoding/json sorts map keys
	case ObjectLock:
		v = c.ObjectLock
	case Replication:
		r := *c.Replication
		r.Rules = sortedBy(r.Rules, func(x types.ReplicationRule) string { return aws.ToString(x.ID) })
		v = r
	case Accelerate:
		v = c.Accelerate
	default:
		panic(fmt.Sprintf("s3settings: unknown setting %q", n))
	}
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("s3settings: encode %s: %v", n, err)) // plain data only
	}
	return b
}

func sortedBy[T any](s []T, key func(T) string) []T {
	s = slices.Clone(s)
	slices.SortStableFunc(s, func(a, b T) int { return cmp.Compare(key(a), key(b)) })
	return s
}

// canonicalJSON re-encodes a JSON document with sorted object keys and
// numbers as written; a document that does not parse is kept as it is.
func canonicalJSON(doc string) []byte {
	v, err := parseJSON(doc)
	if err != nil {
		return []byte(doc)
	}
	return encodeJSON(v)
}

func parseJSON(doc string) (any, error) {
	d := json.NewDecoder(strings.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

// Digest returns setting n's digest: 16 hex digits of the SHA-256 of its
// canonical form when Present, DigestAbsent or DigestUnsupported otherwise,
// and "" when n was not read.
func (c *Config) Digest(n Name) string {
	switch c.States[n] {
	case Present:
		sum := sha256.Sum256(c.Canonical(n))
		return hex.EncodeToString(sum[:8])
	case Absent:
		return DigestAbsent
	case Unsupported:
		return DigestUnsupported
	}
	return ""
}

// Equal reports whether setting n has the same state and canonical form in
// c and o.
func (c *Config) Equal(o *Config, n Name) bool {
	return c.States[n] == o.States[n] && bytes.Equal(c.Canonical(n), o.Canonical(n))
}

// Label is how plans name setting n: "lifecycle", "public access block".
func Label(n Name) string {
	switch n {
	case PublicAccessBlock:
		return "public access block"
	case Ownership:
		return "object ownership"
	case Encryption:
		return "default encryption"
	case CORS:
		return "CORS"
	case Logging:
		return "access logging"
	case RequestPayment:
		return "request payment"
	case ObjectLock:
		return "object lock"
	case Accelerate:
		return "transfer acceleration"
	}
	return string(n)
}

// Summary is one line for a plan: "lifecycle: 3 rules", "notifications: 2
// (Lambda, SQS)", "CORS: none", "website: not supported by this endpoint".
func (c *Config) Summary(n Name) string {
	return Label(n) + ": " + c.describe(n)
}

func (c *Config) describe(n Name) string {
	switch c.States[n] {
	case Absent:
		return "none"
	case Unsupported:
		return "not supported by this endpoint"
	case Present:
	default:
		return "not read"
	}
	switch n {
	case Policy:
		s, cond := policyShape(c.Policy)
		if cond {
			return plural(s, "statement") + ", with conditions"
		}
		return plural(s, "statement")
	case PublicAccessBlock:
		p := c.PublicAccessBlock
		var on []string
		for _, f := range []struct {
			name string
			v    *bool
		}{{"BlockPublicAcls", p.BlockPublicAcls}, {"IgnorePublicAcls", p.IgnorePublicAcls}, {"BlockPublicPolicy", p.BlockPublicPolicy}, {"RestrictPublicBuckets", p.RestrictPublicBuckets}} {
			if aws.ToBool(f.v) {
				on = append(on, f.name)
			}
		}
		switch len(on) {
		case 4:
			return "all public access blocked"
		case 0:
			return "nothing blocked"
		}
		return strings.Join(on, ", ")
	case Ownership:
		var o []string
		for _, r := range c.Ownership.Rules {
			o = append(o, string(r.ObjectOwnership))
		}
		return strings.Join(o, ", ")
	case Encryption:
		return describeEncryption(c.Encryption)
	case Lifecycle:
		return plural(len(c.Lifecycle.Rules), "rule")
	case CORS:
		return plural(len(c.CORS), "rule")
	case Notifications:
		n := c.Notifications
		var kinds []string
		count := 0
		add := func(k int, kind string) {
			if k > 0 {
				count += k
				kinds = append(kinds, kind)
			}
		}
		if n.EventBridgeConfiguration != nil {
			add(1, "EventBridge")
		}
		add(len(n.LambdaFunctionConfigurations), "Lambda")
		add(len(n.TopicConfigurations), "SNS")
		add(len(n.QueueConfigurations), "SQS")
		return fmt.Sprintf("%d (%s)", count, strings.Join(kinds, ", "))
	case Logging:
		return "to s3://" + aws.ToString(c.Logging.TargetBucket) + "/" + aws.ToString(c.Logging.TargetPrefix)
	case Website:
		w := c.Website
		if w.RedirectAllRequestsTo != nil {
			return "redirects every request to " + aws.ToString(w.RedirectAllRequestsTo.HostName)
		}
		s := "index document " + aws.ToString(indexSuffix(w))
		if w.ErrorDocument != nil {
			s += ", error document " + aws.ToString(w.ErrorDocument.Key)
		}
		if len(w.RoutingRules) > 0 {
			s += ", " + plural(len(w.RoutingRules), "routing rule")
		}
		return s
	case RequestPayment:
		return "requester pays"
	case Tags:
		t := c.CarriedTags()
		return fmt.Sprintf("%d (%s)", len(t), strings.Join(slices.Sorted(maps.Keys(t)), ", "))
	case ObjectLock:
		if r := c.ObjectLock.Rule; r != nil && r.DefaultRetention != nil {
			return "enabled, default retention " + RetentionString(r.DefaultRetention)
		}
		return "enabled, no default retention"
	case Replication:
		return fmt.Sprintf("%s to %s (role %s)", plural(len(c.Replication.Rules), "rule"),
			strings.Join(c.ReplicationDestinations(), ", "), aws.ToString(c.Replication.Role))
	case Accelerate:
		return "enabled"
	}
	return "present"
}

func indexSuffix(w *types.WebsiteConfiguration) *string {
	if w.IndexDocument == nil {
		return aws.String("(none)")
	}
	return w.IndexDocument.Suffix
}

func describeEncryption(e *types.ServerSideEncryptionConfiguration) string {
	for _, r := range e.Rules {
		d := r.ApplyServerSideEncryptionByDefault
		if d == nil {
			continue
		}
		var s string
		switch d.SSEAlgorithm {
		case types.ServerSideEncryptionAes256:
			s = "SSE-S3"
		case types.ServerSideEncryptionAwsKms:
			s = "SSE-KMS"
		case types.ServerSideEncryptionAwsKmsDsse:
			s = "DSSE-KMS"
		default:
			s = string(d.SSEAlgorithm)
		}
		if k := aws.ToString(d.KMSMasterKeyID); k != "" {
			s += " with key " + k
		} else if d.SSEAlgorithm != types.ServerSideEncryptionAes256 {
			s += " with the AWS managed key"
		}
		if aws.ToBool(r.BucketKeyEnabled) {
			s += ", bucket key on"
		}
		return s
	}
	return plural(len(e.Rules), "rule")
}

// RetentionString renders a default retention: "GOVERNANCE 30 days".
func RetentionString(r *types.DefaultRetention) string {
	switch {
	case r.Days != nil:
		return fmt.Sprintf("%s %s", r.Mode, plural(int(*r.Days), "day"))
	case r.Years != nil:
		return fmt.Sprintf("%s %s", r.Mode, plural(int(*r.Years), "year"))
	}
	return string(r.Mode)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// policyShape counts a policy's statements and tells whether one has a
// Condition. A document that does not parse counts as one statement.
func policyShape(doc string) (statements int, conditions bool) {
	var d struct {
		Statement json.RawMessage
	}
	if json.Unmarshal([]byte(doc), &d) != nil || len(d.Statement) == 0 {
		return 1, false
	}
	type statement struct {
		Condition map[string]json.RawMessage
	}
	var list []statement
	if json.Unmarshal(d.Statement, &list) != nil {
		var one statement
		if json.Unmarshal(d.Statement, &one) != nil {
			return 1, false
		}
		list = []statement{one}
	}
	for _, s := range list {
		if len(s.Condition) > 0 {
			conditions = true
		}
	}
	return len(list), conditions
}

// NotificationTargets returns the ARNs of the Lambda functions, SNS topics
// and SQS queues the bucket's notifications go to, sorted, without
// duplicates.
func (c *Config) NotificationTargets() []string {
	if c.States[Notifications] != Present {
		return nil
	}
	var out []string
	n := c.Notifications
	for _, x := range n.LambdaFunctionConfigurations {
		out = append(out, aws.ToString(x.LambdaFunctionArn))
	}
	for _, x := range n.TopicConfigurations {
		out = append(out, aws.ToString(x.TopicArn))
	}
	for _, x := range n.QueueConfigurations {
		out = append(out, aws.ToString(x.QueueArn))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// ReplicationDestinations returns the destination bucket ARNs of the
// bucket's replication rules, sorted, without duplicates.
func (c *Config) ReplicationDestinations() []string {
	if c.States[Replication] != Present {
		return nil
	}
	var out []string
	for _, r := range c.Replication.Rules {
		if r.Destination != nil {
			out = append(out, aws.ToString(r.Destination.Bucket))
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
