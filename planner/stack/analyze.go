package stack

import (
	"errors"
	"fmt"
	"strings"
)

// nameProperties maps a resource type to the property that sets its
// physical name where two stacks of one template would collide: names
// unique in the account and region (or VPC, or cluster). A template for
// stack-swap must derive each of them from the environment parameter (or
// AWS::StackName), or leave them out so that CloudFormation generates one.
var nameProperties = map[string]string{
	TypeDBInstance:                              "DBInstanceIdentifier",
	TypeBucket:                                  "BucketName",
	TypeAutoScalingGroup:                        "AutoScalingGroupName",
	"AWS::AutoScaling::LaunchConfiguration":     "LaunchConfigurationName",
	"AWS::EC2::LaunchTemplate":                  "LaunchTemplateName",
	"AWS::EC2::SecurityGroup":                   "GroupName",
	"AWS::RDS::DBCluster":                       "DBClusterIdentifier",
	"AWS::RDS::DBSubnetGroup":                   "DBSubnetGroupName",
	"AWS::RDS::DBParameterGroup":                "DBParameterGroupName",
	"AWS::RDS::OptionGroup":                     "OptionGroupName",
	"AWS::ElasticLoadBalancingV2::LoadBalancer": "Name",
	"AWS::ElasticLoadBalancingV2::TargetGroup":  "Name",
	"AWS::ElasticLoadBalancing::LoadBalancer":   "LoadBalancerName",
	"AWS::IAM::Role":                            "RoleName",
	"AWS::IAM::InstanceProfile":                 "InstanceProfileName",
	"AWS::IAM::ManagedPolicy":                   "ManagedPolicyName",
	"AWS::IAM::User":                            "UserName",
	"AWS::IAM::Group":                           "GroupName",
	"AWS::Logs::LogGroup":                       "LogGroupName",
	"AWS::SQS::Queue":                           "QueueName",
	"AWS::SNS::Topic":                           "TopicName",
	"AWS::DynamoDB::Table":                      "TableName",
	"AWS::Lambda::Function":                     "FunctionName",
	"AWS::KMS::Alias":                           "AliasName",
	"AWS::Events::Rule":                         "Name",
	"AWS::Scheduler::Schedule":                  "Name",
	"AWS::ECS::Cluster":                         "ClusterName",
	"AWS::ECS::Service":                         "ServiceName",
	"AWS::SecretsManager::Secret":               "Name",
	"AWS::SSM::Parameter":                       "Name",
	"AWS::CloudWatch::Alarm":                    "AlarmName",
	"AWS::ElastiCache::ReplicationGroup":        "ReplicationGroupId",
	"AWS::Route53::RecordSet":                   "Name",
}

// NameProperty returns the property that names a resource of type typ
// ("" when envmig knows none).
func NameProperty(typ string) string { return nameProperties[typ] }

// Options say which template parameters envmig fills (DESIGN §2's template
// block) and the values of the others.
type Options struct {
	// EnvironmentParameter receives the stack's name (temporary or
	// original); physical names must derive from it.
	EnvironmentParameter string
	// SnapshotParameter receives the snapshot the database is restored
	// from; it must feed the DB instances' DBSnapshotIdentifier.
	SnapshotParameter string
	// Parameters are the spec's values for the other parameters.
	Parameters map[string]string
	// StackName and Snapshot are the values Analysis.Databases' (and the
	// others') Properties are evaluated with (defaults: a probe name and
	// no snapshot).
	StackName string
	Snapshot  string
}

// Analysis is what envmig needs to know of a template.
type Analysis struct {
	Parameters []Parameter // sorted by name
	Outputs    []Output    // sorted by name
	// Databases, Buckets and Groups are the resources of those kinds, by
	// logical ID.
	Databases []Persistent
	Buckets   []Persistent
	Groups    []Persistent
	// HardCodedNames are the physical names a second copy of the stack
	// would collide on.
	HardCodedNames []NameProblem
	// Problems are other reasons the template cannot be swapped (the
	// environment or snapshot parameter missing or not used).
	Problems []string
}

