package config

import (
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// sensitive is the cty mark carried by the values of sensitive variables
// and everything computed from them.
type sensitiveMark struct{}

var sensitive = sensitiveMark{}

// loader holds the state of one Load.
type loader struct {
	cfg   *Config
	opts  LoadOptions
	diags hcl.Diagnostics

	vars      map[string]*varDecl
	locals    map[string]*hcl.Attribute
	localVals map[string]cty.Value
	ctx       *hcl.EvalContext
}

func newLoader(cfg *Config, opts LoadOptions) *loader {
	return &loader{
		cfg:       cfg,
		opts:      opts,
		vars:      map[string]*varDecl{},
		locals:    map[string]*hcl.Attribute{},
		localVals: map[string]cty.Value{},
		ctx:       &hcl.EvalContext{Variables: map[string]cty.Value{}, Functions: functions},
	}
}

// load decodes the parsed files: variables first, then locals, then the
// blocks that use them.
func (l *loader) load(files []specFile) {
	var awsBlocks, varBlocks, localsBlocks, envBlocks, stateBlocks []*hcl.Block
	for _, f := range files {
		c, _ := l.content(f.file.Body, rootSchema)
		for _, b := range c.Blocks {
			switch b.Type {
			case "aws":
				awsBlocks = append(awsBlocks, b)
			case "variable":
				varBlocks = append(varBlocks, b)
			case "locals":
				localsBlocks = append(localsBlocks, b)
			case "environment":
				envBlocks = append(envBlocks, b)
			case "state":
				stateBlocks = append(stateBlocks, b)
			}
		}
	}
	l.declareVariables(varBlocks)
	l.assignVariables()
	l.setVariables()
	l.declareLocals(localsBlocks)
	l.evaluateLocals()
	l.decodeAWS(awsBlocks)
	l.decodeEnvironments(envBlocks)
	l.decodeState(stateBlocks)
	if len(envBlocks) == 0 && len(files) > 0 && !l.diags.HasErrors() {
		start := hcl.Range{Filename: files[0].name, Start: hcl.InitialPos, End: hcl.InitialPos}
		l.errorf(&start, "No environment block",
			"The spec declares no environment, so there is nothing to validate or migrate. Add an environment \"NAME\" { ... } block with the databases, buckets and services to migrate.")
	}
}

// setVariables puts every variable's value into the evaluation context,
// marking sensitive ones, and collects the sensitive strings.
func (l *loader) setVariables() {
	vals := map[string]cty.Value{}
	for _, name := range sortedKeys(l.vars) {
		d := l.vars[name]
		if !d.ok {
			vals[name] = cty.DynamicVal
			continue
		}
		v := d.value
		if d.v.Sensitive {
			l.cfg.SensitiveValues = append(l.cfg.SensitiveValues, stringLeaves(v)...)
			v = v.Mark(sensitive)
		}
		vals[name] = v
	}
	l.ctx.Variables["var"] = cty.ObjectVal(vals)
}

// stringLeaves returns every non-empty known string inside v.
func stringLeaves(v cty.Value) []string {
	var out []string
	_ = cty.Walk(v, func(_ cty.Path, v cty.Value) (bool, error) {
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String && v.AsString() != "" {
			out = append(out, v.AsString())
		}
		return true, nil
	})
	return out
}

// declareLocals collects the attributes of every locals block.
func (l *loader) declareLocals(blocks []*hcl.Block) {
	for _, b := range blocks {
		attrs, diags := b.Body.JustAttributes()
		l.diags = append(l.diags, diags...)
		for _, name := range sortedKeys(attrs) {
			a := attrs[name]
			if prev, ok := l.locals[name]; ok {
				l.errorf(a.NameRange.Ptr(), "Duplicate local value definition",
					"A local value named %q was already defined at %s. Local value names must be unique across all files; rename or remove one of them.", name, prev.NameRange)
				continue
			}
			if !hclsyntax.ValidIdentifier(name) {
				l.errorf(a.NameRange.Ptr(), "Invalid local value name",
					"%q is not a valid name. A name starts with a letter and holds letters, digits, underscores and hyphens.", name)
				continue
			}
			l.locals[name] = a
		}
	}
}

// evaluateLocals evaluates the locals in dependency order (depth first),
// reporting each cycle once. A local that fails, or is part of a cycle, is
// unknown, so what uses it is skipped without a second diagnostic.
func (l *loader) evaluateLocals() {
	const (
		visiting = 1
		done     = 2
	)
	state := map[string]int{}
	inCycle := map[string]bool{}
	var stack []string
	var visit func(name string)
	visit = func(name string) {
		switch state[name] {
		case done:
			return
		case visiting:
			l.reportCycle(stack, name, inCycle)
			return
		}
		state[name] = visiting
		stack = append(stack, name)
		for _, dep := range localDeps(l.locals[name].Expr) {
			if _, ok := l.locals[dep]; ok {
				visit(dep)
			}
		}
		stack = stack[:len(stack)-1]
		state[name] = done
		l.localVals[name] = cty.DynamicVal
		if !inCycle[name] && l.checkRefs(l.locals[name].Expr) {
			l.setLocals()
			v, diags := l.locals[name].Expr.Value(l.ctx)
			l.diags = append(l.diags, diags...)
			if !diags.HasErrors() {
				l.localVals[name] = v
			}
		}
	}
	for _, name := range sortedKeys(l.locals) {
		visit(name)
	}
	l.setLocals()
}

// reportCycle reports the cycle that closes at name (which is on stack)
// and marks its members.
func (l *loader) reportCycle(stack []string, name string, inCycle map[string]bool) {
	i := len(stack) - 1
	for i > 0 && stack[i] != name {
		i--
	}
	var path []string
	for _, n := range append(stack[i:len(stack):len(stack)], name) {
		inCycle[n] = true
		path = append(path, "local."+n)
	}
	l.errorf(l.locals[name].Expr.Range().Ptr(), "Circular reference between local values",
		"The local values refer to each other in a loop: %s. A local value can only use values that do not depend on it; break the loop.",
		strings.Join(path, " -> "))
}

// setLocals puts the local values evaluated so far into the evaluation
// context; the others are unknown.
func (l *loader) setLocals() {
	vals := map[string]cty.Value{}
	for name := range l.locals {
		if v, ok := l.localVals[name]; ok {
			vals[name] = v
		} else {
			vals[name] = cty.DynamicVal
		}
	}
	l.ctx.Variables["local"] = cty.ObjectVal(vals)
}

// localDeps returns the names of the locals expr references.
func localDeps(expr hcl.Expression) []string {
	var out []string
	for _, t := range expr.Variables() {
		if t.RootName() == "local" {
			if name, ok := refName(t); ok {
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// refName is NAME in var.NAME, local.NAME or var["NAME"].
func refName(t hcl.Traversal) (string, bool) {
	if len(t) < 2 {
		return "", false
	}
	switch s := t[1].(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	case hcl.TraverseIndex:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

// checkRefs reports every reference in expr that names nothing declared,
// and returns whether there was none.
func (l *loader) checkRefs(expr hcl.Expression) bool {
	ok := true
	for _, t := range expr.Variables() {
		rng := t.SourceRange()
		root := t.RootName()
		switch root {
		case "var", "local":
			name, named := refName(t)
			if !named {
				l.errorf(&rng, "Invalid reference",
					"A reference to %s looks like %s.NAME. Add the name of the %s after the dot.", root, root, map[string]string{"var": "variable", "local": "local value"}[root])
				ok = false
				continue
			}
			if root == "var" {
				if _, declared := l.vars[name]; !declared {
					l.errorf(&rng, "Reference to undeclared input variable",
						"An input variable named %q has not been declared.%s Declare it with a variable %q { ... } block, or correct the name.",
						name, didYouMean(name, sortedKeys(l.vars)), name)
					ok = false
				}
				continue
			}
			if _, declared := l.locals[name]; !declared {
				l.errorf(&rng, "Reference to undeclared local value",
					"A local value named %q has not been declared.%s Define it in a locals { ... } block, or correct the name.",
					name, didYouMean(name, sortedKeys(l.locals)))
				ok = false
			}
		default:
			l.errorf(&rng, "Invalid reference",
				"%q is not something a spec can refer to.%s Only input variables (var.NAME) and local values (local.NAME) can be referenced; a literal string must be quoted.",
				root, didYouMean(root, []string{"var", "local"}))
			ok = false
		}
	}
	return ok
}

// functions are the functions a spec can call: the cty standard library.
var functions = map[string]function.Function{
	"abs":             stdlib.AbsoluteFunc,
	"can":             tryfunc.CanFunc,
	"ceil":            stdlib.CeilFunc,
	"chomp":           stdlib.ChompFunc,
	"chunklist":       stdlib.ChunklistFunc,
	"coalesce":        stdlib.CoalesceFunc,
	"coalescelist":    stdlib.CoalesceListFunc,
	"compact":         stdlib.CompactFunc,
	"concat":          stdlib.ConcatFunc,
	"contains":        stdlib.ContainsFunc,
	"csvdecode":       stdlib.CSVDecodeFunc,
	"distinct":        stdlib.DistinctFunc,
	"element":         stdlib.ElementFunc,
	"flatten":         stdlib.FlattenFunc,
	"floor":           stdlib.FloorFunc,
	"format":          stdlib.FormatFunc,
	"formatdate":      stdlib.FormatDateFunc,
	"formatlist":      stdlib.FormatListFunc,
	"indent":          stdlib.IndentFunc,
	"join":            stdlib.JoinFunc,
	"jsondecode":      stdlib.JSONDecodeFunc,
	"jsonencode":      stdlib.JSONEncodeFunc,
	"keys":            stdlib.KeysFunc,
	"length":          stdlib.LengthFunc,
	"log":             stdlib.LogFunc,
	"lookup":          stdlib.LookupFunc,
	"lower":           stdlib.LowerFunc,
	"max":             stdlib.MaxFunc,
	"merge":           stdlib.MergeFunc,
	"min":             stdlib.MinFunc,
	"parseint":        stdlib.ParseIntFunc,
	"pow":             stdlib.PowFunc,
	"range":           stdlib.RangeFunc,
	"regex":           stdlib.RegexFunc,
	"regexall":        stdlib.RegexAllFunc,
	"regex_replace":   stdlib.RegexReplaceFunc,
	"replace":         stdlib.ReplaceFunc,
	"reverse":         stdlib.ReverseListFunc,
	"setintersection": stdlib.SetIntersectionFunc,
	"setproduct":      stdlib.SetProductFunc,
	"setsubtract":     stdlib.SetSubtractFunc,
	"setunion":        stdlib.SetUnionFunc,
	"signum":          stdlib.SignumFunc,
	"slice":           stdlib.SliceFunc,
	"sort":            stdlib.SortFunc,
	"split":           stdlib.SplitFunc,
	"strlen":          stdlib.StrlenFunc,
	"strrev":          stdlib.ReverseFunc,
	"substr":          stdlib.SubstrFunc,
	"timeadd":         stdlib.TimeAddFunc,
	"title":           stdlib.TitleFunc,
	"tobool":          stdlib.MakeToFunc(cty.Bool),
	"tolist":          stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
	"tomap":           stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
	"tonumber":        stdlib.MakeToFunc(cty.Number),
	"toset":           stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
	"tostring":        stdlib.MakeToFunc(cty.String),
	"trim":            stdlib.TrimFunc,
	"trimprefix":      stdlib.TrimPrefixFunc,
	"trimspace":       stdlib.TrimSpaceFunc,
	"trimsuffix":      stdlib.TrimSuffixFunc,
	"try":             tryfunc.TryFunc,
	"upper":           stdlib.UpperFunc,
	"values":          stdlib.ValuesFunc,
	"zipmap":          stdlib.ZipmapFunc,
}
