package stack

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// MaskedValue is how DescribeStacks shows the value of a NoEcho parameter.
// A parameter given this value evaluates to an Unknown.
const MaskedValue = "****"

// Inputs are what a template is evaluated with: the stack's name, its
// parameter values (the template's defaults fill the rest) and the pseudo
// parameters. Empty pseudo parameters are unknown.
type Inputs struct {
	StackName  string
	Parameters map[string]string
	Region     string
	AccountID  string
	Partition  string
}

// Unknown is a value CloudFormation only knows once it acts: an attribute
// or the physical ID of a resource, an imported value, the Availability
// Zones of a region, a NoEcho parameter that DescribeStacks masked, or an
// intrinsic envmig does not evaluate. Expr renders the expression with every
// known input substituted, so two Unknowns with the same Expr stand for the
// same value as long as the resources named in Refs stay the same.
type Unknown struct {
	Expr string
	Refs []string // logical IDs, sorted
}

// noValue is what Ref AWS::NoValue evaluates to: the property or list item
// is left out.
type noValue struct{}

// tri is a condition's value: true, false, or unknown.
type tri int8

const (
	triFalse tri = iota
	triTrue
	triUnknown
)

// Evaluated is a template evaluated with one set of inputs.
type Evaluated struct {
	Template *Template
	Inputs   Inputs
	// Resources by logical ID, including those whose Condition is false
	// (Created false) so that callers can tell "removed" from "absent".
	Resources map[string]EvaluatedResource
	// Outputs by name: their evaluated values (outputs whose Condition is
	// false are left out).
	Outputs map[string]any
}

// EvaluatedResource is a resource with its properties evaluated. A property
// whose value is Ref AWS::NoValue is absent.
type EvaluatedResource struct {
	Resource
	// Created is whether CloudFormation creates the resource (its Condition
	// holds); CreatedKnown is false when the Condition cannot be told.
	Created      bool
	CreatedKnown bool
	Props        map[string]any
}

// ParameterError reports a parameter without a value, or a value the
// template does not allow.
type ParameterError struct {
	Name   string
	Reason string
}

func (e *ParameterError) Error() string {
	return fmt.Sprintf("template parameter %s: %s", e.Name, e.Reason)
}

// Evaluate resolves every parameter (given value, or the template's
// default; a parameter with neither is a *ParameterError), then evaluates
// the conditions, every resource's properties and the outputs. Intrinsics
// that depend on what CloudFormation creates evaluate to Unknown; nothing
// is invented.
func Evaluate(t *Template, in Inputs) (*Evaluated, error) {
	e, err := newEvaluator(t, in)
	if err != nil {
		return nil, err
	}
	out := &Evaluated{Template: t, Inputs: in, Resources: map[string]EvaluatedResource{}, Outputs: map[string]any{}}
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		er := EvaluatedResource{Resource: r, Created: true, CreatedKnown: true}
		if r.Condition != "" {
			c, err := e.cond(r.Condition)
			if err != nil {
				return nil, fmt.Errorf("resource %s: %w", id, err)
			}
			er.Created, er.CreatedKnown = c != triFalse, c != triUnknown
		}
		v, err := e.eval(r.Properties)
		if err != nil {
			return nil, fmt.Errorf("resource %s: %w", id, err)
		}
		er.Props, _ = v.(map[string]any)
		if er.Props == nil {
			er.Props = map[string]any{}
		}
		out.Resources[id] = er
	}
	for _, name := range sortedKeys(t.Outputs) {
		o := t.Outputs[name]
		if o.Condition != "" {
			if c, err := e.cond(o.Condition); err != nil {
				return nil, fmt.Errorf("output %s: %w", name, err)
			} else if c == triFalse {
				continue
			}
		}
		v, err := e.eval(o.Value)
		if err != nil {
			return nil, fmt.Errorf("output %s: %w", name, err)
		}
		out.Outputs[name] = v
	}
	return out, nil
}

