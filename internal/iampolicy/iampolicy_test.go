package iampolicy

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestActionsMapS3OperationsToIAM(t *testing.T) {
	cases := map[[2]string][]string{
		{"S3", "ListObjectsV2"}:                    {"s3:ListBucket"},
		{"S3", "HeadBucket"}:                       {"s3:ListBucket"},
		{"S3", "GetObjectLockConfiguration"}:       {"s3:GetBucketObjectLockConfiguration"},
		{"S3", "CopyObject"}:                       {"s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging"},
		{"RDS", "RestoreDBInstanceFromDBSnapshot"}: {"rds:RestoreDBInstanceFromDBSnapshot"},
		{"Auto Scaling", "EnterStandby"}:           {"autoscaling:EnterStandby"},
		{"CloudFormation", "ListStackResources"}:   {"cloudformation:ListStackResources"},
		{"KMS", "DescribeKey"}:                     {"kms:DescribeKey"},
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
