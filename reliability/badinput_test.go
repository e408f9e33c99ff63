package reliability

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/rds"

	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/demo"
	"github.com/envmig/envmig/internal/testaws"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

// Suite B. Every bad input gets a specific message and exit code, makes
// no mutating AWS call (the binary's trace is checked) and leaves the state
// directory byte-identical.

// badCase sets up a working directory and runs one command in it.
type badCase struct {
	spec  string                             // main.envmig.hcl ("" = keep the valid one)
	setup func(t *testing.T, c *clitest.CLI) // optional
	args  []string
	code  int
	want  string // in stderr (or stdout)
	// after, when set, checks what the case must not have done besides
	// AWS calls and the journal (a check command that ran, say).
	after func(t *testing.T, c *clitest.CLI)
}

// spec variants of the valid shop spec.
func shopWith(old, new string) string {
	s := clitest.ShopSpec("rename-swap")
	if !strings.Contains(s, old) {
		panic("shopWith: no " + old)
	}
	return strings.Replace(s, old, new, 1)
}

const validPlan = "plan.json"

// fixtures are made once: a valid plan, and the plan and journal of a run
// that was applied.
type fixtures struct {
	plan        []byte
	appliedPlan []byte
	appliedDir  string
}

func makeFixtures(t *testing.T) *fixtures {
	t.Helper()
	clitest.SeedShop(t)
	done := clitest.New(t, clitest.Bins.Envmig, clitest.ShopSpec("rename-swap"))
	done.Must(2, "plan", "-detailed-exitcode", "-out", validPlan)
	applied, _ := os.ReadFile(filepath.Join(done.Dir, validPlan))
	done.Must(0, "apply", "-auto-approve", validPlan)
	done.Calls()
	// A fresh world for the cases, and a fresh plan for it.
	clitest.SeedShop(t)
	fresh := clitest.New(t, clitest.Bins.Envmig, clitest.ShopSpec("rename-swap"))
	fresh.Must(2, "plan", "-detailed-exitcode", "-out", validPlan)
	fresh.Calls()
	p, _ := os.ReadFile(filepath.Join(fresh.Dir, validPlan))
	return &fixtures{plan: p, appliedPlan: applied, appliedDir: done.Dir}
}

// resealed writes the valid plan changed by edit, with a recomputed digest
// (a forgery a digest alone cannot catch).
func (f *fixtures) resealed(t *testing.T, c *clitest.CLI, edit func(p *plan.Plan)) {
	t.Helper()
	p, err := plan.Decode(bytes.NewReader(f.plan))
	if err != nil {
		t.Fatal(err)
	}
	edit(p)
	var buf bytes.Buffer
	if err := plan.Encode(&buf, p); err != nil {
		t.Fatal(err)
	}
	write(t, c, validPlan, buf.Bytes(), 0o600)
}

func write(t *testing.T, c *clitest.CLI, name string, b []byte, mode os.FileMode) {
	t.Helper()
	path := filepath.Join(c.Dir, name)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(path, mode); err != nil {
		t.Fatal(err)
	}
}

// journal writes a valid state of an interrupted run, then lets corrupt
// change its bytes.
func (f *fixtures) journal(t *testing.T, c *clitest.CLI, corrupt func(b []byte) []byte) {
	t.Helper()
	p, err := plan.Decode(bytes.NewReader(f.plan))
	if err != nil {
		t.Fatal(err)
	}
	st := statefile.NewState(p, "apply", time.Now().UTC())
	st.Steps[0].Status = statefile.StepDone
	dir := filepath.Join(c.Dir, ".envmig")
	if err := statefile.Open(dir, "production").Save(st); err != nil {
		t.Fatal(err)
	}
	if corrupt != nil {
		path := filepath.Join(dir, "production.state.json")
		b, _ := os.ReadFile(path)
		write(t, c, ".envmig/production.state.json", corrupt(b), 0o600)
	}
}

