package reliability

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/demo"
	"github.com/envmig/envmig/planner/plan"
)

// Suite C. The crashtest build's hook kills envmig with SIGKILL at a crash
// point of a step (before the intent is journaled, after it, after AWS
// accepted the call, while waiting); then resume, and before the point of no
// return also rollback, must converge: after a rollback the world is
// exactly as before; after a resume it is migrated with every object
// identical, the group restored exactly and no duplicate snapshot. The
// killed process held the lock: the recovery must take it over by itself.
//
// The same runner kills three plans: rename-swap (TestCrashSuite, the
// demo's), clone-swap and a versioned bucket's move to another region
// (crash_more_test.go). For rename-swap the CI sample kills the steps that
// matter most (the snapshot, the renames that swap the clone in, the
// group's return to service) at every point, and every other step at one
// point (rotating through the four, so every point kind is exercised); the
// other plans' samples are smaller. The full suite kills every step of
// every plan at every point.

var crashPoints = []string{executor.PointBeforeIntent, executor.PointAfterIntent, executor.PointAccepted, executor.PointWaiting}

// mattersMost are the actions the CI sample of the rename-swap plan kills
// at every point.
var mattersMost = map[plan.StepAction]bool{plan.DBSnapshot: true, plan.DBRename: true, plan.GroupResume: true}

type crashCase struct {
	step, point string
	beforeGate  bool
}

// crashScenario is one plan the crash suite kills: its spec, the world it
// starts from, the CI sample of its crash points and what a finished run
// must have made of the world.
type crashScenario struct {
	suite string // the figures' suite id
	spec  string
	// seed makes the world the plan is made against.
	seed func(t testing.TB) *awsclient.Clients
	// observe reads what the invariants compare: the world, and what a
	// plan moves that Observe does not read (histories, settings, region).
	observe func(t testing.TB, cl *awsclient.Clients) crashWorld
	// sample is the CI sample: the points killed at step i (all of them
	// under clitest.Full).
	sample func(i int, s plan.Step) []string
	// migrated checks the world after a resumed run.
	migrated func(t *testing.T, before, after crashWorld)
}

// crashWorld is what a crash scenario compares.
type crashWorld struct {
	clitest.World
	Extra []string
}

func observeWorld(t testing.TB, cl *awsclient.Clients) crashWorld {
	return crashWorld{World: clitest.Observe(t, cl)}
}

