package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/envmig/envmig/cmd/envmig/view"
	"github.com/envmig/envmig/planner/plan"
)

func showCommand(g *globals) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "render a saved plan",
		ArgsUsage: "PLANFILE",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "json", Usage: "print the plan as JSON"},
			&cli.BoolFlag{Name: "markdown", Usage: "print the plan as Markdown for a pull-request comment"},
		},
		Action: func(c *cli.Context) error {
			args, err := positional(c, 1, 1, "[-json|-markdown] PLANFILE")
			if err != nil {
				return err
			}
			if c.Bool("json") && c.Bool("markdown") {
				return usageError{errors.New("-json and -markdown exclude each other")}
			}
			f, err := os.Open(args[0])
			if err != nil {
				return fmt.Errorf("read plan: %w", err)
			}
			defer f.Close()
			p, err := plan.Decode(f)
			if err != nil {
				return fmt.Errorf("%s: %w", args[0], err)
			}
			var buf bytes.Buffer
			switch {
			case c.Bool("json"):
				err = plan.Encode(&buf, p)
			case c.Bool("markdown"):
				err = view.PlanMarkdown(&buf, p, args[0])
			default:
				err = view.PlanText(&buf, p, g.style())
			}
			if err != nil {
				return err
			}
			_, err = io.WriteString(g.stdout, g.redact(buf.String()))
			return err
		},
	}
}
