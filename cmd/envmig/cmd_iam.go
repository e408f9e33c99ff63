package main

import (
	"fmt"
	"os"
	"slices"

	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/internal/iampolicy"
	"github.com/envmig/envmig/planner"
	"github.com/envmig/envmig/planner/plan"
)

func iamPolicyCommand(g *globals) *cli.Command {
	var v varFlags
	return &cli.Command{
		Name:      "iam-policy",
		Usage:     "print the least-privilege IAM policy for the spec, or for a saved plan",
		ArgsUsage: "[PLANFILE]",
		Flags:     append(v.flags(), environmentFlag()),
		Action: func(c *cli.Context) error {
			args, err := positional(c, 0, 1, "[PLANFILE]")
			if err != nil {
				return err
			}
			var scope iampolicy.Scope
			if len(args) == 1 {
				scope, err = planScope(args[0])
			} else {
				v.read(c)
				scope, err = g.specScope(v, c.String("environment"))
				if err == nil {
					fmt.Fprintln(g.stderr, "This is the spec-level policy: it covers every run the spec can make (snapshot names by pattern, "+
						"subnet, parameter and option groups and writer switches of the whole account and region). "+
						"`envmig iam-policy PLANFILE` prints the policy of one reviewed plan, which names exactly its resources.")
				}
			}
			if err != nil {
				return err
			}
			b, err := iampolicy.For(scope).JSON()
			if err != nil {
				return err
			}
			_, err = g.stdout.Write(b)
			return err
		},
	}
}

// planScope covers exactly the resources of a saved plan: the ones it
// observed (which include the temporary and retired names it would use),
// the snapshots its steps take, copy, restore from or delete and the ones
// it keeps, and the subnet, parameter and option groups its databases use
// or are given.
func planScope(path string) (iampolicy.Scope, error) {
	f, err := os.Open(path)
	if err != nil {
		return iampolicy.Scope{}, fmt.Errorf("read plan: %w", err)
	}
	defer f.Close()
	p, err := plan.Decode(f)
	if err != nil {
		return iampolicy.Scope{}, fmt.Errorf("%s: %w", path, err)
	}
	s := iampolicy.Scope{Account: p.Account, Region: p.Region, Exact: true}
	add := func(list *[]string, names ...string) {
		for _, n := range names {
			if n != "" && !slices.Contains(*list, n) {
				*list = append(*list, n)
			}
		}
	}
	dbSettings := func(d plan.DBSettings) {
		add(&s.SubnetGroups, d.DBSubnetGroup)
		add(&s.ParameterGroups, d.ParameterGroup)
		add(&s.OptionGroups, d.OptionGroup)
	}
	for _, o := range p.Observations {
		switch o.Kind {
		case plan.KindDatabase:
			add(&s.Databases, o.ID)
			add(&s.SubnetGroups, o.Attrs["db_subnet_group"])
			add(&s.ParameterGroups, o.Attrs["parameter_group"])
			add(&s.OptionGroups, o.Attrs["option_group"])
		case plan.KindBucket:
			add(&s.Buckets, o.ID)
		case plan.KindService:
			add(&s.Groups, o.ID)
		case plan.KindSwitch:
			s.Switches = true
		}
	}
	for _, st := range p.Steps {
		switch q := st.Params.(type) {
		case plan.DBSnapshotParams:
			add(&s.Snapshots, q.Snapshot)
			add(&s.Databases, q.Identifier)
		case plan.DBCopySnapshotParams:
			add(&s.Snapshots, q.Source, q.Snapshot)
		case plan.DBRestoreParams:
			add(&s.Snapshots, q.Snapshot)
			add(&s.Databases, q.Identifier)
			dbSettings(q.Settings)
			s.ManagedPasswords = s.ManagedPasswords || q.ManagedPassword
		case plan.DBDeleteParams:
			add(&s.Snapshots, q.FinalSnapshot)
			add(&s.Databases, q.Identifier)
		case plan.BucketCopyParams:
			add(&s.Buckets, q.Source, q.Destination)
		case plan.VerifyBucketParams:
			add(&s.Buckets, q.Source, q.Destination)
		case plan.BucketCreateParams:
			add(&s.Buckets, q.Bucket)
		case plan.BucketDeleteParams:
			add(&s.Buckets, q.Bucket)
		case plan.DBDeleteSnapshotParams:
			add(&s.Snapshots, q.Snapshot)
		case plan.DBModifyParams:
			add(&s.ParameterGroups, q.Change.ParameterGroup)
		case plan.DBUpdateParams:
			add(&s.ParameterGroups, q.Change.ParameterGroup)
		case plan.StackCreateParams:
			add(&s.Stacks, q.Stack)
		case plan.StackChangeSetParams:
			add(&s.Stacks, q.Stack)
		case plan.StackUpdateParams:
			add(&s.Stacks, q.Stack)
		case plan.StackDeleteParams:
			add(&s.Stacks, q.Stack)
		}
	}
	for _, l := range p.Leftovers {
		if l.Kind == "db-snapshot" {
			add(&s.Snapshots, l.ID)
		}
	}
	return s, nil
}

// specScope covers the spec's environments (or one of them), with the names
// a run would use and patterns for clones. A resource named by logical ID
// has no name before the stack is read, so its kind is covered by "*".
func (g *globals) specScope(v varFlags, envName string) (iampolicy.Scope, error) {
	cfg, err := g.loadConfig(v)
	if err != nil {
		return iampolicy.Scope{}, err
	}
	envs := cfg.Environments
	if envName != "" {
		e, err := pickEnvironment(cfg, envName)
		if err != nil {
			return iampolicy.Scope{}, err
		}
		envs = []*config.Environment{e}
	}
	s := iampolicy.Scope{Region: cfg.AWS.Region}
	if len(cfg.AWS.AllowedAccountIDs) == 1 {
		s.Account = cfg.AWS.AllowedAccountIDs[0]
	}
	for _, e := range envs {
		req := planner.Request(cfg, e, nil, false)
		for _, d := range e.Databases {
			if d.LogicalID != "" {
				req.Databases = append(req.Databases, "*")
			} else {
				req.Databases = append(req.Databases, d.Identifier+"-*")
			}
		}
		for _, b := range e.Buckets {
			if b.LogicalID != "" {
				req.Buckets = append(req.Buckets, "*")
			} else {
				req.Buckets = append(req.Buckets, b.BucketName+"-*")
			}
		}
		for _, sv := range e.Services {
			if sv.LogicalID != "" {
				req.Groups = append(req.Groups, "*")
			}
		}
		s.Databases = append(s.Databases, req.Databases...)
		s.Buckets = append(s.Buckets, req.Buckets...)
		s.Groups = append(s.Groups, req.Groups...)
		if e.Migration.Strategy == config.StrategyStackSwap {
			// The stacks, and what CloudFormation names after them (the
			// template derives every name from the stack's name).
			tmp := planner.SwapTemporaryStack(e)
			s.Stacks = append(s.Stacks, e.Stack, tmp)
			s.Databases = append(s.Databases, e.Stack+"*")
			s.Buckets = append(s.Buckets, e.Stack+"*")
			s.Groups = append(s.Groups, e.Stack+"*")
		}
	}
	return s, nil
}
