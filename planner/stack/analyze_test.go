package stack

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var swapOptions = Options{EnvironmentParameter: "EnvironmentName", SnapshotParameter: "DBSnapshotIdentifier"}

func TestAnalyzeExample(t *testing.T) {
	for _, file := range []string{"env-v1.yaml", "env-v2.yaml"} {
		t.Run(file, func(t *testing.T) {
			tmpl := readTemplate(t, filepath.Join(exampleDir, file))
			o := swapOptions
			o.StackName = "shop-staging"
			a, err := Analyze(tmpl, o)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.CheckSwap(o); err != nil {
				t.Fatalf("the example is refused: %v", err)
			}
			ids := func(ps []Persistent) []string {
				var out []string
				for _, p := range ps {
					out = append(out, p.LogicalID)
				}
				return out
			}
			got := map[string][]string{"db": ids(a.Databases), "bucket": ids(a.Buckets), "group": ids(a.Groups)}
			want := map[string][]string{"db": {"Database"}, "bucket": {"Uploads"}, "group": {"WebGroup"}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("(-want +got):\n%s", diff)
			}
			db := a.Databases[0]
			if !db.SnapshotFed || !db.NameDerived || db.DeletionPolicy != "Snapshot" || db.NameProperty != "DBInstanceIdentifier" {
				t.Errorf("Database = %+v", db)
			}
			if got := db.Properties["DBInstanceIdentifier"]; got != "shop-staging-db" {
				t.Errorf("DBInstanceIdentifier = %v", got)
			}
			if got := db.Properties["MasterUserPassword"]; !Equal(got, Unknown{Expr: "Ref(DBPassword)"}) {
				t.Errorf("the NoEcho password shows as %v", got)
			}
			if b := a.Buckets[0]; b.DeletionPolicy != "Delete" || !b.NameDerived {
				t.Errorf("Uploads = %+v", b)
			}
		})
	}
}

const swapTemplate = `
Parameters:
  EnvironmentName: {Type: String}
  DBSnapshotIdentifier: {Type: String, Default: ""}
  BucketParam: {Type: String, Default: fixed-bucket}
Conditions:
  HasSnapshot: !Not [!Equals [!Ref DBSnapshotIdentifier, ""]]
Resources:
  Database:
    Type: AWS::RDS::DBInstance
    Properties:
      DBInstanceIdentifier: %DB%
      DBSnapshotIdentifier: %SNAP%
  Uploads:
    Type: AWS::S3::Bucket
    %BUCKETPOLICY%
    Properties:
      BucketName: %BUCKET%
  Group:
    Type: AWS::AutoScaling::AutoScalingGroup
    Properties:
      AutoScalingGroupName: %GROUP%
      MinSize: "0"
      MaxSize: "1"
Outputs:
  Out:
    Value: !Ref Uploads
    %EXPORT%
`

func swapCase(repl map[string]string) string {
	defaults := map[string]string{
		"%DB%":           `!Sub "${EnvironmentName}-db"`,
		"%SNAP%":         `!If [HasSnapshot, !Ref DBSnapshotIdentifier, !Ref AWS::NoValue]`,
		"%BUCKET%":       `!Join ["-", [!Ref EnvironmentName, uploads]]`,
		"%GROUP%":        `!Sub "${AWS::StackName}-web"`,
		"%EXPORT%":       "",
		"%BUCKETPOLICY%": "",
	}
	body := swapTemplate
	for k, v := range defaults {
		if r, ok := repl[k]; ok {
			v = r
		}
		body = strings.ReplaceAll(body, k, v)
	}
	return body
}

func TestCheckSwapRefuses(t *testing.T) {
	cases := map[string]struct {
		repl map[string]string
		want []string // each must appear in the error; none = accepted
	}{
		"derived names":         {},
		"generated bucket name": {repl: map[string]string{"%BUCKET%": "!Ref AWS::NoValue"}},
		"literal bucket":        {repl: map[string]string{"%BUCKET%": "shop-uploads"}, want: []string{"resource Uploads (AWS::S3::Bucket) sets BucketName to shop-uploads"}},
		"literal database":      {repl: map[string]string{"%DB%": "shop-db"}, want: []string{"resource Database (AWS::RDS::DBInstance) sets DBInstanceIdentifier to shop-db"}},
		"sub without variable":  {repl: map[string]string{"%GROUP%": `!Sub "shop-web"`}, want: []string{"Group (AWS::AutoScaling::AutoScalingGroup) sets AutoScalingGroupName to shop-web"}},
		"from another parameter": {
			repl: map[string]string{"%BUCKET%": "!Ref BucketParam"},
			want: []string{"sets BucketName to fixed-bucket"},
		},
		"import": {repl: map[string]string{"%BUCKET%": "!ImportValue shared-bucket"}, want: []string{"sets BucketName to (ImportValue"}},
		"export": {repl: map[string]string{"%EXPORT%": "Export: {Name: shop-uploads}"}, want: []string{"output Out sets Export.Name to shop-uploads"}},
		"retained named bucket": {
			repl: map[string]string{"%BUCKETPOLICY%": "DeletionPolicy: Retain"},
			want: []string{"Uploads (AWS::S3::Bucket) has DeletionPolicy Retain and sets BucketName"},
		},
		"snapshot not fed": {
			repl: map[string]string{"%SNAP%": "!Ref AWS::NoValue"},
			want: []string{"DB instance Database does not take DBSnapshotIdentifier from parameter DBSnapshotIdentifier"},
		},
		"snapshot literal": {
			repl: map[string]string{"%SNAP%": "snap-1"},
			want: []string{"does not take DBSnapshotIdentifier"},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			tmpl, err := Parse([]byte(swapCase(c.repl)))
			if err != nil {
				t.Fatal(err)
			}
			a, err := Analyze(tmpl, swapOptions)
			if err != nil {
				t.Fatal(err)
			}
			err = a.CheckSwap(swapOptions)
			if len(c.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var se *SwapError
			if !errors.As(err, &se) || !errors.Is(err, ErrNotSwappable) {
				t.Fatalf("err = %v, want a *SwapError", err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
		})
	}
}

func TestAnalyzeParameterNames(t *testing.T) {
	tmpl, err := Parse([]byte(swapCase(nil)))
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		o    Options
		want string
	}{
		"no environment parameter":   {Options{SnapshotParameter: "DBSnapshotIdentifier"}, "names no environment parameter"},
		"unknown environment":        {Options{EnvironmentParameter: "Env", SnapshotParameter: "DBSnapshotIdentifier"}, "declares no parameter Env (the spec's environment_parameter)"},
		"unknown snapshot parameter": {Options{EnvironmentParameter: "EnvironmentName", SnapshotParameter: "Snap"}, "declares no parameter Snap"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			a, err := Analyze(tmpl, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if err := a.CheckSwap(c.o); err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want it to say %q", err, c.want)
			}
		})
	}
}
