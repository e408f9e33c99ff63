package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/config"
)

func commands(g *globals) []*cli.Command {
	cmds := []*cli.Command{
		validateCommand(g),
		fmtCommand(g),
		planCommand(g),
		showCommand(g),
		applyCommand(g),
		statusCommand(g),
		resumeCommand(g),
		rollbackCommand(g),
		forceUnlockCommand(g),
		cleanupCommand(g),
		cloneCommand(g),
		recoverCommand(g),
		stateCommand(g),
		iamPolicyCommand(g),
		completionCommand(g),
		versionCommand(g),
	}
	for _, c := range cmds {
		c.OnUsageError = func(c *cli.Context, err error, _ bool) error { return usageError{err} }
	}
	return cmds
}

func versionCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:  "version",
		Usage: "print envmig's version",
		Action: func(c *cli.Context) error {
			fmt.Fprintf(g.stdout, "envmig %s\n", version)
			return nil
		},
	}
}

func validateCommand(g *globals) *cli.Command {
	var v varFlags
	return &cli.Command{
		Name:      "validate",
		Usage:     "check the spec; makes no AWS calls",
		ArgsUsage: " ",
		Flags:     v.flags(),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageError{fmt.Errorf("validate takes no arguments (use -chdir=DIR for another directory)")}
			}
			v.read(c)
			cfg, err := g.loadConfig(v)
			if err != nil {
				return err
			}
			n := 0
			for _, e := range cfg.Environments {
				n += len(e.Databases) + len(e.Buckets) + len(e.Services)
			}
			fmt.Fprintf(g.stdout, "%s The spec is valid: %d environment(s), %d resource(s).\n", g.style().Green("Success!"), len(cfg.Environments), n)
			return nil
		},
	}
}

type fmtOptions struct {
	check, diff, recursive bool
	targets                []string
}

func fmtCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "fmt",
		Usage:     "rewrite spec files in canonical form",
		ArgsUsage: "[DIR|FILE]...",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "check", Usage: "change nothing; exit 1 if any file is not formatted"},
			&cli.BoolFlag{Name: "diff", Usage: "show the changes"},
			&cli.BoolFlag{Name: "recursive", Usage: "also format files in subdirectories"},
		},
		Action: func(c *cli.Context) error {
			return runFmt(c.Context, g, fmtOptions{check: c.Bool("check"), diff: c.Bool("diff"), recursive: c.Bool("recursive"), targets: c.Args().Slice()})
		},
	}
}

func runFmt(_ context.Context, g *globals, o fmtOptions) error {
	targets := o.targets
	if len(targets) == 0 {
		targets = []string{"."}
	}
	var results []config.FormatResult
	for _, t := range targets {
		fi, err := os.Stat(t)
		if err != nil {
			return err
		}
		if fi.IsDir() {
			rs, err := config.FormatDir(t, o.recursive)
			if err != nil {
				return err
			}
			results = append(results, rs...)
			continue
		}
		src, err := os.ReadFile(t)
		if err != nil {
			return err
		}
		out, diags := config.Format(src, t)
		if diags.HasErrors() {
			_ = config.WriteDiagnostics(g.stderr, nil, diags, g.style().Color, 100)
			return reportedError{exitError, errors.New("cannot format a file that does not parse")}
		}
		results = append(results, config.FormatResult{Path: t, Old: src, New: out})
	}
	changed := 0
	for _, r := range results {
		if string(r.Old) == string(r.New) {
			continue
		}
		changed++
		fmt.Fprintln(g.stdout, filepath.ToSlash(r.Path))
		if o.diff {
			fmt.Fprint(g.stdout, config.UnifiedDiff(r.Path, r.Old, r.New))
		}
		if !o.check {
			fi, err := os.Stat(r.Path)
			if err != nil {
				return err
			}
			if err := os.WriteFile(r.Path, r.New, fi.Mode().Perm()); err != nil {
				return fmt.Errorf("write %s: %w", r.Path, err)
			}
		}
	}
	if o.check && changed > 0 {
		noun := "file is"
		if changed > 1 {
			noun = "files are"
		}
		return fmt.Errorf("%d %s not in canonical form; run `envmig fmt%s` to fix", changed, noun, map[bool]string{true: " -recursive"}[o.recursive])
	}
	return nil
}

// positional enforces a command's positional-argument count.
func positional(c *cli.Context, min, max int, usage string) ([]string, error) {
	n := c.NArg()
	if n < min || n > max {
		return nil, usageError{fmt.Errorf("usage: envmig %s %s", c.Command.Name, strings.TrimSpace(usage))}
	}
	return c.Args().Slice(), nil
}
