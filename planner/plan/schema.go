package plan

import (
	"fmt"
	"reflect"
	"strings"
	"time"
)

// ParamsSchema returns the JSON Schema of every action's parameters, keyed
// by action, derived from the Go types: docs/plan.schema.json carries it
// (a test keeps the two equal).
func ParamsSchema() map[string]any {
	out := map[string]any{}
	for _, a := range Actions() {
		out[string(a.Action)] = typeSchema(a.Params)
	}
	return out
}

// ParamFields lists an action's parameter names as they appear in a plan
// file (nested objects as "settings.port"), for docs/plans.md.
func ParamFields(t reflect.Type) []string {
	var out []string
	var walk func(t reflect.Type, prefix string)
	walk = func(t reflect.Type, prefix string) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, _ := jsonName(f)
			if name == "" {
				continue
			}
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct && ft != timeType {
				walk(ft, prefix+name+".")
				continue
			}
			out = append(out, prefix+name)
		}
	}
	walk(t, "")
	return out
}

var timeType = reflect.TypeOf(time.Time{})

func jsonName(f reflect.StructField) (name string, omitempty bool) {
	tag := f.Tag.Get("json")
	if tag == "-" || !f.IsExported() {
		return "", false
	}
	name, opts, _ := strings.Cut(tag, ",")
	if name == "" {
		name = f.Name
	}
	return name, strings.Contains(opts, "omitempty")
}

func typeSchema(t reflect.Type) map[string]any {
	nullable := false
	for t.Kind() == reflect.Pointer {
		t, nullable = t.Elem(), true
	}
	var s map[string]any
	if t == timeType {
		return map[string]any{"type": "string", "format": "date-time"}
	}
	switch t.Kind() {
	case reflect.String:
		s = map[string]any{"type": "string"}
	case reflect.Bool:
		s = map[string]any{"type": "boolean"}
	case reflect.Int, reflect.Int32, reflect.Int64:
		s = map[string]any{"type": "integer", "minimum": 0}
	case reflect.Slice:
		s = map[string]any{"type": []any{"array", "null"}, "items": typeSchema(t.Elem())}
	case reflect.Map:
		s = map[string]any{"type": []any{"object", "null"}, "additionalProperties": typeSchema(t.Elem())}
	case reflect.Struct:
		props := map[string]any{}
		var required []any
		for i := range t.NumField() {
			f := t.Field(i)
			name, omit := jsonName(f)
			if name == "" {
				continue
			}
			props[name] = typeSchema(f.Type)
			if !omit && !strings.Contains(f.Tag.Get("json"), "omitzero") {
				required = append(required, name)
			}
		}
		s = map[string]any{"type": "object", "additionalProperties": false, "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
	default:
		panic(fmt.Sprintf("plan: no schema for parameter type %s", t)) // a new parameter type needs a case
	}
	if nullable {
		if _, isList := s["type"].([]any); !isList {
			s["type"] = []any{s["type"], "null"}
		}
	}
	return s
}
