package ci_test

import (
	"fmt"
	"slices"
	"strings"
)

// The command-line contract the examples are written against: DESIGN.md §4
// and the state issue's additions (recover, state migrate). A command or
// flag missing here is one the examples may not use.
type flagSpec struct {
	value  bool     // takes a value (-out FILE)
	values []string // when set, the only values allowed
}

type commandSpec struct {
	flags            map[string]flagSpec
	minArgs, maxArgs int
	// mutating commands act on AWS: without a terminal (CI) they need
	// -auto-approve, or exit 5.
	mutating bool
}

var (
	boolFlag  = flagSpec{}
	valueFlag = flagSpec{value: true}

	globalFlags = map[string]flagSpec{"chdir": valueFlag, "no-color": boolFlag}

	contract = map[string]commandSpec{
		"validate": {},
		"plan": {flags: map[string]flagSpec{
			"out": valueFlag, "json": boolFlag, "markdown": boolFlag, "detailed-exitcode": boolFlag,
			"var": valueFlag, "var-file": valueFlag,
		}},
		"show":  {flags: map[string]flagSpec{"json": boolFlag, "markdown": boolFlag}, minArgs: 1, maxArgs: 1},
		"apply": {flags: map[string]flagSpec{"auto-approve": boolFlag, "var": valueFlag, "var-file": valueFlag}, maxArgs: 1, mutating: true},
		// status reads the journal (or, without one, the run's tags on AWS)
		// and takes no lock.
		"status":   {},
		"resume":   {flags: map[string]flagSpec{"auto-approve": boolFlag}, mutating: true},
		"rollback": {flags: map[string]flagSpec{"auto-approve": boolFlag}, mutating: true},
		// recover: without a shared backend, bring back what a run switched
		// off from the envmig: tags it left.
		"recover":       {flags: map[string]flagSpec{"auto-approve": boolFlag}, mutating: true},
		"cleanup":       {flags: map[string]flagSpec{"auto-approve": boolFlag}, mutating: true},
		"force-unlock":  {minArgs: 1, maxArgs: 1},
		"iam-policy":    {maxArgs: 1},
		"state migrate": {flags: map[string]flagSpec{"to": {value: true, values: []string{"s3", "local"}}}},
	}
)

// splitFlag parses "-name", "--name", "-name=value"; ok is false for a
// positional argument.
func splitFlag(arg string) (name, value string, hasValue, ok bool) {
	if len(arg) < 2 || arg[0] != '-' || arg == "--" {
		return "", "", false, false
	}
	name = strings.TrimPrefix(strings.TrimPrefix(arg, "-"), "-")
	name, value, hasValue = strings.Cut(name, "=")
	return name, value, hasValue, true
}

// parsed is an invocation split by the contract.
type parsed struct {
	command    string
	flags      map[string]string
	positional []string
}

// checkInvocation checks one envmig command line against the contract. In
// CI scripts (ci), commands that act need -auto-approve, apply must be
// given the reviewed plan file and plan must save one.
func checkInvocation(inv invocation, ci bool) (*parsed, error) {
	args := inv.args
	i := 0
	// global flags, before the command
	for ; i < len(args); i++ {
		name, _, hasValue, ok := splitFlag(args[i])
		if !ok {
			break
		}
		spec, known := globalFlags[name]
		if !known {
			return nil, fmt.Errorf("%s: unknown global flag -%s", inv, name)
		}
		if spec.value && !hasValue {
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s: -%s needs a value", inv, name)
			}
			i++
		}
	}
	if i >= len(args) {
		return nil, fmt.Errorf("%s: no command", inv)
	}
	p := &parsed{command: args[i], flags: map[string]string{}}
	if strings.ContainsAny(p.command, "$\"'") || p.command == "KT" || p.command == "GHEXPR" {
		return nil, fmt.Errorf("%s: the command is computed (%q): write each command out, so that it can be checked", inv, p.command)
	}
	i++
	if p.command == "state" {
		if i >= len(args) {
			return nil, fmt.Errorf("%s: state needs a subcommand", inv)
		}
		p.command += " " + args[i]
		i++
	}
	spec, known := contract[p.command]
	if !known {
		return nil, fmt.Errorf("%s: %q is not a command of the contract", inv, p.command)
	}
	for ; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			p.positional = append(p.positional, args[i+1:]...)
			break
		}
		name, value, hasValue, ok := splitFlag(a)
		if !ok {
			p.positional = append(p.positional, a)
			continue
		}
		f, known := spec.flags[name]
		if !known {
			if _, global := globalFlags[name]; global {
				return nil, fmt.Errorf("%s: -%s is a global flag: it goes before the command", inv, name)
			}
			return nil, fmt.Errorf("%s: %s has no flag -%s in the contract", inv, p.command, name)
		}
		switch {
		case f.value && !hasValue:
			if i+1 >= len(args) {
				return nil, fmt.Errorf("%s: -%s needs a value", inv, name)
			}
			i++
			value = args[i]
		case !f.value && hasValue && value != "true" && value != "false":
			return nil, fmt.Errorf("%s: -%s takes no value", inv, name)
		}
		if f.values != nil && !slices.Contains(f.values, value) {
			return nil, fmt.Errorf("%s: -%s %s: want one of %s", inv, name, value, strings.Join(f.values, ", "))
		}
		p.flags[name] = value
	}
	if n := len(p.positional); n < spec.minArgs || n > spec.maxArgs {
		return nil, fmt.Errorf("%s: %s takes %d to %d arguments, got %d (%s)", inv, p.command, spec.minArgs, spec.maxArgs, n, strings.Join(p.positional, " "))
	}
	if !ci {
		return p, nil
	}
	if _, ok := p.flags["auto-approve"]; spec.mutating && !ok {
		return nil, fmt.Errorf("%s: without a terminal, %s needs -auto-approve (or exits 5)", inv, p.command)
	}
	if p.command == "apply" && len(p.positional) != 1 {
		return nil, fmt.Errorf("%s: in CI, apply runs the reviewed plan file, never a plan of its own", inv)
	}
	if _, ok := p.flags["out"]; p.command == "plan" && !ok {
		return nil, fmt.Errorf("%s: in CI, plan saves the plan (-out) that apply will run", inv)
	}
	return p, nil
}
