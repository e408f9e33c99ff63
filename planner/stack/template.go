package stack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/awslabs/goformation/v7/cloudformation"
	"github.com/awslabs/goformation/v7/intrinsics"
)

// Resource types envmig treats specially.
const (
	TypeDBInstance       = "AWS::RDS::DBInstance"
	TypeBucket           = "AWS::S3::Bucket"
	TypeAutoScalingGroup = "AWS::AutoScaling::AutoScalingGroup"
)

// Template is a CloudFormation template as written: every value is the
// long form of what the author wrote (short-form tags such as !Ref and !Sub
// are turned into {"Ref": ...} and {"Fn::Sub": ...} by goformation), not
// yet evaluated. Evaluate it with Evaluate.
type Template struct {
	Description string
	Parameters  map[string]Parameter
	Conditions  map[string]any
	Mappings    map[string]any
	Resources   map[string]Resource
	Outputs     map[string]Output
	// Transform is set when the template declares a Transform (a macro such
	// as AWS::Serverless): CloudFormation expands it before use, so envmig's
	// reading of it is incomplete.
	Transform bool
}

// Parameter is one template parameter.
type Parameter struct {
	Name string
	// Type is the parameter type: "String", "Number",
	// "CommaDelimitedList", "List<AWS::EC2::Subnet::Id>", ...
	Type        string
	Description string
	// Default is the default value as CloudFormation passes it (always a
	// string); HasDefault tells an empty default from none.
	Default    string
	HasDefault bool
	// NoEcho parameters are masked ("****") by DescribeStacks; their values
	// are never shown or stored by envmig.
	NoEcho        bool
	AllowedValues []string
}

// IsList reports whether the parameter's value is a list.
func (p Parameter) IsList() bool {
	return p.Type == "CommaDelimitedList" || (len(p.Type) > 5 && p.Type[:5] == "List<")
}

// Resource is one resource declaration.
type Resource struct {
	LogicalID string
	Type      string
	// Properties are as written (long form), not evaluated.
	Properties map[string]any
	// Condition names the condition the resource is created under ("" =
	// always).
	Condition string
	// DeletionPolicy and UpdateReplacePolicy as written ("" = the type's
	// default; see EffectiveDeletionPolicy).
	DeletionPolicy      string
	UpdateReplacePolicy string
	DependsOn           []string
}

// EffectiveDeletionPolicy is what CloudFormation does with the resource when
// the stack is deleted: the written policy, or the default — "Snapshot" for
// an RDS DB instance that is not part of a cluster, "Delete" otherwise.
func (r Resource) EffectiveDeletionPolicy() string {
	if r.DeletionPolicy != "" {
		return r.DeletionPolicy
	}
	if r.Type == TypeDBInstance {
		if _, inCluster := r.Properties["DBClusterIdentifier"]; !inCluster {
			return "Snapshot"
		}
	}
	return "Delete"
}

// Output is one template output, as written.
type Output struct {
	Name        string
	Description string
	Value       any
	// ExportName is the Export's Name as written (nil when not exported).
	ExportName any
	Condition  string
}

