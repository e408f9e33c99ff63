package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
)

// varSpec uses var.id as a database identifier, so that the value a
// variable ends up with is visible in the Config.
const varSpec = `variable "id" {
  type    = string
  default = "from-default"
}
environment "prod" {
  database "main" {
    identifier = var.id
  }
}
`

// TestVariablePrecedence: default < ENVMIG_VAR_ < -var-file (in order) <
// -var (in order), as in Terraform.
func TestVariablePrecedence(t *testing.T) {
	dir := writeSpec(t, map[string]string{
		"main.envmig.hcl": varSpec,
		"one.vars":        "id = \"from-file-one\"\n",
		"two.vars.json":   `{"id": "from-file-two"}`,
	})
	one, two := filepath.Join(dir, "one.vars"), filepath.Join(dir, "two.vars.json")
	env := []string{"PATH=/bin", "ENVMIG_VAR_id=from-env", "ENVMIG_VAR_other=ignored"}
	for name, tc := range map[string]struct {
		opts LoadOptions
		want string
	}{
		"default only":             {LoadOptions{}, "from-default"},
		"environment":              {LoadOptions{Environ: env}, "from-env"},
		"file over environment":    {LoadOptions{Environ: env, VarFiles: []string{one}}, "from-file-one"},
		"later file wins":          {LoadOptions{Environ: env, VarFiles: []string{one, two}}, "from-file-two"},
		"later file wins, swapped": {LoadOptions{VarFiles: []string{two, one}}, "from-file-one"},
		"-var over file":           {LoadOptions{Environ: env, VarFiles: []string{one}, Vars: []string{"id=from-var"}}, "from-var"},
		"later -var wins":          {LoadOptions{Vars: []string{"id=first", "id=second"}}, "second"},
	} {
		t.Run(name, func(t *testing.T) {
			cfg := mustLoad(t, dir, tc.opts)
			if got := cfg.Environments[0].Databases[0].Identifier; got != tc.want {
				t.Errorf("identifier %q, want %q", got, tc.want)
			}
		})
	}
}

// TestVariableText: text values are literal for string and untyped
// variables and HCL expressions for the others.
func TestVariableText(t *testing.T) {
	dir := writeSpec(t, map[string]string{"main.envmig.hcl": `variable "size" {
  type = number
}
variable "tags" {
  type = map(string)
}
variable "run" {}
variable "multi" {
  type    = bool
  default = false
}
environment "prod" {
  database "main" {
    identifier        = "shop-db"
    allocated_storage = var.size
    multi_az          = var.multi
    tags              = var.tags
  }
  migration {
    verify {
      command "c" {
        run = var.run
      }
    }
  }
}
`})
	cfg := mustLoad(t, dir, LoadOptions{
		Vars:    []string{`tags={team="data", "cost-center"="42"}`, `run=echo {"a": 1} = ok`},
		Environ: []string{"ENVMIG_VAR_size=100", "ENVMIG_VAR_multi=true"},
	})
	env := cfg.Environments[0]
	db := env.Databases[0]
	if db.AllocatedStorage == nil || *db.AllocatedStorage != 100 {
		t.Errorf("allocated_storage %v, want 100", db.AllocatedStorage)
	}
	if db.MultiAZ == nil || !*db.MultiAZ {
		t.Errorf("multi_az %v, want true", db.MultiAZ)
	}
	if diff := cmp.Diff(map[string]string{"team": "data", "cost-center": "42"}, db.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if got := env.Migration.Verify.Commands[0].Run; got != `echo {"a": 1} = ok` {
		t.Errorf("run %q", got)
	}
}

func TestVariableErrors(t *testing.T) {
	spec := map[string]string{"main.envmig.hcl": `variable "size" {
  type = number
}
environment "prod" {
  database "main" {
    identifier        = "shop-db"
    allocated_storage = var.size
  }
}
`}
	for name, tc := range map[string]struct {
		opts        LoadOptions
		summary     string
		detailHas   []string
		subjectLine int
	}{
		"no value": {
			summary:     "No value for required variable",
			detailHas:   []string{"-var 'size=VALUE'", "-var-file", "ENVMIG_VAR_size"},
			subjectLine: 1,
		},
		"not a number": {
			opts:      LoadOptions{Vars: []string{"size=lots"}},
			summary:   "Variables not allowed",
			detailHas: []string{"var.size", "the option -var"},
		},
		"wrong type from the environment": {
			opts:      LoadOptions{Environ: []string{`ENVMIG_VAR_size="big"`}},
			summary:   "Invalid value for variable",
			detailHas: []string{"var.size", "ENVMIG_VAR_size", "number"},
		},
		"missing var file": {
			opts:      LoadOptions{Vars: []string{"size=1"}, VarFiles: []string{"/nonexistent/prod.vars"}},
			summary:   "Cannot read variables file",
			detailHas: []string{"/nonexistent/prod.vars"},
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeSpec(t, spec)
			cfg, diags := Load(dir, tc.opts)
			errs := errorsOf(diags)
			if len(errs) != 1 {
				t.Fatalf("want 1 error, got:\n%s", render(t, diags, cfg.Files))
			}
			d := errs[0]
			if d.Summary != tc.summary {
				t.Errorf("summary %q, want %q", d.Summary, tc.summary)
			}
			for _, w := range tc.detailHas {
				if !strings.Contains(d.Detail, w) {
					t.Errorf("detail %q lacks %q", d.Detail, w)
				}
			}
			switch {
			case tc.subjectLine == 0 && d.Subject != nil && strings.HasSuffix(d.Subject.Filename, ".envmig.hcl"):
				t.Errorf("subject %s, want none in the spec", d.Subject)
			case tc.subjectLine != 0 && (d.Subject == nil || d.Subject.Start.Line != tc.subjectLine):
				t.Errorf("subject %v, want line %d", d.Subject, tc.subjectLine)
			}
		})
	}
}

