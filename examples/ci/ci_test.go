// Package ci_test keeps the CI examples honest: the GitHub workflows pass
// actionlint, every envmig command line in the examples and in docs/ci.md
// uses only commands and flags of envmig's command-line contract, the
// workflows keep the guarantees docs/ci.md promises (OIDC and no secret,
// one apply per environment never cancelled, the reviewed plan applied on
// its commit, a recovery job for every operation), and every spec snippet
// of docs/ci.md that declares a state block matches the contract.
package ci_test

import (
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
)

const (
	githubPlanApply = "github/envmig.yml"
	githubRecover   = "github/envmig-recovery.yml"
	teamcity        = "teamcity/settings.kts"
	readme          = "README.md"
	docsCI          = "../../docs/ci.md"
)

var recoveryOperations = []string{"status", "resume", "rollback", "recover", "cleanup"}

// sourceInvocations returns the envmig command lines of one example or doc,
// and whether they run in CI (scripts) rather than being read by people.
func sourceInvocations(t *testing.T, path string) (invs []invocation, ci bool) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	switch filepath.Ext(path) {
	case ".yml":
		runs, _, err := workflowRuns(path)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range runs {
			in, err := findInvocations(path, r.text, r.line)
			if err != nil {
				t.Fatal(err)
			}
			invs = append(invs, in...)
		}
		return invs, true
	case ".kts":
		invs, err := kotlinInvocations(path, string(b))
		if err != nil {
			t.Fatal(err)
		}
		return invs, true
	case ".md":
		invs, err := markdownInvocations(path, string(b))
		if err != nil {
			t.Fatal(err)
		}
		return invs, false
	}
	t.Fatalf("%s: no reader for this kind of file", path)
	return nil, false
}

// TestCommandLinesFollowTheContract: every envmig command line of the
// examples and docs is one the contract allows, and each example runs the
// commands its story needs.
func TestCommandLinesFollowTheContract(t *testing.T) {
	need := map[string][]string{
		githubPlanApply: {"validate", "plan", "show", "apply", "status"},
		githubRecover:   recoveryOperations,
		teamcity:        append([]string{"validate", "plan", "show", "apply"}, recoveryOperations...),
		readme:          {"validate", "plan", "apply", "recover", "state migrate"},
		docsCI:          {"validate", "plan", "show", "apply", "status", "resume", "rollback", "recover", "cleanup", "state migrate"},
	}
	total := 0
	for _, path := range []string{githubPlanApply, githubRecover, teamcity, readme, docsCI} {
		invs, ci := sourceInvocations(t, path)
		seen := map[string]bool{}
		for _, inv := range invs {
			p, err := checkInvocation(inv, ci)
			if err != nil {
				t.Error(err)
				continue
			}
			seen[p.command] = true
			if testing.Verbose() {
				t.Logf("ok %s", inv)
			}
		}
		for _, c := range need[path] {
			if !seen[c] {
				t.Errorf("%s: runs no `envmig %s`", path, c)
			}
		}
		total += len(invs)
	}
	t.Logf("%d envmig command lines checked", total)
}

