package stack

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

const exampleDir = "../../examples/cloudformation"

func readTemplate(t *testing.T, path string) *Template {
	t.Helper()
	body, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tmpl, err := Parse(body)
	if err != nil {
		t.Fatalf("parse %s: %v", path, err)
	}
	return tmpl
}

func TestParseYAMLShortForms(t *testing.T) {
	tmpl := readTemplate(t, filepath.Join(exampleDir, "env-v1.yaml"))
	db := tmpl.Resources["Database"]
	if db.Type != TypeDBInstance || db.DeletionPolicy != "Snapshot" {
		t.Fatalf("Database = %+v", db)
	}
	want := map[string]any{
		"DBInstanceIdentifier": map[string]any{"Fn::Sub": "${EnvironmentName}-db"},
		"DBSnapshotIdentifier": map[string]any{"Fn::If": []any{"HasSnapshot", map[string]any{"Ref": "DBSnapshotIdentifier"}, map[string]any{"Ref": "AWS::NoValue"}}},
		"StorageEncrypted":     false,
		"DBInstanceClass":      map[string]any{"Ref": "DBInstanceClass"},
	}
	for k, v := range want {
		if diff := cmp.Diff(v, db.Properties[k]); diff != "" {
			t.Errorf("Database.%s (-want +got):\n%s", k, diff)
		}
	}
	if got := tmpl.Resources["WebGroup"].Properties["AvailabilityZones"]; !cmp.Equal(got, map[string]any{"Fn::GetAZs": ""}) {
		t.Errorf("!GetAZs read as %#v", got)
	}
	if got := tmpl.Outputs["DatabaseAddress"].Value; !cmp.Equal(got, map[string]any{"Fn::GetAtt": []any{"Database", "Endpoint.Address"}}) {
		t.Errorf("!GetAtt read as %#v", got)
	}
	pw := tmpl.Parameters["DBPassword"]
	if !pw.NoEcho || !pw.HasDefault {
		t.Errorf("DBPassword = %+v, want NoEcho with a default", pw)
	}
	if p := tmpl.Parameters["DBSnapshotIdentifier"]; !p.HasDefault || p.Default != "" {
		t.Errorf("DBSnapshotIdentifier = %+v, want an empty default", p)
	}
	if p := tmpl.Parameters["EnvironmentName"]; p.HasDefault {
		t.Errorf("EnvironmentName has a default: %+v", p)
	}
	if got := len(tmpl.ResourcesOfType(TypeBucket)); got != 1 {
		t.Errorf("%d buckets, want 1", got)
	}
}

// The same template in JSON (long forms, Fn::Join instead of Fn::Sub, a
// list Fn::GetAtt) evaluates to the same resources and outputs.
func TestParseJSONEvaluatesLikeYAML(t *testing.T) {
	in := Inputs{StackName: "shop-staging", Parameters: map[string]string{"EnvironmentName": "shop-staging", "DBSnapshotIdentifier": "snap-1"}}
	yml, err := Evaluate(readTemplate(t, filepath.Join(exampleDir, "env-v1.yaml")), in)
	if err != nil {
		t.Fatal(err)
	}
	jsn, err := Evaluate(readTemplate(t, "testdata/env-v1.json"), in)
	if err != nil {
		t.Fatal(err)
	}
	for id, r := range yml.Resources {
		if !Equal(r.Props, jsn.Resources[id].Props) {
			t.Errorf("%s: YAML %s, JSON %s", id, canon(r.Props), canon(jsn.Resources[id].Props))
		}
	}
	if !Equal(yml.Outputs, jsn.Outputs) {
		t.Errorf("outputs: YAML %s, JSON %s", canon(yml.Outputs), canon(jsn.Outputs))
	}
}

