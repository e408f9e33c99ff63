package config

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

// writeSpec writes files into a new temporary directory and returns it.
func writeSpec(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// render is the text WriteDiagnostics prints for diags, with snippets from
// every file of dir's spec that parses.
func render(t *testing.T, diags hcl.Diagnostics, files ...map[string]*hcl.File) string {
	t.Helper()
	var buf bytes.Buffer
	var fs map[string]*hcl.File
	if len(files) > 0 {
		fs = files[0]
	}
	if err := WriteDiagnostics(&buf, fs, diags, false, 0); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

func mustLoad(t *testing.T, dir string, opts LoadOptions) *Config {
	t.Helper()
	cfg, diags := Load(dir, opts)
	if len(diags) > 0 {
		t.Fatalf("Load(%s): want no diagnostics, got:\n%s", dir, render(t, diags, cfg.Files))
	}
	if diags != nil {
		t.Fatal("Load returned an empty non-nil Diagnostics")
	}
	return cfg
}

func ptr[T any](v T) *T { return &v }

// ignoreRanges compares configs without source positions and file data.
var ignoreRanges = cmp.Options{
	cmpopts.IgnoreTypes(hcl.Range{}),
	cmpopts.IgnoreFields(Config{}, "Dir", "Files", "Digest"),
	cmpopts.EquateEmpty(),
}

// designConfig is what the DESIGN.md §2 spec means.
func designConfig() *Config {
	return &Config{
		AWS:       AWS{Region: "us-east-1", AllowedAccountIDs: []string{"123456789012"}},
		Variables: map[string]*Variable{"app": {Name: "app"}},
		Environments: []*Environment{{
			Name: "production",
			Databases: []*Database{{
				Name: "main", Identifier: "shop-prod-db", Engine: "postgres", EngineVersion: "16.4",
				InstanceClass: "db.t3.large", AllocatedStorage: ptr(int64(50)), StorageEncrypted: ptr(true),
				Tags: map[string]string{"owner": "platform"},
			}},
			Buckets:  []*Bucket{{Name: "uploads", BucketName: "shop-prod-uploads", Versioning: ptr(true)}},
			Services: []*Service{{Name: "web", AutoScalingGroup: "shop-prod-web"}},
			Migration: Migration{
				Strategy: StrategyRenameSwap, TemporarySuffix: "-envmig",
				Verify: Verify{
					Objects: VerifyChecksum,
					HTTP:    []*HTTPCheck{{Name: "health", URL: "https://clone.example.internal/health", Status: 200, Timeout: "10s"}},
				},
			},
		}},
	}
}

// TestDesignExample: the DESIGN.md §2 spec, verbatim, loads with zero
// diagnostics into exactly what it says.
func TestDesignExample(t *testing.T) {
	cfg := mustLoad(t, "testdata/design", LoadOptions{})
	if diff := cmp.Diff(designConfig(), cfg, ignoreRanges); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
	if !regexp.MustCompile(`^sha256:[0-9a-f]{64}$`).MatchString(cfg.Digest) {
		t.Errorf("digest %q", cfg.Digest)
	}
	want := filepath.Join("testdata", "design", "production.envmig.hcl")
	if cfg.Files[want] == nil || len(cfg.Files) != 1 {
		t.Errorf("files %v, want only %s", cfg.Files, want)
	}
	env := cfg.Environment("production")
	if got := env.DeclRange.String(); got != want+":11,1-25" {
		t.Errorf("environment declared at %s", got)
	}
}

// TestDesignExampleJSON: the same spec in HCL's JSON syntax means the same.
func TestDesignExampleJSON(t *testing.T) {
	cfg := mustLoad(t, "testdata/design-json", LoadOptions{})
	if diff := cmp.Diff(designConfig(), cfg, ignoreRanges); diff != "" {
		t.Errorf("config (-want +got):\n%s", diff)
	}
}

// TestEncryptDatabaseExampleIsTheDesignSpec: the example is the DESIGN.md
// spec in canonical format.
func TestEncryptDatabaseExampleIsTheDesignSpec(t *testing.T) {
	design, err := os.ReadFile("testdata/design/production.envmig.hcl")
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile("../examples/encrypt-database/production.envmig.hcl")
	if err != nil {
		t.Fatal(err)
	}
	formatted, diags := Format(design, "production.envmig.hcl")
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if diff := cmp.Diff(string(formatted), string(example)); diff != "" {
		t.Errorf("examples/encrypt-database differs from the formatted DESIGN.md spec (-design +example):\n%s", diff)
	}
}

// TestExamples: every folder under examples/ (but ci) has a README and a
// spec that loads with zero diagnostics and is formatted.
func TestExamples(t *testing.T) {
	entries, err := os.ReadDir("../examples")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if !e.IsDir() || e.Name() == "ci" {
			continue
		}
		n++
		dir := filepath.Join("..", "examples", e.Name())
		t.Run(e.Name(), func(t *testing.T) {
			cfg := mustLoad(t, dir, LoadOptions{})
			if len(cfg.Environments) == 0 {
				t.Error("no environment")
			}
			if _, err := os.Stat(filepath.Join(dir, "README.md")); err != nil {
				t.Error(err)
			}
			results, err := FormatDir(dir, false)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range results {
				if r.Changed() {
					t.Errorf("%s is not formatted:\n%s", r.Path, UnifiedDiff(r.Path, r.Old, r.New))
				}
			}
		})
	}
	if n < 3 {
		t.Errorf("%d examples, want at least 3", n)
	}
}

// TestExampleContents pins what each example is about.
func TestExampleContents(t *testing.T) {
	clone := mustLoad(t, "../examples/blog-double-clone", LoadOptions{}).Environments[0]
	if clone.Migration.Strategy != StrategyCloneSwap || clone.Stack != "shop-staging" ||
		clone.Databases[0].LogicalID == "" || clone.Buckets[0].LogicalID == "" || clone.Services[0].LogicalID == "" ||
		len(clone.Migration.Verify.HTTP) == 0 {
		t.Errorf("blog-double-clone: want clone-swap of stack shop-staging by logical IDs with an http check, got %+v", clone)
	}
	move := mustLoad(t, "../examples/move-bucket", LoadOptions{}).Environments[0]
	if move.Migration.Strategy != StrategyRenameSwap || move.Migration.Verify.Objects != VerifyChecksum ||
		move.Buckets[0].MovedFrom == "" || len(move.Services) == 0 {
		t.Errorf("move-bucket: want rename-swap of a moved_from bucket with checksums and a service, got %+v", move)
	}
}

// misspelt is a spec whose line 9, column 5 has a misspelt argument; in
// JSON syntax it is on line 8, column 11.
const misspeltHCL = `# Production.
variable "app" {
  default = "shop"
}

environment "production" {
  bucket "uploads" {
    versioning = true
    nmae       = "${var.app}-uploads"
  }
}
`

const misspeltJSON = `{
  "variable": {"app": {"default": "shop"}},
  "environment": {
    "production": {
      "bucket": {
        "uploads": {
          "versioning": true,
          "nmae": "${var.app}-uploads"
        }
      }
    }
  }
}
`

// TestMisspeltAttribute: the done-when case. The diagnostic names file,
// line and column, renders the snippet, and reads the same in JSON.
func TestMisspeltAttribute(t *testing.T) {
	for name, tc := range map[string]struct {
		file, src      string
		line, col, end int
	}{
		"hcl":  {"name.envmig.hcl", misspeltHCL, 9, 5, 9},
		"json": {"name.envmig.json", misspeltJSON, 8, 11, 17},
	} {
		t.Run(name, func(t *testing.T) {
			dir := writeSpec(t, map[string]string{tc.file: tc.src})
			cfg, diags := Load(dir, LoadOptions{})
			if len(diags) != 1 {
				t.Fatalf("want 1 diagnostic, got:\n%s", render(t, diags, cfg.Files))
			}
			d := diags[0]
			want := &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Unsupported argument",
				Detail:   `An argument named "nmae" is not expected in a bucket block. Did you mean "name"?`,
			}
			if diff := cmp.Diff(want, d, cmpopts.IgnoreFields(hcl.Diagnostic{}, "Subject")); diff != "" {
				t.Errorf("diagnostic (-want +got):\n%s", diff)
			}
			path := filepath.Join(dir, tc.file)
			wantRange := hcl.Range{Filename: path,
				Start: hcl.Pos{Line: tc.line, Column: tc.col}, End: hcl.Pos{Line: tc.line, Column: tc.end}}
			got := *d.Subject
			got.Start.Byte, got.End.Byte = 0, 0
			if diff := cmp.Diff(wantRange, got); diff != "" {
				t.Errorf("subject (-want +got):\n%s", diff)
			}
			text := render(t, diags, cfg.Files)
			snippet := fmt.Sprintf("%4d: %s", tc.line, strings.Split(tc.src, "\n")[tc.line-1])
			for _, w := range []string{
				"Error: Unsupported argument",
				fmt.Sprintf("on %s line %d", path, tc.line),
				snippet,
				`Did you mean "name"?`,
			} {
				if !strings.Contains(text, w) {
					t.Errorf("rendered text lacks %q:\n%s", w, text)
				}
			}
		})
	}
}
