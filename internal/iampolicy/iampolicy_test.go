package iampolicy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestActionsMapS3OperationsToIAM(t *testing.T) {
	cases := map[[2]string][]string{
		{"S3", "ListObjectsV2"}:                                {"s3:ListBucket"},
		{"S3", "HeadBucket"}:                                   {"s3:ListBucket"},
		{"S3", "GetObjectLockConfiguration"}:                   {"s3:GetBucketObjectLockConfiguration"},
		{"S3", "CopyObject"}:                                   {"s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging"},
		{"RDS", "RestoreDBInstanceFromDBSnapshot"}:             {"rds:RestoreDBInstanceFromDBSnapshot"},
		{"Auto Scaling", "EnterStandby"}:                       {"autoscaling:EnterStandby"},
		{"CloudFormation", "ListStackResources"}:               {"cloudformation:ListStackResources"},
		{"KMS", "DescribeKey"}:                                 {"kms:DescribeKey"},
		{"EventBridge", "DisableRule"}:                         {"events:DisableRule"},
		{"Elastic Load Balancing v2", "DescribeTargetHealth"}:  {"elasticloadbalancing:DescribeTargetHealth"},
		{"Elastic Load Balancing", "DescribeInstanceHealth"}:   {"elasticloadbalancing:DescribeInstanceHealth"},
		{"Application Auto Scaling", "RegisterScalableTarget"}: {"application-autoscaling:RegisterScalableTarget"},
		{"Scheduler", "UpdateSchedule"}:                        {"scheduler:UpdateSchedule"},
		{"ECS", "UpdateService"}:                               {"ecs:UpdateService"},
		{"Lambda", "UpdateEventSourceMapping"}:                 {"lambda:UpdateEventSourceMapping"},
	}
	for in, want := range cases {
		if diff := cmp.Diff(want, Actions(in[0], in[1])); diff != "" {
			t.Errorf("%v: %s", in, diff)
		}
	}
}

func TestPolicyScopesMutationsToTheEnvironment(t *testing.T) {
	p := For(Scope{Account: "123456789012", Region: "us-east-1", Databases: []string{"shop-db", "shop-db-envmig"}, Buckets: []string{"uploads"}, Groups: []string{"web"}})
	b, err := p.JSON()
	if err != nil {
		t.Fatal(err)
	}
	s := string(b)
	for _, want := range []string{
		`"arn:aws:rds:us-east-1:123456789012:db:shop-db-envmig"`,
		`"arn:aws:rds:us-east-1:123456789012:snapshot:envmig-*"`,
		`"arn:aws:s3:::uploads/*"`,
		`"arn:aws:autoscaling:us-east-1:123456789012:autoScalingGroup:*:autoScalingGroupName/web"`,
		`"kms:ViaService": "rds.us-east-1.amazonaws.com"`,
	} {
		if !strings.Contains(s, want) {
			t.Errorf("policy lacks %s:\n%s", want, s)
		}
	}
	for _, st := range p.Statement {
		if st.Sid != "EnvmigRead" && len(st.Resource) == 1 && st.Resource[0] == "*" {
			t.Errorf("statement %s allows mutations on every resource", st.Sid)
		}
	}
	if m := p.Missing([]string{"rds:DeleteDBInstance", "s3:ListBucket", "kms:GenerateDataKeyWithoutPlaintext", "ec2:RunInstances"}); !cmp.Equal(m, []string{"ec2:RunInstances"}) {
		t.Fatalf("missing = %v", m)
	}
}

func TestMatchIsIAMGlob(t *testing.T) {
	cases := map[[2]string]bool{
		{"*", "arn:aws:s3:::anything"}:                         true,
		{"arn:aws:s3:::shop/*", "arn:aws:s3:::shop/a/b"}:       true,
		{"arn:aws:s3:::shop/*", "arn:aws:s3:::shop"}:           false,
		{"arn:aws:s3:::shop", "arn:aws:s3:::shop-other"}:       false,
		{"kms:GenerateDataKey*", "kms:GenerateDataKeyPair"}:    true,
		{"rds:Describe?BInstances", "rds:DescribeDBInstances"}: true,
		{"rds:Describe?BInstances", "rds:DescribeBInstances"}:  false,
	}
	for in, want := range cases {
		if got := Match(in[0], in[1]); got != want {
			t.Errorf("Match(%q, %q) = %t", in[0], in[1], got)
		}
	}
}

