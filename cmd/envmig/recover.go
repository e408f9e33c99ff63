package main

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/executor/group"
	"github.com/envmig/envmig/executor/switches"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/planner"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

// orphan is something a run switched off and never put back, found from
// the envmig: tags it left on AWS itself.
type orphan struct {
	what   string // "Auto Scaling group shop-prod-web"
	run    string
	detail string // what the run recorded, and what it is now
	// recover brings it back exactly from its tags.
	recover func(ctx context.Context, report func(executor.Progress)) error
}

// findOrphans looks, on AWS, for the groups and writers of env that a run
// took out of service and never put back.
func (g *globals) findOrphans(ctx context.Context, cl *awsclient.Clients, cfg *config.Config, env *config.Environment) ([]orphan, error) {
	groups := group.New(group.Clients{ASG: cl.AutoScaling, EC2: cl.EC2, ELBv2: cl.ELBv2, ELB: cl.ELB}, group.Options{})
	var names []string
	for _, s := range env.Services {
		if s.AutoScalingGroup != "" {
			names = append(names, s.AutoScalingGroup)
		}
	}
	var out []orphan
	if len(names) > 0 {
		found, err := groups.FindStandby(ctx, names)
		if err != nil {
			return nil, err
		}
		for _, f := range found {
			r := f.Record
			detail := fmt.Sprintf("recorded min %d, max %d, desired %d, suspended [%s], %d instances moved to Standby; now min %d, max %d, desired %d, instances %v",
				r.Min, r.Max, r.Desired, strings.Join(r.Suspended, ","), len(r.Instances), f.Now.Min, f.Now.Max, f.Now.Desired, f.Now.States)
			if f.Err != nil {
				detail = "its tags cannot be read as a record: " + f.Err.Error()
			}
			name, run := f.Group, f.Run
			out = append(out, orphan{what: "Auto Scaling group " + name, run: run, detail: detail,
				recover: func(ctx context.Context, report func(executor.Progress)) error {
					return groups.Recover(ctx, name, run, report)
				}})
		}
	}
	kinds := map[string]interface {
		Find(context.Context, []string) ([]switches.Found, error)
		Recover(context.Context, string, string, func(executor.Progress)) error
	}{
		config.SwitchEventBridgeRule:   switches.NewRules(cl.EventBridge, switches.Options{}),
		config.SwitchECSService:        switches.NewServices(cl.ECS, cl.AppAutoScaling, switches.Options{}),
		config.SwitchLambdaEventSource: switches.NewMappings(cl.Lambda, switches.Options{}),
	}
	for _, s := range env.Switches {
		k, ok := kinds[s.Kind]
		if !ok {
			continue // schedules carry no tags, commands are the user's
		}
		found, err := k.Find(ctx, []string{s.Target})
		if err != nil {
			return nil, err
		}
		for _, f := range found {
			ref, run := s.Target, f.Run
			out = append(out, orphan{what: f.What, run: run, detail: fmt.Sprintf("recorded %v; now %s", f.Record, f.State),
				recover: func(ctx context.Context, report func(executor.Progress)) error {
					return k.Recover(ctx, ref, run, report)
				}})
		}
	}
	return out, nil
}

// statusFromAWS prints the runs AWS shows for the spec's environments when
// there is no journal to read; found reports whether there were any.
func (g *globals) statusFromAWS(ctx context.Context) (found bool, err error) {
	cfg, diags := config.Load(".", config.LoadOptions{Environ: g.environ})
	if cfg == nil || len(cfg.Files) == 0 || diags.HasErrors() {
		return false, nil
	}
	cl, err := g.awsFor(ctx, cfg)
	if err != nil {
		return false, err
	}
	for _, env := range cfg.Environments {
		orphans, err := g.findOrphans(ctx, cl, cfg, env)
		if err != nil {
			return found, err
		}
		if len(orphans) == 0 {
			continue
		}
		found = true
		fmt.Fprintf(g.stdout, "\nAWS shows an unfinished envmig run in environment %q whose journal is not here:\n", env.Name)
		for _, o := range orphans {
			fmt.Fprintf(g.stdout, "  - %s, switched off by run %s: %s\n", o.what, o.run, o.detail)
		}
		fmt.Fprintf(g.stdout, "Where that run's journal is, run `envmig resume` or `envmig rollback`. Without it, `envmig recover` brings back what the run switched off, exactly from the tags it left, and hands its temporary resources to `envmig cleanup`.\n")
	}
	return found, nil
}

