package ci_test

import (
	"os"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

type ghWorkflow struct {
	On   map[string]yaml.Node `yaml:"on"`
	Jobs map[string]ghJob     `yaml:"jobs"`
}

type ghJob struct {
	Environment string            `yaml:"environment"`
	Concurrency yaml.Node         `yaml:"concurrency"`
	Permissions map[string]string `yaml:"permissions"`
	Steps       []ghStep          `yaml:"steps"`
}

type ghStep struct {
	Uses string            `yaml:"uses"`
	Run  string            `yaml:"run"`
	With map[string]string `yaml:"with"`
}

type ghConcurrency struct {
	Group            string `yaml:"group"`
	CancelInProgress *bool  `yaml:"cancel-in-progress"`
}

func readWorkflow(t *testing.T, path string) (*ghWorkflow, string) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var w ghWorkflow
	if err := yaml.Unmarshal(b, &w); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return &w, string(b)
}

// jobCommands returns the contract commands a job's scripts run.
func jobCommands(t *testing.T, path, name string, j ghJob) map[string]bool {
	t.Helper()
	cmds := map[string]bool{}
	for _, s := range j.Steps {
		invs, err := findInvocations(path+" job "+name, ghExpr.ReplaceAllString(s.Run, "GHEXPR"), 1)
		if err != nil {
			t.Fatal(err)
		}
		for _, inv := range invs {
			if p, err := checkInvocation(inv, true); err == nil {
				cmds[p.command] = true
			}
		}
	}
	return cmds
}

// TestGitHubWorkflowsKeepTheirGuarantees: what docs/ci.md promises of the
// GitHub examples.
func TestGitHubWorkflowsKeepTheirGuarantees(t *testing.T) {
	var applyGroups, recoverGroups []string
	for _, path := range []string{githubPlanApply, githubRecover} {
		w, text := readWorkflow(t, path)
		if strings.Contains(text, "secrets.") {
			t.Errorf("%s: uses a secret; AWS access is OIDC only", path)
		}
		for name, j := range w.Jobs {
			var assumes []string
			for _, s := range j.Steps {
				if !strings.HasPrefix(s.Uses, "aws-actions/configure-aws-credentials@") {
					continue
				}
				for _, k := range []string{"aws-access-key-id", "aws-secret-access-key", "aws-session-token"} {
					if _, ok := s.With[k]; ok {
						t.Errorf("%s job %s: %s: only OIDC roles", path, name, k)
					}
				}
				role := s.With["role-to-assume"]
				if !strings.HasPrefix(role, "${{ vars.") {
					t.Errorf("%s job %s: role-to-assume %q: want it from a variable", path, name, role)
				}
				assumes = append(assumes, role)
			}
			cmds := jobCommands(t, path, name, j)
			touchesAWS := len(cmds) > 0 && !(len(cmds) == 1 && (cmds["validate"] || cmds["show"]))
			if touchesAWS && (len(assumes) == 0 || j.Permissions["id-token"] != "write") {
				t.Errorf("%s job %s runs envmig against AWS without an OIDC role (id-token: %q, roles %q)", path, name, j.Permissions["id-token"], assumes)
			}
			mutating := cmds["apply"] || cmds["resume"] || cmds["rollback"] || cmds["recover"] || cmds["cleanup"]
			if !mutating {
				continue
			}
			if j.Environment == "" {
				t.Errorf("%s job %s: acts on AWS outside a GitHub environment (no approval, no per-environment role)", path, name)
			}
			var c ghConcurrency
			if err := j.Concurrency.Decode(&c); err != nil || c.Group == "" {
				t.Errorf("%s job %s: want a concurrency mapping with a group (%v)", path, name, err)
			}
			if !strings.Contains(c.Group, "environment") {
				t.Errorf("%s job %s: concurrency group %q is not per environment", path, name, c.Group)
			}
			if c.CancelInProgress == nil || *c.CancelInProgress {
				t.Errorf("%s job %s: want cancel-in-progress: false, stated (a running apply is never cancelled)", path, name)
			}
			// ${{ matrix.environment }} and ${{ inputs.environment }} name
			// the same groups.
			group := ghExpr.ReplaceAllString(c.Group, "<expr>")
			if cmds["apply"] {
				applyGroups = append(applyGroups, group)
				checkApplyJob(t, path, name, j)
			} else {
				recoverGroups = append(recoverGroups, group)
			}
		}
		if path == githubPlanApply {
			checkPlanJob(t, w)
		}
		if path == githubRecover {
			checkDispatch(t, w)
		}
	}
	if len(applyGroups) == 0 || len(recoverGroups) == 0 {
		t.Fatalf("apply jobs %q, recovery jobs %q: want both", applyGroups, recoverGroups)
	}
	for _, g := range recoverGroups {
		if slices.Contains(applyGroups, g) {
			t.Errorf("recovery shares the apply jobs' concurrency group %q: it would wait behind a job whose runner died", g)
		}
	}
}

// checkApplyJob: the apply job checks out the plan's commit and downloads
// the plan from the run that made it.
func checkApplyJob(t *testing.T, path, name string, j ghJob) {
	var checkout, download bool
	for _, s := range j.Steps {
		switch {
		case strings.HasPrefix(s.Uses, "actions/checkout@"):
			checkout = strings.Contains(s.With["ref"], "needs.")
		case strings.HasPrefix(s.Uses, "actions/download-artifact@"):
			download = s.With["run-id"] != "" && s.With["name"] != ""
		}
	}
	if !checkout {
		t.Errorf("%s job %s: does not check out the commit the plan was made from", path, name)
	}
	if !download {
		t.Errorf("%s job %s: does not download the reviewed plan from the run that made it", path, name)
	}
}

// checkPlanJob: the job that saves a plan checks out the pull request's head
// and keeps the plan as an artifact named after that commit.
func checkPlanJob(t *testing.T, w *ghWorkflow) {
	found := false
	for name, j := range w.Jobs {
		if !jobCommands(t, githubPlanApply, name, j)["plan"] {
			continue
		}
		found = true
		for _, s := range j.Steps {
			if strings.HasPrefix(s.Uses, "actions/checkout@") && !strings.Contains(s.With["ref"], "pull_request.head.sha") {
				t.Errorf("job %s: plans the temporary merge commit, not the pull request's head", name)
			}
			if strings.HasPrefix(s.Uses, "actions/upload-artifact@") && !strings.Contains(s.With["name"], "pull_request.head.sha") {
				t.Errorf("job %s: artifact %q is not tied to the commit", name, s.With["name"])
			}
		}
	}
	if !found {
		t.Error("no job runs envmig plan")
	}
}

// checkDispatch: the recovery workflow is run by hand with an operation of
// the contract and an environment.
func checkDispatch(t *testing.T, w *ghWorkflow) {
	node, ok := w.On["workflow_dispatch"]
	if !ok {
		t.Fatalf("%s: not a workflow_dispatch workflow", githubRecover)
	}
	var d struct {
		Inputs map[string]struct {
			Type    string   `yaml:"type"`
			Options []string `yaml:"options"`
		} `yaml:"inputs"`
	}
	if err := node.Decode(&d); err != nil {
		t.Fatal(err)
	}
	if op := d.Inputs["operation"]; op.Type != "choice" || !slices.Equal(op.Options, recoveryOperations) {
		t.Errorf("operation input: %+v, want a choice of %q", op, recoveryOperations)
	}
	if _, ok := d.Inputs["environment"]; !ok {
		t.Error("no environment input")
	}
}