// An exact (plan) scope names its snapshots and groups and grants nothing
// destructive on a pattern; the evaluator tells the calls it allows from
// the ones it does not.
func TestExactScopeAllowsOnlyWhatItNames(t *testing.T) {
	const acct, region = "123456789012", "us-east-1"
	p := For(Scope{Account: acct, Region: region, Exact: true,
		Databases: []string{"shop-db", "shop-db-envmig"}, Buckets: []string{"uploads"}, Groups: []string{"web"},
		Snapshots: []string{"envmig-3fa2-main"}, SubnetGroups: []string{"private"}})
	arn := func(r string) string { return ARN(r, acct, region) }
	allowed := map[string][]string{
		"RDS RestoreDBInstanceFromDBSnapshot": {arn("db:shop-db-envmig"), arn("snapshot:envmig-3fa2-main"), arn("subgrp:private")},
		"S3 CopyObject":                       {arn("object:uploads/a/b"), arn("object:uploads/c")},
		"S3 DeleteBucket":                     {arn("bucket:uploads")},
		"Auto Scaling EnterStandby":           {arn("group:web")},
		"RDS DescribeDBInstances":             nil,
		"S3 ListBuckets":                      nil,
	}
	for call, res := range allowed {
		svc, op, _ := strings.Cut(call, " ")
		if svc == "Auto" {
			svc, op = "Auto Scaling", strings.TrimPrefix(op, "Scaling ")
		}
		if d := p.Denied(svc, op, res); len(d) > 0 {
			t.Errorf("%s on %v: denied %v", call, res, d)
		}
	}
	denied := map[string][]string{
		"RDS DeleteDBSnapshot":                {arn("snapshot:envmig-other-main")},
		"RDS DeleteDBInstance":                {arn("db:prod-other")},
		"RDS ModifyDBInstance":                nil, // no resource named: "*"
		"S3 DeleteBucket":                     {arn("bucket:someone-elses")},
		"S3 CopyObject":                       {arn("object:uploads/a"), arn("object:someone-elses/a")},
		"RDS CreateDBSnapshot":                {arn("db:shop-db"), arn("snapshot:envmig-*")},
		"RDS RestoreDBInstanceFromDBSnapshot": {arn("db:shop-db-envmig"), arn("snapshot:envmig-3fa2-main"), arn("subgrp:public")},
	}
	for call, res := range denied {
		svc, op, _ := strings.Cut(call, " ")
		if d := p.Denied(svc, op, res); len(d) == 0 {
			t.Errorf("%s on %v is allowed", call, res)
		}
	}
	b, _ := p.JSON()
	for _, never := range []string{`"arn:aws:s3:::*"`, `snapshot:envmig-*`, `subgrp:*`, `secgrp`, `rule/*`} {
		if strings.Contains(string(b), never) {
			t.Errorf("an exact policy holds %s:\n%s", never, b)
		}
	}
}

func TestDestructiveActions(t *testing.T) {
	for a, want := range map[string]bool{
		"rds:DeleteDBInstance": true, "s3:PutObject": true, "s3:DeleteBucket": true, "autoscaling:EnterStandby": true,
		"rds:DescribeDBInstances": false, "s3:GetObject": false, "s3:ListBucket": false, "kms:Decrypt": false,
		"ec2:CreateTags": false, "rds:AddTagsToResource": false, "s3:PutBucketTagging": true,
	} {
		if got := Destructive(a); got != want {
			t.Errorf("Destructive(%s) = %t", a, got)
		}
	}
}

// A stack-swap's policy covers the stack operations on its stack and the
// temporary one, and no other stack; a policy without stacks has none.
func TestPolicyCoversTheStacksOfAStackSwap(t *testing.T) {
	p := For(Scope{Account: "123456789012", Region: "us-east-1", Stacks: []string{"shop-staging", "shop-staging-envmig"}})
	var st *Statement
	for i := range p.Statement {
		if p.Statement[i].Sid == "EnvmigStacks" {
			st = &p.Statement[i]
		}
	}
	if st == nil {
		t.Fatal("no statement for the stacks")
	}
	want := []string{"arn:aws:cloudformation:us-east-1:123456789012:stack/shop-staging-envmig/*", "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-staging/*"}
	if diff := cmp.Diff(want, st.Resource); diff != "" {
		t.Fatalf("resources (-want +got):\n%s", diff)
	}
	if m := p.Missing([]string{"cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:DescribeStackEvents", "cloudformation:GetTemplate"}); len(m) != 0 {
		t.Fatalf("missing %v", m)
	}
	if m := For(Scope{}).Missing([]string{"cloudformation:CreateStack"}); len(m) != 1 {
		t.Fatal("a policy without stacks allows creating one")
	}
}
