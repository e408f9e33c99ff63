package main

import (
	"context"
	"encoding/json"
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
	c.Calls()
	clitest.NoSecrets(t, c.Dir, []string{clitest.CanaryPassword}, r, md, apply, st)
}

func TestCloneSwapEndToEnd(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("clone-swap"))
	before := clitest.Observe(t, cl)
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
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
	c.Calls()
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

func TestSecondApplyIsRefusedWhileLocked(t *testing.T) {
	clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	holder := statefile.Open(filepath.Join(c.Dir, stateDir), "production")
	lock, err := holder.Lock(context.Background(), statefile.LockInfo{Operation: "apply", Run: "someone"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	start := time.Now()
	r := c.Must(exitLocked, "apply", "-auto-approve", "plan.json")
	if time.Since(start) > 5*time.Second {
		t.Fatalf("the refusal took %s", time.Since(start))
	}
	if !strings.Contains(r.Stderr, "pid "+itoa(os.Getpid())) || !strings.Contains(r.Stderr, lock.Info().ID) {
		t.Fatalf("the refusal does not name the holder:\n%s", r)
	}
	c.Must(exitLocked, "apply", "-auto-approve", "-lock-timeout", "300ms", "plan.json")
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