// TestUndeclaredInVarFile: a var file may hold values for variables the
// spec does not declare (one file for several specs): a warning.
func TestUndeclaredInVarFile(t *testing.T) {
	dir := writeSpec(t, map[string]string{"main.envmig.hcl": varSpec, "prod.vars": "id = \"shop-db\"\nidd = \"x\"\n"})
	cfg, diags := Load(dir, LoadOptions{VarFiles: []string{filepath.Join(dir, "prod.vars")}})
	if len(diags) != 1 || diags[0].Severity != hcl.DiagWarning || diags[0].Summary != "Value for undeclared variable" ||
		diags[0].Subject.Start.Line != 2 || !strings.Contains(diags[0].Detail, `Did you mean "id"?`) {
		t.Fatalf("want one warning on line 2 of prod.vars, got:\n%s", render(t, diags, cfg.Files))
	}
	if got := cfg.Environments[0].Databases[0].Identifier; got != "shop-db" {
		t.Errorf("identifier %q", got)
	}
}

const sensitiveSpec = `variable "token" {
  type      = string
  sensitive = true
}
variable "secrets" {
  type      = map(string)
  sensitive = true
  default   = { a = "first-secret", b = "second-secret", c = "" }
}
environment "prod" {
  database "main" {
    identifier = "shop-db"
  }
}
`

