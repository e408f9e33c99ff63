package view

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

func TestLiveBarsKeepTheStepLines(t *testing.T) {
	var out bytes.Buffer
	p := &plan.Plan{Steps: []plan.Step{
		{ID: "bucket.copy.assets.precopy", Description: "Pre-copy"},
		{ID: "db.restore.main", Description: "Restore", Undo: "Delete it"},
	}}
	l := &Live{W: &out, Plan: p}
	l.StepStarted(p.Steps[0], "apply", 1)
	l.StepProgress(p.Steps[0], executor.Progress{Objects: 10, ObjectsTotal: 40, Bytes: 4096})
	l.StepProgress(p.Steps[0], executor.Progress{Line: "| output of a check"})
	l.StepFinished(p.Steps[0], "apply", nil, 2*time.Second)
	l.StepStarted(p.Steps[1], "apply", 1)
	l.StepFinished(p.Steps[1], "apply", errors.New("quota exceeded"), time.Second)
	l.Close()
	s := out.String()
	for _, want := range []string{"[1/2] bucket.copy.assets.precopy: Pre-copy", "| output of a check", "done in 2s", "[2/2] db.restore.main: Restore", "failed after 1s: quota exceeded"} {
		if !strings.Contains(s, want) {
			t.Fatalf("live output lacks %q:\n%q", want, s)
		}
	}
}
