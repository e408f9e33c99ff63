package planner

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// Options are the inputs of a plan that are neither spec nor observation.
type Options struct {
	// Lineage is the run's identity; it must be new for every plan.
	Lineage string
	// Now is the plan's creation time.
	Now time.Time
	// Tool is envmig's version.
	Tool string
	// Replace lists resource addresses (database.NAME, bucket.NAME) to
	// migrate through a clone even when no setting requires it.
	Replace []string
}

// Plan computes the plan for env from what obs saw. It does no I/O. A plan
// with error diagnostics is returned too, so it can be shown; Errors() tells
// whether it may be applied.
func Plan(cfg *config.Config, env *config.Environment, obs *live.Observed, opts Options) (*plan.Plan, error) {
	if opts.Lineage == "" {
		return nil, fmt.Errorf("planner: a plan needs a lineage")
	}
	if env == nil {
		return nil, fmt.Errorf("planner: no environment")
	}
	strategy := env.Migration.Strategy
	if strategy == "" {
		strategy = config.StrategyRenameSwap
	}
	t := resolve(env, obs.StackResources, obs.StackFound)
	t.diags = append(t.diags, retiredOriginals(t, obs)...)
	p := &plan.Plan{
		Lineage:      opts.Lineage,
		CreatedAt:    opts.Now.UTC(),
		Tool:         opts.Tool,
		Environment:  env.Name,
		Account:      obs.Identity.Account,
		Region:       obs.Region,
		Strategy:     strategy,
		ConfigDigest: cfg.Digest,
		Replace:      slices.Clone(opts.Replace),
		Observations: observations(t, obs),
	}
	p.Observations = append(p.Observations, stackInfoObservations(env, obs)...)
	sort.Slice(p.Observations, func(i, j int) bool { return p.Observations[i].Address < p.Observations[j].Address })
	dbs := make([]dbPlan, 0, len(t.dbs))
	for _, d := range t.dbs {
		dbs = append(dbs, diffDatabase(d, obs.Databases[d.id], obs.KMSKeys))
	}
	buckets := make([]bucketPlan, 0, len(t.buckets))
	for _, b := range t.buckets {
		buckets = append(buckets, diffBucket(b, obs.Buckets, obs.Region))
	}
	if err := replace(opts.Replace, dbs, buckets); err != nil {
		return nil, err
	}
	migrate := false
	changes := false
	for _, d := range dbs {
		migrate = migrate || d.res.Action == plan.ActionMigrate
		changes = changes || d.res.Action != plan.ActionNoOp
	}
	for _, b := range buckets {
		migrate = migrate || b.res.Action == plan.ActionMigrate
		changes = changes || b.res.Action != plan.ActionNoOp
	}
	var sw *swap
	if strategy == config.StrategyStackSwap {
		sa := &analyzer{}
		sw = planSwap(env, t, obs, sa)
		t.diags = append(t.diags, sa.diags...)
		for i := range dbs {
			dbs[i].res.Action, dbs[i].res.Reasons, dbs[i].res.Changes = plan.ActionNoOp, nil, nil
		}
		for i := range buckets {
			buckets[i].res.Action, buckets[i].res.Reasons, buckets[i].res.Changes = plan.ActionNoOp, nil, nil
		}
		migrate = sw != nil && sw.changed
		changes = migrate
		if migrate && !sw.inPlace {
			markSwap(sw, dbs, buckets)
		}
	} else {
		t.diags = append(t.diags, behindTheStack(env, t, dbs, obs)...)
		for _, h := range env.Migration.Verify.HTTP {
			if plan.StackOutputRef.MatchString(h.URL) {
				t.diags = append(t.diags, plan.Diagnostic{Severity: plan.SeverityError, Code: codeSwapTemplate, Resource: "verify.http." + h.Name,
					Summary: fmt.Sprintf("http check %q names a stack output, which only stack-swap has", h.Name),
					Detail:  "${ENVMIG_STACK_OUTPUT_<Name>} is the temporary stack's output; strategy " + strategy + " creates no stack.",
					Fix:     "Write the URL of the clone, or use strategy = \"stack-swap\"."})
			}
		}
	}
	if migrate && strategy == config.StrategyCloneSwap {
		cloneEverything(dbs, buckets)
	}

	switches := switchTargets(env)
	b := &builder{lineage: opts.Lineage, env: env, region: obs.Region, strategy: strategy, switches: map[string]*live.Switch{}}
	for _, s := range switches {
		b.switches[s.address] = s.observed(obs)
	}
	a := &analyzer{diags: t.diags}
	a.databases(dbs, obs, strategy, migrate)
	a.services(t.services, obs, migrate)
	a.switches(switches, obs, migrate)
	var copies []bucketCopy
	if migrate && sw == nil {
		copies = b.bucketCopies(buckets, a)
	}
	a.buckets(buckets, copies, obs)
	for _, d := range dbs {
		if d.res.Action == plan.ActionMigrate && len(env.Migration.Verify.Commands) == 0 {
			a.warnf("EM154", d.t.address, fmt.Sprintf("envmig cannot see writes to the rows of %s", d.t.id),
				"The freeze proof compares what RDS exposes (settings, status); a row written during the standby is invisible to it, and a moving LatestRestorableTime proves nothing. Your own check is the proof for the data.",
				"Add a migration { verify { command \"rows\" { run = \"...\" } } } that compares row counts or a checksum of key tables between the original and the clone (ENVMIG_DATABASE_<NAME> names the clone; take credentials from the environment at run time): see docs/migration-model.md.")
			break
		}
	}
	if migrate && len(t.services) == 0 && len(switches) == 0 {
		a.warnf("EM153", "", "no service block: nothing stops users writing during the copy",
			"Without a service, envmig cannot put the environment in standby; writes made while the data is copied can be lost.",
			"Add a service block naming the Auto Scaling group in front of the data.")
	}

	if sw != nil && sw.changed {
		r := plan.Resource{Address: stackAddress, Kind: plan.KindStack, Name: sw.name, ID: sw.name, Action: plan.ActionMigrate, Reasons: sw.reasons}
		if sw.inPlace {
			r.Action = plan.ActionUpdate
		}
		p.Resources = append(p.Resources, r)
	}
	for _, d := range dbs {
		p.Resources = append(p.Resources, d.res)
	}
	for _, bp := range buckets {
		p.Resources = append(p.Resources, bp.res)
	}
	for _, s := range t.services {
		act := plan.ActionNoOp
		if migrate {
			act = plan.ActionRead
		}
		p.Resources = append(p.Resources, plan.Resource{Address: s.address, Kind: plan.KindService, Name: s.cfg.Name, ID: s.group, Action: act})
	}
	for _, s := range switches {
		act := plan.ActionNoOp
		if migrate {
			act = plan.ActionRead
		}
		id := s.cfg.Target
		if id == "" {
			id = s.cfg.Name
		}
		p.Resources = append(p.Resources, plan.Resource{Address: s.address, Kind: plan.KindSwitch, Name: s.cfg.Name, ID: id, Action: act})
	}
	p.Diagnostics = sortDiagnostics(a.diags)
	if changes && len(p.Errors()) == 0 {
		switch {
		case sw != nil && sw.inPlace:
			p.Steps = b.stackUpdateSteps(sw, dbs, t.services, switches)
		case sw != nil:
			p.Steps = b.swapSteps(sw, dbs, buckets, t.services, switches)
		default:
			p.Steps = b.steps(dbs, buckets, t.services, switches, copies, migrate)
		}
		p.Leftovers = b.leftovers
	}
	newEstimator(p.Observations).run(p)
	plan.Seal(p)
	return p, nil
}