// TestSensitive: sensitive values are collected for redaction, rejected in
// attributes, and never shown in a diagnostic.
func TestSensitive(t *testing.T) {
	dir := writeSpec(t, map[string]string{"main.envmig.hcl": sensitiveSpec})
	cfg := mustLoad(t, dir, LoadOptions{Environ: []string{"ENVMIG_VAR_token=tok-123456"}})
	want := []string{"tok-123456", "first-secret", "second-secret"}
	if diff := cmp.Diff(want, cfg.SensitiveValues, cmpSortStrings); diff != "" {
		t.Errorf("sensitive values (-want +got):\n%s", diff)
	}
	if !cfg.Variables["token"].Sensitive || cfg.Variables["token"].DeclRange.Start.Line != 1 {
		t.Errorf("variable %+v", cfg.Variables["token"])
	}

	t.Run("used through a function and a local", func(t *testing.T) {
		dir := writeSpec(t, map[string]string{"main.envmig.hcl": strings.Replace(sensitiveSpec,
			`identifier = "shop-db"`, `identifier = "shop-db"
    tags       = { token = local.t }`, 1) + "locals {\n  t = upper(var.token)\n}\n"})
		cfg, diags := Load(dir, LoadOptions{Vars: []string{"token=tok-123456"}})
		if len(diags) != 1 || diags[0].Summary != "Sensitive value cannot be used in tags" || diags[0].Subject.Start.Line != 13 {
			t.Fatalf("want one error on line 13, got:\n%s", render(t, diags, cfg.Files))
		}
		if text := render(t, diags, cfg.Files); strings.Contains(strings.ToLower(text), "tok-123456") {
			t.Errorf("diagnostic shows the secret:\n%s", text)
		}
	})

	t.Run("wrong type in a var file", func(t *testing.T) {
		dir := writeSpec(t, map[string]string{"main.envmig.hcl": sensitiveSpec,
			"secret.vars": "token = \"tok-123456\"\nsecrets = \"not-a-map-secret\"\n"})
		cfg, diags := Load(dir, LoadOptions{VarFiles: []string{filepath.Join(dir, "secret.vars")}})
		if len(diags) != 1 || diags[0].Summary != "Invalid value for variable" {
			t.Fatalf("want one error, got:\n%s", render(t, diags, cfg.Files))
		}
		text := render(t, diags, cfg.Files)
		if strings.Contains(text, "not-a-map-secret") {
			t.Errorf("diagnostic shows the secret:\n%s", text)
		}
		if !strings.Contains(text, "secret.vars:2") {
			t.Errorf("diagnostic does not say where the value is:\n%s", text)
		}
	})
}

