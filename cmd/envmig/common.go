package main

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"github.com/envmig/envmig/cmd/envmig/view"
	"github.com/envmig/envmig/config"
)

// stateDir is where journals live, beside the spec.
const stateDir = ".envmig"

// varFlags are the flags that set variables.
type varFlags struct {
	vars     []string
	varFiles []string
}

func (v *varFlags) flags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "var", Usage: "set a variable: `NAME=VALUE` (repeatable)"},
		&cli.StringSliceFlag{Name: "var-file", Usage: "read variables from `FILE` (repeatable)"},
	}
}

func (v *varFlags) read(c *cli.Context) {
	v.vars = c.StringSlice("var")
	v.varFiles = c.StringSlice("var-file")
}

// style returns the colour style for stdout: colour only on a terminal,
// never with -no-color or NO_COLOR.
func (g *globals) style() view.Style {
	if g.noColor || g.getenv("NO_COLOR") != "" {
		return view.Style{}
	}
	return view.Style{Color: g.terminal()}
}

func (g *globals) getenv(key string) string {
	prefix := key + "="
	for i := len(g.environ) - 1; i >= 0; i-- {
		if strings.HasPrefix(g.environ[i], prefix) {
			return g.environ[i][len(prefix):]
		}
	}
	return ""
}

// terminal reports whether stdout is a terminal (progress bars) rather than
// a log.
func (g *globals) terminal() bool {
	f, ok := g.stdout.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// interactive reports whether confirmations can be asked: stdin and stdout
// are terminals.
func (g *globals) interactive() bool {
	in, ok1 := g.stdin.(*os.File)
	out, ok2 := g.stdout.(*os.File)
	return ok1 && ok2 && term.IsTerminal(int(in.Fd())) && term.IsTerminal(int(out.Fd()))
}

// secrets are values never to print: the credentials in the environment and
// the spec's sensitive values.
func (g *globals) secrets() []string {
	var s []string
	for _, k := range []string{"AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_ACCESS_KEY_ID"} {
		if v := g.getenv(k); len(v) >= 8 {
			s = append(s, v)
		}
	}
	return append(s, g.sensitive...)
}

// redact replaces every secret in s.
func (g *globals) redact(s string) string {
	for _, v := range g.secrets() {
		if v != "" {
			s = strings.ReplaceAll(s, v, "(sensitive)")
		}
	}
	return s
}

// loadConfig reads the spec in the working directory, printing diagnostics
// with their snippets. Errors come back as reportedError (exit 1).
func (g *globals) loadConfig(v varFlags) (*config.Config, error) {
	cfg, diags := config.Load(".", config.LoadOptions{VarFiles: v.varFiles, Vars: v.vars, Environ: g.environ})
	if cfg != nil {
		g.sensitive = append(g.sensitive, cfg.SensitiveValues...)
	}
	if len(diags) > 0 {
		files := map[string]*hcl.File{}
		if cfg != nil {
			files = cfg.Files
		}
		_ = config.WriteDiagnostics(g.stderr, files, diags, g.style().Color, 100)
		g.annotate(diags)
	}
	if diags.HasErrors() {
		return nil, reportedError{exitError, errors.New("invalid configuration")}
	}
	return cfg, nil
}

// environment picks the environment a command acts on: the named one, or
// the only one.
func pickEnvironment(cfg *config.Config, name string) (*config.Environment, error) {
	if name != "" {
		if e := cfg.Environment(name); e != nil {
			return e, nil
		}
		return nil, fmt.Errorf("no environment %q in the spec (it has: %s)", name, envNames(cfg))
	}
	switch len(cfg.Environments) {
	case 0:
		return nil, errors.New("the spec has no environment block")
	case 1:
		return cfg.Environments[0], nil
	}
	return nil, fmt.Errorf("the spec has several environments (%s): choose one with -environment NAME", envNames(cfg))
}

func envNames(cfg *config.Config) string {
	var n []string
	for _, e := range cfg.Environments {
		n = append(n, e.Name)
	}
	sort.Strings(n)
	return strings.Join(n, ", ")
}

func environmentFlag() cli.Flag {
	return &cli.StringFlag{Name: "environment", Aliases: []string{"env"}, Usage: "the environment `NAME` (default: the only one in the spec)"}
}
