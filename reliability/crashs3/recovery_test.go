package crashs3

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/demo"
	"github.com/envmig/envmig/reliability/crashrun"
)

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
			crashrun.TookOver(t, c.Must(0, "rollback", "-auto-approve"))
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
			crashrun.TookOver(t, c.Must(0, "resume", "-auto-approve"))
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
