package view

import (
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// Live renders a run on a terminal: the same step lines as Reporter, and
// below them one bar for the running step (objects for a copy, percent for
// a snapshot, the last message otherwise) instead of heartbeat lines.
type Live struct {
	W      io.Writer
	Style  Style
	Plan   *plan.Plan
	Redact func(string) string

	mu    sync.Mutex
	p     *mpb.Progress
	bar   *mpb.Bar
	last  executor.Progress
	quiet bool
}

var _ executor.Observer = (*Live)(nil)

func (l *Live) printf(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	if l.Redact != nil {
		s = l.Redact(s)
	}
	if l.p != nil {
		_, _ = l.p.Write([]byte(s))
		return
	}
	_, _ = io.WriteString(l.W, s)
}

// StepStarted prints the step's line and opens its bar.
func (l *Live) StepStarted(s plan.Step, op string, attempt int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.quiet = op == "revert" && s.Undo == ""
	if l.quiet {
		return
	}
	if l.p == nil {
		l.p = mpb.New(mpb.WithOutput(l.W), mpb.WithWidth(32), mpb.WithRefreshRate(150*time.Millisecond), mpb.WithAutoRefresh())
	}
	verb := ""
	if op == "revert" {
		verb = "undo "
	}
	l.printf("%s %s%s: %s\n", l.Style.Bold(counter(l.Plan, s.ID)), verb, s.ID, s.Description)
	l.last = executor.Progress{Percent: -1}
	if s.Action == plan.Gate {
		return // the gate may ask a question: no bar redraws over it
	}
	l.bar = l.p.New(100, mpb.BarStyle().Lbound("[").Rbound("]"),
		mpb.PrependDecorators(decor.Name("    "), decor.Elapsed(decor.ET_STYLE_MMSS, decor.WCSyncSpaceR)),
		mpb.AppendDecorators(decor.Any(func(decor.Statistics) string {
			l.mu.Lock()
			defer l.mu.Unlock()
			return l.status()
		})),
		mpb.BarRemoveOnComplete(),
	)
}

// status is the text beside the bar; the caller holds l.mu.
func (l *Live) status() string {
	p := l.last
	switch {
	case p.ObjectsTotal > 0:
		return fmt.Sprintf("%s/%s objects, %s", Count(p.Objects), Count(p.ObjectsTotal), Bytes(p.Bytes))
	case p.Message != "" && p.Percent >= 0:
		return fmt.Sprintf("%s: %.0f%%", p.Message, p.Percent)
	}
	return p.Message
}

// StepProgress moves the bar.
func (l *Live) StepProgress(s plan.Step, p executor.Progress) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if p.Line != "" {
		l.printf("    %s\n", p.Line)
		return
	}
	l.last = p
	if l.bar == nil {
		return
	}
	switch {
	case p.ObjectsTotal > 0:
		l.bar.SetTotal(p.ObjectsTotal, false)
		l.bar.SetCurrent(p.Objects)
	case p.Percent >= 0:
		l.bar.SetCurrent(int64(p.Percent))
	}
}

// StepFinished closes the bar and prints the outcome.
func (l *Live) StepFinished(s plan.Step, op string, err error, elapsed time.Duration) {
	l.mu.Lock()
	bar := l.bar
	l.bar = nil
	quiet := l.quiet
	l.mu.Unlock()
	if bar != nil {
		bar.SetTotal(-1, true)
		bar.Wait()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case err != nil:
		l.printf("    %s after %s: %v\n", l.Style.Red("failed"), Elapsed(elapsed), err)
	case !quiet:
		l.printf("    %s in %s\n", l.Style.Green("done"), Elapsed(elapsed))
	}
}

// Close waits for the bars to be drawn for the last time.
func (l *Live) Close() {
	l.mu.Lock()
	p := l.p
	l.p = nil
	l.mu.Unlock()
	if p != nil {
		p.Wait()
	}
}
