package faults

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/faultproxy"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/statefile"
)

// Suite F. envmig talks to the emulator through a proxy that injects, by
// seed, server errors (10%), throttling bursts (20%), connection resets
// (5%), slow responses, responses lost after the request was applied (5% of
// mutating calls) and NotFound right after a create (30%). A run converges
// when repeating what a user would do — resume after a failure, or plan and
// apply again after an automatic rollback — ends migrated. Every run must
// converge with no duplicate resource; the suite also reports the extra
// requests and the wall time against the fault-free run.
//
// Permanent errors (access denied, invalid state, quota exceeded) must end
// in a clear message and a resumable journal.

func faultConfig(seed int64) faultproxy.Config {
	return faultproxy.Config{Seed: seed, ServerError: 0.10, ThrottleBurst: 0.20 / 3, BurstLength: 3, Reset: 0.05,
		Slow: 0.01, SlowDelay: 300 * time.Millisecond, LostResponse: 0.05, NotFoundAfterCreate: 0.30}
}

// converge migrates the shop through the proxy and returns the rounds it
// took (0 when it did not converge).
func converge(t *testing.T, c *clitest.CLI, maxRounds int) int {
	t.Helper()
	run := func(args ...string) clitest.Result {
		r := c.Run(args...)
		line, _, _ := strings.Cut(strings.TrimPrefix(r.Stderr, "Error: "), "\n")
		t.Logf("envmig %s: exit %d %s", strings.Join(args, " "), r.Code, line)
		return r
	}
	needPlan := true
	for round := 1; round <= maxRounds; round++ {
		if needPlan {
			r := run("plan", "-out", "plan.json")
			if r.Code != 0 {
				continue // a read failed past the SDK's retries: plan again
			}
			r = run("apply", "-auto-approve", "plan.json")
			if r.Code == 0 {
				return round
			}
			needPlan = strings.Contains(r.Stderr, "every completed step was undone")
			continue
		}
		st := run("status", "-json")
		var journal struct{ Status string }
		switch {
		case strings.Contains(st.Stdout, "No runs recorded"):
			// The apply failed reading AWS before it journaled anything:
			// nothing was changed, and it can only be planned again.
			needPlan = true
		case json.Unmarshal([]byte(st.Stdout), &journal) != nil:
			t.Fatalf("status -json is not the journal:\n%s", st)
		case journal.Status == statefile.RunRolledBack:
			needPlan = true
		case journal.Status == statefile.RunApplied:
			return round
		default:
			if r := run("resume", "-auto-approve"); r.Code == 0 {
				return round
			} else if strings.Contains(r.Stderr, "every completed step was undone") {
				needPlan = true
			}
		}
	}
	return 0
}