// EvaluateValue evaluates one expression of t (a property as written) with
// the inputs.
func EvaluateValue(t *Template, in Inputs, expr any) (any, error) {
	e, err := newEvaluator(t, in)
	if err != nil {
		return nil, err
	}
	return e.eval(expr)
}

type evaluator struct {
	t        *Template
	in       Inputs
	params   map[string]any
	conds    map[string]tri
	visiting map[string]bool
}

func newEvaluator(t *Template, in Inputs) (*evaluator, error) {
	e := &evaluator{t: t, in: in, params: map[string]any{}, conds: map[string]tri{}, visiting: map[string]bool{}}
	for name := range in.Parameters {
		if _, ok := t.Parameters[name]; !ok {
			return nil, &ParameterError{Name: name, Reason: "the template declares no such parameter"}
		}
	}
	for _, name := range sortedKeys(t.Parameters) {
		p := t.Parameters[name]
		v, given := in.Parameters[name]
		switch {
		case given:
		case p.HasDefault:
			v = p.Default
		default:
			return nil, &ParameterError{Name: name, Reason: "it has no default and no value was given"}
		}
		if p.NoEcho && v == MaskedValue {
			e.params[name] = Unknown{Expr: "Ref(" + name + ")"}
			continue
		}
		if len(p.AllowedValues) > 0 && !slices.Contains(p.AllowedValues, v) {
			return nil, &ParameterError{Name: name, Reason: fmt.Sprintf("%q is not one of its AllowedValues", shown(p, v))}
		}
		if p.IsList() {
			var items []any
			for _, s := range strings.Split(v, ",") {
				items = append(items, s)
			}
			e.params[name] = items
			continue
		}
		e.params[name] = v
	}
	return e, nil
}

// shown is a parameter value fit for a message: NoEcho values never are.
func shown(p Parameter, v string) string {
	if p.NoEcho {
		return MaskedValue
	}
	return v
}

// eval evaluates a value as written.
func (e *evaluator) eval(v any) (any, error) {
	switch x := v.(type) {
	case map[string]any:
		if fn, arg, ok := intrinsic(x); ok {
			return e.call(fn, arg)
		}
		out := make(map[string]any, len(x))
		for _, k := range sortedKeys(x) {
			ev, err := e.eval(x[k])
			if err != nil {
				return nil, err
			}
			if _, skip := ev.(noValue); !skip {
				out[k] = ev
			}
		}
		return out, nil
	case []any:
		out := make([]any, 0, len(x))
		for _, item := range x {
			ev, err := e.eval(item)
			if err != nil {
				return nil, err
			}
			if _, skip := ev.(noValue); !skip {
				out = append(out, ev)
			}
		}
		return out, nil
	default:
		return x, nil
	}
}

// intrinsic reports whether m is an intrinsic function call: one key, "Ref"
// or "Fn::*".
func intrinsic(m map[string]any) (string, any, bool) {
	if len(m) != 1 {
		return "", nil, false
	}
	for k, v := range m {
		if k == "Ref" || strings.HasPrefix(k, "Fn::") {
			return k, v, true
		}
	}
	return "", nil, false
}

