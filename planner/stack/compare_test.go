package stack

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// reviewTemplate has a database and a bucket whose properties the cases
// replace by text.
const reviewTemplate = `
Parameters:
  EnvironmentName: {Type: String}
  DBSnapshotIdentifier: {Type: String, Default: ""}
  DBInstanceClass: {Type: String, Default: db.t3.micro}
  DBPassword: {Type: String, NoEcho: true, Default: initial-secret}
Conditions:
  HasSnapshot: !Not [!Equals [!Ref DBSnapshotIdentifier, ""]]
Resources:
  SubnetGroup:
    Type: AWS::RDS::DBSubnetGroup
    Properties:
      DBSubnetGroupDescription: %SUBNETDESC%
      SubnetIds: [subnet-1, subnet-2]
  Database:
    Type: AWS::RDS::DBInstance
    Properties:
      DBInstanceIdentifier: !Sub "${EnvironmentName}-db"
      DBSnapshotIdentifier: %DBSNAP%
      DBInstanceClass: !Ref DBInstanceClass
      DBSubnetGroupName: !Ref SubnetGroup
      MasterUserPassword: !Ref DBPassword
%DBEXTRA%
  Uploads:
    Type: AWS::S3::Bucket
    Properties:
      BucketName: %BUCKET%
%BUCKETEXTRA%
`

func review(repl map[string]string) string {
	defaults := map[string]string{
		"%SUBNETDESC%":  "database subnets",
		"%DBSNAP%":      "!If [HasSnapshot, !Ref DBSnapshotIdentifier, !Ref AWS::NoValue]",
		"%BUCKET%":      `!Sub "${EnvironmentName}-uploads"`,
		"%DBEXTRA%":     "      Engine: postgres\n      StorageEncrypted: false",
		"%BUCKETEXTRA%": "",
	}
	body := reviewTemplate
	for k, v := range repl {
		if _, ok := defaults[k]; !ok {
			body = strings.ReplaceAll(body, k, v)
		}
	}
	for k, v := range defaults {
		if r, ok := repl[k]; ok {
			v = r
		}
		body = strings.ReplaceAll(body, k, v)
	}
	return body
}

func side(t *testing.T, body string, params map[string]string) Side {
	t.Helper()
	tmpl, err := Parse([]byte(body))
	if err != nil {
		t.Fatalf("parse: %v\n%s", err, body)
	}
	p := map[string]string{"EnvironmentName": "shop"}
	for k, v := range params {
		p[k] = v
	}
	return Side{Template: tmpl, Inputs: Inputs{StackName: "shop", Parameters: p}}
}

type outcome struct {
	Action   Action
	Reasons  []string // properties
	InPlace  []string // properties
	Snapshot string   // "dropped", "changed" or ""
}

func summarize(r *UpdateReview, id string) outcome {
	var o outcome
	for _, c := range r.Resources {
		if c.LogicalID != id {
			continue
		}
		o.Action = c.Action
		for _, p := range c.Reasons {
			o.Reasons = append(o.Reasons, p.Property)
		}
		for _, p := range c.InPlace {
			o.InPlace = append(o.InPlace, p.Property)
		}
	}
	for _, s := range r.Snapshots {
		if s.LogicalID == id {
			o.Snapshot = "changed"
			if s.Dropped {
				o.Snapshot = "dropped"
			}
		}
	}
	return o
}

