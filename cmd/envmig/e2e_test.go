package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/demo"
	"github.com/envmig/envmig/statefile"
)

func TestRenameSwapEndToEnd(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	before := clitest.Observe(t, cl)

	c.Must(0, "validate")
	r := c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	for _, want := range []string{"POINT OF NO RETURN", "storage_encrypted = false -> true # forces migration", "Plan: 2 to migrate, 0 to update, 2 unchanged."} {
		if !strings.Contains(r.Stdout, want) {
			t.Fatalf("plan output lacks %q:\n%s", want, r.Stdout)
		}
	}
	if m := clitest.Mutating(c.Calls()); len(m) != 0 {
		t.Fatalf("plan made mutating calls: %v", m)
	}
	policy := clitest.PlanPolicy(t, c, "plan.json")
	md := c.Must(0, "show", "-markdown", "plan.json")
	if !strings.HasPrefix(md.Stdout, "<!-- envmig-plan environment=production digest=sha256:") || len(md.Stdout) > 60000 {
		t.Fatalf("markdown:\n%s", md.Stdout)
	}
	c.Calls()

	apply := c.Must(0, "apply", "plan.json", "-auto-approve")
	if !strings.Contains(apply.Stdout, "Apply complete!") {
		t.Fatalf("apply:\n%s", apply)
	}
	after := clitest.Observe(t, cl)
	if got := after.Databases["shop-prod-db"]; !strings.Contains(got, "db.t3.large enc=true storage=50") || !strings.Contains(got, "cost-center=shop-42") || !strings.Contains(got, "owner=platform") {
		t.Fatalf("migrated database = %s", got)
	}
	if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
		t.Fatalf("the group is not restored exactly (-before +after):\n%s", diff)
	}
	if diff := cmp.Diff(before.Buckets["shop-prod-uploads"], after.Buckets["shop-prod-uploads"]); diff != "" {
		t.Fatalf("the untouched bucket changed:\n%s", diff)
	}
	if diff := cmp.Diff(before.Buckets[demo.LegacyAssets], after.Buckets[demo.Assets]); diff != "" {
		t.Fatalf("the moved bucket differs from its source (-source +moved):\n%s", diff)
	}

	c.Must(0, "plan", "-detailed-exitcode")
	st := c.Must(0, "status")
	if !strings.Contains(st.Stdout, "applied") || !strings.Contains(st.Stdout, "shop-prod-db-envmig-old") {
		t.Fatalf("status:\n%s", st.Stdout)
	}
	c.Must(0, "cleanup", "-auto-approve")
	final := clitest.Observe(t, cl)
	if _, ok := final.Databases["shop-prod-db-envmig-old"]; ok || len(final.Snapshots) != 0 {
		t.Fatalf("cleanup left the run behind: %+v", final)
	}
	if _, ok := final.Buckets[demo.LegacyAssets]; ok {
		t.Fatal("cleanup left the legacy bucket")
	}
	c.Must(0, "plan", "-detailed-exitcode")
	// After the cleanup, status still shows the migration it cleaned up.
	lineage := strings.Fields(strings.SplitN(st.Stdout, "run ", 2)[1])[0]
	if st := c.Must(0, "status"); !strings.Contains(st.Stdout, "Earlier runs") || !strings.Contains(st.Stdout, "run "+lineage+" (apply) applied") {
		t.Fatalf("status after cleanup does not show the migration %s:\n%s", lineage, st.Stdout)
	}
	// Everything above, cleanup included, ran with what the reviewed plan's
	// own policy allows.
	clitest.AllowedByPlanPolicy(t, c, policy)
	clitest.NoSecrets(t, c.Dir, []string{clitest.CanaryPassword}, r, md, apply, st)
}

func TestCloneSwapEndToEnd(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("clone-swap"))
	before := clitest.Observe(t, cl)
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	policy := clitest.PlanPolicy(t, c, "plan.json")
	c.Must(0, "apply", "-auto-approve", "plan.json")
	after := clitest.Observe(t, cl)
	if diff := cmp.Diff(before.Buckets["shop-prod-uploads"], after.Buckets["shop-prod-uploads"]); diff != "" {
		t.Fatalf("clone-swap changed the uploads bucket:\n%s", diff)
	}
	if _, ok := after.Buckets["shop-prod-uploads-envmig"]; ok {
		t.Fatal("the temporary bucket was left behind")
	}
	if _, ok := after.Databases["shop-prod-db-envmig"]; ok {
		t.Fatal("the temporary database was left behind")
	}
	if got := after.Databases["shop-prod-db"]; !strings.Contains(got, "db.t3.large enc=true") {
		t.Fatalf("database = %s", got)
	}
	if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
		t.Fatalf("group not restored:\n%s", diff)
	}
	c.Must(0, "plan", "-detailed-exitcode")
	c.Must(0, "cleanup", "-auto-approve")
	clitest.AllowedByPlanPolicy(t, c, policy)
}