func (e *evaluator) call(fn string, arg any) (any, error) {
	switch fn {
	case "Ref":
		name, ok := arg.(string)
		if !ok {
			return nil, fmt.Errorf("Ref takes a name, not %s", canon(arg))
		}
		return e.ref(name)
	case "Fn::GetAtt":
		return e.getAtt(arg)
	case "Fn::Sub":
		return e.sub(arg)
	case "Fn::Join":
		return e.join(arg)
	case "Fn::Select":
		return e.selectFn(arg)
	case "Fn::Split":
		return e.split(arg)
	case "Fn::If":
		return e.ifFn(arg)
	case "Fn::Equals", "Fn::And", "Fn::Or", "Fn::Not":
		c, err := e.condExpr(map[string]any{fn: arg})
		if err != nil {
			return nil, err
		}
		if c == triUnknown {
			ev, _ := e.evalLoose(arg)
			return Unknown{Expr: fn + canon(ev), Refs: refsOf(ev)}, nil
		}
		return c == triTrue, nil
	case "Fn::FindInMap":
		return e.findInMap(arg)
	case "Fn::Base64":
		v, err := e.eval(arg)
		if err != nil {
			return nil, err
		}
		if s, ok := v.(string); ok {
			return base64.StdEncoding.EncodeToString([]byte(s)), nil
		}
		return unknownCall(fn, v), nil
	default:
		// Fn::GetAZs, Fn::ImportValue, Fn::Cidr, Fn::Length,
		// Fn::ToJsonString, ...: known only to CloudFormation.
		v, _ := e.evalLoose(arg)
		return unknownCall(fn, v), nil
	}
}

// evalLoose evaluates arg for rendering an Unknown: errors leave it as
// written.
func (e *evaluator) evalLoose(arg any) (any, error) {
	v, err := e.eval(arg)
	if err != nil {
		return arg, err
	}
	return v, nil
}

func unknownCall(fn string, arg any) Unknown {
	return Unknown{Expr: strings.TrimPrefix(fn, "Fn::") + canon(arg), Refs: refsOf(arg)}
}

func (e *evaluator) ref(name string) (any, error) {
	if v, ok := e.params[name]; ok {
		return v, nil
	}
	pseudo := map[string]string{
		"AWS::StackName": e.in.StackName, "AWS::Region": e.in.Region,
		"AWS::AccountId": e.in.AccountID, "AWS::Partition": e.in.Partition,
	}
	if v, ok := pseudo[name]; ok {
		if v == "" {
			return Unknown{Expr: name}, nil
		}
		return v, nil
	}
	switch name {
	case "AWS::NoValue":
		return noValue{}, nil
	case "AWS::URLSuffix":
		switch {
		case strings.HasPrefix(e.in.Region, "cn-"):
			return "amazonaws.com.cn", nil
		case e.in.Region != "":
			return "amazonaws.com", nil
		}
		return Unknown{Expr: name}, nil
	case "AWS::StackId", "AWS::NotificationARNs":
		return Unknown{Expr: name}, nil
	}
	if _, ok := e.t.Resources[name]; ok {
		return Unknown{Expr: "Ref(" + name + ")", Refs: []string{name}}, nil
	}
	return nil, fmt.Errorf("Ref to %s: no such parameter or resource", name)
}

func (e *evaluator) getAtt(arg any) (any, error) {
	var res, attr string
	switch x := arg.(type) {
	case string:
		res, attr, _ = strings.Cut(x, ".")
	case []any:
		if len(x) == 2 {
			res, _ = x[0].(string)
			a, err := e.eval(x[1])
			if err != nil {
				return nil, err
			}
			attr = scalarOrCanon(a)
		}
	}
	if res == "" || attr == "" {
		return nil, fmt.Errorf("Fn::GetAtt takes [resource, attribute], not %s", canon(arg))
	}
	if _, ok := e.t.Resources[res]; !ok {
		return nil, fmt.Errorf("Fn::GetAtt of %s: no such resource", res)
	}
	return Unknown{Expr: "GetAtt(" + res + "." + attr + ")", Refs: []string{res}}, nil
}