// Persistent is one database, bucket or group of the template.
type Persistent struct {
	LogicalID string
	Type      string
	// Properties evaluated with Options.StackName and Options.Snapshot
	// (NoEcho values masked: they evaluate to Unknown).
	Properties map[string]any
	// NameProperty is the property that names it; NameDerived is true when
	// its value changes with the environment parameter (or it is left out).
	NameProperty string
	NameDerived  bool
	// Condition as written ("" = always created).
	Condition           string
	DeletionPolicy      string // effective (EffectiveDeletionPolicy)
	UpdateReplacePolicy string
	// SnapshotFed is true for a DB instance whose DBSnapshotIdentifier is
	// the snapshot parameter's value whenever that value is set.
	SnapshotFed bool
}

// NameProblem is a physical name that does not vary with the environment.
type NameProblem struct {
	LogicalID string
	Type      string
	Property  string // "BucketName", or "Export.Name" of an output
	Value     string // as evaluated
}

func (p NameProblem) String() string {
	what := fmt.Sprintf("resource %s (%s) sets %s", p.LogicalID, p.Type, p.Property)
	if p.Type == "" {
		what = fmt.Sprintf("output %s sets %s", p.LogicalID, p.Property)
	}
	return fmt.Sprintf("%s to %s, which does not change with the environment parameter", what, p.Value)
}

// SwapError refuses a template for stack-swap: a second copy of the stack
// would collide with the first, or would not receive the data.
type SwapError struct {
	EnvironmentParameter string
	Names                []NameProblem
	Problems             []string
}

func (e *SwapError) Error() string {
	var b strings.Builder
	b.WriteString("the template cannot be migrated by stack-swap, which creates a second copy of the stack:")
	for _, n := range e.Names {
		b.WriteString("\n  - " + n.String())
	}
	for _, p := range e.Problems {
		b.WriteString("\n  - " + p)
	}
	if len(e.Names) > 0 {
		fmt.Fprintf(&b, "\nderive each name from the parameter (for example !Sub \"${%s}-uploads\"), or leave it out so that CloudFormation generates one", e.EnvironmentParameter)
	}
	return b.String()
}

// ErrNotSwappable is wrapped by *SwapError.
var ErrNotSwappable = errors.New("template not fit for stack-swap")

func (e *SwapError) Unwrap() error { return ErrNotSwappable }

// CheckSwap returns a *SwapError when the analysis found a reason the
// template cannot be swapped, nil otherwise.
func (a *Analysis) CheckSwap(o Options) error {
	if len(a.HardCodedNames) == 0 && len(a.Problems) == 0 {
		return nil
	}
	return &SwapError{EnvironmentParameter: o.EnvironmentParameter, Names: a.HardCodedNames, Problems: a.Problems}
}

// probe values: two environment names and two snapshots that appear in no
// template, to see what varies with them.
const (
	probeEnvA  = "envmigprobea"
	probeEnvB  = "envmigprobeb"
	probeSnapA = "envmig-probe-snapshot-a"
	probeSnapB = "envmig-probe-snapshot-b"
)

