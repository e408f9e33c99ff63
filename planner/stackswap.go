package planner

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/planner/stack"
)

// Stack-swap diagnostics (see the code list in analyze.go).
const (
	codeSwapTemplate  = "EM181" // the new template cannot be read or swapped
	codeSwapStack     = "EM182" // the stack is missing or not in a stable state
	codeSwapTemporary = "EM183" // the temporary stack name is taken
	codeSwapCoverage  = "EM184" // the spec or the template leaves data out
	codeBehindStack   = "EM185" // a change behind the stack's back
	codeRetired       = "EM186" // a logical ID resolves to a retired original
)

// swap is what a stack-swap plan knows of the stack and its new version.
type swap struct {
	name, temp string
	file, body string
	live       *live.StackInfo
	// params are the parameters both new stacks are created with, but for
	// the environment and snapshot parameters.
	params              map[string]string
	envParam, snapParam string
	capabilities        []string
	db                  *swapResource
	buckets             []swapResource
	groups              []swapResource
	changed             bool
	reasons             []string
	// inPlace: the update replaces no database or bucket (envmig's
	// table), so it is made as a reviewed change set instead of a swap;
	// usePrevious are the NoEcho parameters it keeps.
	inPlace     bool
	usePrevious []string
	// nextParams are the in-place update's parameters.
	nextParams map[string]string
}

// swapResource is one database, bucket or group of the stack: its
// physical name in the original stack, the temporary one and the stack
// created again.
type swapResource struct {
	logicalID                  string
	original, temporary, final string
	// props are the resource's properties in the new template, evaluated
	// for the temporary stack, and finalProps for the stack's own name.
	props, finalProps map[string]any
}

// stackInfoAddress and stackTemporaryAddress are the addresses of the
// observations of the stack read in full and of the temporary stack's
// name.
const (
	stackInfoAddress      = "stack:info"
	stackTemporaryAddress = "stack:temporary"
)

// SwapTemporaryStack is the name of a stack-swap's temporary stack.
func SwapTemporaryStack(env *config.Environment) string {
	return config.TemporaryName(env.Stack, env.Migration)
}