func crashCases(sc crashScenario, p *plan.Plan) []crashCase {
	var out []crashCase
	gate := p.GateIndex()
	for i, s := range p.Steps {
		points := crashPoints
		if !clitest.Full() {
			points = sc.sample(i, s)
		}
		for _, pt := range points {
			// The gate step is done only once confirmed: a crash at any of
			// its points is still before the point of no return.
			out = append(out, crashCase{step: s.ID, point: pt, beforeGate: i <= gate})
		}
	}
	return out
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

// renameSwap is the demo's plan: the database cloned, encrypted and
// renamed in, the legacy assets moved to a new name.
func renameSwap() crashScenario {
	return crashScenario{
		suite:   "C",
		spec:    clitest.ShopSpec("rename-swap"),
		seed:    clitest.SeedShop,
		observe: observeWorld,
		sample: func(i int, s plan.Step) []string {
			if mattersMost[s.Action] {
				return crashPoints
			}
			return []string{crashPoints[i%len(crashPoints)]}
		},
		migrated: func(t *testing.T, before, after crashWorld) { CheckMigrated(t, before.World, after.World) },
	}
}

func TestCrashSuite(t *testing.T) { runCrashScenario(t, renameSwap()) }

// runCrashScenario kills sc's plan at each of its cases and recovers.
func runCrashScenario(t *testing.T, sc crashScenario) {
	sc.seed(t)
	probe := clitest.New(t, clitest.Bins.Envmig, sc.spec)
	probe.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
	cases := crashCases(sc, readPlan(t, filepath.Join(probe.Dir, "plan.json")))
	var tally crashTally
	for _, tc := range cases {
		recoveries := []string{"resume"}
		if tc.beforeGate {
			recoveries = append(recoveries, "rollback")
		}
		for _, rec := range recoveries {
			t.Run(fmt.Sprintf("%s/%s/%s", tc.step, tc.point, rec), func(t *testing.T) {
				// Counted when the case ends, however it ends: a t.Fatal
				// stops the case before any statement after the call.
				var k bool
				defer func() { count(&tally, k, t.Failed()) }()
				crashThenRecover(t, sc, tc, rec, &k)
			})
		}
	}
	clitest.Report(t, sc.suite, map[string]any{
		"crash points": len(cases), "runs killed": tally.killed, "recovered": tally.recovered, "failed": tally.failed,
		"point not reached (the step makes no such call)": tally.notReached,
	})
	if tally.killed == 0 && tally.failed == 0 {
		t.Fatal("the crash hook never fired")
	}
}

// crashTally counts the suite's runs.
type crashTally struct{ killed, recovered, failed, notReached int }

// count adds one case that ended, killed or not, failed or not.
func count(c *crashTally, killed, failed bool) {
	if killed {
		c.killed++
	}
	switch {
	case failed:
		c.failed++
	case killed:
		c.recovered++
	default:
		c.notReached++
	}
}

// crashThenRecover runs one case; *killed says whether the kill happened
// (set before anything can fail the case after it).
func crashThenRecover(t *testing.T, sc crashScenario, tc crashCase, recovery string, killed *bool) {
	cl := sc.seed(t)
	before := sc.observe(t, cl)
	c := clitest.New(t, clitest.Bins.Envmig, sc.spec)
	c.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
	c.Bin = clitest.Bins.Crash
	c.Env = []string{executor.CrashEnv + "=apply:" + tc.step + ":" + tc.point}
	r := c.Run("apply", "-auto-approve", "plan.json")
	c.Bin, c.Env = clitest.Bins.Envmig, nil
	if !r.Killed {
		if r.Code != 0 {
			t.Fatalf("apply without a crash failed:\n%s", r)
		}
		t.Logf("point not reached: the run finished without a kill at %s:%s", tc.step, tc.point)
		return
	}
	*killed = true
	c.Must(0, "status")
	switch recovery {
	case "rollback":
		rb := c.Must(0, "rollback", "-auto-approve")
		tookOver(t, rb)
		if diff := cmp.Diff(before, sc.observe(t, cl)); diff != "" {
			t.Fatalf("rollback did not restore the world (-before +after):\n%s", diff)
		}
		c.Must(2, "plan", "-detailed-exitcode")
	default:
		if !tc.beforeGate {
			r := c.Must(1, "rollback", "-auto-approve")
			if !strings.Contains(r.Stderr, "point of no return") {
				t.Fatalf("rollback after the gate must be refused saying why:\n%s", r)
			}
		}
		res := c.Must(0, "resume", "-auto-approve")
		if tc.beforeGate {
			tookOver(t, res)
		}
		sc.migrated(t, before, sc.observe(t, cl))
		c.Must(0, "plan", "-detailed-exitcode")
	}
	c.Calls()
}

// tookOver checks the first command after a kill says it took over the
// dead holder's lock.
func tookOver(t *testing.T, r clitest.Result) {
	t.Helper()
	if !strings.Contains(r.Stderr, "Took over the lock") {
		t.Fatalf("the recovery did not report taking over the killed run's lock:\n%s", r)
	}
}

// CheckMigrated is the invariant after a finished run of ShopSpec.
func CheckMigrated(t *testing.T, before, after clitest.World) {
	t.Helper()
	if got := after.Databases[demo.Database]; !strings.Contains(got, "available db.t3.large enc=true") {
		t.Fatalf("database after the run: %s", got)
	}
	if _, ok := after.Databases[demo.Database+"-envmig"]; ok {
		t.Fatal("the clone is left under its temporary name")
	}
	if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
		t.Fatalf("group not restored exactly:\n%s", diff)
	}
	if diff := cmp.Diff(before.Buckets[demo.UploadsBucket], after.Buckets[demo.UploadsBucket]); diff != "" {
		t.Fatalf("uploads changed:\n%s", diff)
	}
	if diff := cmp.Diff(before.Buckets[demo.LegacyAssets], after.Buckets[demo.Assets]); diff != "" {
		t.Fatalf("moved objects differ from the source:\n%s", diff)
	}
	if len(after.Snapshots) != 2 {
		t.Fatalf("snapshots = %v, want exactly the run's two (no duplicate)", after.Snapshots)
	}
}

