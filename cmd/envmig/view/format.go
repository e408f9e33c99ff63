// Package view renders envmig's values for people and programs: the same
// plan as terminal text, JSON and Markdown; the journal's status; the
// progress of a run. Views write to an io.Writer and never decide anything.
package view

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/dustin/go-humanize"
	"github.com/fatih/color"

	"github.com/envmig/envmig/planner/plan"
)

// Style colours text when enabled. The zero value prints plain text.
type Style struct {
	Color bool
}

func (s Style) paint(attrs []color.Attribute, text string) string {
	if !s.Color {
		return text
	}
	c := color.New(attrs...)
	c.EnableColor()
	return c.Sprint(text)
}

func (s Style) Bold(t string) string   { return s.paint([]color.Attribute{color.Bold}, t) }
func (s Style) Red(t string) string    { return s.paint([]color.Attribute{color.FgRed}, t) }
func (s Style) Green(t string) string  { return s.paint([]color.Attribute{color.FgGreen}, t) }
func (s Style) Yellow(t string) string { return s.paint([]color.Attribute{color.FgYellow}, t) }
func (s Style) Cyan(t string) string   { return s.paint([]color.Attribute{color.FgCyan}, t) }
func (s Style) Faint(t string) string  { return s.paint([]color.Attribute{color.Faint}, t) }

// Duration renders an estimate the way the plan promises it: "~4m",
// "~1h10m", "~30s".
func Duration(sec int64) string {
	return "~" + Elapsed(time.Duration(sec)*time.Second)
}

// Elapsed renders a duration compactly: "45s", "2m10s", "1h05m".
func Elapsed(d time.Duration) string {
	d = d.Round(time.Second)
	h, m, s := int(d.Hours()), int(d.Minutes())%60, int(d.Seconds())%60
	switch {
	case h > 0:
		return fmt.Sprintf("%dh%02dm", h, m)
	case m > 0 && s == 0:
		return fmt.Sprintf("%dm", m)
	case m > 0:
		return fmt.Sprintf("%dm%02ds", m, s)
	default:
		return fmt.Sprintf("%ds", s)
	}
}

// Count renders 1204 as "1,204".
func Count(n int64) string { return humanize.Comma(n) }

// Bytes renders a size in binary units: "2.3 GiB".
func Bytes(n int64) string { return humanize.IBytes(uint64(max(n, 0))) }

// Counts are the plan's resource tallies.
type Counts struct {
	Migrate, Update, Create, Delete, Unchanged int
}

// Tally counts the plan's resources by action.
func Tally(p *plan.Plan) Counts {
	var c Counts
	for _, r := range p.Resources {
		switch r.Action {
		case plan.ActionMigrate:
			c.Migrate++
		case plan.ActionUpdate:
			c.Update++
		case plan.ActionCreate:
			c.Create++
		case plan.ActionDelete:
			c.Delete++
		default:
			c.Unchanged++
		}
	}
	return c
}

// Summary is the plan's one-line summary:
// "Plan: 1 to migrate, 1 to update, 2 unchanged. Standby ~4m, copies 1,204 objects (2.3 GiB)."
func Summary(p *plan.Plan) string {
	if !p.HasChanges() {
		if len(p.Errors()) > 0 {
			return fmt.Sprintf("Plan: blocked by %d error(s); nothing will change.", len(p.Errors()))
		}
		return fmt.Sprintf("No changes. Environment %q matches the spec.", p.Environment)
	}
	switch p.Strategy {
	case "cleanup":
		n := 0
		for _, s := range p.Steps {
			n += len(s.Removes)
		}
		return fmt.Sprintf("Cleanup: %d to delete for good.", n)
	case plan.StrategyCloneDestroy:
		return fmt.Sprintf("Destroy clone: %d to delete for good; the originals are not touched.", Tally(p).Delete)
	case "clone":
		return fmt.Sprintf("Clone: %d to create, originals only read. Copies %s objects (%s).", Tally(p).Create, Count(p.Estimate.CopyObjects), Bytes(p.Estimate.CopyBytes))
	}
	c := Tally(p)
	parts := []string{fmt.Sprintf("%d to migrate", c.Migrate)}
	if c.Create > 0 {
		parts = append(parts, fmt.Sprintf("%d to create", c.Create))
	}
	parts = append(parts, fmt.Sprintf("%d to update", c.Update), fmt.Sprintf("%d unchanged", c.Unchanged))
	s := "Plan: " + strings.Join(parts, ", ") + "."
	var cost []string
	if p.Estimate.StandbySeconds > 0 {
		cost = append(cost, "Standby "+Duration(p.Estimate.StandbySeconds))
	} else {
		cost = append(cost, "no standby")
	}
	if p.Estimate.CopyObjects > 0 {
		cost = append(cost, fmt.Sprintf("copies %s objects (%s)", Count(p.Estimate.CopyObjects), Bytes(p.Estimate.CopyBytes)))
	}
	return s + " " + strings.Join(cost, ", ") + "."
}

// symbol is the Terraform-like marker of an action.
func symbol(a plan.Action) string {
	switch a {
	case plan.ActionMigrate:
		return "-/+"
	case plan.ActionUpdate:
		return "  ~"
	case plan.ActionCreate:
		return "  +"
	case plan.ActionRead:
		return " <="
	case plan.ActionDelete:
		return "  -"
	}
	return "   "
}

func verb(a plan.Action) string {
	switch a {
	case plan.ActionMigrate:
		return "will be migrated"
	case plan.ActionUpdate:
		return "will be updated in place"
	case plan.ActionCreate:
		return "will be created"
	case plan.ActionRead:
		return "goes to Standby during the migration"
	case plan.ActionDelete:
		return "will be deleted"
	}
	return "is unchanged"
}

// quote renders a value as HCL would show it.
func quote(v string) string {
	switch v {
	case "true", "false", "(none)":
		return v
	}
	if _, err := strconv.Atoi(v); err == nil {
		return v
	}
	return strconv.Quote(v)
}

// irreversible lists the commit steps that remove or replace something.
func irreversible(p *plan.Plan) []plan.Step {
	var out []plan.Step
	for _, s := range p.Steps {
		if s.Phase == plan.PhaseCommit && len(s.Removes) > 0 {
			out = append(out, s)
		}
	}
	return out
}
