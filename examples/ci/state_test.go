package ci_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// The state block of the contract (DESIGN.md §2):
//
//	state { s3 { bucket = "...", prefix = "envmig/", region = "..." } }
var (
	stateSchema = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "state"}}}
	s3Schema    = &hcl.BodySchema{Blocks: []hcl.BlockHeaderSchema{{Type: "s3"}}}
	s3Attrs     = &hcl.BodySchema{Attributes: []hcl.AttributeSchema{
		{Name: "bucket", Required: true},
		{Name: "prefix"},
		{Name: "region", Required: true},
	}}
	bucketName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$`)
	regionName = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]$`)
)

// checkStateBlocks parses an HCL snippet and checks each state block in it;
// it returns how many it found.
func checkStateBlocks(name, src string) (int, error) {
	f, diags := hclsyntax.ParseConfig([]byte(src), name, hcl.InitialPos)
	if diags.HasErrors() {
		return 0, diags
	}
	top, _, diags := f.Body.PartialContent(stateSchema)
	if diags.HasErrors() {
		return 0, diags
	}
	for _, st := range top.Blocks {
		if len(st.Labels) != 0 {
			return 0, fmt.Errorf("%s: the state block takes no label", st.DefRange)
		}
		inner, diags := st.Body.Content(s3Schema)
		if diags.HasErrors() {
			return 0, diags
		}
		if len(inner.Blocks) != 1 {
			return 0, fmt.Errorf("%s: want exactly one s3 block in state, got %d", st.DefRange, len(inner.Blocks))
		}
		attrs, diags := inner.Blocks[0].Body.Content(s3Attrs)
		if diags.HasErrors() {
			return 0, diags
		}
		values := map[string]string{}
		for n, a := range attrs.Attributes {
			v, diags := a.Expr.Value(nil)
			if diags.HasErrors() || v.Type() != cty.String || v.IsNull() {
				return 0, fmt.Errorf("%s: %s: want a literal string", a.Range, n)
			}
			values[n] = v.AsString()
		}
		if !bucketName.MatchString(values["bucket"]) {
			return 0, fmt.Errorf("%s: bucket %q is not a bucket name", st.DefRange, values["bucket"])
		}
		if !regionName.MatchString(values["region"]) {
			return 0, fmt.Errorf("%s: region %q is not a region", st.DefRange, values["region"])
		}
		if p, ok := values["prefix"]; ok && p != "" && (strings.HasPrefix(p, "/") || !strings.HasSuffix(p, "/")) {
			return 0, fmt.Errorf("%s: prefix %q: want a key prefix ending in /", st.DefRange, p)
		}
	}
	return len(top.Blocks), nil
}

var hclFence = regexp.MustCompile("(?ms)^\\s*```hcl\\s*\n(.*?)^\\s*```")

// TestDocsStateBlocksMatchTheContract: every HCL snippet of docs/ci.md and
// of the examples' README parses, and each state block in them is the
// contract's.
func TestDocsStateBlocksMatchTheContract(t *testing.T) {
	for _, path := range []string{docsCI, readme} {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		blocks := 0
		for i, m := range hclFence.FindAllStringSubmatch(string(b), -1) {
			n, err := checkStateBlocks(fmt.Sprintf("%s snippet %d", path, i+1), m[1])
			if err != nil {
				t.Error(err)
			}
			blocks += n
		}
		if blocks == 0 {
			t.Errorf("%s: no spec snippet declares a state block", path)
		}
		t.Logf("%s: %d state block(s) checked", path, blocks)
	}
}

func TestTheStateCheckerRefusesWhatTheContractDoesNot(t *testing.T) {
	good := `state {
  s3 {
    bucket = "acme-envmig-state"
    prefix = "envmig/"
    region = "us-east-1"
  }
}
environment "production" {}
`
	if n, err := checkStateBlocks("good", good); err != nil || n != 1 {
		t.Fatalf("good snippet: %d, %v", n, err)
	}
	s3 := func(attrs ...string) string {
		return "state {\n  s3 {\n    " + strings.Join(attrs, "\n    ") + "\n  }\n}\n"
	}
	for name, src := range map[string]string{
		"unknown attribute": s3(`bucket = "acme-state"`, `region = "us-east-1"`, `key = "envmig.tfstate"`),
		"other backend":     "state {\n  dynamodb {\n    table = \"locks\"\n  }\n}\n",
		"two backends":      "state {\n  s3 {\n    bucket = \"a-b-c\"\n    region = \"us-east-1\"\n  }\n  s3 {\n    bucket = \"d-e-f\"\n    region = \"us-east-1\"\n  }\n}\n",
		"no bucket":         s3(`region = "us-east-1"`),
		"no region":         s3(`bucket = "acme-state"`),
		"bad bucket":        s3(`bucket = "Acme_State"`, `region = "us-east-1"`),
		"computed bucket":   s3(`bucket = var.bucket`, `region = "us-east-1"`),
		"bad region":        s3(`bucket = "acme-state"`, `region = "US East"`),
		"absolute prefix":   s3(`bucket = "acme-state"`, `prefix = "/envmig"`, `region = "us-east-1"`),
		"labelled":          "state \"s3\" {\n  s3 {\n    bucket = \"acme-state\"\n    region = \"us-east-1\"\n  }\n}\n",
	} {
		if _, diags := hclsyntax.ParseConfig([]byte(src), name, hcl.InitialPos); diags.HasErrors() {
			t.Fatalf("%s: the case itself is not HCL: %v", name, diags)
		}
		if _, err := checkStateBlocks(name, src); err == nil {
			t.Errorf("%s: accepted\n%s", name, src)
		}
	}
	if _, err := checkStateBlocks("not HCL", "state {\n  s3 {\n    bucket =\n  }\n}\n"); err == nil {
		t.Error("a snippet that is not HCL was accepted")
	}
}