// TestCrashDuringRollbackAndCleanup: the recoveries themselves are killed.
// A rollback killed while it undoes (the Nth time it reaches a crash point)
// is finished by the next rollback, with the world exactly as before; a
// cleanup killed after AWS accepted its Nth delete is finished by resume,
// leaving nothing of the run. Both take over the killed process's lock.
//
// A rollback killed after AWS accepted the clone's delete waits, when it
// is run again, a minute before it believes the clone gone (RDS may still
// list a deleted instance): those cases run in the full suite only.
func TestCrashDuringRollbackAndCleanup(t *testing.T) {
	rollbackPoints := []string{executor.PointAfterIntent + ":1", executor.PointAfterIntent + ":3"}
	if clitest.Full() {
		rollbackPoints = append(rollbackPoints, executor.PointAccepted+":1", executor.PointAccepted+":3")
	}
	for _, point := range rollbackPoints {
		t.Run("rollback/"+point, func(t *testing.T) {
			cl := clitest.SeedShop(t)
			before := clitest.Observe(t, cl)
			c := clitest.New(t, clitest.Bins.Envmig, clitest.ShopSpec("rename-swap"))
			c.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
			c.Bin, c.Env = clitest.Bins.Crash, []string{executor.CrashEnv + "=apply:verify.frozen:before-intent"}
			if r := c.Run("apply", "-auto-approve", "plan.json"); !r.Killed {
				t.Fatalf("the apply was not killed before verify.frozen:\n%s", r)
			}
			c.Env = []string{executor.CrashEnv + "=revert:*:" + point}
			r := c.Run("rollback", "-auto-approve")
			c.Bin, c.Env = clitest.Bins.Envmig, nil
			if !r.Killed {
				t.Fatalf("the rollback was not killed at %s:\n%s", point, r)
			}
			tookOver(t, c.Must(0, "rollback", "-auto-approve"))
			if diff := cmp.Diff(before, clitest.Observe(t, cl)); diff != "" {
				t.Fatalf("a rollback killed midway and finished did not restore the world (-before +after):\n%s", diff)
			}
			c.Must(2, "plan", "-detailed-exitcode")
			c.Calls()
		})
	}
	for _, n := range []string{"1", "3"} {
		t.Run("cleanup/accepted:"+n, func(t *testing.T) {
			cl := clitest.SeedShop(t)
			c := clitest.New(t, clitest.Bins.Envmig, clitest.ShopSpec("rename-swap"))
			c.Must(2, "plan", "-detailed-exitcode", "-out", "plan.json")
			c.Must(0, "apply", "-auto-approve", "plan.json")
			migrated := clitest.Observe(t, cl)
			c.Bin, c.Env = clitest.Bins.Crash, []string{executor.CrashEnv + "=apply:*:accepted:" + n}
			r := c.Run("cleanup", "-auto-approve")
			c.Bin, c.Env = clitest.Bins.Envmig, nil
			if !r.Killed {
				t.Fatalf("the cleanup was not killed at its accepted call %s:\n%s", n, r)
			}
			tookOver(t, c.Must(0, "resume", "-auto-approve"))
			after := clitest.Observe(t, cl)
			if _, ok := after.Databases[demo.Database+"-envmig-old"]; ok || len(after.Snapshots) != 0 {
				t.Fatalf("the resumed cleanup left the run's retired database or snapshots: %+v", after)
			}
			if _, ok := after.Buckets[demo.LegacyAssets]; ok {
				t.Fatal("the resumed cleanup left the legacy bucket")
			}
			if diff := cmp.Diff(migrated.Buckets[demo.Assets], after.Buckets[demo.Assets]); diff != "" {
				t.Fatalf("the cleanup changed the migrated bucket:\n%s", diff)
			}
			if got := after.Databases[demo.Database]; got != migrated.Databases[demo.Database] {
				t.Fatalf("the cleanup changed the migrated database: %s, was %s", got, migrated.Databases[demo.Database])
			}
			c.Must(0, "plan", "-detailed-exitcode")
			c.Calls()
		})
	}
}
