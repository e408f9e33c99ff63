package planner

import (
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

func exampleTemplate(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile("../examples/cloudformation/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// stackEnv is examples/cloudformation's spec, with body as its new
// template.
func stackEnv(body string) (*config.Config, *config.Environment) {
	env := &config.Environment{
		Name: "staging", Stack: "shop-staging",
		Template: &config.Template{File: "env-v2.yaml", Body: body, Parameters: map[string]string{"DBInstanceClass": "db.t3.small"},
			EnvironmentParameter: "EnvironmentName", SnapshotParameter: "DBSnapshotIdentifier"},
		Databases: []*config.Database{{Name: "main", LogicalID: "Database"}},
		Buckets:   []*config.Bucket{{Name: "uploads", LogicalID: "Uploads"}},
		Services:  []*config.Service{{Name: "web", LogicalID: "WebGroup"}},
		Migration: config.Migration{Strategy: config.StrategyStackSwap, TemporarySuffix: "-envmig", Verify: config.Verify{Objects: config.VerifyChecksum,
			Commands: []*config.CommandCheck{{Name: "rows", Run: "./check-rows.sh"}}}},
	}
	cfg := &config.Config{AWS: config.AWS{Region: "us-east-1"}, Environments: []*config.Environment{env}, Digest: "sha256:test"}
	return cfg, env
}

// liveStack is the example's stack created from env-v1.yaml by the
// pipeline.
func liveStack(t *testing.T) *live.Observed {
	res := map[string]live.StackResource{
		"Database":          {LogicalID: "Database", PhysicalID: "shop-staging-db", Type: cfnDBInstance},
		"Uploads":           {LogicalID: "Uploads", PhysicalID: "shop-staging-uploads", Type: cfnBucket},
		"WebGroup":          {LogicalID: "WebGroup", PhysicalID: "shop-staging-web", Type: cfnGroup},
		"WebLaunchTemplate": {LogicalID: "WebLaunchTemplate", PhysicalID: "lt-0123", Type: "AWS::EC2::LaunchTemplate"},
	}
	info := &live.StackInfo{Name: "shop-staging", Exists: true, ID: "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-staging/1", Status: "CREATE_COMPLETE",
		TemplateDigest: live.TemplateDigest(exampleTemplate(t, "env-v1.yaml")), Tags: map[string]string{},
		Parameters: map[string]string{"EnvironmentName": "shop-staging", "DBSnapshotIdentifier": "", "DBInstanceClass": "db.t3.micro", "DBPassword": "****", "ImageId": "ami-12c6146b"},
		Outputs:    map[string]string{"UploadsBucket": "shop-staging-uploads"}, Resources: map[string]live.StackResourceInfo{},
		DBProperties: map[string]map[string]string{"Database": {"Engine": "postgres", "EngineVersion": "16.4", "DBInstanceClass": "db.t3.micro", "AllocatedStorage": "20", "StorageEncrypted": "false"}}}
	for id, r := range res {
		info.Resources[id] = live.StackResourceInfo{StackResource: r, Status: "CREATE_COMPLETE"}
	}
	return &live.Observed{
		Identity: live.Identity{Account: "123456789012"}, Region: "us-east-1",
		Databases: map[string]*live.Database{"shop-staging-db": {Identifier: "shop-staging-db", Exists: true, Status: "available", Engine: "postgres",
			EngineVersion: "16.4", InstanceClass: "db.t3.micro", AllocatedStorage: 20}},
		Buckets: map[string]*live.Bucket{"shop-staging-uploads": {Name: "shop-staging-uploads", Exists: true, Region: "us-east-1", Objects: 6, Bytes: 60}},
		Groups: map[string]*live.Group{"shop-staging-web": {Name: "shop-staging-web", Exists: true, MinSize: 1, MaxSize: 4, DesiredCapacity: 2,
			Instances: []live.Instance{{ID: "i-1", LifecycleState: "InService"}, {ID: "i-2", LifecycleState: "InService"}}}},
		KMSKeys: map[string]*live.KMSKey{}, StackFound: true, StackResources: res,
		Stacks: map[string]*live.StackInfo{"shop-staging": info, "shop-staging-envmig": {Name: "shop-staging-envmig"}},
	}
}

func TestStackSwapPlansTheDoubleClone(t *testing.T) {
	cfg, env := stackEnv(exampleTemplate(t, "env-v2.yaml"))
	p := mustPlan(t, cfg, env, liveStack(t))
	if errs := p.Errors(); len(errs) != 0 {
		t.Fatalf("errors: %+v", errs)
	}
	want := []string{"preflight", "group.standby.web", "db.snapshot.main", "stack.create.temporary", "bucket.copy.uploads.delta",
		"verify.bucket.uploads.clone", "verify.database.main.clone", "verify.frozen", "verify.command.rows", "gate",
		"db.snapshot.main.clone", "bucket.delete.uploads.original", "stack.delete.original", "stack.create.original", "group.standby.web.new",
		"bucket.copy.uploads.final", "verify.bucket.uploads.final", "verify.database.main.final", "group.resume.web", "stack.delete.temporary"}
	if diff := cmp.Diff(want, stepIDs(p)); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
	byID := map[string]plan.Step{}
	for _, s := range p.Steps {
		byID[s.ID] = s
	}
	tmp := byID["stack.create.temporary"].Params.(plan.StackCreateParams)
	if !tmp.Temporary || tmp.Stack != "shop-staging-envmig" || tmp.Template != env.Template.Body ||
		tmp.Parameters["EnvironmentName"] != "shop-staging-envmig" || tmp.Parameters["DBSnapshotIdentifier"] != "envmig-3fa2c91b-main" ||
		tmp.Parameters["DBInstanceClass"] != "db.t3.small" || tmp.Parameters["ImageId"] != "ami-12c6146b" {
		t.Fatalf("temporary stack = %+v", tmp)
	}
	if _, carried := tmp.Parameters["DBPassword"]; carried {
		t.Fatal("a masked NoEcho value was carried into the new stack")
	}
	if r := p.Resources[0]; r.Kind != plan.KindStack || !slices.ContainsFunc(r.Reasons, func(s string) bool {
		return strings.HasPrefix(s, "Database StorageEncrypted: false -> true would replace the database in a stack update")
	}) || slices.ContainsFunc(r.Reasons, func(s string) bool { return strings.Contains(s, "DBInstanceClass") && strings.Contains(s, "replace") }) {
		t.Fatalf("the plan does not say why the stack is rebuilt: %+v", r)
	}
	if !slices.ContainsFunc(p.Diagnostics, func(d plan.Diagnostic) bool {
		return d.Code == "EM181" && d.Severity == plan.SeverityWarning && strings.Contains(d.Summary, "DBPassword")
	}) {
		t.Fatalf("no warning that NoEcho DBPassword takes its default: %+v", p.Diagnostics)
	}
	fin := byID["stack.create.original"].Params.(plan.StackCreateParams)
	if fin.Temporary || fin.Stack != "shop-staging" || fin.Parameters["EnvironmentName"] != "shop-staging" || fin.Parameters["DBSnapshotIdentifier"] != "envmig-3fa2c91b-main-clone" {
		t.Fatalf("stack created again = %+v", fin)
	}
	del := byID["bucket.delete.uploads.original"].Params.(plan.BucketDeleteParams)
	if !del.KeepBucket || del.Guard == nil || del.Guard.Manifest != plan.ManifestName("shop-staging-uploads") {
		t.Fatalf("the original bucket is not emptied by its verified manifest: %+v", del)
	}
	if d := byID["stack.delete.original"].Params.(plan.StackDeleteParams); d.ExpectedID != "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-staging/1" || d.Temporary {
		t.Fatalf("original delete = %+v", d)
	}
	if c := byID["verify.command.rows"].Params.(plan.VerifyCommandParams); c.StackOutputs != "stack.create.temporary" || c.Env["ENVMIG_DATABASE_MAIN"] != "shop-staging-envmig-db" || c.Env["ENVMIG_BUCKET_UPLOADS"] != "shop-staging-envmig-uploads" {
		t.Fatalf("check = %+v", c)
	}
	if e := byID["verify.database.main.final"].Params.(plan.VerifyDatabaseParams); e.Identifier != "shop-staging-db" || e.Expect.InstanceClass != "db.t3.small" || e.Expect.StorageEncrypted == nil || !*e.Expect.StorageEncrypted {
		t.Fatalf("final verify = %+v", e)
	}
	if r := byID["group.resume.web"].Params.(plan.GroupResumeParams); r.StandbyStep != "group.standby.web.new" || r.Group != "shop-staging-web" {
		t.Fatalf("resume = %+v", r)
	}
	for _, s := range p.Steps {
		if s.Phase == plan.PhasePrepare && s.Action == plan.StackDelete {
			t.Fatalf("a stack is deleted before the point of no return: %s", s.ID)
		}
	}
	if len(p.Leftovers) != 1 || p.Leftovers[0].ID != "envmig-3fa2c91b-main" {
		t.Fatalf("leftovers = %+v (the snapshot the stack names must not be one: cleanup deletes leftovers)", p.Leftovers)
	}
}

func TestStackSwapNoChangesOnceTheStackRunsTheTemplate(t *testing.T) {
	body := exampleTemplate(t, "env-v2.yaml")
	cfg, env := stackEnv(body)
	obs := liveStack(t)
	info := obs.Stacks["shop-staging"]
	info.TemplateDigest = live.TemplateDigest(body)
	info.Parameters["DBInstanceClass"] = "db.t3.small"
	info.Parameters["DBSnapshotIdentifier"] = "envmig-1234abcd-main-clone"
	info.DBProperties["Database"]["DBInstanceClass"] = "db.t3.small"
	info.DBProperties["Database"]["StorageEncrypted"] = "true"
	p := mustPlan(t, cfg, env, obs)
	if p.HasChanges() || len(p.Steps) != 0 || len(p.Diagnostics) != 0 {
		t.Fatalf("plan has changes: %v %+v", stepIDs(p), p.Diagnostics)
	}
	// A parameter the spec changes is a change; the snapshot an earlier
	// run made, which the stack names, is kept until the stack names the
	// new one, then left for cleanup with the run that made it.
	info.Parameters["DBInstanceClass"] = "db.t3.micro"
	p = mustPlan(t, cfg, env, obs)
	if !p.HasChanges() {
		t.Fatal("a changed parameter planned no change")
	}
	want := []plan.Leftover{
		{Kind: plan.LeftoverDBSnapshot, ID: "envmig-3fa2c91b-main", Why: "the state of shop-staging-db before the migration", Run: "3fa2c91b"},
		{Kind: plan.LeftoverDBSnapshot, ID: "envmig-1234abcd-main-clone", Why: "the snapshot shop-staging was restored from before this run; it now names envmig-3fa2c91b-main-clone", Run: "1234abcd"},
	}
	if diff := cmp.Diff(want, p.Leftovers); diff != "" {
		t.Fatalf("leftovers (-want +got):\n%s", diff)
	}
}

func TestStackSwapRefusals(t *testing.T) {
	v2 := exampleTemplate(t, "env-v2.yaml")
	cases := map[string]struct {
		body  string
		setup func(*config.Environment, *live.Observed)
		code  string
		want  string
	}{
		"hard-coded bucket name": {body: strings.Replace(v2, `BucketName: !Sub "${EnvironmentName}-uploads"`, `BucketName: shop-uploads`, 1),
			code: "EM181", want: "BucketName"},
		"generated bucket name": {body: strings.Replace(v2, `      BucketName: !Sub "${EnvironmentName}-uploads"`+"\n", "", 1),
			code: "EM181", want: "leaves the name of Uploads to CloudFormation"},
		"snapshot parameter unused": {body: strings.Replace(v2, `DBSnapshotIdentifier: !If [HasSnapshot, !Ref DBSnapshotIdentifier, !Ref AWS::NoValue]`, `DBSnapshotIdentifier: !Ref AWS::NoValue`, 1),
			code: "EM181", want: "would be created empty"},
		"temporary stack exists": {body: v2, setup: func(_ *config.Environment, o *live.Observed) {
			o.Stacks["shop-staging-envmig"] = &live.StackInfo{Name: "shop-staging-envmig", Exists: true, Tags: map[string]string{"envmig:run": "0badc0de"}}
		}, code: "EM183", want: "run 0badc0de"},
		"stack missing": {body: v2, setup: func(_ *config.Environment, o *live.Observed) {
			o.Stacks["shop-staging"] = &live.StackInfo{Name: "shop-staging"}
		},
			code: "EM182", want: "does not exist"},
		"stack rolled back": {body: v2, setup: func(_ *config.Environment, o *live.Observed) {
			o.Stacks["shop-staging"].Status = "UPDATE_ROLLBACK_COMPLETE"
		},
			code: "EM182", want: "UPDATE_ROLLBACK_COMPLETE"},
		"bucket not in the spec": {body: v2, setup: func(e *config.Environment, _ *live.Observed) { e.Buckets = nil },
			code: "EM184", want: `bucket "uploads" { logical_id = "Uploads" }`},
		"template drops the bucket": {body: strings.Replace(v2[:strings.Index(v2, "  Uploads:")]+v2[strings.Index(v2, "  WebLaunchTemplate:"):], "  UploadsBucket:\n    Value: !Ref Uploads\n", "", 1),
			code: "EM184", want: "drops AWS::S3::Bucket Uploads"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, env := stackEnv(tc.body)
			obs := liveStack(t)
			if tc.setup != nil {
				tc.setup(env, obs)
			}
			p := mustPlan(t, cfg, env, obs)
			errs := p.Errors()
			i := slices.IndexFunc(errs, func(d plan.Diagnostic) bool { return d.Code == tc.code })
			if i < 0 || !strings.Contains(errs[i].Summary+errs[i].Detail+errs[i].Fix, tc.want) || len(p.Steps) != 0 {
				t.Fatalf("want %s saying %q, got %+v (steps %v)", tc.code, tc.want, errs, stepIDs(p))
			}
		})
	}
}

// A rename-swap of a stack-owned database that the template contradicts
// (it says StorageEncrypted: false) is refused: correcting the template
// afterwards would replace the migrated database with an empty one.
func TestRenameSwapBehindTheStackIsRefused(t *testing.T) {
	cfg, env := stackEnv("")
	env.Template = nil
	env.Migration.Strategy = config.StrategyRenameSwap
	env.Databases[0].StorageEncrypted = ptr(true)
	obs := liveStack(t)
	p := mustPlan(t, cfg, env, obs)
	errs := p.Errors()
	if len(errs) != 1 || errs[0].Code != "EM185" || !strings.Contains(errs[0].Detail, "StorageEncrypted: false") ||
		!strings.Contains(errs[0].Detail, "replaces the database") || !strings.Contains(errs[0].Fix, "stack-swap") || len(p.Steps) != 0 {
		t.Fatalf("errors = %+v, steps %v", errs, stepIDs(p))
	}
	// Once the template says so (the stack was updated first), the change
	// no longer contradicts it.
	obs.Stacks["shop-staging"].DBProperties["Database"]["StorageEncrypted"] = "true"
	if p := mustPlan(t, cfg, env, obs); len(p.Errors()) != 0 || !p.HasChanges() {
		t.Fatalf("errors = %+v", p.Errors())
	}
}

// After a rename-swap, moto's stack follows the renamed original: the
// logical ID resolves to <id>-envmig-old. The retired original is never
// taken for the stack's database.
func TestRetiredOriginalIsNeverTheStacksResource(t *testing.T) {
	cfg, env := designEnv(config.StrategyRenameSwap)
	env.Stack = "shop-staging"
	env.Databases[0].Identifier, env.Databases[0].LogicalID = "", "Database"
	obs := liveShop()
	retired := *obs.Databases["shop-prod-db"]
	retired.Identifier, retired.Tags = "shop-prod-db-envmig-old", map[string]string{"owner": "platform", "envmig:retired-by": "0badc0de"}
	obs.Databases[retired.Identifier] = &retired
	obs.StackFound = true
	obs.StackResources = map[string]live.StackResource{"Database": {LogicalID: "Database", PhysicalID: "shop-prod-db-envmig-old", Type: cfnDBInstance}}
	req := Request(cfg, env, obs.StackResources, true)
	if req.Databases[0] != "shop-prod-db" {
		t.Fatalf("request = %v", req.Databases)
	}
	p := mustPlan(t, cfg, env, obs)
	if p.Resources[0].ID != "shop-prod-db" {
		t.Fatalf("resolved to %s", p.Resources[0].ID)
	}
	// The retired original still holds its name (cleanup has not run):
	// the next migration waits for it, it does not migrate it.
	if errs := p.Errors(); len(errs) != 1 || errs[0].Code != "EM121" {
		t.Fatalf("errors = %+v", errs)
	}
	// Once cleanup deleted it, the migration is of the live database.
	delete(obs.Databases, "shop-prod-db-envmig-old")
	p = mustPlan(t, cfg, env, obs)
	if len(p.Errors()) != 0 || !slices.Contains(stepIDs(p), "db.snapshot.main") {
		t.Fatalf("errors = %+v, steps %v", p.Errors(), stepIDs(p))
	}
	for _, s := range p.Steps {
		if sp, ok := s.Params.(plan.DBSnapshotParams); ok && s.ID == "db.snapshot.main" && sp.Identifier != "shop-prod-db" {
			t.Fatalf("step %s snapshots %s", s.ID, sp.Identifier)
		}
	}
	// Should the name itself carry the retired tag, the plan is refused.
	obs.Databases["shop-prod-db"].Tags = map[string]string{"envmig:retired-by": "0badc0de"}
	errs := mustPlan(t, cfg, env, obs).Errors()
	if !slices.ContainsFunc(errs, func(d plan.Diagnostic) bool { return d.Code == "EM186" }) {
		t.Fatalf("errors = %+v", errs)
	}
}

// TestReplayRoundTrip: a plan computed again from its own observations is
// the same plan (what apply FILE and resume rely on).
func TestReplayRoundTrip(t *testing.T) {
	v2 := exampleTemplate(t, "env-v2.yaml")
	type world struct {
		cfg *config.Config
		env *config.Environment
		obs *live.Observed
	}
	worlds := map[string]func() world{
		"rename-swap": func() world { c, e := designEnv(config.StrategyRenameSwap); return world{c, e, liveShop()} },
		"clone-swap":  func() world { c, e := designEnv(config.StrategyCloneSwap); return world{c, e, liveShop()} },
		"stack-swap":  func() world { c, e := stackEnv(v2); return world{c, e, liveStack(t)} },
		"stack-swap without changes": func() world {
			c, e := stackEnv(v2)
			o := liveStack(t)
			o.Stacks["shop-staging"].TemplateDigest = live.TemplateDigest(v2)
			o.Stacks["shop-staging"].Parameters["DBInstanceClass"] = "db.t3.small"
			return world{c, e, o}
		},
		"stack-swap refused": func() world {
			c, e := stackEnv(v2)
			o := liveStack(t)
			o.Stacks["shop-staging-envmig"].Exists = true
			return world{c, e, o}
		},
		"stack updated in place": func() world {
			c, e := stackEnv(strings.Replace(v2, `MaxSize: "4"`, `MaxSize: "6"`, 1))
			return world{c, e, inPlaceStack(t, v2)}
		},
		"rename-swap behind the stack": func() world {
			c, e := stackEnv("")
			e.Template, e.Migration.Strategy = nil, config.StrategyRenameSwap
			e.Databases[0].StorageEncrypted = ptr(true)
			return world{c, e, liveStack(t)}
		},
	}
	for name, w := range worlds {
		t.Run(name, func(t *testing.T) {
			x := w()
			p := mustPlan(t, x.cfg, x.env, x.obs)
			q := mustPlan(t, x.cfg, x.env, Replay(p))
			if d := plan.FirstDifference(p, q); d != "" {
				t.Fatalf("the plan does not replay: %s", d)
			}
			if d, err := Rederive(x.cfg, p); err != nil || d != "" {
				t.Fatalf("rederive: %v %s", err, d)
			}
		})
	}
}

// inPlaceStack is the example's stack after a stack-swap to body: it
// names the run's snapshot, and its template is read.
func inPlaceStack(t *testing.T, body string) *live.Observed {
	obs := liveStack(t)
	info := obs.Stacks["shop-staging"]
	info.Template, info.TemplateDigest = body, live.TemplateDigest(body)
	info.Parameters["DBInstanceClass"] = "db.t3.small"
	info.Parameters["DBSnapshotIdentifier"] = "envmig-1234abcd-main-clone"
	info.DBProperties["Database"]["DBInstanceClass"] = "db.t3.small"
	info.DBProperties["Database"]["StorageEncrypted"] = "true"
	return obs
}

// A new version that replaces no database or bucket (by envmig's table)
// is an in-place update through a reviewed change set, keeping the
// snapshot parameter and the NoEcho values; one that replaces the
// database is a swap.
func TestStackInPlaceWhenNothingPersistentIsReplaced(t *testing.T) {
	v2 := exampleTemplate(t, "env-v2.yaml")
	cfg, env := stackEnv(strings.Replace(v2, `MaxSize: "4"`, `MaxSize: "6"`, 1))
	p := mustPlan(t, cfg, env, inPlaceStack(t, v2))
	want := []string{"preflight", "group.standby.web", "db.snapshot.main", "stack.change-set", "verify.frozen", "gate",
		"stack.update", "verify.database.main.final", "group.resume.web"}
	if diff := cmp.Diff(want, stepIDs(p)); diff != "" || len(p.Errors()) != 0 {
		t.Fatalf("steps (-want +got):\n%s\nerrors %+v", diff, p.Errors())
	}
	cs := p.Steps[3].Params.(plan.StackChangeSetParams)
	if cs.Parameters["DBSnapshotIdentifier"] != "envmig-1234abcd-main-clone" || cs.Parameters["EnvironmentName"] != "shop-staging" ||
		!cmp.Equal(cs.UsePrevious, []string{"DBPassword"}) || cs.ExpectedID == "" || cs.Template != env.Template.Body {
		t.Fatalf("change set = %+v", cs)
	}
	if _, ok := cs.Parameters["DBPassword"]; ok {
		t.Fatal("a NoEcho value is passed instead of kept")
	}
	if u := p.Steps[6].Params.(plan.StackUpdateParams); u.ChangeSetStep != "stack.change-set" || u.Stack != "shop-staging" {
		t.Fatalf("update = %+v", u)
	}
	for _, d := range p.Diagnostics {
		if strings.Contains(d.Summary, "NoEcho") {
			t.Fatalf("an in-place update keeps NoEcho values, yet: %+v", d)
		}
	}
	// Encrypting the database replaces it: a swap.
	cfg, env = stackEnv(v2)
	p = mustPlan(t, cfg, env, inPlaceStack(t, strings.Replace(v2, "StorageEncrypted: true", "StorageEncrypted: false", 1)))
	if !slices.Contains(stepIDs(p), "stack.create.temporary") || slices.Contains(stepIDs(p), "stack.change-set") {
		t.Fatalf("a replacing change is not a swap: %v", stepIDs(p))
	}
}

// A stack-swap's switches open the standby like any other strategy's: with
// no group, the first writer's stop time is inside the window.
func TestStackSwapSwitchesAreInsideTheStandby(t *testing.T) {
	cfg, env := stackEnv(exampleTemplate(t, "env-v2.yaml"))
	env.Services = nil
	env.Switches = []*config.Switch{{Name: "nightly", Kind: config.SwitchEventBridgeRule, Target: "nightly"}}
	obs := liveStack(t)
	obs.Switches = map[string]*live.Switch{
		live.SwitchKey(live.SwitchRule, "nightly"): {Kind: live.SwitchRule, Ref: "nightly", Exists: true, On: true, Stop: live.RuleStop, Start: live.RuleStart},
	}
	p := mustPlan(t, cfg, env, obs)
	if errs := p.Errors(); len(errs) != 0 {
		t.Fatalf("errors: %+v", errs)
	}
	s, ok := p.Step("switch.off.nightly")
	if !ok || !s.InStandby || s.EstimateSeconds == 0 {
		t.Fatalf("switch.off.nightly = %+v (found %v): want it inside the standby, estimated", s, ok)
	}
}
