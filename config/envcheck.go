package config

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// checkEnvironment runs the checks that span the resources of one
// environment: names used twice, and the names envmig derives with the
// temporary suffix.
func (l *loader) checkEnvironment(env *Environment, dbs []dbDecl, buckets []bucketDecl, services []serviceDecl) {
	l.checkDatabases(env, dbs)
	l.checkBuckets(env, buckets)
	groups := map[string]string{}
	logical := map[string]string{}
	for _, s := range services {
		if s.AutoScalingGroup != "" {
			l.unique(groups, s.AutoScalingGroup, "service."+s.Name, s.attrs["autoscaling_group"], "Duplicate Auto Scaling group",
				"the Auto Scaling group %q", "An Auto Scaling group belongs to one service block; remove one of them.")
		}
		if s.LogicalID != "" {
			l.unique(logical, s.LogicalID, "service."+s.Name, s.attrs["logical_id"], "Duplicate logical ID",
				"the stack resource %q", "A stack resource belongs to one service block; remove one of them.")
		}
	}
}

// unique records key as owned by owner, or reports that another block
// already owns it.
func (l *loader) unique(seen map[string]string, key, owner string, a *hcl.Attribute, summary, thing, fix string) bool {
	if prev, dup := seen[key]; dup {
		l.errorf(a.Expr.Range().Ptr(), summary, "%s and %s both name %s. %s", prev, owner, fmt.Sprintf(thing, key), fix)
		return false
	}
	seen[key] = owner
	return true
}

func (l *loader) checkDatabases(env *Environment, dbs []dbDecl) {
	ids := map[string]string{} // lower-cased identifier -> owner
	logical := map[string]string{}
	for _, d := range dbs {
		if d.Identifier != "" {
			// RDS identifiers are not case-sensitive.
			l.unique(ids, strings.ToLower(d.Identifier), "database."+d.Name, d.attrs["identifier"], "Duplicate database identifier",
				"the DB instance %q", "A DB instance belongs to one database block; remove one of them.")
		}
		if d.LogicalID != "" {
			l.unique(logical, d.LogicalID, "database."+d.Name, d.attrs["logical_id"], "Duplicate logical ID",
				"the stack resource %q", "A stack resource belongs to one database block; remove one of them.")
		}
	}
	m := env.Migration
	if m.TemporarySuffix == "" {
		return // the suffix is invalid; that is reported
	}
	for _, d := range dbs {
		if d.Identifier == "" || rdsIdentifierProblem(d.Identifier) != "" {
			continue
		}
		rng := d.attrs["identifier"].Expr.Range()
		derived := []struct{ name, role string }{
			{d.TemporaryIdentifier(m), "the temporary DB instance (identifier + temporary_suffix)"},
			{d.RetiredIdentifier(m), "the retired original (identifier + temporary_suffix + \"" + RetiredSuffix + "\")"},
		}
		for _, n := range derived {
			if p := rdsIdentifierProblem(n.name); p != "" {
				summary := "Invalid temporary name"
				if len(n.name) > maxRDSIdentifier {
					summary = "Temporary name too long"
				}
				l.errorf(&rng, summary,
					"For database %q envmig names %s %q, which %s. Shorten the identifier, or choose a shorter temporary_suffix in the migration block.",
					d.Name, n.role, n.name, p)
				break
			}
			if owner, taken := ids[strings.ToLower(n.name)]; taken {
				l.errorf(&rng, "Temporary name collides with a database",
					"For database %q envmig names %s %q, but %s is that DB instance. Choose another temporary_suffix in the migration block.",
					d.Name, n.role, n.name, owner)
			}
		}
	}
}

func (l *loader) checkBuckets(env *Environment, buckets []bucketDecl) {
	names := map[string]string{} // bucket name -> owner
	logical := map[string]string{}
	for _, b := range buckets {
		if b.BucketName != "" {
			l.unique(names, b.BucketName, "bucket."+b.Name, b.attrs["name"], "Duplicate bucket name",
				"the bucket %q", "A bucket belongs to one bucket block; remove one of them.")
		}
		if b.LogicalID != "" {
			l.unique(logical, b.LogicalID, "bucket."+b.Name, b.attrs["logical_id"], "Duplicate logical ID",
				"the stack resource %q", "A stack resource belongs to one bucket block; remove one of them.")
		}
	}
	for _, b := range buckets {
		if b.MovedFrom != "" && b.MovedFrom != b.BucketName {
			l.unique(names, b.MovedFrom, "bucket."+b.Name+" (moved_from)", b.attrs["moved_from"], "Duplicate bucket name",
				"the bucket %q", "moved_from must name a bucket that no other block of the environment manages.")
		}
	}
	m := env.Migration
	if m.TemporarySuffix == "" {
		return
	}
	for _, b := range buckets {
		if b.BucketName == "" || bucketNameProblem(b.BucketName) != "" {
			continue
		}
		rng := b.attrs["name"].Expr.Range()
		temp := b.TemporaryName(m)
		if p := bucketNameProblem(temp); p != "" {
			summary := "Invalid temporary bucket name"
			if len(temp) > maxBucketName {
				summary = "Temporary bucket name too long"
			}
			l.errorf(&rng, summary,
				"When bucket %q needs a new bucket, envmig copies it into %q (name + temporary_suffix), which %s. Shorten the name, or choose a shorter temporary_suffix in the migration block.",
				b.Name, temp, p)
			continue
		}
		if owner, taken := names[temp]; taken {
			l.errorf(&rng, "Temporary name collides with a bucket",
				"When bucket %q needs a new bucket, envmig copies it into %q (name + temporary_suffix), but %s names that bucket. Choose another temporary_suffix in the migration block.",
				b.Name, temp, owner)
		}
	}
}