type recoverOptions struct {
	vars        varFlags
	environment string
	run         string
	autoApprove bool
}

func recoverCommand(g *globals) *cli.Command {
	var o recoverOptions
	return &cli.Command{
		Name:  "recover",
		Usage: "bring back what a run switched off, from the tags it left on AWS, when its journal is lost",
		Flags: append(o.vars.flags(), environmentFlag(), autoApproveFlag(),
			&cli.StringFlag{Name: "run", Usage: "recover only what run `ID` left (default: the one run found)"}),
		Action: func(c *cli.Context) error {
			if _, err := positional(c, 0, 0, ""); err != nil {
				return err
			}
			o.vars.read(c)
			o.environment, o.run, o.autoApprove = c.String("environment"), c.String("run"), c.Bool("auto-approve")
			return runRecover(c.Context, g, o)
		},
	}
}

// runRecover restores every group and writer a run switched off, from its
// tags alone, then records the run's temporary resources in the journal
// for `envmig cleanup`. It acts only when no journal of that run is
// unfinished here (resume or rollback are then the way), and never hands
// to cleanup a resource the spec names.
func runRecover(ctx context.Context, g *globals, o recoverOptions) error {
	cfg, err := g.loadConfig(o.vars)
	if err != nil {
		return err
	}
	env, err := pickEnvironment(cfg, o.environment)
	if err != nil {
		return err
	}
	if err := g.canConfirm(o.autoApprove, "recover"); err != nil {
		return err
	}
	cl, err := g.awsFor(ctx, cfg)
	if err != nil {
		return err
	}
	if _, err := reader(cl).Identity(ctx, cfg.AWS.AllowedAccountIDs); err != nil {
		return err
	}
	orphans, err := g.findOrphans(ctx, cl, cfg, env)
	if err != nil {
		return err
	}
	runs := map[string]bool{}
	for _, x := range orphans {
		runs[x.run] = true
	}
	run := o.run
	switch {
	case run == "" && len(runs) > 1:
		return fmt.Errorf("several runs left %q switched off (%s): choose one with -run ID", env.Name, strings.Join(sortedKeys(runs), ", "))
	case run == "" && len(runs) == 1:
		run = sortedKeys(runs)[0]
	}
	s, err := g.openSession(ctx, o.vars, env.Name, "recover", run, 0, func(st *statefile.State) error {
		if st != nil && !st.Finished() {
			return fmt.Errorf("the journal of run %s is here: run `envmig resume` or `envmig rollback` instead, which know what the run did", st.Lineage)
		}
		return nil
	})
	if err != nil {
		return err
	}
	defer s.close()
	var mine []orphan
	for _, x := range orphans {
		if x.run == run {
			mine = append(mine, x)
		}
	}
	if len(mine) == 0 && run == "" {
		fmt.Fprintf(g.stdout, "Nothing to recover: no group or writer of %q carries an envmig run's tags.\n", env.Name)
		return nil
	}
	fmt.Fprintf(g.stdout, "Run %s left these switched off:\n", run)
	for _, x := range mine {
		fmt.Fprintf(g.stdout, "  - %s: %s\n", x.what, x.detail)
	}
	if !o.autoApprove {
		if err := g.ask(fmt.Sprintf("\nBring them back exactly as run %s recorded them? Only 'yes' will be accepted.", run), "yes"); err != nil {
			return err
		}
	}
	report := func(p executor.Progress) {
		if p.Line != "" {
			fmt.Fprintln(g.stdout, "  "+g.redact(p.Line))
		}
	}
	for _, x := range mine {
		fmt.Fprintf(g.stdout, "Recovering %s...\n", x.what)
		if err := x.recover(ctx, report); err != nil {
			return fmt.Errorf("recover %s: %w", x.what, err)
		}
	}
	kept, notes, err := g.runLeftovers(ctx, cl, cfg, env, run)
	if err != nil {
		return err
	}
	st := &statefile.State{Environment: env.Name, Lineage: run, Operation: "recover", Status: statefile.RunRecovered,
		StartedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC(), Plan: &plan.Plan{Lineage: run, Environment: env.Name, Region: cl.Config.Region, Account: cl.Account, Strategy: "recover"}}
	if s.state != nil {
		st.Kept, st.History = s.state.Kept, s.state.History
	}
	st.Kept = append(st.Kept, kept...)
	st.History = append(st.History, statefile.RunSummary{Lineage: run, Operation: "recover", Status: statefile.RunRecovered, StartedAt: st.StartedAt, FinishedAt: time.Now().UTC()})
	if err := s.store.Save(st); err != nil {
		return err
	}
	fmt.Fprintf(g.stdout, "\n%s Everything run %s switched off is back as it was.\n", g.style().Green("Recovered."), run)
	for _, n := range notes {
		fmt.Fprintf(g.stdout, "  ! %s\n", n)
	}
	if len(kept) > 0 {
		fmt.Fprintf(g.stdout, "Handed to `envmig cleanup` (%s):\n", s.store.Location())
		for _, l := range kept {
			fmt.Fprintf(g.stdout, "  - %s %s: %s\n", l.Kind, l.ID, l.Why)
		}
	}
	return nil
}

