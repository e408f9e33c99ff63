package s3settings

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
)

// Encode returns c as JSON, for a journal.
func (c *Config) Encode() (string, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return "", fmt.Errorf("encode the settings of bucket %s: %w", c.Bucket, err)
	}
	return string(b), nil
}

// Decode reads what Encode wrote.
func Decode(s string) (*Config, error) {
	var c Config
	if err := json.Unmarshal([]byte(s), &c); err != nil {
		return nil, fmt.Errorf("decode bucket settings: %w", err)
	}
	if c.States == nil {
		c.States = map[Name]State{}
	}
	return &c, nil
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	s, err := c.Encode()
	if err != nil {
		panic(err) // plain data only
	}
	out, err := Decode(s)
	if err != nil {
		panic(err)
	}
	return out
}

// s3ARN matches an S3 ARN in any partition; group 1 is what follows ":::".
var s3ARN = regexp.MustCompile(`^arn:[a-z0-9-]+:s3:::(.*)$`)

// Rewrite returns a copy of c for a bucket that takes the place of bucket
// old under the name new. It rewrites the bucket's own name where the
// configuration names the bucket itself:
//   - in the policy, every string value that is the bucket's ARN
//     ("arn:aws:s3:::OLD", in any partition) or an ARN of its objects
//     ("arn:aws:s3:::OLD/..."), wherever it appears (Resource, NotResource,
//     Condition values);
//   - the logging target, when the bucket logs into itself.
//
// It does not rewrite anything else: ARNs with a wildcard that covers the old
// name ("arn:aws:s3:::OLD*"), the bare name in a condition (s3:prefix,
// aws:SourceArn written without "arn:"), other buckets' ARNs, website
// redirect host names, or the resource policies of notification targets and
// replication roles, which live outside the bucket (PolicyMentions counts
// the mentions left in the policy; the planner warns about the rest). The
// policy comes back re-encoded with sorted keys. With old == new, Rewrite
// returns an unchanged copy.
func (c *Config) Rewrite(old, new string) *Config {
	out := c.Clone()
	out.Bucket = new
	if old == new {
		return out
	}
	if out.States[Policy] == Present {
		if v, err := parseJSON(out.Policy); err == nil {
			v = walkStrings(v, func(s string) string {
				m := s3ARN.FindStringSubmatch(s)
				if m == nil {
					return s
				}
				prefix := strings.TrimSuffix(s, m[1])
				switch {
				case m[1] == old:
					return prefix + new
				case strings.HasPrefix(m[1], old+"/"):
					return prefix + new + strings.TrimPrefix(m[1], old)
				}
				return s
			})
			out.Policy = string(encodeJSON(v))
		}
	}
	if out.States[Logging] == Present && aws.ToString(out.Logging.TargetBucket) == old {
		out.Logging.TargetBucket = aws.String(new)
	}
	return out
}

// PolicyMentions counts the string values of a policy document that name
// bucket: ARNs Rewrite rewrites (the bucket's ARN and its objects' ARNs),
// and other mentions it leaves alone (the bare name, an ARN with a wildcard
// right after the name). A document that does not parse has no mentions.
func PolicyMentions(doc, bucket string) (rewritten, other int) {
	v, err := parseJSON(doc)
	if err != nil {
		return 0, 0
	}
	walkStrings(v, func(s string) string {
		if s == bucket {
			other++
			return s
		}
		m := s3ARN.FindStringSubmatch(s)
		switch {
		case m == nil:
		case m[1] == bucket || strings.HasPrefix(m[1], bucket+"/"):
			rewritten++
		case strings.HasPrefix(m[1], bucket+"*") || strings.HasPrefix(m[1], bucket+"?"):
			other++
		}
		return s
	})
	return rewritten, other
}

// walkStrings replaces every string value (not object keys) of a parsed
// JSON document by f's answer.
func walkStrings(v any, f func(string) string) any {
	switch x := v.(type) {
	case string:
		return f(x)
	case []any:
		for i := range x {
			x[i] = walkStrings(x[i], f)
		}
	case map[string]any:
		for k := range x {
			x[k] = walkStrings(x[k], f)
		}
	}
	return v
}

// encodeJSON encodes v compactly with sorted keys and without HTML escaping.
func encodeJSON(v any) []byte {
	var b bytes.Buffer
	e := json.NewEncoder(&b)
	e.SetEscapeHTML(false)
	if err := e.Encode(v); err != nil {
		panic(fmt.Sprintf("s3settings: encode JSON: %v", err)) // parsed JSON only
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}
