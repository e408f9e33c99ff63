package crashs3

import (
	"testing"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/reliability/crashrun"
)

// TestCrashSuiteS3 is suite C with the journal and the lock in the S3
// state backend (a versioned, encrypted, private state bucket in the
// emulator, behind a proxy that makes its conditional writes atomic, as
// S3's are). The killed run holds the lock with a lease of a few seconds;
// the recovery waits for the lease to expire and takes the lock over. On
// top of suite C's invariants, every version of the journal object
// decodes, their serials strictly increase, and no lock object is left
// once the recovery finished.
//
// The CI sample is small: the first snapshot step after its intent and
// after AWS accepted it (each recovered by resume and by rollback), the
// first rename after the point of no return and the group's return to
// service, each after AWS accepted it (recovered by resume). The full
// suite kills every step at every point.
//
// Two applies of one plan racing on one S3 backend (exactly one runs, the
// other exits 3 naming the holder) are cmd/envmig's
// TestTwoRunnersRaceOneS3Backend.
func TestCrashSuiteS3(t *testing.T) {
	sc := crashrun.RenameSwap()
	p := crashrun.Plan(t, sc)
	var cases []crashrun.Case
	if clitest.Full() {
		cases = crashrun.Cases(sc, p)
	} else {
		cases = s3Sample(t, p)
	}
	tally := crashrun.RunCases(t, sc, crashrun.S3, cases)
	clitest.Report(t, "C-S3", tally.Figures(len(cases)))
	if tally.Killed == 0 && tally.Failed == 0 {
		t.Fatal("the crash hook never fired")
	}
}

// s3Sample is TestCrashSuiteS3's CI sample (see there).
func s3Sample(t *testing.T, p *plan.Plan) []crashrun.Case {
	t.Helper()
	gate := p.GateIndex()
	first := func(action plan.StepAction, afterGate bool) (int, plan.Step) {
		for i, s := range p.Steps {
			if s.Action == action && (!afterGate || i > gate) {
				return i, s
			}
		}
		t.Fatalf("the plan has no %s step (after the gate: %t)", action, afterGate)
		return 0, plan.Step{}
	}
	var out []crashrun.Case
	i, snap := first(plan.DBSnapshot, false)
	for _, pt := range []string{executor.PointAfterIntent, executor.PointAccepted} {
		out = append(out, crashrun.Case{Step: snap.ID, Point: pt, BeforeGate: i <= gate})
	}
	for _, a := range []plan.StepAction{plan.DBRename, plan.GroupResume} {
		i, s := first(a, true)
		out = append(out, crashrun.Case{Step: s.ID, Point: executor.PointAccepted, BeforeGate: i <= gate})
	}
	return out
}