// planSwap reads the stack and the new template and decides whether and
// how stack-swap migrates env. It returns nil with diagnostics when it
// cannot.
func planSwap(env *config.Environment, t targets, obs *live.Observed, a *analyzer) *swap {
	tp := env.Template
	if tp == nil {
		return nil // config refuses this
	}
	sw := &swap{name: env.Stack, temp: SwapTemporaryStack(env), file: tp.File, body: tp.Body,
		envParam: tp.EnvironmentParameter, snapParam: tp.SnapshotParameter, live: obs.Stacks[env.Stack]}
	if sw.live == nil || !sw.live.Exists {
		a.errorf(codeSwapStack, stackAddress, fmt.Sprintf("CloudFormation stack %q does not exist", env.Stack),
			"stack-swap builds an existing stack again from its new template.",
			"Check the stack name, AWS_PROFILE and the region; create the environment with your pipeline first.")
		return nil
	}
	if !strings.HasSuffix(sw.live.Status, "_COMPLETE") || strings.Contains(sw.live.Status, "ROLLBACK") || strings.HasPrefix(sw.live.Status, "DELETE") {
		a.errorf(codeSwapStack, stackAddress, fmt.Sprintf("stack %s is %s", env.Stack, sw.live.Status),
			"stack-swap starts only from a stack whose last operation succeeded (CREATE_COMPLETE or UPDATE_COMPLETE).",
			"Look at the stack's events, bring it to a complete state, then plan again.")
		return nil
	}
	if tmp := obs.Stacks[sw.temp]; tmp != nil && tmp.Exists {
		who := "a stack envmig does not own"
		if r := tmp.RunTag(); r != "" {
			who = "what envmig run " + r + " left (roll it back, or delete the stack)"
		}
		a.errorf(codeSwapTemporary, stackAddress, fmt.Sprintf("the temporary stack name %s is taken by %s", sw.temp, who),
			"stack-swap creates its temporary stack under that name.",
			"Delete that stack, or set migration { temporary_suffix = \"...\" } to another suffix.")
		return nil
	}
	tpl, err := stack.Parse([]byte(tp.Body))
	if err != nil {
		a.errorf(codeSwapTemplate, stackAddress, fmt.Sprintf("template %s cannot be read", tp.File), err.Error(),
			"Fix the template: it must be a CloudFormation template in JSON or YAML.")
		return nil
	}
	if tpl.Transform {
		a.errorf(codeSwapTemplate, stackAddress, fmt.Sprintf("template %s declares a Transform", tp.File),
			"CloudFormation expands a macro before it creates anything, so envmig cannot know the resources and names the template makes.",
			"Expand the template (aws cloudformation package / sam build) and name the result in template { file }.")
		return nil
	}
	// The parameters: the spec's, over the live stack's values of those the
	// new template still declares (a parameter the pipeline set is kept).
	sw.params = map[string]string{}
	var noEcho []string
	for _, k := range slices.Sorted(maps.Keys(sw.live.Parameters)) {
		v := sw.live.Parameters[k]
		p, declared := tpl.Parameters[k]
		if !declared || k == sw.envParam || k == sw.snapParam {
			continue
		}
		if v == stack.MaskedValue || p.NoEcho {
			if _, given := tp.Parameters[k]; !given {
				noEcho = append(noEcho, k)
			}
			continue
		}
		sw.params[k] = v
	}
	maps.Copy(sw.params, tp.Parameters)
	delete(sw.params, sw.envParam) // envmig sets these two
	delete(sw.params, sw.snapParam)
	an, err := stack.Analyze(tpl, stack.Options{EnvironmentParameter: sw.envParam, SnapshotParameter: sw.snapParam,
		Parameters: sw.params, StackName: sw.temp})
	if err != nil {
		a.errorf(codeSwapTemplate, stackAddress, fmt.Sprintf("template %s cannot be evaluated", tp.File), err.Error(),
			"Give every parameter without a default a value in template { parameters = { ... } }.")
		return nil
	}
	if err := an.CheckSwap(stack.Options{EnvironmentParameter: sw.envParam}); err != nil {
		a.errorf(codeSwapTemplate, stackAddress, fmt.Sprintf("template %s cannot be migrated by stack-swap", tp.File), err.Error(),
			"Change the template as the detail says; see examples/cloudformation.")
		return nil
	}
	for _, r := range tpl.Resources {
		if strings.HasPrefix(r.Type, "AWS::IAM::") && !slices.Contains(sw.capabilities, "CAPABILITY_NAMED_IAM") {
			sw.capabilities = append(sw.capabilities, "CAPABILITY_NAMED_IAM")
		}
	}
	if len(an.Databases) > 1 {
		a.errorf(codeSwapCoverage, stackAddress, fmt.Sprintf("template %s has %d databases", tp.File, len(an.Databases)),
			"The snapshot parameter restores one database; envmig's stack-swap migrates stacks with at most one AWS::RDS::DBInstance.",
			"Split the stack, or migrate it with rename-swap per database.")
		return nil
	}
	tempIn := evalInputs(sw, obs, sw.temp, "")
	finalIn := evalInputs(sw, obs, sw.name, "")
	tempEv, err1 := stack.Evaluate(tpl, tempIn)
	finalEv, err2 := stack.Evaluate(tpl, finalIn)
	if err1 != nil || err2 != nil {
		a.errorf(codeSwapTemplate, stackAddress, fmt.Sprintf("template %s cannot be evaluated", tp.File), fmt.Sprint(err1, err2), "")
		return nil
	}
	ok := true
	resolveOne := func(p stack.Persistent) (swapResource, bool) {
		r := swapResource{logicalID: p.LogicalID, props: tempEv.Resources[p.LogicalID].Props, finalProps: finalEv.Resources[p.LogicalID].Props}
		if lr, found := sw.live.Resources[p.LogicalID]; found && lr.Type == p.Type {
			r.original = lr.PhysicalID
		}
		tn, tok := tempEv.Resources[p.LogicalID].Props[p.NameProperty].(string)
		fn, fok := finalEv.Resources[p.LogicalID].Props[p.NameProperty].(string)
		if !tok || !fok || tn == "" || fn == "" {
			a.errorf(codeSwapTemplate, stackAddress, fmt.Sprintf("template %s leaves the name of %s to CloudFormation", tp.File, p.LogicalID),
				fmt.Sprintf("envmig copies data between the stacks by physical name, so it must know the name of %s before the stacks exist.", p.LogicalID),
				fmt.Sprintf("Set %s: !Sub \"${%s}-%s\" in the template.", p.NameProperty, sw.envParam, strings.ToLower(p.LogicalID)))
			ok = false
		}
		r.temporary, r.final = tn, fn
		return r, ok
	}
	for _, p := range an.Databases {
		r, _ := resolveOne(p)
		sw.db = &r
	}
	for _, p := range an.Buckets {
		r, _ := resolveOne(p)
		sw.buckets = append(sw.buckets, r)
	}
	for _, p := range an.Groups {
		r, _ := resolveOne(p)
		sw.groups = append(sw.groups, r)
	}
	if !ok {
		return nil
	}
	// Nothing of the stack's data may be left out: every database and
	// bucket of the live stack is in the new template and in the spec.
	named := map[string]bool{}
	for _, d := range t.dbs {
		named[d.cfg.LogicalID] = d.cfg.LogicalID != ""
	}
	for _, b := range t.buckets {
		named[b.cfg.LogicalID] = b.cfg.LogicalID != ""
	}
	for _, id := range slices.Sorted(maps.Keys(sw.live.Resources)) {
		r := sw.live.Resources[id]
		if r.Type != cfnDBInstance && r.Type != cfnBucket {
			continue
		}
		if nr, in := tpl.Resources[id]; !in || nr.Type != r.Type {
			a.errorf(codeSwapCoverage, stackAddress, fmt.Sprintf("template %s drops %s %s of stack %s", tp.File, r.Type, id, sw.name),
				fmt.Sprintf("Deleting the original stack deletes %s (%s); stack-swap carries data only into a resource of the same logical ID and type.", id, r.PhysicalID),
				"Keep the resource in the new template, or move its data out first.")
			ok = false
			continue
		}
		if !named[id] {
			block := "bucket"
			if r.Type == cfnDBInstance {
				block = "database"
			}
			a.errorf(codeSwapCoverage, stackAddress, fmt.Sprintf("%s %s of stack %s is not in the spec", r.Type, id, sw.name),
				"envmig observes, copies and verifies only what the spec names; the stack's other data would be deleted with the original stack.",
				fmt.Sprintf("Add %s %q { logical_id = %q }.", block, strings.ToLower(id), id))
			ok = false
		}
	}
	if !ok {
		return nil
	}
	// Is there anything to do?
	newDigest := live.TemplateDigest(tp.Body)
	if newDigest != sw.live.TemplateDigest {
		sw.reasons = append(sw.reasons, fmt.Sprintf("the stack runs another template than %s", tp.File))
	}
	want := maps.Clone(sw.params)
	want[sw.envParam] = sw.name
	for _, k := range slices.Sorted(maps.Keys(want)) {
		if have, ok := sw.live.Parameters[k]; (!ok && want[k] != tpl.Parameters[k].Default) || (ok && have != want[k] && have != stack.MaskedValue) {
			sw.reasons = append(sw.reasons, fmt.Sprintf("parameter %s: %s -> %s", k, show(sw.live.Parameters[k]), show(want[k])))
		}
	}
	sw.changed = len(sw.reasons) > 0
	if sw.changed {
		reviewInPlace(sw, tpl, want, noEcho, obs)
	}
	if sw.changed && !sw.inPlace {
		sw.reasons = append(sw.reasons, replacedByUpdate(sw, finalEv)...)
		for _, k := range noEcho {
			a.warnf(codeSwapTemplate, stackAddress, fmt.Sprintf("NoEcho parameter %s takes the template's default in the new stacks", k),
				"CloudFormation never shows a NoEcho value, so envmig cannot carry it over into a new stack.",
				fmt.Sprintf("Give it in template { parameters = { %s = ... } } (from a variable), or accept its default.", k))
		}
	}
	if sw.changed && sw.db != nil && sw.db.original == "" {
		a.errorf(codeSwapCoverage, stackAddress, fmt.Sprintf("stack %s has no database %s to snapshot", sw.name, sw.db.logicalID),
			"The new template restores its database from a snapshot of the original's.", "Check the stack and the template's logical IDs.")
		return nil
	}
	return sw
}

