package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/envmig/envmig/planner/plan"
)

// PlanText renders a plan for a terminal or a log.
func PlanText(w io.Writer, p *plan.Plan, st Style) error {
	b := &strings.Builder{}
	fmt.Fprintf(b, "envmig plan for environment %s (account %s, region %s, strategy %s)\n",
		st.Bold(fmt.Sprintf("%q", p.Environment)), p.Account, p.Region, p.Strategy)
	fmt.Fprintf(b, "%s\n", st.Faint(fmt.Sprintf("run %s · made %s · plan %s", p.Lineage, p.CreatedAt.Format("2006-01-02 15:04 MST"), ShortDigest(p.Digest))))
	diagnosticsText(b, p, st)
	if p.HasChanges() {
		if len(p.Resources) > 0 {
			resourcesText(b, p, st)
		}
		stepsText(b, p, st)
		leftoversText(b, p)
	}
	fmt.Fprintf(b, "\n%s\n", st.Bold(Summary(p)))
	_, err := io.WriteString(w, b.String())
	return err
}

// ShortDigest is the first 12 hex digits of a digest, as plans show it.
func ShortDigest(d string) string {
	d = strings.TrimPrefix(d, "sha256:")
	if len(d) > 12 {
		d = d[:12]
	}
	return d
}

func diagnosticsText(b *strings.Builder, p *plan.Plan, st Style) {
	for _, sev := range []plan.Severity{plan.SeverityError, plan.SeverityWarning} {
		first := true
		for _, d := range p.Diagnostics {
			if d.Severity != sev {
				continue
			}
			if first {
				title := "Warnings:"
				if sev == plan.SeverityError {
					title = "Errors (the plan cannot be applied):"
				}
				fmt.Fprintf(b, "\n%s\n", st.Bold(title))
				first = false
			}
			mark := st.Yellow("!")
			if sev == plan.SeverityError {
				mark = st.Red("✗")
			}
			where := ""
			if d.Resource != "" {
				where = " " + d.Resource + ":"
			}
			fmt.Fprintf(b, "  %s %s%s %s\n", mark, d.Code, where, d.Summary)
			if d.Detail != "" {
				fmt.Fprintf(b, "      %s\n", d.Detail)
			}
			if d.Fix != "" {
				fmt.Fprintf(b, "      Fix: %s\n", d.Fix)
			}
		}
	}
}

func resourcesText(b *strings.Builder, p *plan.Plan, st Style) {
	fmt.Fprintf(b, "\nResource actions are shown with these symbols:\n")
	seen := map[plan.Action]bool{}
	for _, r := range p.Resources {
		seen[r.Action] = true
	}
	legend := []struct {
		a    plan.Action
		text string
	}{
		{plan.ActionMigrate, "migrate: clone, verify, then swap into the original name"},
		{plan.ActionUpdate, "update in place"},
		{plan.ActionCreate, "create"},
		{plan.ActionRead, "switched to Standby during the migration, then back"},
		{plan.ActionDelete, "delete for good"},
	}
	for _, l := range legend {
		if seen[l.a] {
			fmt.Fprintf(b, "  %s %s\n", colorSymbol(l.a, st), l.text)
		}
	}
	for _, r := range p.Resources {
		if r.Action == plan.ActionNoOp {
			continue
		}
		fmt.Fprintf(b, "\n  # %s (%s) %s\n", st.Bold(r.Address), r.ID, verb(r.Action))
		for _, why := range r.Reasons {
			fmt.Fprintf(b, "  # %s\n", st.Faint("forces migration: "+why))
		}
		fmt.Fprintf(b, "%s %s %q {\n", colorSymbol(r.Action, st), r.Kind, r.Name)
		width := 0
		for _, c := range r.Changes {
			width = max(width, len(c.Attribute))
		}
		for _, c := range r.Changes {
			mark, line := "~", fmt.Sprintf("%-*s = %s -> %s", width, c.Attribute, quote(c.Before), quote(c.After))
			switch {
			case c.Before == "(none)":
				mark, line = "+", fmt.Sprintf("%-*s = %s", width, c.Attribute, quote(c.After))
			case c.After == "(none)":
				mark, line = "-", fmt.Sprintf("%-*s = %s", width, c.Attribute, quote(c.Before))
			}
			if c.ForcesMigration {
				line += st.Red(" # forces migration")
			}
			fmt.Fprintf(b, "      %s %s\n", mark, line)
		}
		fmt.Fprintf(b, "    }\n")
	}
}

