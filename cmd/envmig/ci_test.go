package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envmig/envmig/internal/clitest"
)

func TestGitHubAnnotationsForConfigDiagnostics(t *testing.T) {
	c := newCLI(t, `environment "production" {
  bucket "uploads" {
    nmae = "shop-uploads"
  }
}
`)
	c.Env = []string{"GITHUB_ACTIONS=true"}
	r := c.Must(exitError, "validate")
	want := `::error file=main.envmig.hcl,line=3,col=5,endLine=3,endColumn=9,title=Unsupported argument::Unsupported argument: An argument named "nmae" is not expected in a bucket block. Did you mean "name"?`
	if !strings.Contains(r.Stdout, want+"\n") {
		t.Fatalf("want the annotation line\n%s\ngot:\n%s", want, r)
	}
	if !strings.Contains(r.Stderr, "main.envmig.hcl line 3") {
		t.Fatalf("the human diagnostic is still printed:\n%s", r)
	}
	c.Env = nil
	if r := c.Must(exitError, "validate"); strings.Contains(r.Stdout, "::error") {
		t.Fatalf("annotations outside GitHub Actions:\n%s", r)
	}
}

func TestGitHubStepSummaryGetsTheMarkdownPlan(t *testing.T) {
	clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	summary := filepath.Join(c.Dir, "summary.md")
	c.Env = []string{"GITHUB_ACTIONS=true", "GITHUB_STEP_SUMMARY=" + summary}
	c.Must(exitChanges, "plan", "-detailed-exitcode")
	b, err := os.ReadFile(summary)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(string(b), "<!-- envmig-plan environment=production digest=sha256:") || !strings.Contains(string(b), "Point of no return") {
		t.Fatalf("summary:\n%s", b)
	}
	c.Calls()
}

func TestTeamCityServiceMessagesDuringApply(t *testing.T) {
	clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	c.Env = []string{"TEAMCITY_VERSION=2025.07"}
	r := c.Must(0, "apply", "-auto-approve", "plan.json")
	for _, want := range []string{
		"##teamcity[blockOpened name='group.standby.web' description='Take shop-prod-web out of service: suspend its scaling processes (instance refresh included), move every InService instance to Standby']\n",
		"##teamcity[blockClosed name='group.resume.web']\n",
	} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("apply on TeamCity lacks %q:\n%s", want, r.Stdout)
		}
	}
	if strings.Contains(r.Stdout, "[1/") {
		t.Fatalf("plain step lines on TeamCity:\n%s", r.Stdout)
	}
	c.Calls()
}
