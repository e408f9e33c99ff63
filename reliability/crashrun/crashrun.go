package crashrun

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/planner/plan"
)

// Points are the crash points of a step, in the order a run reaches them.
var Points = []string{executor.PointBeforeIntent, executor.PointAfterIntent, executor.PointAccepted, executor.PointWaiting}

// Case is one kill: the step, the point, and whether the step is at or
// before the plan's gate (the point of no return), where rollback is also
// a recovery.
type Case struct {
	Step, Point string
	BeforeGate  bool
}

// Scenario is one plan the crash suite kills: its spec, the world it
// starts from, the CI sample of its crash points and what a finished run
// must have made of the world.
type Scenario struct {
	Suite string // the figures' suite id (scripts/reliability-report)
	Spec  string
	// Seed makes the world the plan is made against.
	Seed func(t testing.TB) *awsclient.Clients
	// Observe reads what the invariants compare: the world, and what a
	// plan moves that Observe does not read (histories, settings, region).
	Observe func(t testing.TB, cl *awsclient.Clients) World
	// Sample is the CI sample: the points killed at step i (all of them
	// under clitest.Full).
	Sample func(i int, s plan.Step) []string
	// Migrated checks the world after a resumed run.
	Migrated func(t *testing.T, before, after World)
}

// World is what a crash scenario compares.
type World struct {
	clitest.World
	Extra []string
}

// ObserveWorld is the Observe of a scenario that compares clitest's world
// alone.
func ObserveWorld(t testing.TB, cl *awsclient.Clients) World {
	return World{World: clitest.Observe(t, cl)}
}

// Cases are sc's cases on plan p: its CI sample, or every step at every
// point under clitest.Full.
func Cases(sc Scenario, p *plan.Plan) []Case {
	var out []Case
	gate := p.GateIndex()
	for i, s := range p.Steps {
		points := Points
		if !clitest.Full() {
			points = sc.Sample(i, s)
		}
		for _, pt := range points {
			// The gate step is done only once confirmed: a crash at any of
			// its points is still before the point of no return.
			out = append(out, Case{Step: s.ID, Point: pt, BeforeGate: i <= gate})
		}
	}
	return out
}

// Run kills sc's plan at each of its cases, with the journal in the local
// .envmig directory, recovers, and reports the figures under sc.Suite.
func Run(t *testing.T, sc Scenario) { RunPart(t, sc, 1, 1) }

// RunPart is Run of part (1 to parts) of sc's cases: every parts-th case,
// from the part-th on, so that test packages of their own, which go test
// runs side by side, share a long suite evenly. Each part reports its own
// figures under sc.Suite, naming the part.
func RunPart(t *testing.T, sc Scenario, part, parts int) {
	if part < 1 || part > parts {
		t.Fatalf("part %d of %d", part, parts)
	}
	p := Plan(t, sc)
	var cases []Case
	for i, c := range Cases(sc, p) {
		if i%parts == part-1 {
			cases = append(cases, c)
		}
	}
	tally := RunCases(t, sc, Local, cases)
	figures := tally.Figures(len(cases))
	if parts > 1 {
		figures["part"] = fmt.Sprintf("%d of %d (every %s case from the %s)", part, parts, ordinal(parts), ordinal(part))
	}
	clitest.Report(t, sc.Suite, figures)
	if tally.Killed == 0 && tally.Failed == 0 {
		t.Fatal("the crash hook never fired")
	}
}

func ordinal(n int) string {
	switch n {
	case 1:
		return "1st"
	case 2:
		return "2nd"
	case 3:
		return "3rd"
	}
	return fmt.Sprintf("%dth", n)
}

// Plan is the plan sc's cases kill, made against its world.
func Plan(t *testing.T, sc Scenario) *plan.Plan {
	sc.Seed(t)
	probe := clitest.New(t, clitest.Bins.Envmig, sc.Spec)
	probe.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
	return readPlan(t, filepath.Join(probe.Dir, "plan.json"))
}

