package awsclient

import (
	"net/url"
	"reflect"
	"strings"
)

// Resources names the resources an operation's input acts on, as
// "KIND:NAME": db, snapshot, subgrp, pg and og (RDS), bucket and object
// ("object:BUCKET/KEY"; "object:BUCKET/*" for an operation on several
// keys), group (Auto Scaling) and instance (EC2); an input field that holds
// an ARN is given as that ARN. An operation that names none (a describe of
// everything) has none. The IAM policy test evaluates every traced call on
// these (iampolicy.ARN turns them into ARNs).
func Resources(serviceID string, params any) []string {
	v := reflect.ValueOf(params)
	if v.Kind() != reflect.Pointer || v.IsNil() || v.Elem().Kind() != reflect.Struct {
		return nil
	}
	v = v.Elem()
	str := func(name string) string {
		f := v.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Pointer || f.IsNil() || f.Elem().Kind() != reflect.String {
			return ""
		}
		return f.Elem().String()
	}
	strs := func(name string) []string {
		f := v.FieldByName(name)
		if !f.IsValid() || f.Kind() != reflect.Slice || f.Type().Elem().Kind() != reflect.String {
			return nil
		}
		out := make([]string, f.Len())
		for i := range out {
			out[i] = f.Index(i).String()
		}
		return out
	}
	var out []string
	add := func(kind, name string) {
		if name == "" {
			return
		}
		if strings.HasPrefix(name, "arn:") {
			out = append(out, name)
			return
		}
		out = append(out, kind+":"+name)
	}
	switch serviceID {
	case "S3":
		b := str("Bucket")
		switch {
		case str("Key") != "":
			add("object", b+"/"+str("Key"))
		case v.FieldByName("Delete").IsValid():
			add("object", b+"/*") // DeleteObjects: keys of b
		default:
			add("bucket", b)
		}
		if src := str("CopySource"); src != "" {
			src, _, _ = strings.Cut(src, "?versionId=")
			if s, err := url.PathUnescape(src); err == nil {
				src = s
			}
			add("object", strings.TrimPrefix(src, "/"))
		}
	case "RDS":
		for _, f := range []string{"DBInstanceIdentifier", "SourceDBInstanceIdentifier", "TargetDBInstanceIdentifier", "NewDBInstanceIdentifier"} {
			add("db", str(f))
		}
		for _, f := range []string{"DBSnapshotIdentifier", "SourceDBSnapshotIdentifier", "TargetDBSnapshotIdentifier", "FinalDBSnapshotIdentifier"} {
			add("snapshot", str(f))
		}
		add("subgrp", str("DBSubnetGroupName"))
		add("pg", str("DBParameterGroupName"))
		add("og", str("OptionGroupName"))
		add("", str("ResourceName")) // an ARN
	case "Auto Scaling":
		add("group", str("AutoScalingGroupName"))
		for _, g := range strs("AutoScalingGroupNames") {
			add("group", g)
		}
		if f := v.FieldByName("Tags"); f.IsValid() && f.Kind() == reflect.Slice {
			for i := range f.Len() { // CreateOrUpdateTags, DeleteTags
				t := f.Index(i)
				if t.Kind() == reflect.Struct {
					if id := t.FieldByName("ResourceId"); id.IsValid() && id.Kind() == reflect.Pointer && !id.IsNil() {
						add("group", id.Elem().String())
					}
				}
			}
		}
	case "EC2":
		for _, id := range strs("Resources") {
			add("instance", id)
		}
	case "CloudFormation":
		add("stack", str("StackName")) // a name, or a stack ID (an ARN)
	}
	return out
}
