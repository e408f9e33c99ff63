package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs moves a command's flags in front of its positional arguments,
// so `envmig apply plan.json -auto-approve` means what it says: the CLI
// library stops parsing flags at the first positional argument and would
// silently take "-auto-approve" as a second file name. Everything after "--"
// stays positional.
func reorderArgs(app *cli.App, args []string) ([]string, error) {
	if len(args) < 2 || args[len(args)-1] == "--generate-bash-completion" {
		return args, nil // shell completion must stay last
	}
	out := []string{args[0]}
	i := 1
	// global flags
	for i < len(args) && strings.HasPrefix(args[i], "-") && args[i] != "--" {
		f := lookupFlag(app.Flags, args[i])
		out = append(out, args[i])
		i++
		if f != nil && takesValue(f) && !strings.Contains(args[i-1], "=") && i < len(args) {
			out = append(out, args[i])
			i++
		}
	}
	if i >= len(args) {
		return out, nil
	}
	cmd := app.Command(args[i])
	out = append(out, args[i])
	i++
	if cmd == nil {
		return append(out, args[i:]...), nil
	}
	var flags, positional []string
	for i < len(args) {
		a := args[i]
		i++
		if a == "--" {
			positional = append(positional, args[i-1:]...)
			break
		}
		if !strings.HasPrefix(a, "-") || a == "-" {
			positional = append(positional, a)
			continue
		}
		flags = append(flags, a)
		f := lookupFlag(cmd.Flags, a)
		if f != nil && takesValue(f) && !strings.Contains(a, "=") && i < len(args) {
			flags = append(flags, args[i])
			i++
		}
	}
	out = append(out, flags...)
	return append(out, positional...), nil
}

func lookupFlag(flags []cli.Flag, arg string) cli.Flag {
	name := strings.TrimLeft(arg, "-")
	name, _, _ = strings.Cut(name, "=")
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	if dv, ok := f.(cli.DocGenerationFlag); ok {
		return dv.TakesValue()
	}
	return true
}
