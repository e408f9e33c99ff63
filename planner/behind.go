package planner

import (
	"fmt"
	"strings"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// retiredTag marks an original a rename-swap renamed aside.
const retiredTag = "envmig:retired-by"

// retiredOriginals refuses a logical ID that resolves to an original a run
// retired: it is no longer the environment's resource, whatever the stack
// says (moto, unlike CloudFormation, follows a renamed instance).
func retiredOriginals(t targets, obs *live.Observed) []plan.Diagnostic {
	var out []plan.Diagnostic
	for _, d := range t.dbs {
		if d.cfg.LogicalID == "" {
			continue
		}
		if db := obs.Databases[d.id]; db != nil && db.Exists && db.Tags[retiredTag] != "" {
			out = append(out, plan.Diagnostic{Severity: plan.SeverityError, Code: codeRetired, Resource: d.address,
				Summary: fmt.Sprintf("logical ID %q of stack %s resolves to %s, an original envmig run %s retired", d.cfg.LogicalID, t.stack, d.id, db.Tags[retiredTag]),
				Detail:  "A retired original is kept only as a way back; it is never migrated or cloned again as the environment's database.",
				Fix:     "Run `envmig cleanup` for that run, or name the database by its identifier."})
		}
	}
	return out
}

// unretire maps a stack's physical ID that names a retired original
// (<id><suffix>-old) back to the original's identifier, which the verified
// clone took over: a retired original is never the stack's resource.
func unretire(physical string, m config.Migration) string {
	if id, ok := strings.CutSuffix(physical, config.TemporaryName("", m)+config.RetiredSuffix); ok && id != "" {
		return id
	}
	return physical
}

// behindTheStack refuses the changes a strategy other than stack-swap would
// make to a stack-owned database that its stack's template contradicts.
//
// After a rename-swap or clone-swap the stack's template still describes
// the database as it was: CloudFormation keeps the identifier, so the
// stack now owns the migrated instance while its template says, for
// example, StorageEncrypted: false. The natural follow-up, correcting the
// template, is an update that replaces the database with an empty one. So
// a change to a stack-owned database is planned only when the template
// already says what the spec wants.
func behindTheStack(env *config.Environment, t targets, dbs []dbPlan, obs *live.Observed) []plan.Diagnostic {
	info := obs.Stacks[env.Stack]
	if env.Stack == "" || info == nil || !info.Exists {
		return nil
	}
	var out []plan.Diagnostic
	for _, d := range dbs {
		id := d.t.cfg.LogicalID
		if id == "" || (d.res.Action != plan.ActionMigrate && d.res.Action != plan.ActionUpdate) {
			continue
		}
		props, known := info.DBProperties[id]
		var contradicted []string
		replaces := false
		for _, c := range d.res.Changes {
			prop, ok := templateProperty[c.Attribute]
			if !ok {
				continue
			}
			have, set := props[prop]
			if !set {
				have = templateDefault[prop]
			}
			if !known || !sameSetting(have, c.After) {
				contradicted = append(contradicted, fmt.Sprintf("%s: %s (the spec wants %s = %s)", prop, orAbsent(have, known), c.Attribute, c.After))
				replaces = replaces || replacingProperty[prop]
			}
		}
		if len(contradicted) == 0 {
			continue
		}
		detail := fmt.Sprintf("%s is resource %s of stack %s, whose template says %s. Changed behind the stack's back, the template would claim something false",
			d.t.id, id, env.Stack, strings.Join(contradicted, "; "))
		if replaces {
			detail += ", and correcting the template afterwards is a CloudFormation update that replaces the database: a new, empty one (Update requires: Replacement)."
		} else {
			detail += ", and the next stack update would set it back."
		}
		out = append(out, plan.Diagnostic{Severity: plan.SeverityError, Code: codeBehindStack, Resource: d.t.address,
			Summary: fmt.Sprintf("%s belongs to stack %s, whose template says otherwise", d.t.id, env.Stack),
			Detail:  detail,
			Fix:     "Migrate through the stack: put the change in a new version of the template and use strategy = \"stack-swap\" with a template block (see examples/cloudformation), or change the template first if CloudFormation can apply it in place."})
	}
	return out
}

// templateProperty maps a database setting to its DB instance property.
var templateProperty = map[string]string{
	"engine": "Engine", "engine_version": "EngineVersion", "instance_class": "DBInstanceClass",
	"allocated_storage": "AllocatedStorage", "storage_encrypted": "StorageEncrypted", "kms_key_id": "KmsKeyId", "multi_az": "MultiAZ",
}

// templateDefault is what an absent property means.
var templateDefault = map[string]string{"StorageEncrypted": "false", "MultiAZ": "false"}

// replacingProperty are the properties whose change makes CloudFormation
// replace a DB instance (planner/stack/replacement.go cites the sources).
var replacingProperty = map[string]bool{"StorageEncrypted": true, "KmsKeyId": true, "Engine": true}

func sameSetting(a, b string) bool {
	return strings.EqualFold(strings.TrimSpace(a), strings.TrimSpace(b))
}

func orAbsent(v string, known bool) string {
	switch {
	case !known:
		return "(the template could not be read)"
	case v == "":
		return "(absent)"
	}
	return v
}