func TestFaultSuite(t *testing.T) {
	seeds := 3
	if clitest.Full() {
		seeds = 20
	}
	// The fault-free baseline, through the proxy with no faults.
	cl := clitest.SeedShop(t)
	before := clitest.Observe(t, cl)
	base, err := faultproxy.Start(testaws.Endpoint(), faultproxy.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c := clitest.New(t, clitest.Bins.Envmig, clitest.ShopSpec("rename-swap"))
	c.Env = []string{"AWS_ENDPOINT_URL=" + base.URL, "ENVMIG_MAX_BACKOFF=100ms"}
	start := time.Now()
	if converge(t, c, 1) != 1 {
		t.Fatal("the fault-free run did not succeed at once")
	}
	baseTime, baseRequests := time.Since(start), base.Stats().Requests
	base.Close()
	clitest.CheckShopMigrated(t, before, clitest.Observe(t, cl))
	c.Calls()

	converged, rounds, duplicates := 0, 0, 0
	var requests, faults int
	var elapsed time.Duration
	for seed := int64(1); seed <= int64(seeds); seed++ {
		t.Run(fmt.Sprintf("seed-%d", seed), func(t *testing.T) {
			cl := clitest.SeedShop(t)
			before := clitest.Observe(t, cl)
			px, err := faultproxy.Start(testaws.Endpoint(), faultConfig(seed))
			if err != nil {
				t.Fatal(err)
			}
			defer px.Close()
			c := clitest.New(t, clitest.Bins.Envmig, clitest.ShopSpec("rename-swap"))
			c.Env = []string{"AWS_ENDPOINT_URL=" + px.URL, "ENVMIG_MAX_BACKOFF=100ms"}
			start := time.Now()
			n := converge(t, c, 15)
			elapsed += time.Since(start)
			s := px.Stats()
			requests += s.Requests
			faults += s.ServerErrors + s.Throttled + s.Resets + s.Slow + s.Lost + s.NotFound
			after := clitest.Observe(t, cl)
			duplicates += extra(after)
			if n == 0 {
				t.Fatalf("did not converge in 15 rounds; proxy %+v", s)
			}
			clitest.CheckShopMigrated(t, before, after)
			converged++
			rounds += n
			c.Calls()
		})
	}
	figures := map[string]any{
		"runs": seeds, "converged": converged, "duplicates": duplicates,
		"faults injected":               faults,
		"requests vs fault-free run":    fmt.Sprintf("%.2f×", float64(requests)/float64(max(1, seeds*baseRequests))),
		"wall time vs fault-free run":   fmt.Sprintf("%.2f×", elapsed.Seconds()/float64(seeds)/baseTime.Seconds()),
		"rounds (apply/resume) per run": fmt.Sprintf("%.1f", float64(rounds)/float64(max(1, converged))),
	}
	clitest.Report(t, "F", figures)
}

func TestPermanentErrorsEndClearlyAndResumably(t *testing.T) {
	cases := map[string]struct {
		op, code, says string
	}{
		"access denied":    {"rds:RestoreDBInstanceFromDBSnapshot", "AccessDenied", "AccessDenied"},
		"invalid state":    {"rds:CreateDBSnapshot", "InvalidDBInstanceState", "InvalidDBInstanceState"},
		"quota exceeded":   {"rds:RestoreDBInstanceFromDBSnapshot", "InstanceQuotaExceeded", "InstanceQuotaExceeded"},
		"standby refused":  {"autoscaling:EnterStandby", "ValidationError", "ValidationError"},
		"bucket forbidden": {"s3:CreateBucket", "AccessDenied", "AccessDenied"},
	}
	ok := 0
	for name, tc := range cases {
		if t.Run(name, func(t *testing.T) {
			cl := clitest.SeedShop(t)
			before := clitest.Observe(t, cl)
			px, err := faultproxy.Start(testaws.Endpoint(), faultproxy.Config{Permanent: map[string]string{tc.op: tc.code}})
			if err != nil {
				t.Fatal(err)
			}
			defer px.Close()
			c := clitest.New(t, clitest.Bins.Envmig, clitest.ShopSpec("rename-swap"))
			c.Env = []string{"AWS_ENDPOINT_URL=" + px.URL}
			c.Must(0, "plan", "-out", "plan.json")
			r := c.Must(1, "apply", "-auto-approve", "plan.json")
			if !strings.Contains(r.Stderr, tc.says) || !strings.Contains(r.Stderr, "failed") {
				t.Fatalf("the error is not clear:\n%s", r)
			}
			// Before the gate the run was rolled back by itself: the world is as before.
			if !strings.Contains(r.Stderr, "every completed step was undone") {
				t.Fatalf("not rolled back:\n%s", r)
			}
			c.Env = nil
			st := c.Must(0, "status")
			if !strings.Contains(st.Stdout, "rolled-back") {
				t.Fatalf("status:\n%s", st)
			}
			after := clitest.Observe(t, cl)
			if fmt.Sprint(before) != fmt.Sprint(after) {
				t.Fatalf("the world changed:\nbefore %v\nafter  %v", before, after)
			}
			// Once the permission is fixed, the same spec migrates.
			c.Must(0, "plan", "-out", "plan.json")
			c.Must(0, "apply", "-auto-approve", "plan.json")
			c.Calls()
		}) {
			ok++
		}
	}
	clitest.Report(t, "F-permanent", map[string]any{"cases": len(cases), "clear message, rolled back, then migrated": ok})
}

// extra counts what a migrated shop has beyond what it should: snapshots
// past the run's two, instances past the migrated one and the retired
// original, buckets past the three.
func extra(w clitest.World) int {
	n := max(0, len(w.Snapshots)-2) + max(0, len(w.Databases)-2) + max(0, len(w.Buckets)-3)
	return n
}
