// Package iampolicy writes the least-privilege IAM policy envmig needs for
// an environment: every action it may call (to plan, apply, resume, roll
// back, clone and clean up), each scoped to the resources it acts on.
//
// Actions maps an SDK operation to the IAM actions it needs; for S3 they
// differ from the operation names (ListObjectsV2 needs s3:ListBucket, a
// CopyObject needs s3:GetObject on the source and s3:PutObject on the
// destination). A test replays every operation the integration suites
// record through Actions and fails when the policy misses one, and the
// end-to-end tests evaluate every call of a run, on the resources it acted
// on, against the policy of the run's plan (Policy.Denied).
package iampolicy

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Scope is what a policy covers. Empty Account or Region become "*".
type Scope struct {
	Account, Region string
	// Databases, Buckets and Groups are physical names; a name ending in
	// "*" is a pattern (an unresolved logical ID, a clone).
	Databases, Buckets, Groups []string
	// Exact is a saved plan's scope: every resource is named below, and
	// no pattern is added. Without it (the spec's scope) snapshots are
	// "envmig-*", and subnet, parameter, option and security groups and
	// the switches' resources "*".
	Exact bool
	// Snapshots, SubnetGroups, ParameterGroups and OptionGroups are the
	// RDS names of an Exact scope.
	Snapshots, SubnetGroups, ParameterGroups, OptionGroups []string
	// Switches is whether an Exact scope includes writer switches.
	Switches bool
	// ManagedPasswords is whether an Exact scope restores a database with
	// an RDS-managed master password (a clone's).
	ManagedPasswords bool
	// Stacks are the CloudFormation stacks a stack-swap creates and
	// deletes: an environment's stack and its temporary name.
	Stacks []string
}