// TestTheCheckerRefusesWhatTheContractDoesNot: the checks above can fail.
func TestTheCheckerRefusesWhatTheContractDoesNot(t *testing.T) {
	bad := map[string]string{
		"unknown command":         `envmig destroy -auto-approve`,
		"unknown flag":            `envmig apply -auto-approve -force plan.json`,
		"global flag after":       `envmig status -chdir=infra`,
		"flag without value":      `envmig plan -detailed-exitcode -out`,
		"bool flag with value":    `envmig resume -auto-approve=yes`,
		"computed command":        `envmig "$OPERATION" -auto-approve`,
		"state migrate elsewhere": `envmig state migrate -to dynamodb`,
		"state without sub":       `envmig state`,
		"show without file":       `envmig show -markdown`,
		"apply without approval":  `envmig -chdir="$dir" apply plan.json`,
		"apply planning itself":   `envmig apply -auto-approve`,
		"plan not saved":          `envmig plan -detailed-exitcode`,
		"rollback unattended":     `if ! envmig rollback; then exit 1; fi`,
		"inside a substitution":   `echo "$(envmig recover)"`,
		"after assignment":        `code=0; FOO=bar envmig cleanup || code=$?`,
		"in a case arm":           "case \"$op\" in\n  resume) envmig resume -force ;;\nesac",
	}
	for name, script := range bad {
		invs, err := findInvocations(name, script, 1)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		failed := len(invs) == 0 // finding nothing is a failure of the finder
		for _, inv := range invs {
			if _, err := checkInvocation(inv, true); err != nil {
				failed = true
			}
		}
		if !failed {
			t.Errorf("%s: %q passed the check (%v)", name, script, invs)
		}
	}
	for _, script := range []string{"echo `envmig status`", "cat <<EOF\nenvmig status\nEOF"} {
		if _, err := findInvocations("t", script, 1); err == nil {
			t.Errorf("%q: want it refused, as a construct whose commands escape the check", script)
		}
	}
	good := `x=$(envmig -chdir="$d" status 2>&1 | tee -a "$S") || true; envmig -chdir=a plan -detailed-exitcode -out p.json -var-file=v.hcl`
	invs, err := findInvocations("good", good, 1)
	if err != nil || len(invs) != 2 {
		t.Fatalf("found %v, %v; want 2", invs, err)
	}
	for _, inv := range invs {
		if _, err := checkInvocation(inv, true); err != nil {
			t.Error(err)
		}
	}
	if !slices.Equal(invs[0].args, []string{"-chdir=a", "plan", "-detailed-exitcode", "-out", "p.json", "-var-file=v.hcl"}) {
		t.Errorf("args %q", invs[0].args)
	}
}

func TestKotlinAndMarkdownReaders(t *testing.T) {
	kts := "// envmig apply\nval a = \"\"\"\n    envmig -chdir=infra/envmig/$env status\n    code=${'$'}?\n\"\"\"\nname = \"envmig apply ($env)\"\nval b = \"envmig show -markdown \\\"plan.json\\\"\"\n"
	invs, err := kotlinInvocations("k.kts", kts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, inv := range invs {
		got = append(got, inv.String())
	}
	want := []string{"k.kts:3: envmig -chdir=infra/envmig/KT status", "k.kts:7: envmig show -markdown plan.json"}
	if !slices.Equal(got, want) {
		t.Errorf("kotlin: got %q, want %q", got, want)
	}
	md := "Run `envmig resume\n-auto-approve` now.\n\n```sh\n$ envmig status\n```\n\n    envmig rollback\n\n```hcl\nenvmig = 1\n```\n"
	invs, err = markdownInvocations("m.md", md)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, inv := range invs {
		got = append(got, inv.String())
	}
	sort.Strings(got)
	want = []string{"m.md:1: envmig resume -auto-approve", "m.md:5: envmig status", "m.md:8: envmig rollback"}
	if !slices.Equal(got, want) {
		t.Errorf("markdown: got %q, want %q", got, want)
	}
}

// TestTeamCitySettingsKeepTheirGuarantees: a recovery build offers every
// operation, the apply build is pinned to the plan build, the lock holder's
// build URL is set, and no AWS key is in the settings.
func TestTeamCitySettingsKeepTheirGuarantees(t *testing.T) {
	b, err := os.ReadFile(teamcity)
	if err != nil {
		t.Fatal(err)
	}
	strs, err := kotlinStrings(string(b))
	if err != nil {
		t.Fatal(err)
	}
	code := stripKotlinComments(string(b))
	for _, want := range []string{
		`options = listOf("` + strings.Join(recoveryOperations, `", "`) + `")`,
		`snapshot(plan)`, `artifacts(plan)`, `sameChainOrLastFinished()`,
		`param("env.TEAMCITY_BUILD_URL"`, `writeLock("envmig-apply-$env")`, `provideAwsCredentials`,
	} {
		if !strings.Contains(code, want) {
			t.Errorf("%s: no %s", teamcity, want)
		}
	}
	for _, s := range strs {
		for _, bad := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "credentialsJSON:"} {
			if strings.Contains(s.text, bad) {
				t.Errorf("%s:%d: %s in the settings", teamcity, s.line, bad)
			}
		}
	}
	for _, bad := range []string{"accessKey", "secretAccessKey", "password("} {
		if strings.Contains(code, bad) {
			t.Errorf("%s: %s in the settings", teamcity, bad)
		}
	}
}

func stripKotlinComments(src string) string {
	var b strings.Builder
	for _, l := range strings.Split(src, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "//") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}
