package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/demo"
	"github.com/envmig/envmig/planner/plan"
)

// The crash suite kills envmig with SIGKILL (the crashtest build's hook) at
// the crash points of every step, then recovers with resume, and before the
// point of no return also with rollback, and checks the invariants against
// moto: after a rollback the world is exactly as before; after a resume it
// is migrated, with every object identical and the group restored exactly.
//
// By default each step is killed at one of its four points (rotating), so
// every point kind and every step is covered; ENVMIG_RELIABILITY=full runs
// every step at every point.

var crashPoints = []string{executor.PointBeforeIntent, executor.PointAfterIntent, executor.PointAccepted, executor.PointWaiting}

type crashCase struct {
	step, point string
	beforeGate  bool
}

func crashCases(t *testing.T, p *plan.Plan) []crashCase {
	full := os.Getenv("ENVMIG_RELIABILITY") == "full"
	var out []crashCase
	gate := p.GateIndex()
	for i, s := range p.Steps {
		points := crashPoints
		if !full {
			points = []string{crashPoints[i%len(crashPoints)]}
		}
		for _, pt := range points {
			// The gate step itself is done only once confirmed: a crash at
			// any of its points is still before the point of no return.
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

func TestCrashAtEveryStepThenRecover(t *testing.T) {
	seedShop(t)
	probe := newCLI(t, shopSpec("rename-swap"))
	probe.must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	cases := crashCases(t, readPlan(t, filepath.Join(probe.dir, "plan.json")))
	stats := map[string]int{}
	for _, tc := range cases {
		recoveries := []string{"resume"}
		if tc.beforeGate {
			recoveries = append(recoveries, "rollback")
		}
		for _, rec := range recoveries {
			name := fmt.Sprintf("%s/%s/%s", tc.step, tc.point, rec)
			t.Run(name, func(t *testing.T) {
				killed := crashThenRecover(t, tc, rec)
				if killed {
					stats["killed+"+rec]++
				} else {
					stats["not reached"]++
				}
			})
		}
	}
	b, _ := json.Marshal(stats)
	t.Logf("crash points: %d cases, outcomes %s", len(cases), b)
	if stats["killed+resume"] == 0 || stats["killed+rollback"] == 0 {
		t.Fatalf("the crash hook never fired: %v", stats)
	}
}

// crashThenRecover runs one case and reports whether the kill happened
// (some points do not exist for some steps: a check makes no mutating call).
func crashThenRecover(t *testing.T, tc crashCase, recovery string) bool {
	cl := seedShop(t)
	before := observeWorld(t, cl)
	c := newCLI(t, shopSpec("rename-swap"))
	c.must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	c.bin = crashBinary
	c.env = []string{executor.CrashEnv + "=apply:" + tc.step + ":" + tc.point}
	r := c.run("apply", "-auto-approve", "plan.json")
	c.bin, c.env = binary, nil
	if !r.killed {
		if r.code != 0 {
			t.Fatalf("apply without a crash failed:\n%s", r)
		}
		return false
	}
	st := c.run("status")
	if st.code != 0 {
		t.Fatalf("status after a crash:\n%s", st)
	}
	switch recovery {
	case "rollback":
		c.must(0, "rollback", "-auto-approve")
		if diff := cmp.Diff(before, observeWorld(t, cl)); diff != "" {
			t.Fatalf("rollback did not restore the world (-before +after):\n%s", diff)
		}
		// After a rollback the same migration can be planned again.
		c.must(exitChanges, "plan", "-detailed-exitcode")
	default:
		if !tc.beforeGate {
			r := c.must(exitError, "rollback", "-auto-approve")
			if !strings.Contains(r.stderr, "point of no return") {
				t.Fatalf("rollback after the gate must be refused saying why:\n%s", r)
			}
		}
		c.must(0, "resume", "-auto-approve")
		checkMigrated(t, before, observeWorld(t, cl))
		c.must(0, "plan", "-detailed-exitcode")
	}
	c.calls()
	return true
}

// checkMigrated is the invariant after a finished run of shopSpec.
func checkMigrated(t *testing.T, before, after world) {
	t.Helper()
	if got := after.Databases[demo.Database]; !strings.Contains(got, "available db.t3.large enc=true") {
		t.Fatalf("database after resume: %s", got)
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
	seen := map[string]bool{}
	for _, s := range after.Snapshots {
		if seen[s] {
			t.Fatalf("duplicate snapshot %s", s)
		}
		seen[s] = true
	}
}