func (e *evaluator) sub(arg any) (any, error) {
	var (
		text string
		vars = map[string]any{}
	)
	switch x := arg.(type) {
	case string:
		text = x
	case []any:
		if len(x) != 2 {
			return nil, fmt.Errorf("Fn::Sub takes a string or [string, variables]")
		}
		text, _ = x[0].(string)
		m, ok := x[1].(map[string]any)
		if !ok {
			return nil, fmt.Errorf("Fn::Sub's variables must be a map")
		}
		for k, v := range m {
			ev, err := e.eval(v)
			if err != nil {
				return nil, err
			}
			vars[k] = ev
		}
	default:
		return nil, fmt.Errorf("Fn::Sub takes a string or [string, variables]")
	}
	var (
		b       strings.Builder
		unknown bool
		refs    []string
	)
	for {
		i := strings.Index(text, "${")
		if i < 0 {
			b.WriteString(text)
			break
		}
		b.WriteString(text[:i])
		j := strings.Index(text[i:], "}")
		if j < 0 {
			b.WriteString(text[i:])
			break
		}
		name := text[i+2 : i+j]
		text = text[i+j+1:]
		if strings.HasPrefix(name, "!") {
			b.WriteString("${" + name[1:] + "}")
			continue
		}
		var (
			v   any
			err error
		)
		if vv, ok := vars[name]; ok {
			v = vv
		} else if res, attr, dotted := strings.Cut(name, "."); dotted && !strings.HasPrefix(name, "AWS::") {
			v, err = e.getAtt([]any{res, attr})
		} else {
			v, err = e.ref(name)
		}
		if err != nil {
			return nil, fmt.Errorf("Fn::Sub ${%s}: %w", name, err)
		}
		switch x := v.(type) {
		case string:
			b.WriteString(x)
		case Unknown:
			unknown = true
			refs = append(refs, x.Refs...)
			b.WriteString("${" + x.Expr + "}")
		default:
			return nil, fmt.Errorf("Fn::Sub ${%s}: a %s cannot be substituted into a string", name, kindOf(v))
		}
	}
	if unknown {
		return Unknown{Expr: "Sub(" + strconv.Quote(b.String()) + ")", Refs: sortedUnique(refs)}, nil
	}
	return b.String(), nil
}

func (e *evaluator) join(arg any) (any, error) {
	x, ok := arg.([]any)
	if !ok || len(x) != 2 {
		return nil, fmt.Errorf("Fn::Join takes [delimiter, list]")
	}
	delim, _ := x[0].(string)
	lv, err := e.eval(x[1])
	if err != nil {
		return nil, err
	}
	list, ok := lv.([]any)
	if !ok {
		return unknownCall("Fn::Join", []any{delim, lv}), nil
	}
	parts := make([]string, 0, len(list))
	for _, item := range list {
		switch s := item.(type) {
		case string:
			parts = append(parts, s)
		case Unknown:
			return unknownCall("Fn::Join", []any{delim, list}), nil
		default:
			parts = append(parts, scalarString(s))
		}
	}
	return strings.Join(parts, delim), nil
}

func (e *evaluator) selectFn(arg any) (any, error) {
	x, ok := arg.([]any)
	if !ok || len(x) != 2 {
		return nil, fmt.Errorf("Fn::Select takes [index, list]")
	}
	iv, err := e.eval(x[0])
	if err != nil {
		return nil, err
	}
	lv, err := e.eval(x[1])
	if err != nil {
		return nil, err
	}
	list, ok := lv.([]any)
	idx, ierr := strconv.Atoi(scalarString(iv))
	if !ok || ierr != nil {
		return unknownCall("Fn::Select", []any{iv, lv}), nil
	}
	if idx < 0 || idx >= len(list) {
		return nil, fmt.Errorf("Fn::Select index %d is out of its list of %d", idx, len(list))
	}
	return list[idx], nil
}

func (e *evaluator) split(arg any) (any, error) {
	x, ok := arg.([]any)
	if !ok || len(x) != 2 {
		return nil, fmt.Errorf("Fn::Split takes [delimiter, string]")
	}
	delim, _ := x[0].(string)
	sv, err := e.eval(x[1])
	if err != nil {
		return nil, err
	}
	s, ok := sv.(string)
	if !ok || delim == "" {
		return unknownCall("Fn::Split", []any{delim, sv}), nil
	}
	var out []any
	for _, p := range strings.Split(s, delim) {
		out = append(out, p)
	}
	return out, nil
}

