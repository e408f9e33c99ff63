package config

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The PostgreSQL row check docs/migration-model.md gives as the proof for
// database rows is a valid migration block, its script parses as shell,
// and it takes no credential from the spec.
func TestMigrationModelRowCheckExampleLoads(t *testing.T) {
	b, err := os.ReadFile("../docs/migration-model.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	i := strings.Index(doc, "For database rows")
	if i < 0 {
		t.Fatal(`docs/migration-model.md has no "For database rows" section`)
	}
	rest := doc[i:]
	start := strings.Index(rest, "```hcl\n")
	end := strings.Index(rest[start+7:], "```")
	if start < 0 || end < 0 {
		t.Fatal("the section has no hcl example")
	}
	example := rest[start+7 : start+7+end]
	spec := `aws {
  region = "us-east-1"
}

environment "production" {
  database "main" {
    identifier = "shop-prod-db"
  }

` + example + `}
`
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.envmig.hcl"), []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := mustLoad(t, dir, LoadOptions{})
	cmds := cfg.Environment("production").Migration.Verify.Commands
	if len(cmds) != 1 {
		t.Fatalf("the example has %d verify commands, want 1", len(cmds))
	}
	run := cmds[0].Run
	for _, s := range []string{"psql", "$ENVMIG_DATABASE_MAIN", "exit 1"} {
		if !strings.Contains(run, s) {
			t.Errorf("the example's script lacks %q:\n%s", s, run)
		}
	}
	for _, s := range []string{"PGPASSWORD=", "password="} {
		if strings.Contains(strings.ToLower(run), strings.ToLower(s)) {
			t.Errorf("the example's script sets a credential (%s):\n%s", s, run)
		}
	}
	if out, err := exec.Command("/bin/sh", "-n", "-c", run).CombinedOutput(); err != nil {
		t.Errorf("the example's script does not parse: %v\n%s", err, out)
	}
}
