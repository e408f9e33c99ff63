package config

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// EnvVarPrefix prefixes the environment variables that set spec variables.
const EnvVarPrefix = "ENVMIG_VAR_"

// varDecl is a declared variable and the value it has so far.
type varDecl struct {
	v        *Variable
	ty       cty.Type
	defaults *typeexpr.Defaults
	literal  bool // text values (-var, ENVMIG_VAR_) are taken as strings
	value    cty.Value
	ok       bool // value holds a valid value
	bad      bool // a value was given but was invalid (already reported)
}

// declareVariables decodes the variable blocks and their defaults.
func (l *loader) declareVariables(blocks []*hcl.Block) {
	for _, b := range blocks {
		name := b.Labels[0]
		if !hclsyntax.ValidIdentifier(name) {
			l.errorf(b.LabelRanges[0].Ptr(), "Invalid variable name",
				"%q is not a valid variable name. A name starts with a letter and holds letters, digits, underscores and hyphens.", name)
			continue
		}
		if prev, ok := l.vars[name]; ok {
			l.errorf(b.LabelRanges[0].Ptr(), "Duplicate variable declaration",
				"A variable named %q was already declared at %s. Variable names must be unique across all files; remove or rename one of them.", name, prev.v.DeclRange)
			continue
		}
		c, _ := l.content(b.Body, variableSchema)
		d := &varDecl{v: &Variable{Name: name, DeclRange: b.DefRange}, ty: cty.DynamicPseudoType, literal: true}
		l.vars[name] = d
		l.cfg.Variables[name] = d.v
		if a := c.Attributes["description"]; a != nil {
			if v, ok := l.static(a, cty.String); ok {
				d.v.Description = v.AsString()
			}
		}
		if a := c.Attributes["sensitive"]; a != nil {
			if v, ok := l.static(a, cty.Bool); ok {
				d.v.Sensitive = v.True()
			}
		}
		if a := c.Attributes["type"]; a != nil {
			ty, defaults, diags := typeexpr.TypeConstraintWithDefaults(a.Expr)
			l.diags = append(l.diags, diags...)
			if diags.HasErrors() {
				d.bad = true
				continue
			}
			d.ty, d.defaults = ty, defaults
			d.literal = ty == cty.String
		}
		if a := c.Attributes["default"]; a != nil {
			v, diags := a.Expr.Value(nil)
			if d.v.Sensitive {
				diags = redact(diags, a.Expr.Range())
			}
			l.diags = append(l.diags, diags...)
			if diags.HasErrors() {
				d.bad = true
				continue
			}
			if !d.v.Sensitive {
				l.assign(d, v, "its default", a.Expr.Range().Ptr())
			} else {
				l.assign(d, v, "its default at "+a.Expr.Range().String(), nil)
			}
		}
	}
}