func TestReviewUpdate(t *testing.T) {
	snap := map[string]string{"DBSnapshotIdentifier": "envmig-3fa2-main"}
	cases := map[string]struct {
		liveRepl, nextRepl     map[string]string
		liveParams, nextParams map[string]string
		id                     string
		want                   outcome
	}{
		"nothing changes": {
			id: "Database", want: outcome{Action: ActionNone},
		},
		"instance class is in place": {
			nextParams: map[string]string{"DBInstanceClass": "db.t3.large"},
			id:         "Database", want: outcome{Action: ActionModify, InPlace: []string{"DBInstanceClass"}},
		},
		"storage encryption replaces": {
			nextRepl: map[string]string{"%DBEXTRA%": "      Engine: postgres\n      StorageEncrypted: true"},
			id:       "Database", want: outcome{Action: ActionReplace, Reasons: []string{"StorageEncrypted"}},
		},
		"storage encryption added replaces": {
			nextRepl: map[string]string{"%DBEXTRA%": "      Engine: postgres\n      StorageEncrypted: true\n      KmsKeyId: alias/aws/rds"},
			id:       "Database", want: outcome{Action: ActionReplace, Reasons: []string{"KmsKeyId", "StorageEncrypted"}},
		},
		"boolean written as a string is no change": {
			nextRepl: map[string]string{"%DBEXTRA%": "      Engine: postgres\n      StorageEncrypted: \"false\""},
			id:       "Database", want: outcome{Action: ActionNone},
		},
		"engine family replaces": {
			nextRepl: map[string]string{"%DBEXTRA%": "      Engine: mysql\n      StorageEncrypted: false"},
			id:       "Database", want: outcome{Action: ActionReplace, Reasons: []string{"Engine"}},
		},
		"engine case is no change": {
			nextRepl: map[string]string{"%DBEXTRA%": "      Engine: Postgres\n      StorageEncrypted: false"},
			id:       "Database", want: outcome{Action: ActionNone},
		},
		"oracle to its CDB engine is in place": {
			liveRepl: map[string]string{"%DBEXTRA%": "      Engine: oracle-ee"},
			nextRepl: map[string]string{"%DBEXTRA%": "      Engine: oracle-ee-cdb"},
			id:       "Database", want: outcome{Action: ActionModify, InPlace: []string{"Engine"}},
		},
		"availability zone moved replaces": {
			liveRepl: map[string]string{"%DBEXTRA%": "      AvailabilityZone: us-east-1a"},
			nextRepl: map[string]string{"%DBEXTRA%": "      AvailabilityZone: us-east-1b"},
			id:       "Database", want: outcome{Action: ActionReplace, Reasons: []string{"AvailabilityZone"}},
		},
		"availability zone dropped for Multi-AZ is in place": {
			liveRepl: map[string]string{"%DBEXTRA%": "      AvailabilityZone: us-east-1a"},
			nextRepl: map[string]string{"%DBEXTRA%": "      MultiAZ: true"},
			id:       "Database", want: outcome{Action: ActionModify, InPlace: []string{"AvailabilityZone", "MultiAZ"}},
		},
		"unknown property replaces": {
			nextRepl: map[string]string{"%DBEXTRA%": "      Engine: postgres\n      StorageEncrypted: false\n      FutureSetting: on"},
			id:       "Database", want: outcome{Action: ActionReplace, Reasons: []string{"FutureSetting"}},
		},
		"a referenced resource that changes may replace": {
			nextRepl: map[string]string{"%SUBNETDESC%": "the database's subnets"},
			id:       "Database", want: outcome{Action: ActionReplace, Reasons: []string{"DBSubnetGroupName"}},
		},
		"snapshot kept": {
			liveParams: snap, nextParams: snap,
			id: "Database", want: outcome{Action: ActionNone},
		},
		"snapshot parameter dropped": {
			liveParams: snap,
			id:         "Database", want: outcome{Action: ActionReplace, Reasons: []string{"DBSnapshotIdentifier"}, Snapshot: "dropped"},
		},
		"snapshot dropped by the template": {
			liveParams: snap, nextParams: snap,
			nextRepl: map[string]string{"%DBSNAP%": "!Ref AWS::NoValue"},
			id:       "Database", want: outcome{Action: ActionReplace, Reasons: []string{"DBSnapshotIdentifier"}, Snapshot: "dropped"},
		},
		"snapshot changed": {
			liveParams: snap, nextParams: map[string]string{"DBSnapshotIdentifier": "envmig-9999-main"},
			id: "Database", want: outcome{Action: ActionReplace, Reasons: []string{"DBSnapshotIdentifier"}, Snapshot: "changed"},
		},
		"snapshot added replaces": {
			nextParams: snap,
			id:         "Database", want: outcome{Action: ActionReplace, Reasons: []string{"DBSnapshotIdentifier"}},
		},
		"masked password on both sides is no change": {
			liveParams: map[string]string{"DBPassword": MaskedValue}, nextParams: map[string]string{"DBPassword": MaskedValue},
			id: "Database", want: outcome{Action: ActionNone},
		},
		"new password is in place": {
			liveParams: map[string]string{"DBPassword": MaskedValue}, nextParams: map[string]string{"DBPassword": "hunter2"},
			id: "Database", want: outcome{Action: ActionModify, InPlace: []string{"MasterUserPassword"}},
		},
		"bucket renamed replaces": {
			nextRepl: map[string]string{"%BUCKET%": `!Sub "${EnvironmentName}-files"`},
			id:       "Uploads", want: outcome{Action: ActionReplace, Reasons: []string{"BucketName"}},
		},
		"bucket versioning is in place": {
			nextRepl: map[string]string{"%BUCKETEXTRA%": "      VersioningConfiguration: {Status: Enabled}"},
			id:       "Uploads", want: outcome{Action: ActionModify, InPlace: []string{"VersioningConfiguration"}},
		},
		"object lock turned off replaces": {
			liveRepl: map[string]string{"%BUCKETEXTRA%": "      ObjectLockEnabled: true"},
			id:       "Uploads", want: outcome{Action: ActionReplace, Reasons: []string{"ObjectLockEnabled"}},
		},
		"object lock turned on is in place": {
			nextRepl: map[string]string{"%BUCKETEXTRA%": "      ObjectLockEnabled: true"},
			id:       "Uploads", want: outcome{Action: ActionModify, InPlace: []string{"ObjectLockEnabled"}},
		},
		"bucket removed": {
			nextRepl: map[string]string{"  Uploads:\n    Type: AWS::S3::Bucket": "  Topic:\n    Type: AWS::SNS::Topic"},
			id:       "Uploads", want: outcome{Action: ActionRemove, Reasons: []string{"(resource)"}},
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			live := side(t, review(c.liveRepl), c.liveParams)
			next := side(t, review(c.nextRepl), c.nextParams)
			r, err := ReviewUpdate(live, next)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(c.want, summarize(r, c.id)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			destructive := c.want.Action == ActionReplace || c.want.Action == ActionRemove
			if err := r.Err(); destructive != (err != nil) {
				t.Fatalf("Err() = %v", err)
			} else if err != nil {
				var re *ReplacementError
				if !errors.As(err, &re) || !strings.Contains(err.Error(), c.id) || !strings.Contains(err.Error(), "stack-swap") {
					t.Errorf("error does not name %s or stack-swap: %v", c.id, err)
				}
				if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "initial-secret") {
					t.Errorf("a NoEcho value leaked: %v", err)
				}
			}
			for _, rc := range r.Resources {
				for _, p := range append(rc.Reasons, rc.InPlace...) {
					if strings.Contains(p.Old+p.New, "hunter2") || strings.Contains(p.Old+p.New, "initial-secret") {
						t.Errorf("a NoEcho value leaked into %+v", p)
					}
				}
			}
		})
	}
}