// s3Actions maps S3 operations to IAM actions.
var s3Actions = map[string][]string{
	"HeadBucket":                 {"s3:ListBucket"},
	"ListObjectsV2":              {"s3:ListBucket"},
	"ListObjects":                {"s3:ListBucket"},
	"ListObjectVersions":         {"s3:ListBucketVersions"},
	"ListMultipartUploads":       {"s3:ListBucketMultipartUploads"},
	"ListParts":                  {"s3:ListMultipartUploadParts"},
	"GetBucketLocation":          {"s3:GetBucketLocation"},
	"GetBucketVersioning":        {"s3:GetBucketVersioning"},
	"GetBucketEncryption":        {"s3:GetEncryptionConfiguration"},
	"GetBucketTagging":           {"s3:GetBucketTagging"},
	"GetBucketPolicy":            {"s3:GetBucketPolicy"},
	"GetObjectLockConfiguration": {"s3:GetBucketObjectLockConfiguration"},
	"CreateBucket":               {"s3:CreateBucket"},
	"DeleteBucket":               {"s3:DeleteBucket"},
	"PutBucketVersioning":        {"s3:PutBucketVersioning"},
	"PutBucketTagging":           {"s3:PutBucketTagging"},
	"DeleteBucketTagging":        {"s3:PutBucketTagging"},
	"CopyObject":                 {"s3:GetObject", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging"},
	"UploadPartCopy":             {"s3:GetObject", "s3:PutObject"},
	"CreateMultipartUpload":      {"s3:PutObject", "s3:PutObjectTagging"},
	"CompleteMultipartUpload":    {"s3:PutObject"},
	"AbortMultipartUpload":       {"s3:AbortMultipartUpload"},
	"HeadObject":                 {"s3:GetObject"},
	"GetObject":                  {"s3:GetObject"},
	"GetObjectAttributes":        {"s3:GetObject", "s3:GetObjectAttributes"},
	"GetObjectTagging":           {"s3:GetObjectTagging"},
	"PutObjectTagging":           {"s3:PutObjectTagging"},
	"PutObject":                  {"s3:PutObject"},
	"DeleteObject":               {"s3:DeleteObject", "s3:DeleteObjectVersion"},
	"DeleteObjects":              {"s3:DeleteObject", "s3:DeleteObjectVersion"},
	"ListBuckets":                {"s3:ListAllMyBuckets"},
	// Bucket settings: read, and carried to a new bucket.
	"GetPublicAccessBlock":               {"s3:GetBucketPublicAccessBlock"},
	"GetBucketOwnershipControls":         {"s3:GetBucketOwnershipControls"},
	"GetBucketLifecycleConfiguration":    {"s3:GetLifecycleConfiguration"},
	"GetBucketCors":                      {"s3:GetBucketCORS"},
	"GetBucketNotificationConfiguration": {"s3:GetBucketNotification"},
	"GetBucketLogging":                   {"s3:GetBucketLogging"},
	"GetBucketWebsite":                   {"s3:GetBucketWebsite"},
	"GetBucketRequestPayment":            {"s3:GetBucketRequestPayment"},
	"GetBucketReplication":               {"s3:GetReplicationConfiguration"},
	"GetBucketAccelerateConfiguration":   {"s3:GetAccelerateConfiguration"},
	"PutBucketPolicy":                    {"s3:PutBucketPolicy"},
	"PutPublicAccessBlock":               {"s3:PutBucketPublicAccessBlock"},
	"DeletePublicAccessBlock":            {"s3:PutBucketPublicAccessBlock"},
	"PutBucketOwnershipControls":         {"s3:PutBucketOwnershipControls"},
	"PutBucketEncryption":                {"s3:PutEncryptionConfiguration"},
	"PutBucketLifecycleConfiguration":    {"s3:PutLifecycleConfiguration"},
	"PutBucketCors":                      {"s3:PutBucketCORS"},
	"PutBucketNotificationConfiguration": {"s3:PutBucketNotification"},
	"PutBucketLogging":                   {"s3:PutBucketLogging"},
	"PutBucketWebsite":                   {"s3:PutBucketWebsite"},
	"PutBucketRequestPayment":            {"s3:PutBucketRequestPayment"},
	"PutObjectLockConfiguration":         {"s3:PutBucketObjectLockConfiguration"},
	"PutBucketReplication":               {"s3:PutReplicationConfiguration"},
	"PutBucketAccelerateConfiguration":   {"s3:PutAccelerateConfiguration"},
}

// Actions returns the IAM actions an SDK operation needs. serviceID is the
// SDK's service ID ("RDS", "S3", "Auto Scaling").
func Actions(serviceID, operation string) []string {
	switch serviceID {
	case "S3":
		if a, ok := s3Actions[operation]; ok {
			return a
		}
		return []string{"s3:" + operation}
	case "Auto Scaling":
		return []string{"autoscaling:" + operation}
	case "STS":
		return []string{"sts:" + operation}
	}
	if prefix, ok := iamPrefixes[serviceID]; ok {
		return []string{prefix + ":" + operation}
	}
	return []string{strings.ToLower(strings.ReplaceAll(serviceID, " ", "")) + ":" + operation}
}

// iamPrefixes are the IAM service prefixes of the SDK service IDs that do
// not lower-case to them.
var iamPrefixes = map[string]string{
	"EventBridge":               "events",
	"Elastic Load Balancing":    "elasticloadbalancing",
	"Elastic Load Balancing v2": "elasticloadbalancing",
	"Application Auto Scaling":  "application-autoscaling",
}

// Statement is one IAM policy statement.
type Statement struct {
	Sid       string         `json:"Sid"`
	Effect    string         `json:"Effect"`
	Action    []string       `json:"Action"`
	Resource  []string       `json:"Resource"`
	Condition map[string]any `json:"Condition,omitempty"`
}

// Policy is an IAM policy document.
type Policy struct {
	Version   string      `json:"Version"`
	Statement []Statement `json:"Statement"`
}

// The actions by statement. Reads need "*": RDS and Auto Scaling describe
// calls and STS do not take resource-level permissions.
var (
	readActions = []string{
		"sts:GetCallerIdentity",
		"rds:DescribeDBInstances", "rds:DescribeDBSnapshots", "rds:ListTagsForResource",
		"autoscaling:DescribeAutoScalingGroups", "autoscaling:DescribeInstanceRefreshes",
		"ec2:DescribeTags", "elasticloadbalancing:DescribeTargetHealth", "elasticloadbalancing:DescribeInstanceHealth",
		"elasticloadbalancing:DescribeTargetGroups", "s3:ListAllMyBuckets",
		"events:DescribeRule", "events:ListTagsForResource", "events:ListTargetsByRule", "scheduler:GetSchedule",
		"ecs:DescribeServices", "application-autoscaling:DescribeScalableTargets", "lambda:GetEventSourceMapping", "lambda:ListTags",
		"cloudformation:DescribeStacks", "cloudformation:GetTemplate", "cloudformation:DescribeStackEvents", "cloudformation:DescribeChangeSet",
		"cloudformation:ListStackResources",
		"kms:DescribeKey",
	}
	rdsActions = []string{
		"rds:CreateDBSnapshot", "rds:CopyDBSnapshot", "rds:DeleteDBSnapshot",
		"rds:RestoreDBInstanceFromDBSnapshot", "rds:ModifyDBInstance", "rds:DeleteDBInstance",
		"rds:AddTagsToResource", "rds:RemoveTagsFromResource",
	}
	groupActions = []string{
		"autoscaling:SuspendProcesses", "autoscaling:ResumeProcesses", "autoscaling:UpdateAutoScalingGroup",
		"autoscaling:EnterStandby", "autoscaling:ExitStandby", "autoscaling:CreateOrUpdateTags", "autoscaling:DeleteTags",
	}
	bucketActions = []string{
		"s3:ListBucket", "s3:ListBucketVersions", "s3:ListBucketMultipartUploads", "s3:GetBucketLocation",
		"s3:GetBucketVersioning", "s3:GetEncryptionConfiguration", "s3:GetBucketTagging", "s3:GetBucketPolicy",
		"s3:GetBucketObjectLockConfiguration", "s3:CreateBucket", "s3:DeleteBucket", "s3:PutBucketVersioning",
		"s3:PutBucketTagging", "s3:GetBucketPublicAccessBlock", "s3:GetBucketOwnershipControls", "s3:GetLifecycleConfiguration",
		"s3:GetBucketCORS", "s3:GetBucketNotification", "s3:GetBucketLogging", "s3:GetBucketWebsite", "s3:GetBucketRequestPayment",
		"s3:GetReplicationConfiguration", "s3:GetAccelerateConfiguration", "s3:PutBucketPolicy", "s3:PutBucketPublicAccessBlock",
		"s3:PutBucketOwnershipControls", "s3:PutEncryptionConfiguration", "s3:PutLifecycleConfiguration", "s3:PutBucketCORS",
		"s3:PutBucketNotification", "s3:PutBucketLogging", "s3:PutBucketWebsite", "s3:PutBucketRequestPayment",
		"s3:PutBucketObjectLockConfiguration", "s3:PutReplicationConfiguration", "s3:PutAccelerateConfiguration",
	}
	objectActions = []string{
		"s3:GetObject", "s3:GetObjectAttributes", "s3:GetObjectTagging", "s3:PutObject", "s3:PutObjectTagging",
		"s3:AbortMultipartUpload", "s3:ListMultipartUploadParts", "s3:DeleteObject", "s3:DeleteObjectVersion",
	}
	switchActions = []string{
		"events:DisableRule", "events:EnableRule", "events:PutRule", "events:TagResource", "events:UntagResource",
		"scheduler:UpdateSchedule", "iam:PassRole",
		"ecs:UpdateService", "ecs:TagResource", "ecs:UntagResource", "application-autoscaling:RegisterScalableTarget",
		"lambda:UpdateEventSourceMapping", "lambda:TagResource", "lambda:UntagResource",
	}
	// stackActions are the stack operations of stack-swap and of the
	// in-place path (change sets). CloudFormation creates and deletes the
	// template's resources with the caller's permissions unless the stack
	// has a service role: rds:CreateDBInstance and the like are the
	// template's, not listed here.
	stackActions = []string{
		"cloudformation:CreateStack", "cloudformation:DeleteStack", "cloudformation:DescribeStacks",
		"cloudformation:DescribeStackEvents", "cloudformation:GetTemplate", "cloudformation:ListStackResources",
		"cloudformation:CreateChangeSet", "cloudformation:DescribeChangeSet", "cloudformation:ExecuteChangeSet",
		"cloudformation:DeleteChangeSet", "cloudformation:TagResource",
	}
	kmsActions = []string{"kms:DescribeKey", "kms:CreateGrant", "kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*"}
)

// For builds the policy of a scope.
func For(s Scope) Policy {
	acct, region := or(s.Account, "*"), or(s.Region, "*")
	rdsARN := func(kind, name string) string {
		return fmt.Sprintf("arn:aws:rds:%s:%s:%s:%s", region, acct, kind, name)
	}
	var dbs []string
	for _, d := range s.Databases {
		dbs = append(dbs, rdsARN("db", d))
	}
	if s.Exact {
		for kind, names := range map[string][]string{"snapshot": s.Snapshots, "subgrp": s.SubnetGroups, "pg": s.ParameterGroups, "og": s.OptionGroups} {
			for _, n := range names {
				dbs = append(dbs, rdsARN(kind, n))
			}
		}
	} else {
		dbs = append(dbs, rdsARN("snapshot", "envmig-*"), rdsARN("subgrp", "*"), rdsARN("pg", "*"), rdsARN("og", "*"), rdsARN("secgrp", "*"))
	}
	var groups []string
	for _, g := range s.Groups {
		groups = append(groups, fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:*:autoScalingGroupName/%s", region, acct, g))
	}
	var buckets, objects []string
	for _, b := range s.Buckets {
		buckets = append(buckets, "arn:aws:s3:::"+b)
		objects = append(objects, "arn:aws:s3:::"+b+"/*")
	}
	p := Policy{Version: "2012-10-17"}
	add := func(sid string, actions, resources []string, cond map[string]any) {
		if len(resources) == 0 {
			return
		}
		p.Statement = append(p.Statement, Statement{Sid: sid, Effect: "Allow", Action: sorted(actions), Resource: sorted(resources), Condition: cond})
	}
	add("EnvmigRead", readActions, []string{"*"}, nil)
	add("EnvmigDatabases", rdsActions, dbs, nil)
	add("EnvmigGroups", groupActions, groups, nil)
	add("EnvmigBuckets", bucketActions, buckets, nil)
	add("EnvmigObjects", objectActions, objects, nil)
	if len(s.Groups) > 0 {
		// The instances a standby marks are the groups' at apply time: no
		// name is known before, so the condition pins them to the groups,
		// and the tag to envmig's.
		add("EnvmigStandbyInstances", []string{"ec2:CreateTags", "ec2:DeleteTags"}, []string{fmt.Sprintf("arn:aws:ec2:%s:%s:instance/*", region, acct)},
			map[string]any{
				"StringLike":                map[string]any{"ec2:ResourceTag/aws:autoscaling:groupName": sorted(s.Groups)},
				"ForAllValues:StringEquals": map[string]any{"aws:TagKeys": []string{"envmig:standby"}},
			})
	}
	if !s.Exact || s.Switches {
		addSwitches(add, region, acct)
	}
	if !s.Exact || s.ManagedPasswords {
		// A clone's database gets a master password of its own, which RDS
		// creates in Secrets Manager (secrets named rds!db-...).
		add("EnvmigCloneMasterPasswords", []string{"secretsmanager:CreateSecret", "secretsmanager:TagResource"},
			[]string{fmt.Sprintf("arn:aws:secretsmanager:%s:%s:secret:rds!*", region, acct)}, nil)
	}
	var stacks []string
	for _, st := range s.Stacks {
		stacks = append(stacks, fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/*", region, acct, st))
	}
	add("EnvmigStacks", stackActions, stacks, nil)
	add("EnvmigKeysThroughRDS", kmsActions, []string{fmt.Sprintf("arn:aws:kms:%s:%s:key/*", region, acct)},
		map[string]any{"StringEquals": map[string]string{"kms:ViaService": fmt.Sprintf("rds.%s.amazonaws.com", region)}})
	return p
}

// addSwitches adds the statement of the writer switches. Their resources
// are not named in a plan's scope yet: every rule, schedule, service,
// scalable target and event source mapping of the account and region.
func addSwitches(add func(string, []string, []string, map[string]any), region, acct string) {
	add("EnvmigSwitches", switchActions, []string{
		fmt.Sprintf("arn:aws:events:%s:%s:rule/*", region, acct),
		fmt.Sprintf("arn:aws:scheduler:%s:%s:schedule/*", region, acct),
		fmt.Sprintf("arn:aws:ecs:%s:%s:service/*", region, acct),
		fmt.Sprintf("arn:aws:application-autoscaling:%s:%s:scalable-target/*", region, acct),
		fmt.Sprintf("arn:aws:lambda:%s:%s:event-source-mapping:*", region, acct),
		fmt.Sprintf("arn:aws:iam::%s:role/*", acct),
	}, nil)
}

// Missing returns the actions the policy does not allow (by
// action, whatever the resource), sorted.
func (p Policy) Missing(actions []string) []string {
	have := map[string]bool{}
	var wild []string
	for _, s := range p.Statement {
		for _, a := range s.Action {
			if strings.HasSuffix(a, "*") {
				wild = append(wild, strings.TrimSuffix(a, "*"))
			}
			have[a] = true
		}
	}
	var missing []string
	for _, a := range actions {
		ok := have[a] || slices.ContainsFunc(wild, func(w string) bool { return strings.HasPrefix(a, w) })
		if !ok && !slices.Contains(missing, a) {
			missing = append(missing, a)
		}
	}
	sort.Strings(missing)
	return missing
}

// JSON renders the policy as indented JSON.
func (p Policy) JSON() ([]byte, error) {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}

func sorted(s []string) []string {
	out := slices.Clone(s)
	sort.Strings(out)
	return slices.Compact(out)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