func (e *evaluator) ifFn(arg any) (any, error) {
	x, ok := arg.([]any)
	if !ok || len(x) != 3 {
		return nil, fmt.Errorf("Fn::If takes [condition, value if true, value if false]")
	}
	name, ok := x[0].(string)
	if !ok {
		return nil, fmt.Errorf("Fn::If's first argument must name a condition")
	}
	c, err := e.cond(name)
	if err != nil {
		return nil, err
	}
	switch c {
	case triTrue:
		return e.eval(x[1])
	case triFalse:
		return e.eval(x[2])
	}
	a, err := e.eval(x[1])
	if err != nil {
		return nil, err
	}
	b, err := e.eval(x[2])
	if err != nil {
		return nil, err
	}
	if Equal(a, b) {
		return a, nil
	}
	return Unknown{Expr: "If(" + name + "," + canon(a) + "," + canon(b) + ")", Refs: sortedUnique(append(refsOf(a), refsOf(b)...))}, nil
}

func (e *evaluator) findInMap(arg any) (any, error) {
	x, ok := arg.([]any)
	if !ok || len(x) < 3 {
		return nil, fmt.Errorf("Fn::FindInMap takes [map, top-level key, second-level key]")
	}
	keys := make([]any, 3)
	for i := range 3 {
		v, err := e.eval(x[i])
		if err != nil {
			return nil, err
		}
		keys[i] = v
	}
	for _, k := range keys {
		if _, ok := k.(Unknown); ok {
			return unknownCall("Fn::FindInMap", keys), nil
		}
	}
	m, _ := e.t.Mappings[scalarString(keys[0])].(map[string]any)
	top, _ := m[scalarString(keys[1])].(map[string]any)
	v, ok := top[scalarString(keys[2])]
	if !ok {
		if len(x) > 3 { // Fn::FindInMap's DefaultValue (language extensions)
			if d, ok := x[3].(map[string]any); ok {
				return e.eval(d["DefaultValue"])
			}
		}
		return nil, fmt.Errorf("Fn::FindInMap %s: no such entry", canon(keys))
	}
	return e.eval(v)
}

// cond evaluates the named condition once.
func (e *evaluator) cond(name string) (tri, error) {
	if c, ok := e.conds[name]; ok {
		return c, nil
	}
	expr, ok := e.t.Conditions[name]
	if !ok {
		return triUnknown, fmt.Errorf("condition %s: the template declares no such condition", name)
	}
	if e.visiting[name] {
		return triUnknown, fmt.Errorf("condition %s refers to itself", name)
	}
	e.visiting[name] = true
	c, err := e.condExpr(expr)
	delete(e.visiting, name)
	if err != nil {
		return triUnknown, fmt.Errorf("condition %s: %w", name, err)
	}
	e.conds[name] = c
	return c, nil
}