func badCases(f *fixtures) map[string]badCase {
	withPlan := func(edit func([]byte) []byte) func(t *testing.T, c *clitest.CLI) {
		return func(t *testing.T, c *clitest.CLI) { write(t, c, validPlan, edit(f.plan), 0o600) }
	}
	resealed := func(edit func(p *plan.Plan)) func(t *testing.T, c *clitest.CLI) {
		return func(t *testing.T, c *clitest.CLI) { f.resealed(t, c, edit) }
	}
	journal := func(corrupt func([]byte) []byte) func(t *testing.T, c *clitest.CLI) {
		return func(t *testing.T, c *clitest.CLI) { f.journal(t, c, corrupt) }
	}
	same := func(b []byte) []byte { return b }
	apply := []string{"apply", "-auto-approve", validPlan}
	cases := map[string]badCase{
		// The spec.
		"misspelt attribute":         {spec: shopWith("engine_version", "engine_verison"), args: []string{"plan"}, code: 1, want: fmt.Sprintf("main.envmig.hcl line %d", lineOf(clitest.ShopSpec("rename-swap"), "engine_version"))},
		"unknown block":              {spec: shopWith(`service "web"`, `servce "web"`), args: []string{"plan"}, code: 1, want: "Unsupported block type"},
		"identifier with underscore": {spec: shopWith(`"${var.app}-prod-db"`, `"shop_prod_db"`), args: []string{"validate"}, code: 1, want: "not a letter, digit or hyphen"},
		"identifier with --":         {spec: shopWith(`"${var.app}-prod-db"`, `"shop--db"`), args: []string{"validate"}, code: 1, want: "two hyphens"},
		"identifier too long":        {spec: shopWith(`"${var.app}-prod-db"`, `"`+strings.Repeat("d", 64)+`"`), args: []string{"validate"}, code: 1, want: "is 64 characters long; the limit is 63"},
		"bucket name uppercase":      {spec: shopWith(`"${var.app}-prod-uploads"`, `"Shop-Uploads"`), args: []string{"validate"}, code: 1, want: "uppercase"},
		"bucket name too short":      {spec: shopWith(`"${var.app}-prod-uploads"`, `"ab"`), args: []string{"validate"}, code: 1, want: "3 to 63"},
		"bucket name like an IP":     {spec: shopWith(`"${var.app}-prod-uploads"`, `"10.0.0.1"`), args: []string{"validate"}, code: 1, want: "IP address"},
		"unknown strategy":           {spec: shopWith(`strategy = "rename-swap"`, `strategy = "blue-green-ish"`), args: []string{"validate"}, code: 1, want: "rename-swap"},
		"empty temporary suffix":     {spec: shopWith(`strategy = "rename-swap"`, "strategy = \"rename-swap\"\n    temporary_suffix = \"\""), args: []string{"validate"}, code: 1, want: "temporary_suffix"},
		"suffix past the limit":      {spec: shopWith(`strategy = "rename-swap"`, "strategy = \"rename-swap\"\n    temporary_suffix = \"-"+strings.Repeat("x", 56)+"\""), args: []string{"validate"}, code: 1, want: "which is 69 characters long; the limit is 63"},
		"identifier and logical_id":  {spec: shopWith(`identifier        = "${var.app}-prod-db"`, `identifier = "shop-prod-db"`+"\n    logical_id = \"Database\""), args: []string{"validate"}, code: 1, want: "logical_id"},
		"logical_id without stack":   {spec: shopWith(`identifier        = "${var.app}-prod-db"`, `logical_id = "Database"`), args: []string{"validate"}, code: 1, want: "stack"},
		"no identifier at all":       {spec: shopWith(`identifier        = "${var.app}-prod-db"`, ``), args: []string{"validate"}, code: 1, want: "identifier"},
		"duplicate environment":      {spec: clitest.ShopSpec("rename-swap") + "\nenvironment \"production\" {\n}\n", args: []string{"validate"}, code: 1, want: "production"},
		"duplicate database label":   {spec: shopWith(`bucket "uploads" {`, "database \"main\" {\n    identifier = \"other-db\"\n  }\n  bucket \"uploads\" {"), args: []string{"validate"}, code: 1, want: `"main"`},
		"undefined variable":         {spec: shopWith(`"${var.app}-prod-uploads"`, `"${var.ap}-prod-uploads"`), args: []string{"validate"}, code: 1, want: "var.ap"},
		"wrong type":                 {spec: shopWith("allocated_storage = 50", `allocated_storage = "big"`), args: []string{"validate"}, code: 1, want: "allocated_storage"},
		"aurora engine":              {spec: shopWith(`engine            = "postgres"`, `engine = "aurora-postgresql"`), args: []string{"validate"}, code: 1, want: "Aurora"},
		"objects level unknown":      {spec: shopWith(`objects = "checksum"`, `objects = "md5"`), args: []string{"validate"}, code: 1, want: "checksum"},
		"account id not 12 digits":   {spec: shopWith(`"123456789012"`, `"12345"`), args: []string{"validate"}, code: 1, want: `"12345" is not an AWS account ID. Account IDs are exactly 12 digits`},
		"moved_from equals name":     {spec: shopWith(`moved_from = "${var.app}-prod-assets-legacy"`, `moved_from = "${var.app}-prod-assets"`), args: []string{"validate"}, code: 1, want: "moved_from"},
		"sensitive value in a tag": {spec: "variable \"token\" {\n  default   = \"s3cr3t-canary-value\"\n  sensitive = true\n}\n" +
			shopWith(`"platform"`, `var.token`), args: []string{"plan"}, code: 1, want: "sensitive"},
		"variable without value":   {spec: "variable \"owner\" {\n  type = string\n}\n" + shopWith(`"platform"`, `var.owner`), args: []string{"plan"}, code: 1, want: "ENVMIG_VAR_owner"},
		"undeclared -var":          {args: []string{"plan", "-var", "nope=1"}, code: 1, want: "nope"},
		"missing -var-file":        {args: []string{"plan", "-var-file", "missing.tfvars"}, code: 1, want: "missing.tfvars"},
		"unknown -environment":     {args: []string{"plan", "-environment", "staging"}, code: 1, want: `no environment "staging"`},
		"not UTF-8":                {spec: "environment \"production\" {\n  # caf\xe9\n}\n", args: []string{"validate"}, code: 1, want: "UTF-8"},
		"not HCL at all":           {spec: "\x89PNG\r\n\x1a\n\x00\x00", args: []string{"validate"}, code: 1, want: "main.envmig.hcl"},
		"no spec in the directory": {spec: "-", args: []string{"plan"}, code: 1, want: ".envmig.hcl"},
		"-json with -markdown":     {args: []string{"plan", "-json", "-markdown"}, code: 1, want: "exclude each other"},

		// Plan files.
		"plan file missing":   {args: []string{"apply", "-auto-approve", "nope.json"}, code: 1, want: "nope.json"},
		"plan file empty":     {setup: withPlan(func([]byte) []byte { return nil }), args: apply, code: 1, want: "empty"},
		"plan file truncated": {setup: withPlan(func(b []byte) []byte { return b[:len(b)/2] }), args: apply, code: 1, want: "truncated"},
		"plan file not JSON":  {setup: withPlan(func([]byte) []byte { return []byte("steps: []\n") }), args: apply, code: 1, want: "not a plan"},
		"plan of a newer format": {setup: withPlan(func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"format_version": "1.0"`), []byte(`"format_version": "2.0"`), 1)
		}), args: apply, code: 1, want: "format_version"},
		"plan edited":              {setup: withPlan(func(b []byte) []byte { return bytes.Replace(b, []byte("db.t3.large"), []byte("db.t3.micro"), 1) }), args: apply, code: 1, want: "modified after it was made"},
		"plan steps reordered":     {setup: resealed(func(p *plan.Plan) { p.Steps[1], p.Steps[len(p.Steps)-1] = p.Steps[len(p.Steps)-1], p.Steps[1] }), args: apply, code: 1, want: "point of no return"},
		"plan for another account": {setup: resealed(func(p *plan.Plan) { p.Account = "111111111111" }), args: apply, code: 1, want: "made for account 111111111111"},
		// A plan's region is part of what the spec gives (the security suite
		// checks the credentials' region against a plan's).
		"plan for another region": {setup: resealed(func(p *plan.Plan) { p.Region = "eu-west-1" }), args: apply, code: 1,
			want: `the spec gives "Check the caller is in an allowed account and region eu-west-1`},
		"plan with errors": {setup: resealed(func(p *plan.Plan) {
			p.Diagnostics = append(p.Diagnostics, plan.Diagnostic{Severity: plan.SeverityError, Code: "EM101", Summary: "x"})
		}), args: apply, code: 1, want: "the plan has 1 error(s) and cannot be applied"},
		"plan without a gate": {setup: resealed(func(p *plan.Plan) { p.Steps = p.Steps[:p.GateIndex()] }), args: apply, code: 1, want: "points of no return"},
		"show two files":      {args: []string{"show", "a.json", "b.json"}, code: 1, want: "usage"},

		// Only the reviewed plan runs: a plan the spec in the working
		// directory does not give is refused before any AWS call, whatever
		// its digest says.
		"plan with a forged delete step": {setup: resealed(func(p *plan.Plan) {
			forged := plan.Step{ID: "bucket.delete.other", Phase: plan.PhaseCommit, Action: plan.BucketDelete,
				Description: "Empty and delete bucket someone-elses-bucket", Params: plan.BucketDeleteParams{Bucket: "someone-elses-bucket"}}
			p.Steps = append(p.Steps, forged)
		}), args: apply, code: 1, want: "the plan has step bucket.delete.other (bucket.delete) that the spec does not give"},
		"plan with a check command the spec lacks": {setup: resealed(func(p *plan.Plan) {
			i := p.GateIndex()
			check := plan.Step{ID: "verify.command.exfiltrate", Phase: plan.PhasePrepare, Action: plan.VerifyCommand,
				Description: "Run check", Params: plan.VerifyCommandParams{Run: "touch PWNED"}}
			p.Steps = append(p.Steps[:i], append([]plan.Step{check}, p.Steps[i:]...)...)
		}), args: apply, code: 1, want: "the plan has step verify.command.exfiltrate (verify.command) where the spec gives step gate (gate)",
			after: func(t *testing.T, c *clitest.CLI) {
				if _, err := os.Stat(filepath.Join(c.Dir, "PWNED")); err == nil {
					t.Fatal("a check command from the plan file ran")
				}
			}},
		"plan with a changed parameter": {setup: resealed(func(p *plan.Plan) {
			for i, s := range p.Steps {
				if r, ok := s.Params.(plan.DBRestoreParams); ok {
					r.Settings.PubliclyAccessible = plan.Ptr(true)
					p.Steps[i].Params = r
				}
			}
		}), args: apply, code: 1, want: "params.settings.publicly_accessible: the plan has true, the spec gives false"},
		"plan made from another spec": {spec: shopWith(`instance_class    = "db.t3.large"`, `instance_class    = "db.t3.xlarge"`),
			setup: withPlan(same), args: apply, code: 1, want: "not the plan the spec in"},
		"plan with an unknown action": {setup: withPlan(func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"action": "bucket.copy"`), []byte(`"action": "bucket.copy-everywhere"`), 1)
		}), args: apply, code: 1, want: `unknown action "bucket.copy-everywhere"`},
		"plan with an unknown parameter": {setup: withPlan(func(b []byte) []byte {
			return bytes.Replace(b, []byte(`"mode": "precopy"`), []byte(`"mode": "precopy", "delete_destination_first": true`), 1)
		}), args: apply, code: 1, want: `unknown field "delete_destination_first"`},
		"plan applied away from its spec": {spec: "-", setup: withPlan(same), args: apply, code: 1, want: "-chdir=DIR"},
		"plan already applied": {setup: func(t *testing.T, c *clitest.CLI) {
			write(t, c, validPlan, f.appliedPlan, 0o600)
			copyDir(t, filepath.Join(f.appliedDir, ".envmig"), filepath.Join(c.Dir, ".envmig"))
		}, args: apply, code: 1, want: "already applied"},
		"plan stale": {setup: func(t *testing.T, c *clitest.CLI) {
			write(t, c, validPlan, f.plan, 0o600)
			modify(t, "db.t3.small")
			t.Cleanup(func() { modify(t, "db.t3.medium") })
		}, args: apply, code: 4, want: "instance_class was db.t3.medium, now db.t3.small"},
		"apply without a terminal": {setup: withPlan(same), args: []string{"apply", validPlan}, code: 5, want: "-auto-approve"},

		// Journals.
		"journal empty":             {setup: journal(func([]byte) []byte { return nil }), args: []string{"status"}, code: 1, want: "empty"},
		"journal truncated":         {setup: journal(func(b []byte) []byte { return b[:len(b)-40] }), args: []string{"resume", "-auto-approve"}, code: 1, want: "truncated"},
		"journal of a newer format": {setup: journal(jsonEdit(func(m map[string]any) { m["format_version"] = "9.0" })), args: []string{"status"}, code: 1, want: "newer"},
		"journal edited by hand":    {setup: journal(jsonEdit(func(m map[string]any) { m["serial"] = 99 })), args: []string{"rollback", "-auto-approve"}, code: 1, want: "edited"},
		"journal of another environment": {setup: func(t *testing.T, c *clitest.CLI) {
			p, _ := plan.Decode(bytes.NewReader(f.plan))
			st := statefile.NewState(p, "apply", time.Now().UTC())
			st.Environment = "staging"
			st.FormatVersion = statefile.FormatVersion
			st.Checksum, _ = statefile.Checksum(st)
			b, _ := json.Marshal(st)
			write(t, c, ".envmig/production.state.json", b, 0o600)
		}, args: []string{"status"}, code: 1, want: "staging"},
		"journal is a symlink": {setup: func(t *testing.T, c *clitest.CLI) {
			f.journal(t, c, nil)
			path := filepath.Join(c.Dir, ".envmig", "production.state.json")
			os.Rename(path, path+".real")
			os.Symlink(path+".real", path)
		}, args: []string{"resume", "-auto-approve"}, code: 1, want: "symbolic link"},
		"journal world-writable": {setup: func(t *testing.T, c *clitest.CLI) {
			f.journal(t, c, nil)
			os.Chmod(filepath.Join(c.Dir, ".envmig", "production.state.json"), 0o666)
		}, args: []string{"status"}, code: 1, want: "writable"},
		"journal directory world-writable": {setup: func(t *testing.T, c *clitest.CLI) {
			f.journal(t, c, nil)
			os.Chmod(filepath.Join(c.Dir, ".envmig"), 0o777)
		}, args: []string{"resume", "-auto-approve"}, code: 1, want: "writable"},
		"resume with no journal":  {args: []string{"resume", "-auto-approve"}, code: 1, want: "nothing to resume"},
		"cleanup with no journal": {args: []string{"cleanup", "-auto-approve"}, code: 1, want: "nothing to clean up"},
		// A clone journal's run also locks its environment: a refusal
		// must come before either lock is taken.
		"resume of no clone":       {args: []string{"resume", "-environment", "production.clone-nope", "-auto-approve"}, code: 1, want: "nothing to resume"},
		"rollback of no clone":     {args: []string{"rollback", "-environment", "production.clone-nope", "-auto-approve"}, code: 1, want: "production.clone-nope"},
		"force-unlock wrong ID":    {setup: journal(nil), args: []string{"force-unlock", "0000"}, code: 1, want: `"production" is not locked: nothing to unlock`},
		"clone with a bad name":    {args: []string{"clone", "production", "-to", "Bad_Name", "-auto-approve"}, code: 1, want: "clone name"},
		"clone of no environment":  {args: []string{"clone", "staging", "-to", "exp1", "-auto-approve"}, code: 1, want: `no environment "staging"`},
		"iam-policy of a bad plan": {setup: withPlan(func([]byte) []byte { return []byte("{}") }), args: []string{"iam-policy", validPlan}, code: 1, want: "format_version"},
	}
	return cases
}

// lineOf is the number of the first line of spec that contains s.
func lineOf(spec, s string) int {
	for i, l := range strings.Split(spec, "\n") {
		if strings.Contains(l, s) {
			return i + 1
		}
	}
	panic("lineOf: no " + s)
}

// jsonEdit changes a JSON document through a map.
func jsonEdit(edit func(m map[string]any)) func([]byte) []byte {
	return func(b []byte) []byte {
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			panic(err)
		}
		edit(m)
		out, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		return out
	}
}

func modify(t *testing.T, class string) {
	t.Helper()
	cl := testaws.Clients(t)
	if _, err := cl.RDS.ModifyDBInstance(context.Background(), &rds.ModifyDBInstanceInput{
		DBInstanceIdentifier: aws.String(demo.Database), DBInstanceClass: aws.String(class), ApplyImmediately: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
}

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	os.MkdirAll(to, 0o700)
	os.Chmod(to, 0o700)
	entries, err := os.ReadDir(from)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".lock") || strings.HasSuffix(e.Name(), ".lock.json") {
			continue
		}
		b, _ := os.ReadFile(filepath.Join(from, e.Name()))
		os.WriteFile(filepath.Join(to, e.Name()), b, 0o600)
	}
}

func TestBadInputSuite(t *testing.T) {
	f := makeFixtures(t)
	cases := badCases(f)
	passed := 0
	for name, tc := range cases {
		ok := t.Run(name, func(t *testing.T) {
			spec := tc.spec
			switch spec {
			case "":
				spec = clitest.ShopSpec("rename-swap")
			case "-":
				spec = ""
			}
			c := clitest.New(t, clitest.Bins.Envmig, spec)
			if tc.setup != nil {
				tc.setup(t, c)
			}
			stateDir := filepath.Join(c.Dir, ".envmig")
			before := clitest.DirDigest(t, stateDir)
			c.Calls()
			r := c.Run(tc.args...)
			if r.Code != tc.code {
				t.Fatalf("want exit %d\n%s", tc.code, r)
			}
			// Diagnostics wrap at 100 columns: compare words, not line breaks.
			if !strings.Contains(strings.Join(strings.Fields(r.Stderr+r.Stdout), " "), strings.Join(strings.Fields(tc.want), " ")) {
				t.Fatalf("the message does not say %q:\n%s", tc.want, r)
			}
			if m := clitest.Mutating(c.Calls()); len(m) != 0 {
				t.Fatalf("bad input made mutating AWS calls: %v", m)
			}
			if after := clitest.DirDigest(t, stateDir); after != before {
				t.Fatal("bad input changed the state directory")
			}
			if tc.after != nil {
				tc.after(t, c)
			}
			clitest.NoSecrets(t, stateDir, []string{"s3cr3t-canary-value", clitest.CanaryPassword}, r)
		})
		if ok {
			passed++
		}
	}
	clitest.Report(t, "B", map[string]any{"cases": len(cases), "passed": passed})
	if len(cases) < 50 {
		t.Fatalf("only %d bad-input cases", len(cases))
	}
}
