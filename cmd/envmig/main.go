// Command envmig migrates live AWS environments to a new version of
// themselves without losing the data they hold.
//
// This package parses flags, wires the packages together, prompts, renders
// and maps errors to exit codes; it holds no business logic. Each command's
// Action fills an options struct and calls a run function that never sees
// the CLI library.
package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/statefile"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() {
	os.Exit(run(context.Background(), os.Args, os.Stdin, os.Stdout, os.Stderr))
}

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	g := &globals{stdin: stdin, stdout: stdout, stderr: stderr, environ: os.Environ()}
	app := newApp(g)
	args, err := reorderArgs(app, args)
	if err == nil {
		err = app.RunContext(ctx, args)
	}
	if err != nil {
		return g.fail(err)
	}
	return exitOK
}

// globals is what every command shares: streams, the environment and the
// global flags.
type globals struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	environ        []string
	chdir          string
	noColor        bool
	// sensitive holds the spec's sensitive values once it is loaded, so
	// that no message can print them.
	sensitive []string
	// stateBackend is where journals live, once known (backend).
	stateBackend statefile.Backend
}

func newApp(g *globals) *cli.App {
	cli.VersionPrinter = func(c *cli.Context) { fmt.Fprintf(c.App.Writer, "envmig %s\n", version) }
	return &cli.App{
		Name:    "envmig",
		Usage:   "migrate live AWS environments without losing their data",
		Version: version,
		Description: "envmig reads environment specs (*.envmig.hcl), compares them with live AWS, and migrates\n" +
			"databases and buckets by cloning: standby, snapshot, restore, copy, verify, then cross the\n" +
			"point of no return and swap the clone into the original names.",
		Reader:                    g.stdin,
		Writer:                    g.stdout,
		ErrWriter:                 g.stderr,
		HideHelpCommand:           true,
		EnableBashCompletion:      true,
		DisableSliceFlagSeparator: true,
		UseShortOptionHandling:    false,
		Suggest:                   true,
		// Errors come back from RunContext and are mapped to exit codes in
		// one place, so deferred unlocks run.
		ExitErrHandler: func(*cli.Context, error) {},
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "chdir", Usage: "switch to `DIR` before doing anything", Destination: &g.chdir},
			&cli.BoolFlag{Name: "no-color", Usage: "disable colour (also NO_COLOR=1)", Destination: &g.noColor},
		},
		Before: func(c *cli.Context) error {
			if g.chdir != "" {
				if err := os.Chdir(g.chdir); err != nil {
					return fmt.Errorf("-chdir: %w", err)
				}
			}
			return nil
		},
		Commands: commands(g),
		OnUsageError: func(c *cli.Context, err error, isSubcommand bool) error {
			return usageError{err}
		},
	}
}
