package main

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"

	"github.com/envmig/envmig/cmd/envmig/view"
)

// CI integrations: GitHub Actions reads workflow commands from stdout
// (::error file=...::), TeamCity reads service messages (##teamcity[...]).

func (g *globals) onGitHub() bool   { return g.getenv("GITHUB_ACTIONS") == "true" }
func (g *globals) onTeamCity() bool { return g.getenv("TEAMCITY_VERSION") != "" }

// annotate emits config diagnostics as GitHub annotations, so they show on
// the pull request's diff.
func (g *globals) annotate(diags hcl.Diagnostics) {
	if !g.onGitHub() {
		return
	}
	for _, d := range diags {
		fmt.Fprintln(g.stdout, githubAnnotation(d))
	}
}

func githubAnnotation(d *hcl.Diagnostic) string {
	level := "error"
	if d.Severity == hcl.DiagWarning {
		level = "warning"
	}
	var props []string
	if d.Subject != nil {
		r := d.Subject
		props = append(props,
			"file="+view.GitHubProperty(r.Filename),
			fmt.Sprintf("line=%d", r.Start.Line),
			fmt.Sprintf("col=%d", r.Start.Column),
			fmt.Sprintf("endLine=%d", r.End.Line),
			fmt.Sprintf("endColumn=%d", r.End.Column))
	}
	props = append(props, "title="+view.GitHubProperty(d.Summary))
	msg := d.Summary
	if d.Detail != "" {
		msg += ": " + d.Detail
	}
	return fmt.Sprintf("::%s %s::%s", level, strings.Join(props, ","), view.GitHubData(msg))
}
