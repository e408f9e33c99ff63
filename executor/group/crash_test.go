package group

import (
	"context"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
)

type crash struct{}

// doCrashing runs one operation of stepID with a hook that crashes at the
// nth accepted call; it reports whether the crash happened.
func (r *run) doCrashing(stepID, op string, n int) (crashed bool) {
	r.t.Helper()
	sc := r.context(stepID, op)
	seen := 0
	sc.TestHooks(func(id, key string) string { return r.values[id][key] }, func(point string) {
		if point == executor.PointAccepted {
			if seen++; seen == n {
				panic(crash{})
			}
		}
	}, nil)
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(crash); !ok {
				panic(v)
			}
			crashed = true
		}
	}()
	h := r.handlers[sc.Step.Action]
	var err error
	if op == "apply" {
		err = h.Apply(context.Background(), sc)
	} else {
		err = h.Revert(context.Background(), sc)
	}
	if err != nil {
		r.t.Fatalf("%s %s before the crash point: %v", op, stepID, err)
	}
	return false
}

// A crash after each accepted call of the standby, of the resume, and of
// the standby's revert: the re-run finishes, and the group ends exactly
// as it was, every instance healthy, no tag left.
func TestACrashAtEveryAcceptedCallRecovers(t *testing.T) {
	for _, c := range []struct{ step, op string }{{standbyID, "apply"}, {resumeID, "apply"}, {standbyID, "revert"}} {
		for n := 1; n < 20; n++ {
			crashed := false
			t.Run(fmt.Sprintf("%s-%s/%d", c.step, c.op, n), func(t *testing.T) {
				f := newGroup(t, 2, 6, 3, "AZRebalance")
				before := f.shape(t)
				r := newRun(t, f)
				if c.step == standbyID && c.op == "apply" {
					crashed = r.doCrashing(standbyID, "apply", n)
					r.must(standbyID, "apply")
					if got := f.shape(t).States["Standby"]; got != 3 {
						t.Fatalf("Standby = %d after the re-run", got)
					}
					r.must(resumeID, "apply")
				} else {
					r.must(standbyID, "apply")
					crashed = r.doCrashing(c.step, c.op, n)
					r.must(c.step, c.op)
				}
				if diff := cmp.Diff(before, f.shape(t)); diff != "" {
					t.Fatalf("(-before +after):\n%s", diff)
				}
				if tags, tagged := f.standbyTagsOnAWS(t); len(tags) != 0 || tagged != 0 {
					t.Errorf("left: group tags %v, %d instances tagged", tags, tagged)
				}
				f.healthy(t)
			})
			if !crashed {
				break
			}
		}
	}
}
