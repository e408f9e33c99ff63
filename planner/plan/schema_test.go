package plan

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite docs/plan.schema.json and the actions table of docs/plans.md from the Go types")

const (
	schemaFile = "../../docs/plan.schema.json"
	plansDoc   = "../../docs/plans.md"
)

// expectedSchema is docs/plan.schema.json with the parts derived from the Go
// types (the action enum, each action's params, the dispatch from one to the
// other) recomputed.
func expectedSchema(t *testing.T) (have, want map[string]any) {
	t.Helper()
	raw, err := os.ReadFile(schemaFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &have); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	defs := want["$defs"].(map[string]any)
	defs["params"] = roundTrip(t, ParamsSchema())
	step := defs["step"].(map[string]any)
	props := step["properties"].(map[string]any)
	var enum []any
	var dispatch []any
	for _, a := range Actions() {
		enum = append(enum, string(a.Action))
		dispatch = append(dispatch, map[string]any{
			"if":   map[string]any{"properties": map[string]any{"action": map[string]any{"const": string(a.Action)}}, "required": []any{"action"}},
			"then": map[string]any{"properties": map[string]any{"params": map[string]any{"$ref": "#/$defs/params/" + string(a.Action)}}, "required": []any{"params"}},
		})
	}
	props["action"] = map[string]any{"enum": enum}
	props["params"] = map[string]any{"type": "object", "description": "The action's parameters: see $defs/params."}
	delete(props, "tags")
	step["allOf"] = dispatch
	return have, want
}

func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestSchemaMatchesTheParamTypes keeps docs/plan.schema.json equal to the Go
// parameter types: a parameter added, renamed or retyped in Go without the
// schema fails here (go test ./planner/plan -run Schema -update rewrites it).
func TestSchemaMatchesTheParamTypes(t *testing.T) {
	have, want := expectedSchema(t)
	if *update {
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(want); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(schemaFile, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, have); diff != "" {
		t.Fatalf("docs/plan.schema.json differs from the parameter types (-want +got); run go test ./planner/plan -run Schema -update:\n%s", diff)
	}
}

const (
	actionsBegin = "<!-- actions:begin (generated from planner/plan/params.go: go test ./planner/plan -run Docs -update) -->"
	actionsEnd   = "<!-- actions:end -->"
)

// actionsTable is the table of actions and their parameters in
// docs/plans.md.
func actionsTable() string {
	var b strings.Builder
	b.WriteString("| action | parameters |\n|---|---|\n")
	for _, a := range Actions() {
		fields := ParamFields(a.Params)
		for i, f := range fields {
			fields[i] = "`" + f + "`"
		}
		list := strings.Join(fields, ", ")
		if list == "" {
			list = "—"
		}
		fmt.Fprintf(&b, "| `%s` | %s |\n", a.Action, list)
	}
	return b.String()
}

// TestDocsListEveryActionAndParameter keeps docs/plans.md's table of step
// actions equal to the Go types.
func TestDocsListEveryActionAndParameter(t *testing.T) {
	raw, err := os.ReadFile(plansDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i, j := strings.Index(doc, actionsBegin), strings.Index(doc, actionsEnd)
	if i < 0 || j < i {
		t.Fatalf("docs/plans.md has no %q ... %q block", actionsBegin, actionsEnd)
	}
	got := doc[i+len(actionsBegin)+1 : j]
	want := actionsTable()
	if *update {
		doc = doc[:i+len(actionsBegin)+1] + want + doc[j:]
		if err := os.WriteFile(plansDoc, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("docs/plans.md's actions table differs from the parameter types (-want +got); run go test ./planner/plan -run Docs -update:\n%s", diff)
	}
}

// TestEveryActionDecodesItsOwnParams round-trips the zero value of every
// action's parameters and refuses another action's.
func TestEveryActionDecodesItsOwnParams(t *testing.T) {
	for _, a := range Actions() {
		s := Step{ID: "s", Phase: PhasePrepare, Action: a.Action, Params: zeroParams(a.Action)}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Step
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%s: %v", a.Action, err)
		}
		if diff := cmp.Diff(s, back); diff != "" {
			t.Errorf("%s round trip:\n%s", a.Action, diff)
		}
	}
}

func zeroParams(a StepAction) Params {
	p, err := decodeParams(a, nil)
	if err != nil {
		panic(err)
	}
	return p
}

// TestCostTableListsEveryAction keeps docs/plans.md's cost model table
// naming every step action.
func TestCostTableListsEveryAction(t *testing.T) {
	raw, err := os.ReadFile(plansDoc)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(raw)
	i := strings.Index(doc, "| step | model |")
	if i < 0 {
		t.Fatal("docs/plans.md has no cost model table")
	}
	table := doc[i:]
	if j := strings.Index(table, "\n\n"); j >= 0 {
		table = table[:j]
	}
	for _, a := range Actions() {
		if !strings.Contains(table, "`"+string(a.Action)+"`") {
			t.Errorf("the cost table of docs/plans.md does not list %s", a.Action)
		}
	}
}
