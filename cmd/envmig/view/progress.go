package view

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// CI is the continuous-integration dialect the reporter speaks.
type CI int

const (
	CINone     CI = iota
	CIGitHub      // ::group:: / ::endgroup:: / ::error::
	CITeamCity    // ##teamcity[blockOpened ...] service messages
)

// Reporter renders a run's events as lines: one when a step starts, a
// heartbeat while it runs ("Still waiting for ...: 40% [1m20s elapsed]"),
// one when it ends. Workers never print; they report to the executor, which
// calls the reporter from one goroutine; the heartbeat has its own.
type Reporter struct {
	W         io.Writer
	Style     Style
	CI        CI
	Plan      *plan.Plan    // the plan run, for "[3/13]"
	Heartbeat time.Duration // 0 = 10s
	Now       func() time.Time
	Redact    func(string) string

	mu      sync.Mutex
	step    plan.Step
	quiet   bool // an undo with nothing to undo: shown only if it fails
	started time.Time
	last    executor.Progress
	stop    chan struct{}
	done    chan struct{}
}

var _ executor.Observer = (*Reporter)(nil)

func (r *Reporter) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Reporter) printf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if r.Redact != nil {
		s = r.Redact(s)
	}
	io.WriteString(r.W, s)
}

// StepStarted prints the step's line and starts its heartbeat.
func (r *Reporter) StepStarted(s plan.Step, op string, attempt int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.step, r.started, r.last = s, r.now(), executor.Progress{Percent: -1}
	r.quiet = op == "revert" && s.Undo == ""
	if r.quiet {
		return
	}
	verb := ""
	if op == "revert" {
		verb = "undo "
	}
	again := ""
	if attempt > 1 {
		again = fmt.Sprintf(" (attempt %d)", attempt)
	}
	title := fmt.Sprintf("%s%s: %s%s", verb, s.ID, s.Description, again)
	switch r.CI {
	case CITeamCity:
		r.printf("##teamcity[blockOpened name='%s' description='%s']\n", TeamCityEscape(verb+s.ID), TeamCityEscape(s.Description))
	case CIGitHub:
		r.printf("::group::%s\n", title)
	default:
		r.printf("%s %s\n", r.Style.Bold(counter(r.Plan, s.ID)), title)
	}
	r.stop, r.done = make(chan struct{}), make(chan struct{})
	go r.heartbeat(r.stop, r.done)
}

// counter is the step's place in the plan: "[3/13]".
func counter(p *plan.Plan, id string) string {
	if p == nil {
		return "[-]"
	}
	for i, s := range p.Steps {
		if s.ID == id {
			return fmt.Sprintf("[%d/%d]", i+1, len(p.Steps))
		}
	}
	return "[-]"
}

// StepProgress records the latest progress; a Line is printed at once,
// everything else by the heartbeat.
func (r *Reporter) StepProgress(s plan.Step, p executor.Progress) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.Line != "" {
		r.printf("    %s\n", p.Line)
		return
	}
	r.last = p
}

// StepFinished stops the heartbeat and prints the outcome.
func (r *Reporter) StepFinished(s plan.Step, op string, err error, elapsed time.Duration) {
	r.mu.Lock()
	stop, done := r.stop, r.done
	r.stop = nil
	r.mu.Unlock()
	if stop != nil {
		close(stop)
		<-done
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.quiet && err == nil {
		return
	}
	switch {
	case err != nil && r.CI == CITeamCity:
		r.printf("##teamcity[buildProblem description='%s' identity='%s']\n", TeamCityEscape(trim(fmt.Sprintf("%s: %v", s.ID, err), 4000)), TeamCityEscape(s.ID))
	case err != nil && r.CI == CIGitHub:
		r.printf("::error title=%s::%s\n", GitHubProperty(s.ID+" failed"), GitHubData(err.Error()))
	case err != nil:
		r.printf("    %s after %s: %v\n", r.Style.Red("failed"), Elapsed(elapsed), err)
	default:
		if r.CI == CINone {
			r.printf("    %s in %s\n", r.Style.Green("done"), Elapsed(elapsed))
		}
	}
	switch r.CI {
	case CITeamCity:
		r.printf("##teamcity[blockClosed name='%s']\n", TeamCityEscape(opPrefix(op)+s.ID))
	case CIGitHub:
		r.printf("::endgroup::\n")
	}
}

func opPrefix(op string) string {
	if op == "revert" {
		return "undo "
	}
	return ""
}

func (r *Reporter) heartbeat(stop, done chan struct{}) {
	defer close(done)
	every := r.Heartbeat
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
			r.beat()
		}
	}
}

// beat prints one heartbeat of the running step.
func (r *Reporter) beat() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.quiet {
		return
	}
	line := HeartbeatLine(r.step, r.last, r.now().Sub(r.started))
	if r.CI == CITeamCity {
		r.printf("##teamcity[progressMessage '%s']\n", TeamCityEscape(line))
	} else {
		r.printf("    %s\n", line)
	}
}

// HeartbeatLine is the periodic line of a running step:
// "Still copying... [12,403/40,000 objects, 1.2 GiB, 2m10s elapsed]" or
// "Still waiting for snapshot envmig-...: 40% [1m20s elapsed]".
func HeartbeatLine(s plan.Step, p executor.Progress, elapsed time.Duration) string {
	if p.ObjectsTotal > 0 || p.Objects > 0 {
		total := "?"
		if p.ObjectsTotal > 0 {
			total = Count(p.ObjectsTotal)
		}
		eta := ""
		if p.ObjectsTotal > 0 && p.Objects > 0 && p.Objects < p.ObjectsTotal {
			rate := float64(p.Objects) / elapsed.Seconds()
			left := time.Duration(float64(p.ObjectsTotal-p.Objects)/rate) * time.Second
			eta = fmt.Sprintf(", %.0f objects/s, %.1f MiB/s, ETA %s", rate, float64(p.Bytes)/elapsed.Seconds()/(1<<20), Elapsed(left))
		}
		return fmt.Sprintf("Still copying... [%s/%s objects, %s, %s elapsed%s]", Count(p.Objects), total, Bytes(p.Bytes), Elapsed(elapsed), eta)
	}
	what := p.Message
	if what == "" {
		what = s.Description
	}
	pct := ""
	if p.Percent >= 0 && p.Percent <= 100 && p.Message != "" {
		pct = fmt.Sprintf(": %.0f%%", p.Percent)
	}
	if !strings.HasPrefix(strings.ToLower(what), "waiting") {
		what = "working on " + what
	}
	return fmt.Sprintf("Still %s%s [%s elapsed]", what, pct, Elapsed(elapsed))
}

// TeamCityEscape escapes a TeamCity service message value.
func TeamCityEscape(s string) string {
	return strings.NewReplacer("|", "||", "'", "|'", "\n", "|n", "\r", "|r", "[", "|[", "]", "|]",
		"\u0085", "|x", "\u2028", "|l", "\u2029", "|p").Replace(s)
}

// GitHubData escapes a GitHub Actions workflow command's message.
func GitHubData(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A").Replace(s)
}

// GitHubProperty escapes a GitHub Actions workflow command's property.
func GitHubProperty(s string) string {
	return strings.NewReplacer("%", "%25", "\r", "%0D", "\n", "%0A", ":", "%3A", ",", "%2C").Replace(s)
}

func trim(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
