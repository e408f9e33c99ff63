package planner

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

func ptr[T any](v T) *T { return &v }

// designEnv is DESIGN.md's example environment.
func designEnv(strategy string) (*config.Config, *config.Environment) {
	env := &config.Environment{
		Name: "production",
		Databases: []*config.Database{{
			Name: "main", Identifier: "shop-prod-db", Engine: "postgres", EngineVersion: "16.4",
			InstanceClass: "db.t3.large", AllocatedStorage: ptr(int64(50)), StorageEncrypted: ptr(true),
			Tags: map[string]string{"owner": "platform"},
		}},
		Buckets:  []*config.Bucket{{Name: "uploads", BucketName: "shop-prod-uploads", Versioning: ptr(true)}},
		Services: []*config.Service{{Name: "web", AutoScalingGroup: "shop-prod-web"}},
		Migration: config.Migration{
			Strategy: strategy, TemporarySuffix: "-envmig",
			Verify: config.Verify{Objects: config.VerifyChecksum, HTTP: []*config.HTTPCheck{{Name: "health", URL: "https://clone.example.internal/health", Status: 200, Timeout: "10s"}}},
		},
	}
	cfg := &config.Config{AWS: config.AWS{Region: "us-east-1", AllowedAccountIDs: []string{"123456789012"}}, Environments: []*config.Environment{env}, Digest: "sha256:test"}
	return cfg, env
}

// liveShop is a live environment the DESIGN spec wants changed: the
// database is unencrypted and smaller.
func liveShop() *live.Observed {
	return &live.Observed{
		Identity: live.Identity{Account: "123456789012"},
		Region:   "us-east-1",
		Databases: map[string]*live.Database{
			"shop-prod-db": {
				Identifier: "shop-prod-db", Exists: true, Status: "available", Engine: "postgres", EngineVersion: "16.4",
				InstanceClass: "db.t3.medium", AllocatedStorage: 50, StorageType: "gp3", DBSubnetGroup: "shop-db",
				ParameterGroup: "default.postgres16", VPCSecurityGroupIDs: []string{"sg-1"}, Port: 5432,
				Tags: map[string]string{"owner": "platform"},
			},
		},
		Buckets: map[string]*live.Bucket{
			"shop-prod-uploads": {Name: "shop-prod-uploads", Exists: true, Region: "us-east-1", Versioning: "Enabled",
				Objects: 1204, Bytes: 2469606195, RecentObjects: 240, RecentBytes: 1 << 20},
		},
		Groups: map[string]*live.Group{
			"shop-prod-web": {Name: "shop-prod-web", Exists: true, MinSize: 2, MaxSize: 6, DesiredCapacity: 3,
				Instances: []live.Instance{{ID: "i-1", LifecycleState: "InService"}, {ID: "i-2", LifecycleState: "InService"}, {ID: "i-3", LifecycleState: "InService"}}},
		},
		KMSKeys: map[string]*live.KMSKey{},
	}
}