// condExpr evaluates a condition expression: Fn::Equals, Fn::And, Fn::Or,
// Fn::Not, {"Condition": name}, or a value that is true or false.
func (e *evaluator) condExpr(v any) (tri, error) {
	if m, ok := v.(map[string]any); ok && len(m) == 1 {
		if name, ok := m["Condition"].(string); ok {
			return e.cond(name)
		}
		for fn, arg := range m {
			switch fn {
			case "Fn::Equals":
				x, ok := arg.([]any)
				if !ok || len(x) != 2 {
					return triUnknown, fmt.Errorf("Fn::Equals takes two values")
				}
				a, err := e.eval(x[0])
				if err != nil {
					return triUnknown, err
				}
				b, err := e.eval(x[1])
				if err != nil {
					return triUnknown, err
				}
				if hasUnknown(a) || hasUnknown(b) {
					return triUnknown, nil
				}
				return triOf(Equal(a, b)), nil
			case "Fn::Not":
				x, ok := arg.([]any)
				if !ok || len(x) != 1 {
					return triUnknown, fmt.Errorf("Fn::Not takes one condition")
				}
				c, err := e.condExpr(x[0])
				if err != nil || c == triUnknown {
					return c, err
				}
				return triOf(c == triFalse), nil
			case "Fn::And", "Fn::Or":
				x, ok := arg.([]any)
				if !ok {
					return triUnknown, fmt.Errorf("%s takes a list of conditions", fn)
				}
				// And: any false decides; Or: any true decides.
				decides, result := triFalse, triTrue
				if fn == "Fn::Or" {
					decides, result = triTrue, triFalse
				}
				for _, item := range x {
					c, err := e.condExpr(item)
					if err != nil {
						return triUnknown, err
					}
					if c == decides {
						return decides, nil
					}
					if c == triUnknown {
						result = triUnknown
					}
				}
				return result, nil
			}
		}
	}
	// A bare string inside And/Or/Not names a condition (the short form
	// !Condition is read as a plain string).
	if name, ok := v.(string); ok {
		if _, declared := e.t.Conditions[name]; declared {
			return e.cond(name)
		}
	}
	ev, err := e.eval(v)
	if err != nil {
		return triUnknown, err
	}
	switch x := ev.(type) {
	case bool:
		return triOf(x), nil
	case string:
		switch strings.ToLower(x) {
		case "true":
			return triTrue, nil
		case "false":
			return triFalse, nil
		}
	case Unknown:
		return triUnknown, nil
	}
	return triUnknown, fmt.Errorf("%s is not a condition", canon(ev))
}

func triOf(b bool) tri {
	if b {
		return triTrue
	}
	return triFalse
}

// Equal reports whether two evaluated values are the same to
// CloudFormation: scalars compare as strings (true and "true", 20 and "20"
// are equal), maps by key, lists in order, Unknowns by expression.
func Equal(a, b any) bool { return canon(a) == canon(b) }

// canon renders an evaluated value canonically.
func canon(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case noValue:
		return "NoValue"
	case Unknown:
		return "<" + x.Expr + ">"
	case map[string]any:
		var b strings.Builder
		b.WriteString("{")
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(strconv.Quote(k) + ":" + canon(x[k]))
		}
		b.WriteString("}")
		return b.String()
	case []any:
		parts := make([]string, len(x))
		for i, item := range x {
			parts[i] = canon(item)
		}
		return "[" + strings.Join(parts, ",") + "]"
	default:
		return strconv.Quote(scalarString(x))
	}
}

// Render is a short human rendering of an evaluated value: a scalar as its
// string, anything else canonically.
func Render(v any) string {
	switch x := v.(type) {
	case nil:
		return "(absent)"
	case string, bool, json.Number:
		return scalarString(x)
	case Unknown:
		return "(" + x.Expr + ", known after CloudFormation acts)"
	}
	return canon(v)
}

func scalarOrCanon(v any) string {
	switch v.(type) {
	case string, bool, json.Number:
		return scalarString(v)
	}
	return canon(v)
}

func hasUnknown(v any) bool {
	switch x := v.(type) {
	case Unknown:
		return true
	case map[string]any:
		for _, e := range x {
			if hasUnknown(e) {
				return true
			}
		}
	case []any:
		for _, e := range x {
			if hasUnknown(e) {
				return true
			}
		}
	}
	return false
}

// refsOf returns the logical IDs an evaluated value depends on.
func refsOf(v any) []string {
	var refs []string
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case Unknown:
			refs = append(refs, x.Refs...)
		case map[string]any:
			for _, e := range x {
				walk(e)
			}
		case []any:
			for _, e := range x {
				walk(e)
			}
		}
	}
	walk(v)
	return sortedUnique(refs)
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	sort.Strings(s)
	return slices.Compact(s)
}

func kindOf(v any) string {
	switch v.(type) {
	case []any:
		return "list"
	case map[string]any:
		return "map"
	case noValue:
		return "AWS::NoValue"
	}
	return fmt.Sprintf("%T", v)
}
