package view

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// runSteps drives a reporter through a snapshot that waits, a copy that
// reports objects, a failing step and an undo, on a fake clock.
func runSteps(ci CI) string {
	var out bytes.Buffer
	now := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	p := &plan.Plan{Steps: []plan.Step{
		{ID: "db.snapshot.main", Description: "Snapshot shop-prod-db as envmig-r1-main", Undo: "Delete the snapshot"},
		{ID: "bucket.copy.assets.precopy", Description: "Pre-copy shop-assets-legacy to shop-assets"},
		{ID: "db.restore.main", Description: "Restore shop-prod-db-envmig [it's ours]", Undo: "Delete shop-prod-db-envmig"},
	}}
	r := &Reporter{W: &out, CI: ci, Plan: p, Heartbeat: time.Hour, Now: func() time.Time { return now }}
	s := p.Steps
	r.StepStarted(s[0], "apply", 1)
	now = now.Add(80 * time.Second)
	r.StepProgress(s[0], executor.Progress{Message: "waiting for DB snapshot envmig-r1-main to be available", Percent: 40})
	r.beat()
	r.StepFinished(s[0], "apply", nil, 95*time.Second)
	r.StepStarted(s[1], "apply", 1)
	now = now.Add(130 * time.Second)
	r.StepProgress(s[1], executor.Progress{Objects: 12403, ObjectsTotal: 40000, Bytes: 1288490188, BytesTotal: 4 << 30})
	r.beat()
	r.StepFinished(s[1], "apply", nil, 130*time.Second)
	r.StepStarted(s[2], "apply", 2)
	r.StepFinished(s[2], "apply", errors.New("quota exceeded:\nDBInstanceQuotaExceeded"), 3*time.Second)
	r.StepStarted(s[2], "revert", 2)
	r.StepFinished(s[2], "revert", nil, time.Second)
	r.StepStarted(plan.Step{ID: "preflight"}, "revert", 1) // nothing to undo: quiet
	r.StepFinished(plan.Step{ID: "preflight"}, "revert", nil, 0)
	return out.String()
}

func TestReporterPlainLines(t *testing.T) {
	want := `[1/3] db.snapshot.main: Snapshot shop-prod-db as envmig-r1-main
    Still waiting for DB snapshot envmig-r1-main to be available: 40% [1m20s elapsed]
    done in 1m35s
[2/3] bucket.copy.assets.precopy: Pre-copy shop-assets-legacy to shop-assets
    Still copying... [12,403/40,000 objects, 1.2 GiB, 2m10s elapsed, 95 objects/s, 9.5 MiB/s, ETA 4m49s]
    done in 2m10s
[3/3] db.restore.main: Restore shop-prod-db-envmig [it's ours] (attempt 2)
    failed after 3s: quota exceeded:
DBInstanceQuotaExceeded
[3/3] undo db.restore.main: Restore shop-prod-db-envmig [it's ours] (attempt 2)
    done in 1s
`
	if diff := cmp.Diff(want, runSteps(CINone)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestReporterTeamCityServiceMessages(t *testing.T) {
	want := `##teamcity[blockOpened name='db.snapshot.main' description='Snapshot shop-prod-db as envmig-r1-main']
##teamcity[progressMessage 'Still waiting for DB snapshot envmig-r1-main to be available: 40% |[1m20s elapsed|]']
##teamcity[blockClosed name='db.snapshot.main']
##teamcity[blockOpened name='bucket.copy.assets.precopy' description='Pre-copy shop-assets-legacy to shop-assets']
##teamcity[progressMessage 'Still copying... |[12,403/40,000 objects, 1.2 GiB, 2m10s elapsed, 95 objects/s, 9.5 MiB/s, ETA 4m49s|]']
##teamcity[blockClosed name='bucket.copy.assets.precopy']
##teamcity[blockOpened name='db.restore.main' description='Restore shop-prod-db-envmig |[it|'s ours|]']
##teamcity[buildProblem description='db.restore.main: quota exceeded:|nDBInstanceQuotaExceeded' identity='db.restore.main']
##teamcity[blockClosed name='db.restore.main']
##teamcity[blockOpened name='undo db.restore.main' description='Restore shop-prod-db-envmig |[it|'s ours|]']
##teamcity[blockClosed name='undo db.restore.main']
`
	if diff := cmp.Diff(want, runSteps(CITeamCity)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}

func TestReporterGitHubGroups(t *testing.T) {
	want := `::group::db.snapshot.main: Snapshot shop-prod-db as envmig-r1-main
    Still waiting for DB snapshot envmig-r1-main to be available: 40% [1m20s elapsed]
::endgroup::
::group::bucket.copy.assets.precopy: Pre-copy shop-assets-legacy to shop-assets
    Still copying... [12,403/40,000 objects, 1.2 GiB, 2m10s elapsed, 95 objects/s, 9.5 MiB/s, ETA 4m49s]
::endgroup::
::group::db.restore.main: Restore shop-prod-db-envmig [it's ours] (attempt 2)
::error title=db.restore.main failed::quota exceeded:%0ADBInstanceQuotaExceeded
::endgroup::
::group::undo db.restore.main: Restore shop-prod-db-envmig [it's ours] (attempt 2)
::endgroup::
`
	if diff := cmp.Diff(want, runSteps(CIGitHub)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
}
