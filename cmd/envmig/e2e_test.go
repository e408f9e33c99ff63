package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"
	"github.com/google/go-cmp/cmp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/demo"
	"github.com/envmig/envmig/internal/iampolicy"
	"github.com/envmig/envmig/statefile"
)

// shopSpec migrates the demo environment: the database is encrypted and
// resized, the legacy assets bucket moves to a new name.
func shopSpec(strategy string) string {
	return `variable "app" {
  type    = string
  default = "shop"
}

aws {
  region              = "us-east-1"
  allowed_account_ids = ["123456789012"]
}

environment "production" {
  database "main" {
    identifier        = "${var.app}-prod-db"
    engine            = "postgres"
    engine_version    = "16.4"
    instance_class    = "db.t3.large"
    allocated_storage = 50
    storage_encrypted = true
    tags              = { owner = "platform", "cost-center" = "shop-42" }
  }

  bucket "uploads" {
    name       = "${var.app}-prod-uploads"
    versioning = true
  }

  bucket "assets" {
    name       = "${var.app}-prod-assets"
    moved_from = "${var.app}-prod-assets-legacy"
  }

  service "web" {
    autoscaling_group = "${var.app}-prod-web"
  }

  migration {
    strategy = "` + strategy + `"
    verify {
      objects = "checksum"
      command "clone-named" {
        run = "test -n \"$ENVMIG_DATABASE_MAIN\""
      }
    }
  }
}
`
}

var (
	actionsMu sync.Mutex
	actions   = map[string]bool{}
)

// recordActions remembers every IAM action the binary needed.
func recordActions(calls []awsclient.Call) {
	actionsMu.Lock()
	defer actionsMu.Unlock()
	for _, c := range calls {
		for _, a := range iampolicy.Actions(c.Service, c.Operation) {
			actions[a] = true
		}
	}
}