// Parse reads a CloudFormation template in JSON or YAML (with short-form
// intrinsics) through goformation. It checks the template's shape (every
// resource has a Type; parameters have a Type) but not the resources'
// properties, which CloudFormation validates itself.
//
// goformation only turns YAML into its long JSON form here: its own
// intrinsic resolver is not used, because it substitutes invented values
// for pseudo parameters (AWS::StackName becomes "goformation-stack"), drops
// unresolved ${} variables of Fn::Sub, and replaces a resource that has a
// Condition by a boolean. Evaluate does that work conservatively instead.
func Parse(body []byte) (*Template, error) {
	var (
		long []byte
		err  error
	)
	opts := &intrinsics.ProcessorOptions{NoProcess: true}
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 && trimmed[0] == '{' {
		long, err = intrinsics.ProcessJSON(body, opts)
	} else {
		long, err = intrinsics.ProcessYAML(body, opts)
	}
	if err != nil {
		return nil, fmt.Errorf("read CloudFormation template: %w", err)
	}
	var raw struct {
		Description any                        `json:"Description"`
		Parameters  cloudformation.Parameters  `json:"Parameters"`
		Conditions  map[string]any             `json:"Conditions"`
		Mappings    map[string]any             `json:"Mappings"`
		Resources   map[string]json.RawMessage `json:"Resources"`
		Outputs     map[string]json.RawMessage `json:"Outputs"`
		Transform   any                        `json:"Transform"`
	}
	dec := json.NewDecoder(bytes.NewReader(long))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("read CloudFormation template: %w", err)
	}
	if len(raw.Resources) == 0 {
		return nil, fmt.Errorf("read CloudFormation template: it has no Resources")
	}
	t := &Template{
		Parameters: map[string]Parameter{},
		Conditions: normalizeMap(raw.Conditions),
		Mappings:   normalizeMap(raw.Mappings),
		Resources:  map[string]Resource{},
		Outputs:    map[string]Output{},
		Transform:  raw.Transform != nil,
	}
	if s, ok := raw.Description.(string); ok {
		t.Description = s
	}
	for name, p := range raw.Parameters {
		if p.Type == "" {
			return nil, fmt.Errorf("read CloudFormation template: parameter %s has no Type", name)
		}
		tp := Parameter{Name: name, Type: p.Type, NoEcho: p.NoEcho != nil && *p.NoEcho}
		if p.Description != nil {
			tp.Description = *p.Description
		}
		if p.Default != nil {
			tp.Default, tp.HasDefault = scalarString(normalize(p.Default)), true
		}
		for _, v := range p.AllowedValues {
			tp.AllowedValues = append(tp.AllowedValues, scalarString(normalize(v)))
		}
		t.Parameters[name] = tp
	}
	for id, msg := range raw.Resources {
		r, err := parseResource(id, msg)
		if err != nil {
			return nil, fmt.Errorf("read CloudFormation template: resource %s: %w", id, err)
		}
		t.Resources[id] = r
	}
	for name, msg := range raw.Outputs {
		var o struct {
			Description any            `json:"Description"`
			Value       any            `json:"Value"`
			Export      map[string]any `json:"Export"`
			Condition   string         `json:"Condition"`
		}
		if err := decodeNumbers(msg, &o); err != nil {
			return nil, fmt.Errorf("read CloudFormation template: output %s: %w", name, err)
		}
		out := Output{Name: name, Value: normalize(o.Value), Condition: o.Condition}
		if s, ok := o.Description.(string); ok {
			out.Description = s
		}
		if o.Export != nil {
			out.ExportName = normalize(o.Export["Name"])
		}
		t.Outputs[name] = out
	}
	return t, nil
}

func parseResource(id string, msg json.RawMessage) (Resource, error) {
	var r struct {
		Type                string         `json:"Type"`
		Properties          map[string]any `json:"Properties"`
		Condition           string         `json:"Condition"`
		DeletionPolicy      string         `json:"DeletionPolicy"`
		UpdateReplacePolicy string         `json:"UpdateReplacePolicy"`
		DependsOn           any            `json:"DependsOn"`
	}
	if err := decodeNumbers(msg, &r); err != nil {
		return Resource{}, err
	}
	if r.Type == "" {
		return Resource{}, fmt.Errorf("it has no Type")
	}
	props := normalizeMap(r.Properties)
	res := Resource{
		LogicalID: id, Type: r.Type, Properties: props, Condition: r.Condition,
		DeletionPolicy: r.DeletionPolicy, UpdateReplacePolicy: r.UpdateReplacePolicy,
	}
	switch d := r.DependsOn.(type) {
	case string:
		res.DependsOn = []string{d}
	case []any:
		for _, v := range d {
			if s, ok := v.(string); ok {
				res.DependsOn = append(res.DependsOn, s)
			}
		}
	}
	return res, nil
}

// ResourcesOfType returns the resources of type typ, by logical ID.
func (t *Template) ResourcesOfType(typ string) []Resource {
	var out []Resource
	for _, id := range sortedKeys(t.Resources) {
		if r := t.Resources[id]; r.Type == typ {
			out = append(out, r)
		}
	}
	return out
}

// ParameterNames returns the parameters' names, sorted.
func (t *Template) ParameterNames() []string { return sortedKeys(t.Parameters) }

func decodeNumbers(msg json.RawMessage, v any) error {
	dec := json.NewDecoder(bytes.NewReader(msg))
	dec.UseNumber()
	return dec.Decode(v)
}

// normalizeMap is normalize for a map; nil becomes an empty map.
func normalizeMap(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return normalize(m).(map[string]any)
}

// normalize copies a decoded JSON value, keeping numbers as json.Number
// (their written form) so that 20 and 20.0 are not told apart by float
// formatting.
func normalize(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, e := range x {
			out[k] = normalize(e)
		}
		return out
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalize(e)
		}
		return out
	case float64:
		return json.Number(strconv.FormatFloat(x, 'f', -1, 64))
	default:
		return x
	}
}

// scalarString is the string CloudFormation makes of a scalar: parameters
// and most properties compare as strings ("20" and 20 are the same).
func scalarString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