func TestReviewExampleVersions(t *testing.T) {
	v1 := readTemplate(t, filepath.Join(exampleDir, "env-v1.yaml"))
	v2 := readTemplate(t, filepath.Join(exampleDir, "env-v2.yaml"))
	params := map[string]string{"EnvironmentName": "shop-staging", "DBSnapshotIdentifier": "envmig-3fa2-main"}
	r, err := ReviewUpdate(Side{v1, Inputs{StackName: "shop-staging", Parameters: params}}, Side{v2, Inputs{StackName: "shop-staging", Parameters: params}})
	if err != nil {
		t.Fatal(err)
	}
	want := outcome{Action: ActionReplace, Reasons: []string{"StorageEncrypted"}, InPlace: []string{"DBInstanceClass"}}
	if diff := cmp.Diff(want, summarize(r, "Database")); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if got := summarize(r, "Uploads"); got.Action != ActionNone {
		t.Errorf("Uploads: %+v", got)
	}
	if diff := cmp.Diff(map[string]string{"Database": "envmig-3fa2-main"}, r.KeepSnapshots); diff != "" {
		t.Errorf("KeepSnapshots (-want +got):\n%s", diff)
	}
	msg := r.Err().Error()
	for _, w := range []string{"replace Database (AWS::RDS::DBInstance)", "StorageEncrypted: false -> true", "createOnly"} {
		if !strings.Contains(msg, w) {
			t.Errorf("error does not say %q:\n%s", w, msg)
		}
	}
}