// evalInputs are the inputs a new stack named name is created with.
func evalInputs(sw *swap, obs *live.Observed, name, snapshot string) stack.Inputs {
	p := maps.Clone(sw.params)
	p[sw.envParam] = name
	p[sw.snapParam] = snapshot
	return stack.Inputs{StackName: name, Parameters: p, Region: obs.Region, AccountID: obs.Identity.Account, Partition: "aws"}
}

// stackParams are the parameters the stack name is created with.
func (sw *swap) stackParams(name, snapshot string) map[string]string {
	p := maps.Clone(sw.params)
	p[sw.envParam] = name
	p[sw.snapParam] = snapshot
	return p
}

// markSwap marks every database and bucket the stack holds as migrated.
func markSwap(sw *swap, dbs []dbPlan, buckets []bucketPlan) {
	why := "strategy stack-swap builds stack " + sw.name + " again from " + sw.file + " (see the stack's reasons); the data moves by snapshot and copy"
	for i := range dbs {
		dbs[i].res.Action = plan.ActionMigrate
		dbs[i].res.Reasons = []string{why}
		dbs[i].res.Changes = nil
	}
	for i := range buckets {
		buckets[i].res.Action = plan.ActionMigrate
		buckets[i].res.Reasons = []string{why}
		buckets[i].res.Changes = nil
	}
}

