package config

import (
	"math/big"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// state is what evaluating an attribute found.
type state int

const (
	absent  state = iota // not written, or null: "keep whatever is live"
	invalid              // wrong; already reported
	valid
)

// evalAttr evaluates attribute a (nil when not written) to type ty.
func (l *loader) evalAttr(a *hcl.Attribute, ty cty.Type) (cty.Value, state) {
	if a == nil {
		return cty.NilVal, absent
	}
	if !l.checkRefs(a.Expr) {
		return cty.NilVal, invalid
	}
	v, diags := a.Expr.Value(l.ctx)
	l.diags = append(l.diags, diags...)
	switch {
	case diags.HasErrors():
		return cty.NilVal, invalid
	case v.ContainsMarked():
		l.errorf(a.Expr.Range().Ptr(), "Sensitive value cannot be used in "+a.Name,
			"The value of %q comes from a variable declared sensitive = true. Plans and state files are written to disk, so a sensitive value must never reach them: pass secrets to checks through environment variables read at run time (for example run = \"./check.sh\" with the secret exported before envmig runs).",
			a.Name)
		return cty.NilVal, invalid
	case !v.IsWhollyKnown():
		// A variable or local it uses failed; that is already reported.
		return cty.NilVal, invalid
	case v.IsNull():
		return cty.NilVal, absent
	}
	cv, err := convert.Convert(v, ty)
	if err != nil {
		l.errorf(a.Expr.Range().Ptr(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s. Give it a %s value.", a.Name, err, ty.FriendlyNameForConstraint())
		return cty.NilVal, invalid
	}
	return cv, valid
}

// eval is evalAttr for callers that only need to know whether there is a
// valid value.
func (l *loader) eval(a *hcl.Attribute, ty cty.Type) (cty.Value, bool) {
	v, s := l.evalAttr(a, ty)
	return v, s == valid
}

// strState is the string value of attribute name. An empty string is
// reported: leaving the attribute out is how a spec keeps the live value.
func (l *loader) strState(attrs hcl.Attributes, name string) (string, state) {
	a := attrs[name]
	v, s := l.evalAttr(a, cty.String)
	if s != valid {
		return "", s
	}
	if v.AsString() == "" {
		l.errorf(a.Expr.Range().Ptr(), "Empty "+name,
			"%s is set to an empty string. Give it a value, or leave the attribute out.", name)
		return "", invalid
	}
	return v.AsString(), valid
}

// str is the string value of attribute name, or "".
func (l *loader) str(attrs hcl.Attributes, name string) string {
	v, _ := l.strState(attrs, name)
	return v
}

// boolPtr is the bool value of attribute name, or nil.
func (l *loader) boolPtr(attrs hcl.Attributes, name string) *bool {
	if v, ok := l.eval(attrs[name], cty.Bool); ok {
		b := v.True()
		return &b
	}
	return nil
}

// whole is the whole-number value of attribute name within [lo, hi], or
// nil. what describes the number for the diagnostic ("a size in GiB").
func (l *loader) whole(attrs hcl.Attributes, name string, lo, hi int64, what string) *int64 {
	a := attrs[name]
	v, ok := l.eval(a, cty.Number)
	if !ok {
		return nil
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != big.Exact || n < lo || n > hi {
		l.errorf(a.Expr.Range().Ptr(), "Invalid "+name,
			"%s must be a whole number from %d to %d (%s), not %s.", name, lo, hi, what, bf.Text('g', 10))
		return nil
	}
	return &n
}

// stringList is the list-of-string value of attribute name with the range
// of each element when the list is written out literally.
func (l *loader) stringList(attrs hcl.Attributes, name string) ([]string, []hcl.Range) {
	a := attrs[name]
	v, ok := l.eval(a, cty.List(cty.String))
	if !ok {
		return nil, nil
	}
	elems, _ := hcl.ExprList(a.Expr)
	var out []string
	var ranges []hcl.Range
	for i, e := range v.AsValueSlice() {
		rng := a.Expr.Range()
		if len(elems) == v.LengthInt() {
			rng = elems[i].Range()
		}
		if e.IsNull() {
			l.errorf(&rng, "Invalid "+name, "%s cannot hold null. Remove the element.", name)
			continue
		}
		out = append(out, e.AsString())
		ranges = append(ranges, rng)
	}
	return out, ranges
}

// stringMap is the map-of-string value of attribute name with the range of
// each key when the map is written out literally. Values must be strings,
// numbers or bools.
func (l *loader) stringMap(attrs hcl.Attributes, name string) (map[string]string, map[string]hcl.Range) {
	a := attrs[name]
	v, ok := l.eval(a, cty.Map(cty.String))
	if !ok {
		return nil, nil
	}
	keyRanges := map[string]hcl.Range{}
	if pairs, diags := hcl.ExprMap(a.Expr); !diags.HasErrors() {
		for _, kv := range pairs {
			k, diags := kv.Key.Value(l.ctx)
			if !diags.HasErrors() && k.Type() == cty.String && k.IsKnown() && !k.IsNull() && !k.IsMarked() {
				keyRanges[k.AsString()] = kv.Key.Range()
			}
		}
	}
	out := map[string]string{}
	ranges := map[string]hcl.Range{}
	keys := make([]string, 0, v.LengthInt())
	for k := range v.AsValueMap() {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		e := v.Index(cty.StringVal(k))
		rng, ok := keyRanges[k]
		if !ok {
			rng = a.Expr.Range()
		}
		if e.IsNull() {
			l.errorf(&rng, "Invalid "+name, "The value of %q in %s is null. Give it a string value, or remove the key.", k, name)
			continue
		}
		out[k] = e.AsString()
		ranges[k] = rng
	}
	return out, ranges
}
