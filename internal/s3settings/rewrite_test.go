package s3settings_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/s3settings"
)

func TestRewrite(t *testing.T) {
	policy := `{"Version":"2012-10-17","Statement":[
	 {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:root"},"Action":"s3:*","Resource":["arn:aws:s3:::old","arn:aws:s3:::old/*","arn:aws-cn:s3:::old/a/b"]},
	 {"Effect":"Deny","Principal":"*","Action":"s3:*","NotResource":"arn:aws:s3:::old-archive/*","Condition":{"ArnLike":{"aws:SourceArn":"arn:aws:s3:::old"},"StringEquals":{"s3:prefix":"old"}}},
	 {"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::old*","Condition":{"NumericLessThan":{"s3:max-keys":10000000000000000001}}}]}`
	cfg := &s3settings.Config{Bucket: "old", States: map[s3settings.Name]s3settings.State{
		s3settings.Policy: s3settings.Present, s3settings.Logging: s3settings.Present, s3settings.Lifecycle: s3settings.Absent}, Policy: policy,
		Logging: &types.LoggingEnabled{TargetBucket: aws.String("old"), TargetPrefix: aws.String("logs/")}}
	rw, mentions := s3settings.PolicyMentions(policy, "old")
	if rw != 4 || mentions != 2 {
		t.Errorf("PolicyMentions = %d rewritten, %d other; want 4, 2", rw, mentions)
	}
	got := cfg.Rewrite("old", "new")
	for _, want := range []string{`"arn:aws:s3:::new"`, `"arn:aws:s3:::new/*"`, `"arn:aws-cn:s3:::new/a/b"`, `"aws:SourceArn":"arn:aws:s3:::new"`,
		`"arn:aws:s3:::old-archive/*"`, `"s3:prefix":"old"`, `"arn:aws:s3:::old*"`, `10000000000000000001`} {
		if !strings.Contains(got.Policy, want) {
			t.Errorf("rewritten policy lacks %s:\n%s", want, got.Policy)
		}
	}
	if strings.Contains(got.Policy, `"arn:aws:s3:::old"`) || strings.Contains(got.Policy, `:::old/`) {
		t.Errorf("rewritten policy still names the old bucket's ARN:\n%s", got.Policy)
	}
	if aws.ToString(got.Logging.TargetBucket) != "new" || aws.ToString(got.Logging.TargetPrefix) != "logs/" {
		t.Errorf("logging = %+v, want target new, prefix logs/", got.Logging)
	}
	if cfg.Policy != policy || aws.ToString(cfg.Logging.TargetBucket) != "old" || got.Bucket != "new" {
		t.Errorf("Rewrite changed its receiver or did not rename the copy")
	}
	// Same name: the content is unchanged.
	same := cfg.Rewrite("old", "old")
	if !same.Equal(cfg, s3settings.Policy) || !same.Equal(cfg, s3settings.Logging) {
		t.Errorf("Rewrite(old, old) changed the settings")
	}
	// Logging into another bucket is not rewritten.
	cfg.Logging.TargetBucket = aws.String("central-logs")
	if got := cfg.Rewrite("old", "new"); aws.ToString(got.Logging.TargetBucket) != "central-logs" {
		t.Errorf("logging target %s, want central-logs kept", aws.ToString(got.Logging.TargetBucket))
	}
}

// TestCanonicalOrder: the order S3 gives no meaning to does not change a
// digest; content and CORS order do.
func TestCanonicalOrder(t *testing.T) {
	rule := func(id string, days int32) types.LifecycleRule {
		return types.LifecycleRule{ID: aws.String(id), Status: types.ExpirationStatusEnabled, Expiration: &types.LifecycleExpiration{Days: aws.Int32(days)}}
	}
	cors := func(origin string) types.CORSRule {
		return types.CORSRule{AllowedMethods: []string{"GET"}, AllowedOrigins: []string{origin}}
	}
	mk := func(rules []types.LifecycleRule, c []types.CORSRule, tags map[string]string, policy string) *s3settings.Config {
		return &s3settings.Config{States: map[s3settings.Name]s3settings.State{s3settings.Lifecycle: s3settings.Present, s3settings.CORS: s3settings.Present,
			s3settings.Tags: s3settings.Present, s3settings.Policy: s3settings.Present},
			Lifecycle: &s3settings.LifecycleConfig{Rules: rules}, CORS: c, Tags: tags, Policy: policy}
	}
	a := mk([]types.LifecycleRule{rule("a", 1), rule("b", 2)}, []types.CORSRule{cors("x"), cors("y")}, map[string]string{"k": "v", "envmig:run": "1"}, `{"Version":"2012-10-17", "Statement":[]}`)
	b := mk([]types.LifecycleRule{rule("b", 2), rule("a", 1)}, []types.CORSRule{cors("y"), cors("x")}, map[string]string{"k": "v", "envmig:run": "2"}, `{"Statement":[],"Version":"2012-10-17"}`)
	c := mk([]types.LifecycleRule{rule("b", 3), rule("a", 1)}, nil, map[string]string{"k": "w"}, `{"Statement":[{}],"Version":"2012-10-17"}`)
	got := map[s3settings.Name][2]bool{}
	for _, n := range []s3settings.Name{s3settings.Lifecycle, s3settings.CORS, s3settings.Tags, s3settings.Policy} {
		got[n] = [2]bool{a.Digest(n) == b.Digest(n), a.Digest(n) == c.Digest(n)}
	}
	want := map[s3settings.Name][2]bool{
		s3settings.Lifecycle: {true, false}, // rule order is not meaningful; a rule's content is
		s3settings.CORS:      {false, false},
		s3settings.Tags:      {true, false}, // envmig's tags are not digested
		s3settings.Policy:    {true, false}, // key order and spacing are not meaningful
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("digest equalities [a==b, a==c] (-want +got):\n%s", diff)
	}
}