// replacedByUpdate says which of the stack's database properties the new
// template changes in a way that an update would replace the database (by
// envmig's table): why the plan rebuilds the stack rather than update it.
// It compares what the stack's template says (live.StackInfo.DBProperties)
// with the new template evaluated for the stack's own name.
func replacedByUpdate(sw *swap, next *stack.Evaluated) []string {
	if sw.db == nil {
		return nil
	}
	have, ok := sw.live.DBProperties[sw.db.logicalID]
	if !ok {
		return nil
	}
	var out []string
	props := next.Resources[sw.db.logicalID].Props
	for _, k := range live.DBProperties {
		n, set := props[k]
		now := ""
		if set {
			now = stack.Render(n)
		}
		was, wasSet := have[k]
		if now == was || (!set && !wasSet) {
			continue
		}
		var old any
		if wasSet {
			old = was
		}
		if r, why := stack.Replaces(stack.TypeDBInstance, k, old, n, nil, props); r {
			out = append(out, fmt.Sprintf("%s %s: %s -> %s would replace the database in a stack update (%s)", sw.db.logicalID, k, show(was), show(now), why))
		}
	}
	return out
}

// reviewInPlace decides whether the stack may be updated in place: when
// envmig's own review of the update (stack.ReviewUpdate, by its table of
// the properties that force replacement, whatever a change set's preview
// says) replaces or removes no database or bucket and keeps the snapshot
// the database was restored from. The update keeps the snapshot
// parameter's value and the NoEcho parameters' (UsePrevious).
func reviewInPlace(sw *swap, next *stack.Template, want map[string]string, noEcho []string, obs *live.Observed) {
	if sw.live.Template == "" {
		return
	}
	liveTpl, err := stack.Parse([]byte(sw.live.Template))
	if err != nil {
		return
	}
	params := maps.Clone(want)
	params[sw.snapParam] = sw.live.Parameters[sw.snapParam]
	for _, k := range noEcho {
		params[k] = stack.MaskedValue
	}
	in := func(p map[string]string) stack.Inputs {
		return stack.Inputs{StackName: sw.name, Parameters: p, Region: obs.Region, AccountID: obs.Identity.Account, Partition: "aws"}
	}
	r, err := stack.ReviewUpdate(stack.Side{Template: liveTpl, Inputs: in(sw.live.Parameters)}, stack.Side{Template: next, Inputs: in(params)})
	if err != nil || r.Err() != nil {
		return
	}
	sw.inPlace, sw.usePrevious = true, noEcho
	for _, k := range noEcho {
		delete(params, k)
	}
	sw.nextParams = params
	for _, c := range r.Resources {
		for _, pc := range c.InPlace {
			sw.reasons = append(sw.reasons, fmt.Sprintf("%s %s: %s -> %s, updated in place (%s)", c.LogicalID, pc.Property, pc.Old, pc.New, pc.Rule))
		}
	}
	sw.reasons = append(sw.reasons, "no database or bucket is replaced (envmig's table): the stack is updated in place through a reviewed change set")
}

// stackUpdateSteps are the steps of an in-place update of the stack: the
