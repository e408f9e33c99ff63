package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestGitHubAnnotationsForConfigDiagnostics(t *testing.T) {
	c := newCLI(t, `environment "production" {
  bucket "uploads" {
    nmae = "shop-uploads"
  }
}
`)
	c.env = []string{"GITHUB_ACTIONS=true"}
	r := c.must(exitError, "validate")
	want := `::error file=main.envmig.hcl,line=3,col=5,endLine=3,endColumn=9,title=Unsupported argument::Unsupported argument: An argument named "nmae" is not expected in a bucket block. Did you mean "name"?`
	if !strings.Contains(r.stdout, want+"\n") {
		t.Fatalf("want the annotation line\n%s\ngot:\n%s", want, r)
	}
	if !strings.Contains(r.stderr, "main.envmig.hcl line 3") {
		t.Fatalf("the human diagnostic is still printed:\n%s", r)
	}
	c.env = nil
	if r := c.must(exitError, "validate"); strings.Contains(r.stdout, "::error") {
		t.Fatalf("annotations outside GitHub Actions:\n%s", r)
	}
}

func TestGitHubStepSummaryGetsTheMarkdownPlan(t *testing.T) {
	seedShop(t)
	c := newCLI(t, shopSpec("rename-swap"))
	summary := filepath.Join(c.dir, "summary.md")
	c.env = []string{"GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY=" + summary}
	c.must(exitChanges, "plan", "-detailed-exitcode")
	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "<!-- envmig-plan environment=production digest=sha256:") || !strings.Contains(string(b), "Point of no return") {
		t.Fatalf("summary:\n%s", b)
	}
	c.calls()
}

func TestTeamCityServiceMessagesDuringApply(t *testing.T) {
	seedShop(t)
	c := newCLI(t, shopSpec("rename-swap"))
	c.must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	c.env = []string{"TEAMCITY_VERSION=2025.07"}
	r := c.must(0, "apply", "-auto-approve", "plan.json")
	for _, want := range []string{
		"##teamcity[blockOpened name='group.standby.web' description='Take shop-prod-web out of service: suspend scaling processes, move every InService instance to Standby']\n",
		"##teamcity[blockClosed name='group.resume.web']\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("apply on TeamCity lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "[1/") {
		t.Fatalf("plain step lines on TeamCity:\n%s", r.stdout)
	}
	c.calls()
}
