package plan

import (
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strings"
)

// FirstDifference compares a plan under review (got) with the plan the spec
// gives (want) and describes the first difference, steps first, or returns
// "" when they are the same. The digests and the spec's digest are not
// compared: formatting the spec, or a comment in it, changes no plan.
func FirstDifference(got, want *Plan) string {
	a, b := tree(got), tree(want)
	for _, m := range []map[string]any{a, b} {
		delete(m, "digest")
		delete(m, "config_digest")
	}
	keys := []string{"environment", "strategy", "steps"}
	var rest []string
	for k := range union(a, b) {
		if k != "environment" && k != "strategy" && k != "steps" {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	for _, k := range append(keys, rest...) {
		if d := diffAt(k, a[k], b[k], got); d != "" {
			return d
		}
	}
	return ""
}

func tree(p *Plan) map[string]any {
	b, err := json.Marshal(p)
	if err != nil {
		panic(fmt.Sprintf("plan: marshal: %v", err)) // only plain data
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		panic(fmt.Sprintf("plan: unmarshal: %v", err))
	}
	return m
}

func union(a, b map[string]any) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

// diffAt describes the first difference under path.
func diffAt(path string, got, want any, p *Plan) string {
	if reflect.DeepEqual(got, want) {
		return ""
	}
	switch g := got.(type) {
	case map[string]any:
		w, ok := want.(map[string]any)
		if !ok {
			break
		}
		keys := make([]string, 0)
		for k := range union(g, w) {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if d := diffAt(path+"."+k, g[k], w[k], p); d != "" {
				return d
			}
		}
	case []any:
		w, ok := want.([]any)
		if !ok {
			break
		}
		for i := 0; i < len(g) && i < len(w); i++ {
			if idOf(g[i]) != idOf(w[i]) {
				return fmt.Sprintf("%s: the plan has %s where the spec gives %s", name(path, i, p), describe(g[i]), describe(w[i]))
			}
			if d := diffAt(fmt.Sprintf("%s[%d]", path, i), g[i], w[i], p); d != "" {
				return d
			}
		}
		if len(g) > len(w) {
			return fmt.Sprintf("%s: the plan has %s that the spec does not give", name(path, len(w), p), describe(g[len(w)]))
		}
		if len(w) > len(g) {
			return fmt.Sprintf("%s: the spec gives %s that the plan lacks", name(path, len(g), p), describe(w[len(g)]))
		}
	}
	return fmt.Sprintf("%s: the plan has %s, the spec gives %s", readable(path, p), show(got), show(want))
}

// name labels element i of the list at path.
func name(path string, i int, p *Plan) string {
	return readable(fmt.Sprintf("%s[%d]", path, i), p)
}

// readable names steps by their ID: "steps[4]" becomes "step 5 (db.restore.main)".
func readable(path string, p *Plan) string {
	var i int
	if n, _ := fmt.Sscanf(path, "steps[%d]", &i); n == 1 {
		rest := path[strings.Index(path, "]")+1:]
		id := "?"
		if i < len(p.Steps) {
			id = p.Steps[i].ID
		}
		return fmt.Sprintf("step %d (%s)%s", i+1, id, rest)
	}
	return path
}

func describe(v any) string {
	if m, ok := v.(map[string]any); ok {
		if id, ok := m["id"].(string); ok {
			return fmt.Sprintf("step %s (%v)", id, m["action"])
		}
		if a, ok := m["address"].(string); ok {
			return a
		}
	}
	return show(v)
}

func show(v any) string {
	if v == nil {
		return "nothing"
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	s := string(b)
	if len(s) > 120 {
		s = s[:117] + "..."
	}
	return s
}

// idOf returns a list element's identity: a step's id or a resource's
// address ("" for anything else).
func idOf(v any) string {
	m, ok := v.(map[string]any)
	if !ok {
		return ""
	}
	if id, ok := m["id"].(string); ok {
		if _, isStep := m["phase"]; isStep {
			return id
		}
	}
	if a, ok := m["address"].(string); ok {
		return a
	}
	return ""
}
