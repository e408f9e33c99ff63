package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/iampolicy"
)

func TestSpecLevelPolicySaysSo(t *testing.T) {
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	r := c.Must(0, "iam-policy")
	if !strings.Contains(r.Stderr, "spec-level policy") || !strings.Contains(r.Stderr, "iam-policy PLANFILE") {
		t.Fatalf("iam-policy without a plan does not say it is the broader one:\n%s", r)
	}
	var p iampolicy.Policy
	if err := json.Unmarshal([]byte(r.Stdout), &p); err != nil {
		t.Fatalf("stdout is not only the policy: %v", err)
	}
}