func colorSymbol(a plan.Action, st Style) string {
	s := symbol(a)
	switch a {
	case plan.ActionMigrate, plan.ActionDelete:
		return st.Red(s)
	case plan.ActionUpdate:
		return st.Yellow(s)
	case plan.ActionCreate:
		return st.Green(s)
	}
	return st.Cyan(s)
}

func stepsText(b *strings.Builder, p *plan.Plan, st Style) {
	fmt.Fprintf(b, "\n%s\n", st.Bold("Steps:"))
	idw := 0
	for _, s := range p.Steps {
		idw = max(idw, len(s.ID))
	}
	h := phaseHeadings(p.Strategy)
	phase := plan.Phase("")
	for i, s := range p.Steps {
		if s.Phase != phase {
			phase = s.Phase
			switch phase {
			case plan.PhasePrepare:
				fmt.Fprintf(b, "  %s\n", st.Bold(h.prepare))
			case plan.PhaseGate:
				fmt.Fprintf(b, "  %s\n", st.Red(st.Bold(h.gate)))
			case plan.PhaseCommit:
				fmt.Fprintf(b, "  %s\n", st.Bold(h.commit))
			}
		}
		marker := ""
		if s.Action == plan.GroupStandby && (i == 0 || !p.Steps[i-1].InStandby) {
			marker = "  " + st.Yellow("▼ downtime starts")
		}
		if s.Action == plan.GroupResume {
			marker = "  " + st.Yellow("▲ downtime ends")
		}
		fmt.Fprintf(b, "  %3d  %-*s  %s %s%s\n", i+1, idw, s.ID, s.Description, st.Faint(Duration(s.EstimateSeconds)), marker)
		if s.Undo != "" && s.Phase == plan.PhasePrepare {
			fmt.Fprintf(b, "       %-*s  %s\n", idw, "", st.Faint("undo: "+s.Undo))
		}
		if s.Phase == plan.PhaseGate && h.asks != "" {
			fmt.Fprintf(b, "       %-*s  %s\n", idw, "", st.Faint(h.asks))
		}
	}
	if irr := irreversible(p); len(irr) > 0 {
		fmt.Fprintf(b, "\n%s\n", st.Bold(h.irreversible))
		for _, s := range irr {
			fmt.Fprintf(b, "  - %s: %s\n", s.ID, strings.Join(s.Removes, ", "))
		}
	}
}

func leftoversText(b *strings.Builder, p *plan.Plan) {
	if len(p.Leftovers) == 0 {
		return
	}
	fmt.Fprintf(b, "\nKept until `envmig cleanup` (the ways back):\n")
	for _, l := range p.Leftovers {
		fmt.Fprintf(b, "  - %s %s: %s\n", l.Kind, l.ID, l.Why)
	}
}

// headings are how a plan's step list names its phases: a migration
// changes originals, a cleanup or a clone's destroy only deletes what runs
// kept or made, a clone only reads.
type headings struct{ prepare, gate, asks, commit, irreversible string }

func phaseHeadings(strategy string) headings {
	switch strategy {
	case "cleanup", plan.StrategyCloneDestroy:
		return headings{
			prepare:      "check — nothing is deleted yet",
			gate:         "━━━━━━━━ CONFIRM: DELETE FOR GOOD ━━━━━━━━",
			asks:         "stops here for a confirmation, unless -auto-approve",
			commit:       "delete — for good; a failure can only be resumed (envmig resume)",
			irreversible: "These steps delete for good:",
		}
	case "clone":
		return headings{
			prepare: "create — the originals are only read; any failure removes the partial clone",
			gate:    "━━━━━━━━ CLONE COMPLETE ━━━━━━━━",
		}
	}
	return headings{
		prepare:      "prepare — the originals are untouched; any failure is undone automatically",
		gate:         "━━━━━━━━ POINT OF NO RETURN ━━━━━━━━",
		asks:         "apply stops here for a second confirmation (type the environment's name), unless -auto-approve",
		commit:       "commit — the originals change; a failure can only be resumed (envmig resume)",
		irreversible: "After the point of no return these steps remove or replace originals:",
	}
}
