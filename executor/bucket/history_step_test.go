package bucket

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

func historyStepContext(id string) (*executor.StepContext, *int, *[]executor.Progress) {
	sc := executor.NewStepContext(&plan.Plan{Lineage: "run-1"}, plan.Step{ID: id, Action: plan.BucketCopy}, "apply", nil)
	accepted := 0
	var reports []executor.Progress
	sc.TestHooks(nil, func(point string) {
		if point == executor.PointAccepted {
			accepted++
		}
	}, func(p executor.Progress) { reports = append(reports, p) })
	return sc, &accepted, &reports
}

func TestHistoryStepRecordsReportsAndAccepts(t *testing.T) {
	s := newVersionedStub("src", "dst")
	richSource(s)
	sc, accepted, reports := historyStepContext("bucket.copy.u")
	res, err := RunHistoryStep(context.Background(), sc, &HistorySyncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", MultipartThreshold: 30, PartSize: 30}, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if sc.Value("copied") != "7" || sc.Value("markers") != "3" || sc.Value("skipped") != "0" || *accepted != 1 || res.Copied != 7 {
		t.Errorf("recorded %v, accepted %d times", sc.Values(), *accepted)
	}
	last := (*reports)[len(*reports)-1]
	if !strings.Contains(last.Message, "copying the history of s3://src to s3://dst: 10 entries examined") || last.Objects != 10 {
		t.Errorf("last report %+v", last)
	}
	// Run again: nothing written, nothing accepted.
	sc, accepted, _ = historyStepContext("bucket.copy.u")
	if _, err := RunHistoryStep(context.Background(), sc, &HistorySyncer{Src: s, Dst: s, SrcBucket: "src", DstBucket: "dst", MultipartThreshold: 30, PartSize: 30}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if sc.Value("copied") != "0" || sc.Value("skipped") != "10" || *accepted != 0 {
		t.Errorf("second run recorded %v, accepted %d times", sc.Values(), *accepted)
	}

	vsc, _, _ := historyStepContext("verify.bucket.u")
	if err := VerifyHistoryStep(context.Background(), vsc, s, s, "src", "dst", LevelETag, time.Time{}); err != nil {
		t.Fatal(err)
	}
	s.put("src", "b", []byte("newer"))
	vsc, _, _ = historyStepContext("verify.bucket.u")
	err = VerifyHistoryStep(context.Background(), vsc, s, s, "src", "dst", LevelETag, time.Time{})
	if err == nil || !strings.Contains(err.Error(), "history: b (4 entries, copy has 3)") || vsc.Value("differences") != "1" {
		t.Errorf("verify after a change: %v (recorded %v)", err, vsc.Values())
	}
}