func TestRenameSwapEndToEnd(t *testing.T) {
	cl := seedShop(t)
	c := newCLI(t, shopSpec("rename-swap"))
	before := observeWorld(t, cl)

	c.must(0, "validate")
	r := c.must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	for _, want := range []string{"POINT OF NO RETURN", "storage_encrypted = false -> true # forces migration", "Plan: 2 to migrate, 0 to update, 2 unchanged."} {
		if !strings.Contains(r.stdout, want) {
			t.Fatalf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}
	if m := mutating(c.calls()); len(m) != 0 {
		t.Fatalf("plan made mutating calls: %v", m)
	}
	md := c.must(0, "show", "-markdown", "plan.json")
	if !strings.HasPrefix(md.stdout, "<!-- envmig-plan environment=production digest=sha256:") || len(md.stdout) > 60000 {
		t.Fatalf("markdown:\n%s", md.stdout)
	}
	c.calls()

	apply := c.must(0, "apply", "plan.json", "-auto-approve")
	if !strings.Contains(apply.stdout, "Apply complete!") {
		t.Fatalf("apply:\n%s", apply)
	}
	after := observeWorld(t, cl)
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

	c.must(0, "plan", "-detailed-exitcode")
	st := c.must(0, "status")
	if !strings.Contains(st.stdout, "applied") || !strings.Contains(st.stdout, "shop-prod-db-envmig-old") {
		t.Fatalf("status:\n%s", st.stdout)
	}
	c.must(0, "cleanup", "-auto-approve")
	final := observeWorld(t, cl)
	if _, ok := final.Databases["shop-prod-db-envmig-old"]; ok || len(final.Snapshots) != 0 {
		t.Fatalf("cleanup left the run behind: %+v", final)
	}
	if _, ok := final.Buckets[demo.LegacyAssets]; ok {
		t.Fatal("cleanup left the legacy bucket")
	}
	c.must(0, "plan", "-detailed-exitcode")
	c.calls()
	noCanary(t, c.dir, r, md, apply, st)
}

func TestCloneSwapEndToEnd(t *testing.T) {
	cl := seedShop(t)
	c := newCLI(t, shopSpec("clone-swap"))
	before := observeWorld(t, cl)
	c.must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	c.must(0, "apply", "-auto-approve", "plan.json")
	after := observeWorld(t, cl)
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
	c.must(0, "plan", "-detailed-exitcode")
	c.must(0, "cleanup", "-auto-approve")
	c.calls()
}

func TestStalePlanIsRefusedAndChangesNothing(t *testing.T) {
	cl := seedShop(t)
	c := newCLI(t, shopSpec("rename-swap"))
	c.must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	if _, err := cl.RDS.ModifyDBInstance(context.Background(), &rds.ModifyDBInstanceInput{
		DBInstanceIdentifier: aws.String(demo.Database), DBInstanceClass: aws.String("db.t3.small"), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	before := observeWorld(t, cl)
	c.calls()
	r := c.must(exitStale, "apply", "-auto-approve", "plan.json")
	if !strings.Contains(r.stderr, "shop-prod-db: instance_class was db.t3.medium, now db.t3.small") {
		t.Fatalf("stale message does not say what changed:\n%s", r)
	}
	if m := mutating(c.calls()); len(m) != 0 {
		t.Fatalf("a stale plan made mutating calls: %v", m)
	}
	if diff := cmp.Diff(before, observeWorld(t, cl)); diff != "" {
		t.Fatal(diff)
	}
}

func TestEditedPlanIsRefused(t *testing.T) {
	seedShop(t)
	c := newCLI(t, shopSpec("rename-swap"))
	c.must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	path := filepath.Join(c.dir, "plan.json")
	b, _ := os.ReadFile(path)
	os.WriteFile(path, []byte(strings.Replace(string(b), "db.t3.large", "db.r6g.large", 1)), 0o600)
	c.calls()
	r := c.must(exitError, "apply", "-auto-approve", "plan.json")
	if !strings.Contains(r.stderr, "modified after it was made") {
		t.Fatalf("%s", r)
	}
	if m := mutating(c.calls()); len(m) != 0 {
		t.Fatalf("mutating calls: %v", m)
	}
}

func TestApplyWithoutATerminalNeedsAutoApprove(t *testing.T) {
	seedShop(t)
	c := newCLI(t, shopSpec("rename-swap"))
	c.must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	c.calls()
	r := c.must(exitDeclined, "apply", "plan.json")
	if !strings.Contains(r.stderr, "-auto-approve") {
		t.Fatalf("%s", r)
	}
	if len(c.calls()) != 0 {
		t.Fatal("a refused apply must not even read AWS")
	}
	if _, err := os.Stat(filepath.Join(c.dir, stateDir)); err == nil {
		t.Fatal("a refused apply must not create the state directory")
	}
}

func TestSecondApplyIsRefusedWhileLocked(t *testing.T) {
	seedShop(t)
	c := newCLI(t, shopSpec("rename-swap"))
	c.must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	holder := statefile.Open(filepath.Join(c.dir, stateDir), "production")
	lock, err := holder.Lock(context.Background(), statefile.LockInfo{Operation: "apply", Run: "someone"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	start := time.Now()
	r := c.must(exitLocked, "apply", "-auto-approve", "plan.json")
	if time.Since(start) > 5*time.Second {
		t.Fatalf("the refusal took %s", time.Since(start))
	}
	if !strings.Contains(r.stderr, "pid "+itoa(os.Getpid())) || !strings.Contains(r.stderr, lock.Info().ID) {
		t.Fatalf("the refusal does not name the holder:\n%s", r)
	}
	c.must(exitLocked, "apply", "-auto-approve", "-lock-timeout", "300ms", "plan.json")
}

func TestPlanJSONIsThePlanFile(t *testing.T) {
	seedShop(t)
	c := newCLI(t, shopSpec("rename-swap"))
	r := c.must(0, "plan", "-json")
	var v map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		t.Fatalf("plan -json is not JSON: %v\n%s", err, r.stdout)
	}
	if v["format_version"] == nil || v["digest"] == nil {
		t.Fatalf("plan -json lacks the plan file's fields: %v", v)
	}
	c.must(0, "plan", "-out", "plan.json")
	shown := c.must(0, "show", "-json", "plan.json")
	sch, err := jsonschema.NewCompiler().Compile("../../docs/plan.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(shown.stdout))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("show -json does not validate against docs/plan.schema.json: %v", err)
	}
	c.calls()
}

func itoa(n int) string { return strconv.Itoa(n) }

// policyMissing returns the IAM actions the tests needed that envmig's
// policy does not grant: TestMain fails the package when there is one.
func policyMissing() []string {
	actionsMu.Lock()
	defer actionsMu.Unlock()
	var all []string
	for a := range actions {
		all = append(all, a)
	}
	return iampolicy.For(iampolicy.Scope{Databases: []string{"*"}, Buckets: []string{"*"}, Groups: []string{"*"}}).Missing(all)
}