// cloneEverything marks every existing database for cloning: clone-swap
// moves the whole environment through temporaries.
func cloneEverything(dbs []dbPlan, buckets []bucketPlan) {
	const why = "strategy clone-swap clones every database and bucket of the environment"
	for i := range dbs {
		d := &dbs[i]
		if d.live != nil && d.live.Exists && d.res.Action != plan.ActionMigrate {
			d.res.Action = plan.ActionMigrate
			d.res.Reasons = append(d.res.Reasons, why)
		}
	}
	for i := range buckets {
		bp := &buckets[i]
		if bp.live != nil && bp.live.Exists && bp.res.Action != plan.ActionMigrate {
			bp.res.Action = plan.ActionMigrate
			bp.res.Reasons = append(bp.res.Reasons, why)
		}
	}
}

func sortDiagnostics(d []plan.Diagnostic) []plan.Diagnostic {
	sort.SliceStable(d, func(i, j int) bool {
		if d[i].Severity != d[j].Severity {
			return d[i].Severity == plan.SeverityError
		}
		return d[i].Code < d[j].Code
	})
	return d
}

// replace marks the resources named by -replace for a migration through a
// clone: a database is restored into its temporary and swapped like any
// migrated one; a bucket is copied into its temporary and re-created under
// its name. An address the environment does not have is an error.
func replace(addrs []string, dbs []dbPlan, buckets []bucketPlan) error {
	var known []string
	for _, a := range addrs {
		found := false
		for i := range dbs {
			d := &dbs[i]
			if d.t.address != a {
				continue
			}
			found = true
			if d.live == nil || !d.live.Exists {
				return fmt.Errorf("-replace %s: database %s does not exist, so there is nothing to replace", a, d.t.id)
			}
			if d.res.Action != plan.ActionMigrate {
				d.res.Action = plan.ActionMigrate
				d.res.Reasons = append(d.res.Reasons, "replaced on request (-replace "+a+"): migrated through a clone though no setting requires it")
			}
		}
		for i := range buckets {
			bp := &buckets[i]
			if bp.t.address != a {
				continue
			}
			found = true
			if bp.create || bp.live == nil || !bp.live.Exists {
				return fmt.Errorf("-replace %s: bucket %s does not exist, so there is nothing to replace", a, bp.t.name)
			}
			if bp.res.Action != plan.ActionMigrate {
				bp.regions = true
				bp.res.Action = plan.ActionMigrate
				bp.res.Reasons = append(bp.res.Reasons, "replaced on request (-replace "+a+"): copied into a temporary bucket and re-created under its name")
			}
		}
		if !found {
			if known == nil {
				for _, d := range dbs {
					known = append(known, d.t.address)
				}
				for _, b := range buckets {
					known = append(known, b.t.address)
				}
			}
			return fmt.Errorf("-replace %s: the environment has no such database or bucket (it has: %s)", a, strings.Join(known, ", "))
		}
	}
	return nil
}
