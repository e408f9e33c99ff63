package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// Shell completion: bash and zsh ask the binary itself for candidates
// (envmig ... --generate-bash-completion), so they follow every command and
// flag; fish gets a generated script.
const bashCompletion = `# envmig completion for bash: source <(envmig completion bash)
_envmig_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local words=("${COMP_WORDS[@]:0:COMP_CWORD}")
  local opts
  if [[ "$cur" == -* ]]; then
    opts="$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)"
  else
    opts="$("${words[@]}" --generate-bash-completion 2>/dev/null)"
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o default -F _envmig_complete envmig
`

const zshCompletion = `#compdef envmig
# envmig completion for zsh: source <(envmig completion zsh)
_envmig() {
  local -a opts
  local cur="${words[CURRENT]}"
  if [[ "$cur" == -* ]]; then
    opts=("${(@f)$(${words[@]:0:$((CURRENT-1))} "$cur" --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:$((CURRENT-1))} --generate-bash-completion 2>/dev/null)}")
  fi
  compadd -- "${opts[@]}"
}
compdef _envmig envmig
`

func completionCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "bash|zsh|fish",
		Action: func(c *cli.Context) error {
			args, err := positional(c, 1, 1, "bash|zsh|fish")
			if err != nil {
				return err
			}
			switch args[0] {
			case "bash":
				_, err = fmt.Fprint(g.stdout, bashCompletion)
			case "zsh":
				_, err = fmt.Fprint(g.stdout, zshCompletion)
			case "fish":
				var s string
				if s, err = c.App.ToFishCompletion(); err == nil {
					_, err = fmt.Fprint(g.stdout, s)
				}
			default:
				return usageError{fmt.Errorf("unknown shell %q: envmig completes bash, zsh and fish", args[0])}
			}
			return err
		},
	}
}