var cmpSortStrings = cmp.Transformer("sort", func(in []string) []string {
	out := append([]string(nil), in...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if out[j] < out[i] {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
})

// TestLocalsAndFunctions: locals in any order, cty stdlib functions.
func TestLocalsAndFunctions(t *testing.T) {
	dir := writeSpec(t, map[string]string{"main.envmig.hcl": `locals {
  id     = format("%s-%s", local.prefix, "db")
  prefix = lower(join("-", [var.app, local.stage]))
  stage  = "PROD"
  tags   = merge({ owner = "platform" }, { stage = local.stage })
}
variable "app" {
  default = "Shop"
}
environment "prod" {
  database "main" {
    identifier = local.id
    tags       = local.tags
  }
  bucket "b" {
    name = replace("${local.prefix}_uploads", "_", "-")
  }
}
`})
	cfg := mustLoad(t, dir, LoadOptions{})
	env := cfg.Environments[0]
	if got := env.Databases[0].Identifier; got != "shop-prod-db" {
		t.Errorf("identifier %q", got)
	}
	if got := env.Buckets[0].BucketName; got != "shop-prod-uploads" {
		t.Errorf("bucket %q", got)
	}
	if diff := cmp.Diff(map[string]string{"owner": "platform", "stage": "PROD"}, env.Databases[0].Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
}

// TestSeveralFiles: blocks may be spread over files of both syntaxes; a
// duplicate across files names the first place.
func TestSeveralFiles(t *testing.T) {
	files := map[string]string{
		"aws.envmig.json": `{"aws": {"region": "eu-west-1"}}`,
		"env.envmig.hcl":  "environment \"prod\" {\n  bucket \"b\" {\n    name = \"shop-b\"\n  }\n}\n",
		"notes.txt":       "not a spec",
	}
	cfg := mustLoad(t, writeSpec(t, files), LoadOptions{})
	if cfg.AWS.Region != "eu-west-1" || len(cfg.Files) != 2 {
		t.Errorf("region %q, files %d", cfg.AWS.Region, len(cfg.Files))
	}
	files["zz.envmig.hcl"] = "aws {\n  region = \"us-east-1\"\n}\n"
	dir := writeSpec(t, files)
	_, diags := Load(dir, LoadOptions{})
	if len(diags) != 1 || diags[0].Summary != "Duplicate aws block" ||
		diags[0].Subject.Filename != filepath.Join(dir, "zz.envmig.hcl") || !strings.Contains(diags[0].Detail, "aws.envmig.json:1") {
		t.Errorf("got:\n%s", render(t, diags))
	}
}

func TestDigest(t *testing.T) {
	files := map[string]string{"a.envmig.hcl": varSpec, "b.envmig.json": `{"aws": {}}`}
	d1 := mustLoad(t, writeSpec(t, files), LoadOptions{}).Digest
	d2 := mustLoad(t, writeSpec(t, files), LoadOptions{}).Digest
	if d1 != d2 {
		t.Errorf("same files, different digests %s %s", d1, d2)
	}
	files["b.envmig.json"] = `{"aws": {} }`
	if d3 := mustLoad(t, writeSpec(t, files), LoadOptions{}).Digest; d3 == d1 {
		t.Error("digest ignores a changed byte")
	}
	files = map[string]string{"c.envmig.hcl": varSpec, "b.envmig.json": `{"aws": {}}`}
	if d4 := mustLoad(t, writeSpec(t, files), LoadOptions{}).Digest; d4 == d1 {
		t.Error("digest ignores file names")
	}
}

// TestUnreadableFiles: a directory without specs, a file that is not
// UTF-8, binary data: one clear diagnostic naming the file.
func TestUnreadableFiles(t *testing.T) {
	empty := t.TempDir()
	for name, tc := range map[string]struct {
		dir         string
		files       map[string]string
		summary     string
		detailHas   string
		subjectLine int
	}{
		"no spec files": {dir: empty, summary: "No spec files found", detailHas: empty},
		"no directory":  {dir: filepath.Join(empty, "missing"), summary: "Cannot read the spec directory", detailHas: "missing"},
		"latin-1": {
			files:   map[string]string{"name.envmig.hcl": "environment \"prod\" {\n  bucket \"b\" {\n    name = \"caf\xe9\"\n  }\n}\n"},
			summary: "name.envmig.hcl is not valid UTF-8", detailHas: "line 3, column 16", subjectLine: 3,
		},
		"binary": {
			files:   map[string]string{"name.envmig.hcl": "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00"},
			summary: "name.envmig.hcl is a binary file, not HCL", detailHas: "NUL byte at line 3, column 1", subjectLine: 3,
		},
		"not HCL": {
			files:   map[string]string{"name.envmig.hcl": "environments:\n  production:\n    database: main\n"},
			summary: "name.envmig.hcl is not valid HCL", detailHas: "could not be parsed", subjectLine: 1,
		},
		"not JSON": {
			files:   map[string]string{"name.envmig.json": "environment \"prod\" {}\n"},
			summary: "name.envmig.json is not valid JSON", detailHas: "could not be parsed", subjectLine: 1,
		},
	} {
		t.Run(name, func(t *testing.T) {
			dir := tc.dir
			if dir == "" {
				dir = writeSpec(t, tc.files)
			}
			cfg, diags := Load(dir, LoadOptions{})
			if cfg == nil || !diags.HasErrors() {
				t.Fatalf("cfg %v, diags %v", cfg, diags)
			}
			d := diags[0]
			if !strings.HasSuffix(d.Summary, tc.summary) || !strings.Contains(d.Detail, tc.detailHas) {
				t.Errorf("got %q / %q, want summary ending %q, detail containing %q", d.Summary, d.Detail, tc.summary, tc.detailHas)
			}
			if tc.subjectLine > 0 && (d.Subject == nil || d.Subject.Start.Line != tc.subjectLine) {
				t.Errorf("subject %v, want line %d", d.Subject, tc.subjectLine)
			}
			if len(diags) > 1+maxSyntaxErrors {
				t.Errorf("%d diagnostics for one file", len(diags))
			}
		})
	}
}

// TestGarbageIsBounded: random text gives a bounded number of diagnostics.
func TestGarbageIsBounded(t *testing.T) {
	src, err := os.ReadFile("load.go")
	if err != nil {
		t.Fatal(err)
	}
	_, diags := Load(writeSpec(t, map[string]string{"x.envmig.hcl": string(src)}), LoadOptions{})
	if !diags.HasErrors() || len(diags) > 1+maxSyntaxErrors || !strings.Contains(diags[0].Summary, "x.envmig.hcl is not valid HCL") {
		t.Errorf("%d diagnostics, first %q", len(diags), diags[0].Summary)
	}
}