func readPlan(t *testing.T, path string) *plan.Plan {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p, err := plan.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// RunCases kills a run at each case and recovers it with resume, and
// before the gate also with rollback, each a subtest named
// STEP/POINT/RECOVERY.
func RunCases(t *testing.T, sc Scenario, b Backend, cases []Case) Tally {
	var tally Tally
	for _, tc := range cases {
		recoveries := []string{"resume"}
		if tc.BeforeGate {
			recoveries = append(recoveries, "rollback")
		}
		for _, rec := range recoveries {
			t.Run(fmt.Sprintf("%s/%s/%s", tc.Step, tc.Point, rec), func(t *testing.T) {
				// Counted when the case ends, however it ends: a t.Fatal
				// stops the case before any statement after the call.
				var k bool
				defer func() { tally.count(k, t.Failed()) }()
				crashThenRecover(t, sc, b, tc, rec, &k)
			})
		}
	}
	return tally
}

// Tally counts a suite's runs.
type Tally struct{ Killed, Recovered, Failed, NotReached int }

// Figures are the tally as the report shows it; points is the number of
// cases. Their keys are the rows of the suite's table in docs/RELIABILITY.md.
func (c Tally) Figures(points int) map[string]any {
	return map[string]any{
		"crash points": points, "runs killed": c.Killed, "recovered": c.Recovered, "failed": c.Failed,
		"point not reached (the step makes no such call)": c.NotReached,
	}
}

// count adds one case that ended, killed or not, failed or not.
func (c *Tally) count(killed, failed bool) {
	if killed {
		c.Killed++
	}
	switch {
	case failed:
		c.Failed++
	case killed:
		c.Recovered++
	default:
		c.NotReached++
	}
}

// crashThenRecover runs one case of sc against backend b; *killed says
// whether the kill happened (set before anything can fail the case after
// it).
func crashThenRecover(t *testing.T, sc Scenario, b Backend, tc Case, recovery string, killed *bool) {
	cl := sc.Seed(t)
	c, env := b.setup(t, cl, sc.Spec)
	before := b.observe(t, cl, sc)
	c.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
	c.Bin = clitest.Bins.Crash
	c.Env = append(slices.Clone(env), b.crashEnv()...)
	c.Env = append(c.Env, executor.CrashEnv+"=apply:"+tc.Step+":"+tc.Point)
	r := c.Run("apply", "-auto-approve", "plan.json")
	c.Bin, c.Env = clitest.Bins.Envmig, env
	if !r.Killed {
		if r.Code != 0 {
			t.Fatalf("apply without a crash failed:\n%s", r)
		}
		t.Logf("point not reached: the run finished without a kill at %s:%s", tc.Step, tc.Point)
		return
	}
	*killed = true
	c.Must(0, "status")
	switch recovery {
	case "rollback":
		rb := c.Must(0, b.recover("rollback")...)
		b.logRecovery(t, "rollback", rb)
		TookOver(t, rb)
		if diff := cmp.Diff(before, b.observe(t, cl, sc)); diff != "" {
			t.Fatalf("rollback did not restore the world (-before +after):\n%s", diff)
		}
		c.Must(2, "plan", "-detailed-exitcode")
	default:
		if !tc.BeforeGate {
			r := c.Must(1, b.recover("rollback")...)
			b.logRecovery(t, "rollback (refused)", r)
			if !strings.Contains(r.Stderr, "point of no return") {
				t.Fatalf("rollback after the gate must be refused saying why:\n%s", r)
			}
		}
		res := c.Must(0, b.recover("resume")...)
		b.logRecovery(t, "resume", res)
		if tc.BeforeGate {
			TookOver(t, res)
		}
		sc.Migrated(t, before, b.observe(t, cl, sc))
		c.Must(0, "plan", "-detailed-exitcode")
	}
	c.Calls()
	b.check(t, cl)
}

// TookOver checks the first command after a kill says it took over the
// dead holder's lock.
func TookOver(t *testing.T, r clitest.Result) {
	t.Helper()
	if !strings.Contains(r.Stderr, "Took over the lock") {
		t.Fatalf("the recovery did not report taking over the killed run's lock:\n%s", r)
	}
}