func TestStalePlanIsRefusedAndChangesNothing(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	if _, err := cl.RDS.ModifyDBInstance(context.Background(), &rds.ModifyDBInstanceInput{
		DBInstanceIdentifier: aws.String(demo.Database), DBInstanceClass: aws.String("db.t3.small"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	before := clitest.Observe(t, cl)
	c.Calls()
	r := c.Must(exitStale, "apply", "-auto-approve", "plan.json")
	if !strings.Contains(r.Stderr, "shop-prod-db: instance_class was db.t3.medium, now db.t3.small") {
		t.Fatalf("stale message does not say what changed:\n%s", r)
	}
	if m := clitest.Mutating(c.Calls()); len(m) != 0 {
		t.Fatalf("a stale plan made mutating calls: %v", m)
	}
	if diff := cmp.Diff(before, clitest.Observe(t, cl)); diff != "" {
		t.Fatal(diff)
	}
}

func TestEditedPlanIsRefused(t *testing.T) {
	clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	path := filepath.Join(c.Dir, "plan.json")
	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(b), "db.t3.large", "db.r6g.large", 1)), 0o600)
	c.Calls()
	r := c.Must(exitError, "apply", "-auto-approve", "plan.json")
	if !strings.Contains(r.Stderr, "modified after it was made") {
		t.Fatalf("%s", r)
	}
	if m := clitest.Mutating(c.Calls()); len(m) != 0 {
		t.Fatalf("mutating calls: %v", m)
	}
}

func TestApplyWithoutATerminalNeedsAutoApprove(t *testing.T) {
	clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	c.Calls()
	r := c.Must(exitDeclined, "apply", "plan.json")
	if !strings.Contains(r.Stderr, "-auto-approve") {
		t.Fatalf("%s", r)
	}
	if len(c.Calls()) != 0 {
		t.Fatal("a refused apply must not even read AWS")
	}
	if _, err := os.Stat(filepath.Join(c.Dir, stateDir)); err == nil {
		t.Fatal("a refused apply must not create the state directory")
	}
}

