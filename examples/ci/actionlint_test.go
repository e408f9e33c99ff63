package ci_test

import (
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// actionlintModule is the pinned linter; `go install` builds it from the
// module proxy (then from the module and build caches).
const (
	actionlintModule  = "github.com/rhysd/actionlint"
	actionlintVersion = "v1.7.12"
)

// buildActionlint installs actionlint into a temporary directory. It skips
// the test only when the module proxy cannot be reached (then nothing can
// be built); any other failure fails it.
func buildActionlint(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("go"); err != nil {
		t.Fatalf("no go command to build actionlint: %v", err)
	}
	bin := t.TempDir()
	cmd := exec.Command("go", "install", actionlintModule+"/cmd/actionlint@"+actionlintVersion)
	cmd.Dir = bin // outside this module: the linter's own go.mod decides
	cmd.Env = append(os.Environ(), "GOBIN="+bin)
	out, err := cmd.CombinedOutput()
	if err == nil {
		return filepath.Join(bin, "actionlint")
	}
	if reason := proxyUnreachable(t); reason != "" {
		t.Skipf("SKIPPED, the workflows were NOT linted: the module proxy is unreachable (%s), so actionlint %s cannot be built:\n%s", reason, actionlintVersion, out)
	}
	t.Fatalf("go install actionlint %s failed, though the module proxy answers: %v\n%s", actionlintVersion, err, out)
	return ""
}

// proxyUnreachable says why the first module proxy of GOPROXY cannot serve
// actionlint's version, or "" when it can.
func proxyUnreachable(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOPROXY").Output()
	if err != nil {
		return ""
	}
	var proxy string
	for _, p := range strings.FieldsFunc(strings.TrimSpace(string(out)), func(r rune) bool { return r == ',' || r == '|' }) {
		if p == "off" {
			return "GOPROXY=off"
		}
		if p != "direct" {
			proxy = p
			break
		}
	}
	if proxy == "" {
		return "" // no proxy to be unreachable: the failure is real
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	url := strings.TrimRight(proxy, "/") + "/" + actionlintModule + "/@v/" + actionlintVersion + ".info"
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return ""
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err.Error()
	}
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		return url + ": " + resp.Status
	}
	t.Logf("%s: %s", url, resp.Status)
	return ""
}

// TestWorkflowsPassActionlint lints the GitHub examples (with shellcheck on
// their scripts when it is installed), after proving the linter finds a
// mistake.
func TestWorkflowsPassActionlint(t *testing.T) {
	lint := buildActionlint(t)
	if _, err := exec.LookPath("shellcheck"); err != nil {
		t.Log("shellcheck is not installed: actionlint checks the workflows but not their scripts")
	} else {
		t.Log("shellcheck is installed: actionlint checks the scripts too")
	}

	broken := filepath.Join(t.TempDir(), "broken.yml")
	err := os.WriteFile(broken, []byte("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    concurrency:\n      group: x\n      cancel-in-progress: maybe\n    steps:\n      - run: echo ${{ github.nope }}\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(lint, "-no-color", broken).CombinedOutput()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("actionlint accepted a broken workflow (%v):\n%s", err, out)
	}

	files := []string{githubPlanApply, githubRecover}
	out, err = exec.Command(lint, append([]string{"-no-color"}, files...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("actionlint %s: %v\n%s", strings.Join(files, " "), err, out)
	}
}