// runLeftovers finds the temporary resources run created for env: its
// snapshots, its clones and working buckets under the temporary names, and
// the new bucket of a moved_from it created — only while the original they
// were made from still exists under its own name (after the point of no return a temporary may hold the only
// copy of the data: it is then named in a note and left alone).
func (g *globals) runLeftovers(ctx context.Context, cl *awsclient.Clients, cfg *config.Config, env *config.Environment, run string) ([]plan.Leftover, []string, error) {
	var kept []plan.Leftover
	var notes []string
	obs, err := observe(ctx, cl, cfg, env, func(stack map[string]live.StackResource, found bool) live.Request {
		req := planner.Request(cfg, env, stack, found)
		req.CountObjects = false
		return req
	})
	if err != nil {
		return nil, nil, err
	}
	why := "a temporary of run " + run + " (recovered without its journal)"
	for id, d := range obs.Databases {
		if d == nil || !d.Exists || d.RunTag() != run {
			continue
		}
		if !strings.HasSuffix(id, env.Migration.TemporarySuffix) {
			continue
		}
		orig := strings.TrimSuffix(id, env.Migration.TemporarySuffix)
		if o := obs.Databases[orig]; o == nil || !o.Exists {
			notes = append(notes, onlyCopyOfDatabase(id, orig, run, obs.Databases[config.RetiredName(orig, env.Migration)]))
			continue
		}
		kept = append(kept, plan.Leftover{Kind: plan.LeftoverDBInstance, ID: id, Why: why, Run: run, RetiredAt: time.Now().UTC()})
	}
	for name, b := range obs.Buckets {
		if b == nil || !b.Exists || b.RunTag() != run || !strings.HasSuffix(name, env.Migration.TemporarySuffix) {
			continue
		}
		orig := strings.TrimSuffix(name, env.Migration.TemporarySuffix)
		if o := obs.Buckets[orig]; o == nil || !o.Exists {
			notes = append(notes, fmt.Sprintf("bucket %s of run %s may hold the only copy of %s's objects (%s does not exist): it is left alone", name, run, orig, orig))
			continue
		}
		kept = append(kept, plan.Leftover{Kind: plan.LeftoverBucket, ID: name, Region: b.Region, Why: why, Run: run, RetiredAt: time.Now().UTC()})
	}
	// The new bucket of a moved_from the run created and filled: while the
	// bucket it moves from still exists, it holds only the run's copy (the
	// writers were off until the run's last step). Left in place, it would
	// make the next plan take the move for done. Cleanup keeps it if
	// anything writes to it after now.
	for _, bc := range env.Buckets {
		if bc.MovedFrom == "" || bc.BucketName == "" || bc.MovedFrom == bc.BucketName {
			continue
		}
		b, src := obs.Buckets[bc.BucketName], obs.Buckets[bc.MovedFrom]
		if b == nil || !b.Exists || b.RunTag() != run {
			continue
		}
		if src == nil || !src.Exists {
			notes = append(notes, fmt.Sprintf("bucket %s of run %s may hold the only copy of %s's objects (%s does not exist): it is left alone", bc.BucketName, run, bc.MovedFrom, bc.MovedFrom))
			continue
		}
		kept = append(kept, plan.Leftover{Kind: plan.LeftoverBucket, ID: bc.BucketName, Region: b.Region, Run: run, RetiredAt: time.Now().UTC(),
			Why: fmt.Sprintf("the copy of %s that run %s made (recovered without its journal; %s still holds every object)", bc.MovedFrom, run, bc.MovedFrom)})
	}
	snaps, err := runSnapshots(ctx, cl, run)
	if err != nil {
		return nil, nil, err
	}
	for _, id := range snaps {
		kept = append(kept, plan.Leftover{Kind: plan.LeftoverDBSnapshot, ID: id, Why: "a snapshot of run " + run, Run: run})
	}
	sort.Slice(kept, func(i, j int) bool { return kept[i].ID < kept[j].ID })
	return kept, notes, nil
}