// static evaluates an attribute that may not reference anything.
func (l *loader) static(a *hcl.Attribute, ty cty.Type) (cty.Value, bool) {
	v, diags := a.Expr.Value(nil)
	l.diags = append(l.diags, diags...)
	if diags.HasErrors() || v.IsNull() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		l.errorf(a.Expr.Range().Ptr(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s. Give it a %s value.", a.Name, err, ty.FriendlyNameForConstraint())
		return cty.NilVal, false
	}
	return cv, true
}

// assign converts v to d's type and makes it d's value. subject is nil for
// values that have no place in a file, and for sensitive variables.
func (l *loader) assign(d *varDecl, v cty.Value, source string, subject *hcl.Range) {
	if d.defaults != nil {
		v = d.defaults.Apply(v)
	}
	cv, err := convert.Convert(v, d.ty)
	if err != nil {
		l.errorf(subject, "Invalid value for variable",
			"The value of var.%s from %s is not valid: %s. It must be a %s.",
			d.v.Name, source, err, typeexpr.TypeString(d.ty))
		d.bad, d.ok = true, false
		return
	}
	d.value, d.ok, d.bad = cv, true, false
}

// assignVariables applies, lowest precedence first, ENVMIG_VAR_*, the
// -var-file files and the -var options, then reports every variable that
// has no value.
func (l *loader) assignVariables() {
	for _, kv := range l.opts.Environ {
		k, raw, ok := strings.Cut(kv, "=")
		name, isVar := strings.CutPrefix(k, EnvVarPrefix)
		if !ok || !isVar {
			continue
		}
		if d := l.vars[name]; d != nil {
			l.assignText(d, raw, "the environment variable "+k)
		}
	}
	for _, path := range l.opts.VarFiles {
		l.readVarFile(path)
	}
	for _, opt := range l.opts.Vars {
		name, raw, ok := strings.Cut(opt, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			l.errorf(nil, "Invalid -var option",
				"The option -var %q is not a variable name and a value separated by an equals sign. Write it as -var 'NAME=VALUE'.", opt)
			continue
		}
		d := l.vars[name]
		if d == nil {
			l.errorf(nil, "Value for undeclared variable",
				"A value for var.%s was given with -var, but the spec declares no such variable.%s Declare it with a variable %q { ... } block, or correct the name.",
				name, didYouMean(name, sortedKeys(l.vars)), name)
			continue
		}
		l.assignText(d, raw, "the option -var")
	}
	for _, name := range sortedKeys(l.vars) {
		d := l.vars[name]
		if !d.ok && !d.bad {
			l.errorf(d.v.DeclRange.Ptr(), "No value for required variable",
				"The variable %q has no default and no value was given. Set it with -var '%s=VALUE', in a -var-file, or with the environment variable %s%s.",
				name, name, EnvVarPrefix, name)
		}
	}
}

// assignText assigns a value given as text: literally for string (and
// untyped) variables, as an HCL expression otherwise.
func (l *loader) assignText(d *varDecl, raw, source string) {
	if d.literal {
		l.assign(d, cty.StringVal(raw), source, nil)
		return
	}
	filename := fmt.Sprintf("<value for var.%s>", d.v.Name)
	expr, diags := hclsyntax.ParseExpression([]byte(raw), filename, hcl.InitialPos)
	if !diags.HasErrors() {
		var vdiags hcl.Diagnostics
		var v cty.Value
		v, vdiags = expr.Value(nil)
		diags = append(diags, vdiags...)
		if !diags.HasErrors() {
			l.assign(d, v, source, nil)
			return
		}
	}
	for _, diag := range diags {
		diag.Detail = fmt.Sprintf("In the value of var.%s from %s: %s The value of a variable of type %s is an HCL expression, for example -var '%s=...' with quotes around strings.",
			d.v.Name, source, diag.Detail, typeexpr.TypeString(d.ty), d.v.Name)
		diag.Subject, diag.Context, diag.Expression, diag.EvalContext = nil, nil, nil, nil
	}
	l.diags = append(l.diags, diags...)
	d.bad, d.ok = true, false
}

// readVarFile reads one -var-file: native syntax, or JSON when its name
// ends in .json. Its attributes assign variables.
func (l *loader) readVarFile(path string) {
	src, err := os.ReadFile(path)
	if err != nil {
		l.errorf(nil, "Cannot read variables file",
			"Reading the -var-file %s failed: %s. Check the path.", path, err)
		return
	}
	f, diags := parseFile(src, path, strings.HasSuffix(path, ".json"))
	l.diags = append(l.diags, diags...)
	if f == nil || diags.HasErrors() {
		return
	}
	l.cfg.Files[path] = f
	attrs, diags := f.Body.JustAttributes()
	l.diags = append(l.diags, diags...)
	names := sortedKeys(attrs)
	sort.SliceStable(names, func(i, j int) bool { return attrs[names[i]].Range.Start.Byte < attrs[names[j]].Range.Start.Byte })
	for _, name := range names {
		a := attrs[name]
		d := l.vars[name]
		if d == nil {
			l.warnf(a.NameRange.Ptr(), "Value for undeclared variable",
				"The variables file assigns %q, but the spec declares no such variable, so the value is ignored.%s Declare it with a variable %q { ... } block, or remove the assignment.",
				name, didYouMean(name, sortedKeys(l.vars)), name)
			continue
		}
		v, vdiags := a.Expr.Value(nil)
		if d.v.Sensitive {
			vdiags = redact(vdiags, a.Range)
		}
		l.diags = append(l.diags, vdiags...)
		if vdiags.HasErrors() {
			d.bad, d.ok = true, false
			continue
		}
		if d.v.Sensitive {
			l.assign(d, v, fmt.Sprintf("the variables file at %s", a.Range), nil)
		} else {
			l.assign(d, v, "the variables file", a.Expr.Range().Ptr())
		}
	}
}

// redact strips from diags everything that would show a sensitive value's
// source line, naming only where it is.
func redact(diags hcl.Diagnostics, where hcl.Range) hcl.Diagnostics {
	for _, d := range diags {
		d.Detail = fmt.Sprintf("%s (In the value of a sensitive variable at %s; the source line is not shown.)", d.Detail, where)
		d.Subject, d.Context, d.Expression, d.EvalContext = nil, nil, nil, nil
	}
	return diags
}