// TestSecondApplyIsRefusedWhileLocked: while a process holds the journal's
// lock, a second apply exits 3 within a second naming the holder (pid,
// host, operation, since), whatever the journal holds, and changes nothing;
// status reads the journal without the lock; force-unlock of a live holder
// needs -force (or a yes).
func TestSecondApplyIsRefusedWhileLocked(t *testing.T) {
	clitest.SeedShop(t)
	host, _ := os.Hostname()
	cases := map[string]func(t *testing.T, c *clitest.CLI){
		"no journal yet": func(*testing.T, *clitest.CLI) {},
		"an unfinished run": func(t *testing.T, c *clitest.CLI) {
			journalOf(t, c, readPlanFile(t, filepath.Join(c.Dir, "plan.json")))
		},
		"a finished run": func(t *testing.T, c *clitest.CLI) {
			p := readPlanFile(t, filepath.Join(c.Dir, "plan.json"))
			st := statefile.NewState(p, "apply", time.Now().UTC())
			st.Status = statefile.RunApplied
			for i := range st.Steps {
				st.Steps[i].Status = statefile.StepDone
			}
			if err := statefile.Open(filepath.Join(c.Dir, stateDir), p.Environment).Save(st); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, journal := range cases {
		t.Run(name, func(t *testing.T) {
			c := newCLI(t, clitest.ShopSpec("rename-swap"))
			c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
			journal(t, c)
			holder := statefile.Open(filepath.Join(c.Dir, stateDir), "production")
			lock, err := holder.Lock(context.Background(), statefile.CurrentHolder("apply", "someone"), 0)
			if err != nil {
				t.Fatal(err)
			}
			defer lock.Unlock()
			info := lock.Info()
			before := clitest.DirDigest(t, filepath.Join(c.Dir, stateDir))
			c.Calls()
			secondApplyRefused(t, c, info.PID, host, info)
			if m := clitest.Mutating(c.Calls()); len(m) != 0 {
				t.Fatalf("the refused apply made mutating calls: %v", m)
			}
			if clitest.DirDigest(t, filepath.Join(c.Dir, stateDir)) != before {
				t.Fatal("the refused apply changed the state directory")
			}
			c.Must(exitLocked, "apply", "-auto-approve", "-lock-timeout", "300ms", "plan.json")

			// force-unlock of a live holder: refused without a terminal
			// unless -force, which removes it.
			r := c.Must(exitDeclined, "force-unlock", info.ID)
			if !strings.Contains(r.Stderr, "live holder") || !strings.Contains(r.Stderr, "-force") {
				t.Fatalf("force-unlock of a live holder does not say why it refuses:\n%s", r)
			}
			if _, held, err := holder.LockInfo(); err != nil || !held {
				t.Fatalf("a refused force-unlock removed the lock (held=%t, %v)", held, err)
			}
			r = c.Must(0, "force-unlock", "-force", info.ID)
			if !strings.Contains(r.Stdout, "Removed the lock") || !strings.Contains(r.Stdout, "may still be running") {
				t.Fatalf("force-unlock -force:\n%s", r)
			}
			if got, held, err := holder.LockInfo(); err != nil || held || got != nil {
				t.Fatalf("after force-unlock -force the lock is still recorded: %+v held=%t %v", got, held, err)
			}
		})
	}
}

// secondApplyRefused runs apply while pid holds the lock and checks it is
// refused at once (exit 3) naming the holder.
func secondApplyRefused(t *testing.T, c *clitest.CLI, pid int, host string, info statefile.LockInfo) {
	t.Helper()
	for _, args := range [][]string{{"apply", "-auto-approve", "plan.json"}, {"apply", "-auto-approve"}} {
		start := time.Now()
		r := c.Must(exitLocked, args...)
		took := time.Since(start)
		t.Logf("envmig %s refused in %s", strings.Join(args, " "), took.Round(time.Millisecond))
		if took > time.Second {
			t.Errorf("envmig %s: the refusal took %s, want under a second", strings.Join(args, " "), took)
		}
		holderNamed(t, r, pid, host, info)
	}
}

func holderNamed(t *testing.T, r clitest.Result, pid int, host string, info statefile.LockInfo) {
	t.Helper()
	for _, want := range []string{"locked by apply", fmt.Sprintf("pid %d on %s", pid, host), "since " + info.Since.UTC().Format("2006-01-02 15:04:05 UTC"), info.ID} {
		if !strings.Contains(r.Stderr, want) {
			t.Fatalf("the refusal does not name the holder (%q):\n%s", want, r)
		}
	}
}

// TestTwoAppliesAtOnce: a real apply is held in its check command, in the
// middle of its run; a second apply of the same plan exits 3 at once naming
// it, status shows the run without disturbing it, and the first apply
// finishes.
func TestTwoAppliesAtOnce(t *testing.T) {
	clitest.SeedShop(t)
	dir := t.TempDir()
	started, release := filepath.Join(dir, "started"), filepath.Join(dir, "release")
	t.Cleanup(func() { os.WriteFile(release, nil, 0o600) }) // never leave the check waiting
	const anchor = `      command "clone-is-up" {`
	hold := "      command \"hold\" {\n        run = \"touch '" + started + "'; while [ ! -e '" + release + "' ]; do sleep 0.05; done\"\n      }\n"
	spec := clitest.ShopSpec("rename-swap")
	if !strings.Contains(spec, anchor) {
		t.Fatal("the demo spec lost its check")
	}
	c := newCLI(t, strings.Replace(spec, anchor, hold+anchor, 1))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	first := c.Start("apply", "-auto-approve", "plan.json")
	if !waitForFile(started, 3*time.Minute) {
		first.Wait()
		t.Fatal("the first apply never reached its check")
	}
	holder := statefile.Open(filepath.Join(c.Dir, stateDir), "production")
	info, held, err := holder.LockInfo()
	if err != nil || !held || info == nil || info.PID != first.Pid() {
		t.Fatalf("the first apply (pid %d) does not hold the lock: %+v held=%t %v", first.Pid(), info, held, err)
	}
	host, _ := os.Hostname()
	secondApplyRefused(t, c, first.Pid(), host, *info)

	st := c.Must(0, "status")
	if !strings.Contains(st.Stdout, fmt.Sprintf("Locked by apply (pid %d", first.Pid())) {
		t.Fatalf("status does not show the holder:\n%s", st)
	}
	if again, held, _ := holder.LockInfo(); !held || again.ID != info.ID {
		t.Fatal("status took or moved the lock")
	}
	os.WriteFile(release, nil, 0o600)
	if r := first.Wait(); r.Code != 0 {
		t.Fatalf("the first apply did not finish after the second was refused:\n%s", r)
	}
	c.Calls()
}

// waitForFile polls for path until it exists or d passes.
func waitForFile(path string, d time.Duration) bool {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return true
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false
}

func TestPlanJSONIsThePlanFile(t *testing.T) {
	clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	r := c.Must(0, "plan", "-json")
	var v map[string]any
	if err := json.Unmarshal([]byte(r.Stdout), &v); err != nil {
		t.Fatalf("plan -json is not JSON: %v\n%s", err, r.Stdout)
	}
	if v["format_version"] == nil || v["digest"] == nil {
		t.Fatalf("plan -json lacks the plan file's fields: %v", v)
	}
	c.Must(0, "plan", "-out", "plan.json")
	shown := c.Must(0, "show", "-json", "plan.json")
	sch, err := jsonschema.NewCompiler().Compile("../../docs/plan.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(shown.Stdout))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("show -json does not validate against docs/plan.schema.json: %v", err)
	}
	c.Calls()
}

func itoa(n int) string { return strconv.Itoa(n) }