// onlyCopyOfDatabase is recover's note on a run's clone id when the
// original's name orig is free: the run stopped after the point of no
// return, between the renames of a swap. When the original renamed aside
// (retired) is there, the note says how to finish the swap by hand, or undo
// it: without its journal envmig does neither.
func onlyCopyOfDatabase(id, orig, run string, retired *live.Database) string {
	note := fmt.Sprintf("DB instance %s of run %s may hold the only copy of %s's data (%s does not exist): it is left alone", id, run, orig, orig)
	if retired == nil || !retired.Exists {
		return note
	}
	rename := func(from, to string) string {
		return fmt.Sprintf("aws rds modify-db-instance --db-instance-identifier %s --new-db-instance-identifier %s --apply-immediately", from, to)
	}
	return note + fmt.Sprintf(".\n    The run had renamed the original aside as %s: it crossed the point of no return, which it does only once %s was verified. "+
		"To finish this database's swap by hand, give the clone the original's name:\n      %s\n"+
		"    or, to go back to the original instead:\n      %s\n"+
		"    then run `envmig cleanup` for what the run left, and `envmig plan` for whatever of the spec is still to do",
		retired.Identifier, id, rename(id, orig), rename(retired.Identifier, orig))
}

// runSnapshots lists the manual DB snapshots tagged with run.
func runSnapshots(ctx context.Context, cl *awsclient.Clients, run string) ([]string, error) {
	var out []string
	p := rds.NewDescribeDBSnapshotsPaginator(cl.RDS, &rds.DescribeDBSnapshotsInput{SnapshotType: aws.String("manual")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, fmt.Errorf("list DB snapshots: %w", err)
		}
		for _, s := range page.DBSnapshots {
			for _, t := range s.TagList {
				if aws.ToString(t.Key) == executor.RunTagKey && aws.ToString(t.Value) == run {
					out = append(out, aws.ToString(s.DBSnapshotIdentifier))
				}
			}
		}
	}
	return out, nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
