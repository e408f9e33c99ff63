package view

import (
	"fmt"
	"io"
	"strings"

	"github.com/envmig/envmig/planner/plan"
)

// MarkdownLimit keeps a PR comment well under GitHub's 65,536 characters.
const MarkdownLimit = 60000

// MarkdownHeader is the hidden first line of every Markdown plan; CI finds
// and updates its one comment by it.
func MarkdownHeader(p *plan.Plan) string {
	return fmt.Sprintf("<!-- envmig-plan environment=%s digest=%s -->", p.Environment, p.Digest)
}

// PlanMarkdown renders a plan for a pull-request comment: the hidden digest
// header, the summary, warnings first, the point of no return, and the steps
// in a collapsible block. It stays under MarkdownLimit by eliding steps.
// file is the plan file the plan was saved to ("" when it was not).
func PlanMarkdown(w io.Writer, p *plan.Plan, file string) error {
	head := &strings.Builder{}
	fmt.Fprintf(head, "%s\n", MarkdownHeader(p))
	fmt.Fprintf(head, "### envmig plan: `%s`\n\n", p.Environment)
	fmt.Fprintf(head, "**%s**\n\n", Summary(p))
	fmt.Fprintf(head, "Account `%s` · region `%s` · strategy `%s` · run `%s` · plan `%s`\n\n", p.Account, p.Region, p.Strategy, p.Lineage, ShortDigest(p.Digest))
	mdAttention(head, p)
	if p.HasChanges() {
		mdResources(head, p)
		mdGate(head, p)
	}
	tail := &strings.Builder{}
	if len(p.Leftovers) > 0 {
		fmt.Fprintf(tail, "\n**Kept until `envmig cleanup`** (the ways back):\n\n")
		for _, l := range p.Leftovers {
			fmt.Fprintf(tail, "- %s `%s`: %s\n", l.Kind, l.ID, mdEscape(l.Why))
		}
	}
	if file != "" {
		fmt.Fprintf(tail, "\n<sub>Apply exactly this plan with `envmig apply %s`; it is refused if live AWS changed since.</sub>\n", file)
	} else {
		fmt.Fprintf(tail, "\n<sub>This plan was not saved: save it with `envmig plan -out FILE`, then apply exactly it with `envmig apply FILE`.</sub>\n")
	}
	steps := ""
	if p.HasChanges() {
		budget := MarkdownLimit - head.Len() - tail.Len()
		steps = mdSteps(p, budget)
	}
	_, err := io.WriteString(w, head.String()+steps+tail.String())
	return err
}

func mdAttention(b *strings.Builder, p *plan.Plan) {
	var lines []string
	for _, d := range p.Diagnostics {
		icon := "⚠️"
		if d.Severity == plan.SeverityError {
			icon = "⛔"
		}
		line := fmt.Sprintf("- %s **%s** `%s` %s", icon, d.Code, d.Resource, mdEscape(d.Summary))
		if d.Fix != "" {
			line += " — " + mdEscape(d.Fix)
		}
		lines = append(lines, line)
	}
	for _, s := range irreversible(p) {
		lines = append(lines, fmt.Sprintf("- 🔥 after the point of no return, step `%s` removes or replaces `%s`", s.ID, strings.Join(s.Removes, "`, `")))
	}
	if p.Estimate.StandbySeconds > 0 {
		lines = append(lines, fmt.Sprintf("- ⏸️ the environment is unavailable (Standby) for %s", Duration(p.Estimate.StandbySeconds)))
	}
	if p.Estimate.CopyObjects > 0 {
		lines = append(lines, fmt.Sprintf("- 📦 data moved: %s objects (%s), of which %s (%s) inside the standby window", Count(p.Estimate.CopyObjects), Bytes(p.Estimate.CopyBytes), Count(p.Estimate.DeltaObjects), Bytes(p.Estimate.DeltaBytes)))
	}
	if len(lines) == 0 {
		return
	}
	fmt.Fprintf(b, "> [!WARNING]\n> **Read before approving**\n")
	for _, l := range lines {
		fmt.Fprintf(b, "> %s\n", l)
	}
	b.WriteString("\n")
}

func mdResources(b *strings.Builder, p *plan.Plan) {
	fmt.Fprintf(b, "| | resource | id | change |\n|---|---|---|---|\n")
	for _, r := range p.Resources {
		if r.Action == plan.ActionNoOp {
			continue
		}
		var parts []string
		for _, c := range r.Changes {
			s := fmt.Sprintf("`%s`: %s → %s", c.Attribute, mdEscape(c.Before), mdEscape(c.After))
			if c.ForcesMigration {
				s += " **(forces migration)**"
			}
			parts = append(parts, s)
		}
		if len(parts) == 0 {
			parts = append(parts, verb(r.Action))
		}
		fmt.Fprintf(b, "| `%s` | `%s` | `%s` | %s |\n", strings.TrimSpace(symbol(r.Action)), r.Address, r.ID, strings.Join(parts, "<br>"))
	}
	b.WriteString("\n")
}

func mdGate(b *strings.Builder, p *plan.Plan) {
	g := p.GateIndex()
	if g < 0 {
		return
	}
	fmt.Fprintf(b, "**Point of no return** after step %d of %d. Before it, any failure undoes the run by itself and the originals are untouched; after it, the originals change and the run can only roll forward (`envmig resume`).\n\n", g, len(p.Steps))
}

// mdSteps renders the step table inside <details>, eliding rows to fit.
func mdSteps(p *plan.Plan, budget int) string {
	rows := make([]string, len(p.Steps))
	for i, s := range p.Steps {
		mark := ""
		if s.InStandby {
			mark = "⏸️"
		}
		if s.Phase == plan.PhaseGate {
			rows[i] = fmt.Sprintf("| **%d** | **POINT OF NO RETURN** | | | |\n", i+1)
			continue
		}
		rows[i] = fmt.Sprintf("| %d | `%s` | %s | %s | %s %s |\n", i+1, s.ID, s.Phase, mdEscape(s.Description), Duration(s.EstimateSeconds), mark)
	}
	open := "\n<details><summary>Steps (" + fmt.Sprint(len(p.Steps)) + ")</summary>\n\n| # | step | phase | what | time |\n|---|---|---|---|---|\n"
	closeTag := "\n</details>\n"
	total := len(open) + len(closeTag)
	var out strings.Builder
	out.WriteString(open)
	for i, r := range rows {
		if total+len(r) > budget-200 {
			fmt.Fprintf(&out, "| … | %d more steps not shown; run `envmig show` on the plan file | | | |\n", len(rows)-i)
			break
		}
		total += len(r)
		out.WriteString(r)
	}
	out.WriteString(closeTag)
	return out.String()
}

func mdEscape(s string) string {
	r := strings.NewReplacer("|", "\\|", "<", "&lt;", ">", "&gt;", "\n", " ")
	return r.Replace(s)
}