// Analyze reads what stack-swap needs of a template: its parameters and
// outputs, its databases, buckets and groups, which physical names do not
// vary with the environment parameter, and which databases take their
// DBSnapshotIdentifier from the snapshot parameter.
//
// A name "varies" when evaluating the template with two different values of
// the environment parameter (and of AWS::StackName, which the contract sets
// to the same) gives two different names. A name that cannot be evaluated
// (it depends on an import or another resource) does not vary.
func Analyze(t *Template, o Options) (*Analysis, error) {
	a := &Analysis{}
	for _, name := range t.ParameterNames() {
		a.Parameters = append(a.Parameters, t.Parameters[name])
	}
	for _, name := range sortedKeys(t.Outputs) {
		a.Outputs = append(a.Outputs, t.Outputs[name])
	}
	for _, p := range []struct{ role, name string }{{"environment", o.EnvironmentParameter}, {"snapshot", o.SnapshotParameter}} {
		if p.name == "" {
			a.Problems = append(a.Problems, fmt.Sprintf("the spec names no %s parameter (template { %s_parameter = ... })", p.role, p.role))
		} else if _, ok := t.Parameters[p.name]; !ok {
			a.Problems = append(a.Problems, fmt.Sprintf("the template declares no parameter %s (the spec's %s_parameter)", p.name, p.role))
		}
	}
	if len(a.Problems) > 0 {
		return a, nil
	}
	if p := t.Parameters[o.SnapshotParameter]; !p.HasDefault {
		a.Problems = append(a.Problems, fmt.Sprintf("parameter %s has no default: the template cannot create the environment without a snapshot (give it Default: \"\")", o.SnapshotParameter))
	}
	run := func(env, snap string) (*Evaluated, error) {
		params := map[string]string{}
		for k, v := range o.Parameters {
			params[k] = v
		}
		params[o.EnvironmentParameter], params[o.SnapshotParameter] = env, snap
		return Evaluate(t, Inputs{StackName: env, Parameters: params})
	}
	evA, err := run(probeEnvA, probeSnapA)
	if err != nil {
		return nil, err
	}
	evB, err := run(probeEnvB, probeSnapB)
	if err != nil {
		return nil, err
	}
	name := o.StackName
	if name == "" {
		name = probeEnvA
	}
	shown, err := run(name, o.Snapshot)
	if err != nil {
		return nil, err
	}
	shown, err = Evaluate(t, masked(Side{Template: t, Inputs: shown.Inputs}))
	if err != nil {
		return nil, err
	}
	for _, id := range sortedKeys(t.Resources) {
		r := t.Resources[id]
		prop := nameProperties[r.Type]
		derived := true
		if prop != "" {
			va, okA := evA.Resources[id].Props[prop]
			vb, okB := evB.Resources[id].Props[prop]
			if okA || okB {
				derived = okA && okB && !Equal(va, vb)
				if !derived {
					a.HardCodedNames = append(a.HardCodedNames, NameProblem{LogicalID: id, Type: r.Type, Property: prop, Value: Render(va)})
				}
			}
		}
		if prop != "" && derived && r.EffectiveDeletionPolicy() == "Retain" {
			if _, named := evA.Resources[id].Props[prop]; named {
				a.Problems = append(a.Problems, fmt.Sprintf("resource %s (%s) has DeletionPolicy Retain and sets %s: it stays when the original stack is deleted, and re-creating the stack under its name would collide with it", id, r.Type, prop))
			}
		}
		switch r.Type {
		case TypeDBInstance, TypeBucket, TypeAutoScalingGroup:
		default:
			continue
		}
		p := Persistent{
			LogicalID: id, Type: r.Type, Properties: shown.Resources[id].Props, NameProperty: prop, NameDerived: derived,
			Condition: r.Condition, DeletionPolicy: r.EffectiveDeletionPolicy(), UpdateReplacePolicy: r.UpdateReplacePolicy,
		}
		switch r.Type {
		case TypeDBInstance:
			p.SnapshotFed = Equal(evA.Resources[id].Props["DBSnapshotIdentifier"], probeSnapA) &&
				Equal(evB.Resources[id].Props["DBSnapshotIdentifier"], probeSnapB)
			if !p.SnapshotFed {
				a.Problems = append(a.Problems, fmt.Sprintf("DB instance %s does not take DBSnapshotIdentifier from parameter %s: its copy would be created empty (use DBSnapshotIdentifier: !If [HasSnapshot, !Ref %s, !Ref AWS::NoValue])", id, o.SnapshotParameter, o.SnapshotParameter))
			}
			a.Databases = append(a.Databases, p)
		case TypeBucket:
			a.Buckets = append(a.Buckets, p)
		default:
			a.Groups = append(a.Groups, p)
		}
	}
	for _, name := range sortedKeys(t.Outputs) {
		expr := t.Outputs[name].ExportName
		if expr == nil {
			continue
		}
		va, errA := EvaluateValue(t, evA.Inputs, expr)
		vb, errB := EvaluateValue(t, evB.Inputs, expr)
		if err := errors.Join(errA, errB); err != nil {
			return nil, fmt.Errorf("output %s: export name: %w", name, err)
		}
		if Equal(va, vb) {
			a.HardCodedNames = append(a.HardCodedNames, NameProblem{LogicalID: name, Property: "Export.Name", Value: Render(va)})
		}
	}
	return a, nil
}
