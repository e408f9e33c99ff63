package iampolicy

import (
	"fmt"
	"slices"
	"strings"
)

// Allows reports whether a statement of p allows action on resource (an
// ARN, or "*" for a call that names no resource). Patterns match as IAM's
// do: "*" any run of characters, "?" one. Conditions are not evaluated: a
// statement with a Condition allows here what AWS allows only when the
// condition holds (the tests that use Allows read the conditions apart).
func (p Policy) Allows(action, resource string) bool {
	for _, st := range p.Statement {
		if st.Effect != "Allow" {
			continue
		}
		if slices.ContainsFunc(st.Action, func(a string) bool { return Match(a, action) }) &&
			slices.ContainsFunc(st.Resource, func(r string) bool { return Match(r, resource) }) {
			return true
		}
	}
	return false
}

// Match reports whether s matches the IAM pattern pat.
func Match(pat, s string) bool {
	for len(pat) > 0 {
		switch pat[0] {
		case '*':
			for i := len(s); i >= 0; i-- {
				if Match(pat[1:], s[i:]) {
					return true
				}
			}
			return false
		case '?':
			if s == "" {
				return false
			}
		default:
			if s == "" || s[0] != pat[0] {
				return false
			}
		}
		pat, s = pat[1:], s[1:]
	}
	return s == ""
}

// ARN returns the ARN of a resource named as awsclient.Resources names it
// ("db:NAME", "bucket:NAME", "object:BUCKET/KEY", "group:NAME", ...) in
// account and region. An Auto Scaling group's ARN holds an ID no name
// tells: it is all zeros here, which the policy's "*" matches.
func ARN(res, account, region string) string {
	if strings.HasPrefix(res, "arn:") {
		return res
	}
	kind, name, _ := strings.Cut(res, ":")
	switch kind {
	case "db", "snapshot", "subgrp", "pg", "og":
		return fmt.Sprintf("arn:aws:rds:%s:%s:%s:%s", region, account, kind, name)
	case "bucket", "object":
		return "arn:aws:s3:::" + name
	case "group":
		return fmt.Sprintf("arn:aws:autoscaling:%s:%s:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/%s", region, account, name)
	case "instance":
		return fmt.Sprintf("arn:aws:ec2:%s:%s:instance/%s", region, account, name)
	case "stack":
		return fmt.Sprintf("arn:aws:cloudformation:%s:%s:stack/%s/00000000-0000-0000-0000-000000000000", region, account, name)
	}
	return res
}

// Denied returns what p does not allow of one SDK operation on its
// resources (ARNs): "ACTION on RESOURCE" for every IAM action the operation
// needs (Actions) and every resource of that action's kind, "*" when it
// names none. Conditions are not evaluated (see Allows).
func (p Policy) Denied(serviceID, operation string, resources []string) []string {
	var out []string
	for _, a := range Actions(serviceID, operation) {
		var on []string
		for _, r := range resources {
			if appliesTo(a, r) {
				on = append(on, r)
			}
		}
		if len(on) == 0 {
			on = []string{"*"}
		}
		for _, r := range on {
			if !p.Allows(a, r) {
				out = append(out, a+" on "+r)
			}
		}
	}
	return out
}

// appliesTo reports whether IAM action a is authorized on resource arn: the
// same service, and for S3 objects object actions, buckets bucket actions.
func appliesTo(a, arn string) bool {
	svc, _, _ := strings.Cut(a, ":")
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 || parts[2] != svc {
		return false
	}
	if svc == "s3" {
		return strings.Contains(parts[5], "/") == slices.Contains(objectActions, a)
	}
	return true
}

// Destructive reports whether an action can delete or overwrite data or
// change how a resource runs: every action but reads (Describe, List, Get,
// Head), tagging (which marks, never changes, a resource) and KMS's use of
// a key for RDS. The tests hold a plan's policy to granting destructive
// actions only on resources it names.
func Destructive(action string) bool {
	svc, op, _ := strings.Cut(action, ":")
	if svc == "kms" || svc == "sts" {
		return false
	}
	for _, p := range []string{"Describe", "List", "Get", "Head"} {
		if strings.HasPrefix(op, p) {
			return false
		}
	}
	switch op {
	case "CreateTags", "DeleteTags", "CreateOrUpdateTags", "AddTagsToResource", "RemoveTagsFromResource",
		"TagResource", "UntagResource":
		return false
	}
	return true
}