func mustPlan(t *testing.T, cfg *config.Config, env *config.Environment, obs *live.Observed) *plan.Plan {
	t.Helper()
	p, err := Plan(cfg, env, obs, Options{Lineage: "3fa2c91b", Now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), Tool: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func stepIDs(p *plan.Plan) []string {
	var ids []string
	for _, s := range p.Steps {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestRenameSwapEncryptsThroughACopy(t *testing.T) {
	cfg, env := designEnv(config.StrategyRenameSwap)
	p := mustPlan(t, cfg, env, liveShop())
	want := []string{
		"preflight", "group.standby.web", "db.snapshot.main", "db.copy-snapshot.main", "db.restore.main",
		"verify.database.main.clone", "verify.frozen", "verify.http.health", "gate",
		"db.rename.main.retire", "db.rename.main.swap", "verify.database.main.final", "group.resume.web",
	}
	if diff := cmp.Diff(want, stepIDs(p)); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
	if p.Resources[0].Action != plan.ActionMigrate || !strings.Contains(p.Resources[0].Reasons[0], "storage_encrypted false -> true") {
		t.Fatalf("database resource = %+v", p.Resources[0])
	}
	restore, _ := p.Step("db.restore.main")
	wantParams := plan.DBRestoreParams{
		Snapshot: "envmig-3fa2c91b-main-enc", Identifier: "shop-prod-db-envmig",
		Settings: plan.DBSettings{InstanceClass: "db.t3.large", DBSubnetGroup: "shop-db", MultiAZ: plan.Ptr(false), Port: 5432,
			PubliclyAccessible: plan.Ptr(false), StorageType: "gp3", VPCSecurityGroupIDs: []string{"sg-1"}},
		Tags: map[string]string{"owner": "platform"},
	}
	if diff := cmp.Diff(wantParams, restore.Params); diff != "" {
		t.Fatalf("restore params (-want +got):\n%s", diff)
	}
	for _, s := range p.Steps {
		inWindow := s.ID != "preflight" && s.ID != "group.standby.web"
		if s.InStandby != inWindow && s.ID != "group.resume.web" {
			t.Errorf("%s: InStandby = %v", s.ID, s.InStandby)
		}
	}
	var kept []string
	for _, l := range p.Leftovers {
		kept = append(kept, l.Kind+":"+l.ID)
	}
	if diff := cmp.Diff([]string{"db-snapshot:envmig-3fa2c91b-main", "db-snapshot:envmig-3fa2c91b-main-enc", "db-instance:shop-prod-db-envmig-old"}, kept); diff != "" {
		t.Fatal(diff)
	}
	if p.Estimate.StandbySeconds <= 0 || p.Estimate.StandbySeconds >= p.Estimate.TotalSeconds {
		t.Fatalf("estimate = %+v", p.Estimate)
	}
	if p.Digest == "" || plan.ComputeDigest(p) != p.Digest {
		t.Fatal("plan is not sealed")
	}
}

func TestNoChangesMeansNoSteps(t *testing.T) {
	cfg, env := designEnv(config.StrategyRenameSwap)
	obs := liveShop()
	db := obs.Databases["shop-prod-db"]
	db.InstanceClass, db.StorageEncrypted, db.KMSKeyID = "db.t3.large", true, "arn:aws:kms:us-east-1:123456789012:key/k"
	db.Tags["envmig:run"] = "earlier" // a run's own tag is not a change
	p := mustPlan(t, cfg, env, obs)
	if p.HasChanges() {
		t.Fatalf("steps = %v, resources = %+v", stepIDs(p), p.Resources)
	}
	for _, r := range p.Resources {
		if r.Action != plan.ActionNoOp {
			t.Errorf("%s: %s", r.Address, r.Action)
		}
	}
}

func TestInPlaceChangesNeedNoStandby(t *testing.T) {
	cfg, env := designEnv(config.StrategyRenameSwap)
	obs := liveShop()
	obs.Databases["shop-prod-db"].StorageEncrypted = true
	obs.Buckets["shop-prod-uploads"].Versioning = "Suspended"
	p := mustPlan(t, cfg, env, obs)
	want := []string{"preflight", "gate", "db.update.main", "bucket.update.uploads"}
	if diff := cmp.Diff(want, stepIDs(p)); diff != "" {
		t.Fatal(diff)
	}
	upd, _ := p.Step("db.update.main")
	if diff := cmp.Diff(plan.DBUpdateParams{Identifier: "shop-prod-db", Change: plan.DBChange{InstanceClass: "db.t3.large"}}, upd.Params); diff != "" {
		t.Fatal(diff)
	}
	if p.Estimate.StandbySeconds != 0 {
		t.Fatalf("standby = %d", p.Estimate.StandbySeconds)
	}
}

func TestCloneSwapClonesEverythingAndBack(t *testing.T) {
	cfg, env := designEnv(config.StrategyCloneSwap)
	p := mustPlan(t, cfg, env, liveShop())
	want := []string{
		"preflight", "bucket.create.uploads.temporary", "bucket.copy.uploads.precopy", "group.standby.web",
		"bucket.copy.uploads.delta", "db.snapshot.main", "db.copy-snapshot.main", "db.restore.main",
		"verify.bucket.uploads.clone", "verify.database.main.clone", "verify.frozen", "verify.http.health", "gate",
		"db.delete.main", "db.snapshot.main.clone", "db.restore.main.original", "verify.database.main.final",
		"bucket.copy.uploads.final", "verify.bucket.uploads.final", "group.resume.web",
		"db.delete.main.clone", "bucket.delete.uploads.temporary",
	}
	if diff := cmp.Diff(want, stepIDs(p)); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	if p.Estimate.DeltaObjects == 0 || p.Estimate.DeltaObjects >= p.Estimate.CopyObjects {
		t.Fatalf("delta must be predicted and smaller than the copy: %+v", p.Estimate)
	}
}

func TestDiagnosticsBlockThePlan(t *testing.T) {
	cases := map[string]struct {
		strategy string
		mutate   func(*config.Environment, *live.Observed)
		code     string
	}{
		"deletion protection under clone-swap": {config.StrategyCloneSwap, func(e *config.Environment, o *live.Observed) {
			o.Databases["shop-prod-db"].DeletionProtection = true
		}, "EM110"},
		"temporary name taken by a stranger": {config.StrategyRenameSwap, func(e *config.Environment, o *live.Observed) {
			o.Databases["shop-prod-db-envmig"] = &live.Database{Identifier: "shop-prod-db-envmig", Exists: true}
		}, "EM120"},
		"retired name left by a run": {config.StrategyRenameSwap, func(e *config.Environment, o *live.Observed) {
			o.Databases["shop-prod-db-envmig-old"] = &live.Database{Identifier: "shop-prod-db-envmig-old", Exists: true, Tags: map[string]string{"envmig:run": "old"}}
		}, "EM121"},
		"database missing": {config.StrategyRenameSwap, func(e *config.Environment, o *live.Observed) {
			delete(o.Databases, "shop-prod-db")
		}, "EM101"},
		"group missing": {config.StrategyRenameSwap, func(e *config.Environment, o *live.Observed) {
			delete(o.Groups, "shop-prod-web")
		}, "EM102"},
		"kms key unreadable": {config.StrategyRenameSwap, func(e *config.Environment, o *live.Observed) {
			e.Databases[0].KMSKeyID = "alias/shop"
			o.KMSKeys["alias/shop"] = &live.KMSKey{Ref: "alias/shop", Error: "AccessDeniedException"}
		}, "EM130"},
		"decrypt": {config.StrategyRenameSwap, func(e *config.Environment, o *live.Observed) {
			e.Databases[0].StorageEncrypted = ptr(false)
			o.Databases["shop-prod-db"].StorageEncrypted = true
		}, "EM112"},
		"engine downgrade": {config.StrategyRenameSwap, func(e *config.Environment, o *live.Observed) {
			e.Databases[0].EngineVersion = "15.2"
		}, "EM114"},
		"engine family change": {config.StrategyRenameSwap, func(e *config.Environment, o *live.Observed) {
			e.Databases[0].Engine = "mysql"
		}, "EM113"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			cfg, env := designEnv(tc.strategy)
			obs := liveShop()
			tc.mutate(env, obs)
			p := mustPlan(t, cfg, env, obs)
			errs := p.Errors()
			if len(errs) == 0 || errs[0].Code != tc.code {
				t.Fatalf("errors = %+v, want %s first", errs, tc.code)
			}
			if p.HasChanges() {
				t.Fatalf("a plan with errors must have no steps: %v", stepIDs(p))
			}
		})
	}
}

func TestWarningsForTheGroup(t *testing.T) {
	cfg, env := designEnv(config.StrategyRenameSwap)
	obs := liveShop()
	g := obs.Groups["shop-prod-web"]
	g.Instances = nil
	for i := 0; i < 25; i++ {
		g.Instances = append(g.Instances, live.Instance{ID: "i", LifecycleState: "InService"})
	}
	g.DesiredCapacity, g.MaxSize = 25, 30
	p := mustPlan(t, cfg, env, obs)
	var codes []string
	for _, d := range p.Diagnostics {
		codes = append(codes, d.Code)
	}
	if diff := cmp.Diff([]string{"EM150", "EM151", "EM154"}, codes); diff != "" {
		t.Fatal(diff)
	}
	if !p.HasChanges() {
		t.Fatal("warnings must not block")
	}
}

func TestMovedBucket(t *testing.T) {
	cfg, env := designEnv(config.StrategyRenameSwap)
	env.Databases = nil
	env.Buckets[0].MovedFrom = "shop-uploads-legacy"
	obs := liveShop()
	obs.Buckets = map[string]*live.Bucket{
		"shop-uploads-legacy": {Name: "shop-uploads-legacy", Exists: true, Region: "us-east-1", Versioning: "Enabled", Objects: 10, Tags: map[string]string{"team": "web"}},
	}
	p := mustPlan(t, cfg, env, obs)
	want := []string{"preflight", "bucket.create.uploads", "bucket.copy.uploads.precopy", "group.standby.web",
		"bucket.copy.uploads.delta", "verify.bucket.uploads.clone", "verify.frozen", "verify.http.health", "gate", "group.resume.web"}
	if diff := cmp.Diff(want, stepIDs(p)); diff != "" {
		t.Fatal(diff)
	}
	create, _ := p.Step("bucket.create.uploads")
	if diff := cmp.Diff(plan.BucketCreateParams{Bucket: "shop-prod-uploads", Region: "us-east-1", Versioning: true, Tags: map[string]string{"team": "web"},
		Settings: &plan.SettingsCarry{Source: "shop-uploads-legacy", Expected: map[string]string{}}}, create.Params); diff != "" {
		t.Fatal(diff)
	}
	if len(p.Leftovers) != 1 || p.Leftovers[0].ID != "shop-uploads-legacy" {
		t.Fatalf("leftovers = %+v", p.Leftovers)
	}
	// After the move: the destination exists with a run's tag, the source too.
	obs.Buckets["shop-prod-uploads"] = &live.Bucket{Name: "shop-prod-uploads", Exists: true, Region: "us-east-1", Versioning: "Enabled", Tags: map[string]string{"envmig:run": "3fa2c91b", "team": "web"}}
	env.Buckets[0].Tags = map[string]string{"team": "web"}
	p = mustPlan(t, cfg, env, obs)
	if p.HasChanges() {
		t.Fatalf("a finished move must plan no changes: %v", stepIDs(p))
	}
	if len(p.Diagnostics) != 1 || p.Diagnostics[0].Code != "EM144" {
		t.Fatalf("diagnostics = %+v", p.Diagnostics)
	}
}

func TestStaleSaysWhatChanged(t *testing.T) {
	cfg, env := designEnv(config.StrategyRenameSwap)
	obs := liveShop()
	p := mustPlan(t, cfg, env, obs)
	obs.Databases["shop-prod-db"].InstanceClass = "db.t3.small"
	obs.Buckets["shop-prod-uploads"].Objects = 99999 // volatile: not staleness
	obs.Databases["shop-prod-db-envmig"] = &live.Database{Identifier: "shop-prod-db-envmig", Exists: true}
	got := Stale(p.Observations, Observations(env, obs))
	want := []string{
		"shop-prod-db: instance_class was db.t3.medium, now db.t3.small",
		"shop-prod-db-envmig: exists now (it did not when the plan was made)",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
	if s := Stale(p.Observations, p.Observations); len(s) != 0 {
		t.Fatalf("a plan is never stale against itself: %v", s)
	}
}

func TestLogicalIDsResolveThroughTheStack(t *testing.T) {
	cfg, env := designEnv(config.StrategyRenameSwap)
	env.Stack = "shop-staging"
	env.Databases[0].Identifier, env.Databases[0].LogicalID = "", "Database"
	obs := liveShop()
	obs.StackFound = true
	obs.StackResources = map[string]live.StackResource{"Database": {LogicalID: "Database", PhysicalID: "shop-prod-db", Type: "AWS::RDS::DBInstance"}}
	req := Request(cfg, env, obs.StackResources, true)
	if diff := cmp.Diff([]string{"shop-prod-db", "shop-prod-db-envmig", "shop-prod-db-envmig-old"}, req.Databases); diff != "" {
		t.Fatal(diff)
	}
	p := mustPlan(t, cfg, env, obs)
	if p.Resources[0].ID != "shop-prod-db" || len(p.Errors()) != 0 {
		t.Fatalf("resource = %+v, errors = %+v", p.Resources[0], p.Errors())
	}
	obs.StackResources = nil
	p = mustPlan(t, cfg, env, obs)
	if errs := p.Errors(); len(errs) != 1 || errs[0].Code != "EM100" {
		t.Fatalf("errors = %+v", errs)
	}
}

func TestVersionLess(t *testing.T) {
	cases := map[[2]string]bool{{"9.6", "10.1"}: true, {"16.4", "16.10"}: true, {"16.4", "16.4"}: false, {"16", "16.1"}: true, {"17.0", "16.9"}: false}
	for in, want := range cases {
		if got := versionLess(in[0], in[1]); got != want {
			t.Errorf("versionLess(%s, %s) = %v", in[0], in[1], got)
		}
	}
}

func TestRefreshNeedsNoSpec(t *testing.T) {
	cfg, env := designEnv(config.StrategyRenameSwap)
	env.Databases[0].KMSKeyID = "alias/shop"
	obs := liveShop()
	obs.KMSKeys["alias/shop"] = &live.KMSKey{Ref: "alias/shop", ARN: "arn:aws:kms:us-east-1:123456789012:key/k", Readable: true, Enabled: true}
	p := mustPlan(t, cfg, env, obs)
	req := Reobserve(p)
	if diff := cmp.Diff([]string{"shop-prod-db", "shop-prod-db-envmig", "shop-prod-db-envmig-old"}, req.Databases); diff != "" {
		t.Fatal(diff)
	}
	if diff := cmp.Diff([]string{"shop-prod-uploads", "shop-prod-uploads-envmig"}, req.Buckets); diff != "" {
		t.Fatal(diff)
	}
	if diff := cmp.Diff([]string{"alias/shop"}, req.KMSKeys); diff != "" {
		t.Fatal(diff)
	}
	if s := Stale(p.Observations, Refresh(p, obs)); len(s) != 0 {
		t.Fatalf("unchanged world is stale: %v", s)
	}
	obs.Groups["shop-prod-web"].MaxSize = 10
	obs.KMSKeys["alias/shop"].Enabled = false
	got := Stale(p.Observations, Refresh(p, obs))
	want := []string{"alias/shop: enabled was true, now false", "shop-prod-web: max_size was 6, now 10"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatal(diff)
	}
}

func TestCloneCopiesWithoutTouchingTheOriginals(t *testing.T) {
	cfg, env := designEnv(config.StrategyRenameSwap)
	obs := liveShop()
	p, err := Clone(cfg, env, obs, "exp1", Options{Lineage: "c10e0001", Now: time.Unix(0, 0)})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"preflight", "db.snapshot.main", "db.restore.main", "db.delete-snapshot.main",
		"bucket.create.uploads", "bucket.copy.uploads.precopy", "verify.bucket.uploads.clone", "verify.database.main.clone", "gate"}
	if diff := cmp.Diff(want, stepIDs(p)); diff != "" {
		t.Fatal(diff)
	}
	for _, s := range p.Steps {
		if s.Phase == plan.PhaseCommit || s.Action == plan.GroupStandby || s.Action == plan.DBRename || s.Action == plan.DBDelete {
			t.Fatalf("a clone must not change the originals: %s", s.ID)
		}
	}
	restore, _ := p.Step("db.restore.main")
	if rp := restore.Params.(plan.DBRestoreParams); rp.Identifier != "shop-prod-db-exp1" || rp.Tags[CloneTagKey] != "shop-prod-db" {
		t.Fatalf("restore = %+v", restore)
	}
	// The clone has its own password and is private, even when the
	// original is public.
	obs.Databases["shop-prod-db"].PubliclyAccessible = true
	pub, _ := Clone(cfg, env, obs, "exp1", Options{Lineage: "c10e0003"})
	r, _ := pub.Step("db.restore.main")
	if rp := r.Params.(plan.DBRestoreParams); !rp.ManagedPassword || rp.Settings.PubliclyAccessible == nil || *rp.Settings.PubliclyAccessible {
		t.Fatalf("the clone's restore = %+v", rp)
	}
	create, _ := p.Step("bucket.create.uploads")
	if cp := create.Params.(plan.BucketCreateParams); cp.Bucket != "shop-prod-uploads-exp1" || cp.Tags[CloneTagKey] != "shop-prod-uploads" {
		t.Fatalf("create = %+v", create)
	}
	obs.Buckets["shop-prod-uploads-exp1"] = &live.Bucket{Name: "shop-prod-uploads-exp1", Exists: true}
	p, _ = Clone(cfg, env, obs, "exp1", Options{Lineage: "c10e0002"})
	if errs := p.Errors(); len(errs) != 1 || errs[0].Code != "EM122" || p.HasChanges() {
		t.Fatalf("errors = %+v", errs)
	}
	if _, err := Clone(cfg, env, obs, "Bad_Name", Options{Lineage: "x"}); err == nil {
		t.Fatal("an invalid clone name must be refused")
	}
}

func TestCleanupRemovesWhatRunsKept(t *testing.T) {
	kept := []plan.Leftover{
		{Kind: plan.LeftoverDBInstance, ID: "shop-prod-db-envmig-old", Why: "the original"},
		{Kind: plan.LeftoverDBSnapshot, ID: "envmig-r1-main", Why: "before"},
		{Kind: plan.LeftoverBucket, ID: "gone-bucket", Why: "moved from"},
	}
	req := CleanupRequest(kept, "us-east-1")
	if diff := cmp.Diff([]string{"shop-prod-db-envmig-old"}, req.Databases); diff != "" {
		t.Fatal(diff)
	}
	obs := &live.Observed{Identity: live.Identity{Account: "123456789012"}, Region: "us-east-1",
		Databases: map[string]*live.Database{"shop-prod-db-envmig-old": {Identifier: "shop-prod-db-envmig-old", Exists: true, DeletionProtection: true}},
		Buckets:   map[string]*live.Bucket{}}
	p := Cleanup("production", kept, obs, Options{Lineage: "c1ea0001"})
	want := []string{"preflight", "gate", "db.update.1.unprotect", "db.delete.1", "db.delete-snapshot.2"}
	if diff := cmp.Diff(want, stepIDs(p)); diff != "" {
		t.Fatal(diff)
	}
	obs.Databases = map[string]*live.Database{}
	if p := Cleanup("production", kept[:1], obs, Options{Lineage: "c1ea0002"}); p.HasChanges() {
		t.Fatal("nothing left to clean must plan nothing")
	}
}

// The downtime estimate counts every switch's stop and start: each switch
// step runs inside the standby window, with its kind's typical duration.
func TestStandbyEstimateIncludesTheSwitchesStopAndStart(t *testing.T) {
	for name, withGroup := range map[string]bool{"with the group": true, "switches alone": false} {
		t.Run(name, func(t *testing.T) {
			cfg, env := designEnv(config.StrategyRenameSwap)
			if !withGroup {
				env.Services = nil
			}
			env.Switches = []*config.Switch{
				{Name: "worker", Kind: config.SwitchECSService, Target: "shop/worker"},
				{Name: "nightly", Kind: config.SwitchEventBridgeRule, Target: "nightly"},
				{Name: "cron", Kind: config.SwitchCommand, Off: "./stop.sh", On: "./start.sh", Timeout: "5m"},
			}
			obs := liveShop()
			obs.Switches = map[string]*live.Switch{
				live.SwitchKey(live.SwitchService, "shop/worker"): {Kind: live.SwitchService, Ref: "shop/worker", Exists: true, On: true, DesiredCount: 2, Stop: live.ServiceStop, Start: live.ServiceStart},
				live.SwitchKey(live.SwitchRule, "nightly"):        {Kind: live.SwitchRule, Ref: "nightly", Exists: true, On: true, Stop: live.RuleStop, Start: live.RuleStart},
				live.SwitchKey(live.SwitchCommand, "./stop.sh"):   {Kind: live.SwitchCommand, Ref: "./stop.sh", Exists: true, On: true, Stop: live.CommandStop, Start: live.CommandStart},
			}
			p := mustPlan(t, cfg, env, obs)
			want := map[string]time.Duration{
				"switch.off.worker": live.ServiceStop, "switch.on.worker": live.ServiceStart,
				"switch.off.nightly": live.RuleStop, "switch.on.nightly": live.RuleStart,
				"switch.off.cron": live.CommandStop, "switch.on.cron": live.CommandStart,
			}
			var sum int64
			for _, s := range p.Steps {
				if s.InStandby {
					sum += s.EstimateSeconds
				}
				d, ok := want[s.ID]
				if !ok {
					continue
				}
				delete(want, s.ID)
				if s.EstimateSeconds != int64(d/time.Second) || !s.InStandby {
					t.Errorf("%s: estimate %ds, in the standby %t; want %s inside it", s.ID, s.EstimateSeconds, s.InStandby, d)
				}
			}
			if len(want) != 0 {
				t.Errorf("steps missing: %v (steps %v)", want, stepIDs(p))
			}
			if p.Estimate.StandbySeconds != sum || sum < int64((live.ServiceStop+live.ServiceStart+live.RuleStop+live.RuleStart+live.CommandStop+live.CommandStart)/time.Second) {
				t.Errorf("standby estimate %ds, the steps inside it %ds", p.Estimate.StandbySeconds, sum)
			}
		})
	}
}

// TestArchivedObjectsOfACopiedBucketAreWarnedOf: a moved versioned bucket
// holding archived objects and noncurrent versions gets EM147 naming both
// (its history is copied); with the history discarded, only the objects
// count; a bucket without any gets none.
func TestArchivedObjectsOfACopiedBucketAreWarnedOf(t *testing.T) {
	em147 := func(p *plan.Plan) string {
		for _, d := range p.Diagnostics {
			if d.Code == "EM147" {
				return d.Summary
			}
		}
		return ""
	}
	cfg, env := designEnv(config.StrategyRenameSwap)
	env.Databases = nil
	env.Buckets[0].MovedFrom = "shop-uploads-legacy"
	obs := liveShop()
	src := &live.Bucket{Name: "shop-uploads-legacy", Exists: true, Region: "us-east-1", Versioning: "Enabled", Objects: 10,
		NoncurrentVersions: 4, ArchivedObjects: 2, ArchivedKeys: []string{"a", "b"}, ArchivedNoncurrent: 3}
	obs.Buckets = map[string]*live.Bucket{"shop-uploads-legacy": src}
	if got := em147(mustPlan(t, cfg, env, obs)); got != "shop-uploads-legacy holds 2 objects (a, b) and 3 noncurrent versions in GLACIER or DEEP_ARCHIVE" {
		t.Errorf("EM147 = %q", got)
	}
	env.Buckets[0].DiscardNoncurrentVersions = true
	if got := em147(mustPlan(t, cfg, env, obs)); got != "shop-uploads-legacy holds 2 objects (a, b) in GLACIER or DEEP_ARCHIVE" {
		t.Errorf("history discarded: EM147 = %q", got)
	}
	src.ArchivedObjects, src.ArchivedKeys, src.ArchivedNoncurrent = 0, nil, 0
	if got := em147(mustPlan(t, cfg, env, obs)); got != "" {
		t.Errorf("nothing archived: EM147 = %q", got)
	}
}