func TestEvaluateExample(t *testing.T) {
	tmpl := readTemplate(t, filepath.Join(exampleDir, "env-v1.yaml"))
	cases := map[string]struct {
		params       map[string]string
		snapshot     any
		masterUser   any
		password     any
		instanceName string
	}{
		"new database": {
			params:     map[string]string{"EnvironmentName": "shop-staging"},
			snapshot:   nil,
			masterUser: "shop", password: "change-me-at-once", instanceName: "shop-staging-db",
		},
		"restored from a snapshot": {
			params:   map[string]string{"EnvironmentName": "shop-staging-envmig", "DBSnapshotIdentifier": "envmig-3fa2-main"},
			snapshot: "envmig-3fa2-main", masterUser: nil, password: nil, instanceName: "shop-staging-envmig-db",
		},
		"masked password": {
			params:     map[string]string{"EnvironmentName": "shop-staging", "DBPassword": MaskedValue},
			masterUser: "shop", password: Unknown{Expr: "Ref(DBPassword)"}, instanceName: "shop-staging-db",
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			ev, err := Evaluate(tmpl, Inputs{StackName: c.params["EnvironmentName"], Parameters: c.params})
			if err != nil {
				t.Fatal(err)
			}
			db := ev.Resources["Database"].Props
			got := map[string]any{"snap": db["DBSnapshotIdentifier"], "user": db["MasterUsername"], "pw": db["MasterUserPassword"], "id": db["DBInstanceIdentifier"]}
			want := map[string]any{"snap": c.snapshot, "user": c.masterUser, "pw": c.password, "id": c.instanceName}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	ev, err := Evaluate(tmpl, Inputs{Parameters: map[string]string{"EnvironmentName": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	lt := ev.Resources["WebGroup"].Props["LaunchTemplate"].(map[string]any)
	if u, ok := lt["LaunchTemplateId"].(Unknown); !ok || !cmp.Equal(u.Refs, []string{"WebLaunchTemplate"}) {
		t.Errorf("LaunchTemplateId = %#v, want an Unknown referring to WebLaunchTemplate", lt["LaunchTemplateId"])
	}
	if _, ok := ev.Resources["WebGroup"].Props["AvailabilityZones"].(Unknown); !ok {
		t.Errorf("!GetAZs evaluated to %#v, want Unknown", ev.Resources["WebGroup"].Props["AvailabilityZones"])
	}
}

func TestEvaluateParameterErrors(t *testing.T) {
	tmpl := readTemplate(t, filepath.Join(exampleDir, "env-v1.yaml"))
	noEcho, err := Parse([]byte(`
Parameters:
  Secret: {Type: String, NoEcho: true, AllowedValues: [a, b]}
Resources:
  B: {Type: AWS::S3::Bucket}
`))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		tmpl   *Template
		params map[string]string
		want   string
	}{
		"missing":          {tmpl, map[string]string{}, "EnvironmentName: it has no default"},
		"undeclared":       {tmpl, map[string]string{"EnvironmentName": "x", "Nope": "1"}, "Nope: the template declares no such parameter"},
		"not allowed":      {noEcho, map[string]string{"Secret": "hunter2"}, `Secret: "****" is not one of its AllowedValues`},
		"masked is exempt": {noEcho, map[string]string{"Secret": MaskedValue}, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Evaluate(c.tmpl, Inputs{Parameters: c.params})
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var pe *ParameterError
			if !errors.As(err, &pe) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a *ParameterError saying %q", err, c.want)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Fatalf("a NoEcho value leaked into the error: %v", err)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	cases := map[string]string{
		"no resources": "Parameters: {}\n",
		"no type":      "Resources:\n  B:\n    Properties: {}\n",
		"invalid yaml": "Resources: [\n",
		"invalid json": `{"Resources": {`,
		"parameter":    "Parameters:\n  P: {Default: x}\nResources:\n  B: {Type: AWS::S3::Bucket}\n",
	}
	for name, body := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(body)); err == nil {
				t.Fatal("Parse accepted it")
			}
		})
	}
}

func TestEvaluateIntrinsics(t *testing.T) {
	tmpl, err := Parse([]byte(`
Parameters:
  Env: {Type: String}
  Subnets: {Type: CommaDelimitedList, Default: "a,b,c"}
  Count: {Type: Number, Default: 2}
Mappings:
  Sizes: {prod: {class: db.r6g.large}, dev: {class: db.t3.micro}}
Conditions:
  IsProd: !Equals [!Ref Env, prod]
  NotProd: !Not [!Condition IsProd]
  Both: !And [!Condition IsProd, !Equals [!Ref Count, "2"]]
  FromOther: !Equals [!GetAtt Other.Arn, x]
Resources:
  Other: {Type: AWS::SNS::Topic}
  R:
    Type: Custom::Thing
    Properties:
      Sub: !Sub "${Env}-${AWS::Region}-${!Literal}"
      SubVars: !Sub ["${A}-${B}", {A: !Ref Env, B: x}]
      SubAttr: !Sub "${Other.TopicName}-x"
      Join: !Join [",", !Ref Subnets]
      Select: !Select [1, !Ref Subnets]
      Split: !Split ["-", !Sub "${Env}-y"]
      Map: !FindInMap [Sizes, !Ref Env, class]
      If: !If [IsProd, big, small]
      IfUnknown: !If [FromOther, a, b]
      IfSame: !If [FromOther, same, same]
      Not: !If [NotProd, yes, no]
      And: !If [Both, yes, no]
      B64: !Base64 hi
      Import: !ImportValue shared-vpc
      List: [a, !Ref AWS::NoValue, b]
`))
	if err != nil {
		t.Fatal(err)
	}
	ev, err := Evaluate(tmpl, Inputs{Parameters: map[string]string{"Env": "prod"}, Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	got := ev.Resources["R"].Props
	want := map[string]any{
		"Sub":       "prod-eu-west-1-${Literal}",
		"SubVars":   "prod-x",
		"SubAttr":   Unknown{Expr: `Sub("${GetAtt(Other.TopicName)}-x")`, Refs: []string{"Other"}},
		"Join":      "a,b,c",
		"Select":    "b",
		"Split":     []any{"prod", "y"},
		"Map":       "db.r6g.large",
		"If":        "big",
		"IfUnknown": Unknown{Expr: `If(FromOther,"a","b")`},
		"IfSame":    "same",
		"Not":       "no",
		"And":       "yes",
		"B64":       "aGk=",
		"Import":    Unknown{Expr: `ImportValue"shared-vpc"`},
		"List":      []any{"a", "b"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}
