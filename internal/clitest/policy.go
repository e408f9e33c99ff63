package clitest

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/envmig/envmig/internal/iampolicy"
)

// PlanPolicy is `envmig iam-policy PLANFILE`, checked to name only the
// plan's resources for destructive actions.
func PlanPolicy(t testing.TB, c *CLI, planFile string) iampolicy.Policy {
	t.Helper()
	r := c.Must(0, "iam-policy", planFile)
	var p iampolicy.Policy
	if err := json.Unmarshal([]byte(r.Stdout), &p); err != nil {
		t.Fatalf("iam-policy is not a policy: %v\n%s", err, r.Stdout)
	}
	if strings.Contains(r.Stderr, "spec-level") {
		t.Fatalf("the policy of a plan calls itself spec-level:\n%s", r.Stderr)
	}
	for _, st := range p.Statement {
		for _, a := range st.Action {
			if !iampolicy.Destructive(a) {
				continue
			}
			for _, res := range st.Resource {
				if wildcard(res) {
					t.Errorf("statement %s grants the destructive %s on the wildcard resource %s", st.Sid, a, res)
				}
			}
		}
		for _, res := range st.Resource {
			if wildcard(res) && st.Sid != "EnvmigRead" && st.Condition == nil {
				t.Errorf("statement %s grants %v on the wildcard resource %s without a condition", st.Sid, st.Action, res)
			}
		}
	}
	// Nothing outside the plan: the same destructive actions on
	// resources the plan does not name are not allowed.
	acct, region := "123456789012", "us-east-1"
	for action, res := range map[string]string{
		"s3:DeleteBucket":                    "bucket:someone-elses-bucket",
		"s3:DeleteObject":                    "object:someone-elses-bucket/k",
		"s3:PutObject":                       "object:someone-elses-bucket/k",
		"rds:DeleteDBInstance":               "db:someone-elses-db",
		"rds:ModifyDBInstance":               "db:someone-elses-db",
		"rds:DeleteDBSnapshot":               "snapshot:envmig-0therrun-main",
		"autoscaling:EnterStandby":           "group:someone-elses-group",
		"autoscaling:UpdateAutoScalingGroup": "group:someone-elses-group",
	} {
		if arn := iampolicy.ARN(res, acct, region); p.Allows(action, arn) {
			t.Errorf("the plan's policy allows %s on %s, which the plan does not name", action, arn)
		}
	}
	return p
}

// wildcard reports whether an IAM resource pattern matches resources no
// plan names: "*" anywhere but in an object key under a named bucket
// (arn:aws:s3:::NAME/*) or in the ID of a named Auto Scaling group.
func wildcard(res string) bool {
	if bucket, ok := strings.CutPrefix(res, "arn:aws:s3:::"); ok {
		name, key, isObject := strings.Cut(bucket, "/")
		return strings.Contains(name, "*") || (!isObject && strings.Contains(key, "*"))
	}
	if i := strings.Index(res, ":autoScalingGroup:*:autoScalingGroupName/"); i >= 0 {
		return strings.Contains(res[:i], "*") || strings.Contains(res[i+len(":autoScalingGroup:*:autoScalingGroupName/"):], "*")
	}
	if i := strings.Index(res, ":stack/"); i >= 0 && strings.HasPrefix(res, "arn:aws:cloudformation:") {
		// stack/NAME/* names one stack: the * is its ID, which a stack
		// gets only when it is created.
		name, id, _ := strings.Cut(res[i+len(":stack/"):], "/")
		return strings.Contains(res[:i], "*") || strings.Contains(name, "*") || id != "*"
	}
	return strings.Contains(res, "*")
}

// AllowedByPlanPolicy fails when a call c made is not allowed by p.
func AllowedByPlanPolicy(t testing.TB, c *CLI, p iampolicy.Policy) {
	t.Helper()
	c.Calls()
	if d := c.Denied(p, "123456789012", "us-east-1"); len(d) > 0 {
		t.Fatalf("the plan's own IAM policy does not allow %d of the run's calls:\n  %s", len(d), strings.Join(d, "\n  "))
	}
	if c.CallCount() == 0 {
		t.Fatal("no call was traced: the policy check proves nothing")
	}
	t.Logf("the plan's policy allows all %d calls of the run", c.CallCount())
}
