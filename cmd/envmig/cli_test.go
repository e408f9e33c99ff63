package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/envmig/envmig/planner/plan"
)

func TestValidateEveryExample(t *testing.T) {
	dirs, _ := filepath.Glob("../../examples/*")
	n := 0
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || filepath.Base(dir) == "ci" {
			continue
		}
		n++
		abs, _ := filepath.Abs(dir)
		c := newCLI(t, "")
		r := c.Must(0, "-chdir", abs, "validate")
		if !strings.Contains(r.Stdout, "The spec is valid") {
			t.Fatalf("%s: %s", dir, r)
		}
		if len(c.Calls()) != 0 {
			t.Fatal("validate called AWS")
		}
	}
	if n < 3 {
		t.Fatalf("%d examples", n)
	}
}

func TestValidateNamesTheFileAndLine(t *testing.T) {
	c := newCLI(t, `variable "app" {
  default = "shop"
}

environment "production" {
  bucket "uploads" {
    versioning = true
    nmae       = "${var.app}-uploads"
  }
}
`)
	r := c.Must(exitError, "validate")
	for _, want := range []string{"main.envmig.hcl line 8", `nmae       = "${var.app}-uploads"`, `Did you mean "name"?`} {
		if !strings.Contains(r.Stderr, want) {
			t.Fatalf("stderr lacks %q:\n%s", want, r)
		}
	}
}

func TestFmtCheckDiffAndFix(t *testing.T) {
	c := newCLI(t, "environment \"production\" {\n  bucket \"uploads\" {\n    name = \"shop-uploads\"\n    versioning=true\n  }\n}\n")
	r := c.Must(exitError, "fmt", "-check", "-diff")
	if !strings.Contains(r.Stdout, "main.envmig.hcl") || !strings.Contains(r.Stdout, "-    versioning=true") || !strings.Contains(r.Stdout, "+    versioning = true") {
		t.Fatalf("fmt -check -diff:\n%s", r)
	}
	before, _ := os.ReadFile(filepath.Join(c.Dir, "main.envmig.hcl"))
	if !strings.Contains(string(before), "versioning=true") {
		t.Fatal("fmt -check changed the file")
	}
	c.Must(0, "fmt")
	c.Must(0, "fmt", "-check")
	after, _ := os.ReadFile(filepath.Join(c.Dir, "main.envmig.hcl"))
	if !strings.Contains(string(after), "    name       = \"shop-uploads\"\n    versioning = true") {
		t.Fatalf("fmt did not align:\n%s", after)
	}
}

func TestFlagsAfterArgumentsAreHonoured(t *testing.T) {
	c := newCLI(t, "")
	p := &plan.Plan{Lineage: "abcd1234", Environment: "production", Account: "123456789012", Region: "us-east-1"}
	var buf bytes.Buffer
	if err := plan.Encode(&buf, p); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(c.Dir, "p.json"), buf.Bytes(), 0o600)
	// A flag after the plan file is honoured, not taken as a second file.
	r := c.Must(0, "show", "p.json", "-markdown")
	if !strings.HasPrefix(r.Stdout, "<!-- envmig-plan environment=production") {
		t.Fatalf("-markdown after the file was ignored:\n%s", r)
	}
	if r := c.Must(0, "show", "p.json"); strings.HasPrefix(r.Stdout, "<!--") {
		t.Fatalf("%s", r)
	}
	r = c.Run("show", "a.json", "b.json")
	if r.Code != exitError || !strings.Contains(r.Stderr, "usage: envmig show") {
		t.Fatalf("two files must be refused:\n%s", r)
	}
	r = c.Run("plan", "-bogus")
	if r.Code != exitError || !strings.Contains(r.Stderr, "flag provided but not defined: -bogus") {
		t.Fatalf("%s", r)
	}
	r = c.Must(0, "version")
	if !strings.HasPrefix(r.Stdout, "envmig ") {
		t.Fatalf("%s", r)
	}
}

func TestCompletionScripts(t *testing.T) {
	c := newCLI(t, "")
	for _, sh := range []string{"bash", "zsh", "fish"} {
		r := c.Must(0, "completion", sh)
		if !strings.Contains(r.Stdout, "envmig") {
			t.Fatalf("%s completion:\n%s", sh, r)
		}
	}
	c.Must(exitError, "completion", "powershell")
	r := c.Must(0, "--generate-bash-completion")
	for _, cmd := range []string{"plan", "apply", "rollback", "clone"} {
		if !strings.Contains(r.Stdout, cmd) {
			t.Fatalf("completion candidates lack %s:\n%s", cmd, r)
		}
	}
}

func TestChdirErrorsNameTheDirectory(t *testing.T) {
	c := newCLI(t, "")
	empty := t.TempDir()
	if r := c.Must(1, "-chdir="+empty, "validate"); !strings.Contains(r.Stderr, empty) {
		t.Fatalf("the error does not name %s:\n%s", empty, r)
	}
	missing := filepath.Join(empty, "missing")
	if r := c.Must(1, "-chdir="+missing, "plan"); !strings.Contains(r.Stderr, missing) {
		t.Fatalf("the error does not name %s:\n%s", missing, r)
	}
}
