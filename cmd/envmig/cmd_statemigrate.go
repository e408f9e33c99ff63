package main

import (
	"context"
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/statefile"
)

func stateCommand(g *globals) *cli.Command {
	var v varFlags
	return &cli.Command{
		Name:  "state",
		Usage: "manage where journals live",
		Subcommands: []*cli.Command{{
			Name:  "migrate",
			Usage: "move journals between the local .envmig directory and the spec's S3 state backend, history and all",
			Flags: append(v.flags(), environmentFlag(),
				&cli.StringFlag{Name: "to", Usage: "the destination: `s3` (the spec's state block) or local", Value: "s3"}),
			Action: func(c *cli.Context) error {
				if _, err := positional(c, 0, 0, ""); err != nil {
					return err
				}
				v.read(c)
				return runStateMigrate(c.Context, g, v, c.String("environment"), c.String("to"))
			},
		}},
	}
}

// runStateMigrate moves every journal (or -environment's) between the
// local directory and the spec's S3 backend. The source is retired, not
// deleted, so it is never used again by mistake; a migration interrupted
// at any point is finished by running it again.
func runStateMigrate(ctx context.Context, g *globals, vars varFlags, environment, to string) error {
	spec, err := g.backend(ctx, vars)
	if err != nil {
		return err
	}
	if spec.Kind() != "s3" {
		return usageError{fmt.Errorf("the spec has no state { s3 { ... } } block: add one naming the bucket, then migrate")}
	}
	local := statefile.Local(stateDir)
	var src, dst statefile.Backend
	switch to {
	case "s3":
		src, dst = local, spec
	case "local":
		src, dst = spec, local
	default:
		return usageError{fmt.Errorf("-to %q: use s3 or local", to)}
	}
	names := []string{environment}
	if environment == "" {
		if names, err = src.Journals(ctx); err != nil {
			return err
		}
	}
	if len(names) == 0 {
		fmt.Fprintf(g.stdout, "No journals in %s: nothing to migrate.\n", src.Location())
		return nil
	}
	for _, name := range names {
		m, err := statefile.Migrate(ctx, src, dst, name, statefile.CurrentHolder("state-migrate", ""))
		if err != nil {
			return err
		}
		done := "moved"
		if m.AlreadyDone {
			done = "finished moving"
		}
		fmt.Fprintf(g.stdout, "%s the journal of %q (run %s, serial %d, %d blobs) from %s to %s.\n", done, name, m.Lineage, m.Serial, m.Blobs, m.From, m.To)
	}
	fmt.Fprintf(g.stdout, "The old copies are retired where they were: envmig refuses to use them and says where the journals went.\n")
	return nil
}
