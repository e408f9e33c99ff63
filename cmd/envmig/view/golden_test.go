package view

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

var update = flag.Bool("update", false, "rewrite the golden plans under examples/")

// fixedWorld is a deterministic live environment for a spec: every
// database exists unencrypted on db.t3.medium, every bucket (or the bucket
// it moves from) holds 1,204 objects, every group has three instances in
// service, every logical ID resolves, every KMS key is readable.
func fixedWorld(cfg *config.Config, env *config.Environment) *live.Observed {
	obs := &live.Observed{
		Identity: live.Identity{Account: "123456789012", ARN: "arn:aws:iam::123456789012:user/ci"},
		Region:   "us-east-1", ReadAt: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC),
		Databases: map[string]*live.Database{}, Buckets: map[string]*live.Bucket{}, Groups: map[string]*live.Group{},
		KMSKeys: map[string]*live.KMSKey{}, StackResources: map[string]live.StackResource{}, StackFound: env.Stack != "",
	}
	physical := func(logical, typ string) string {
		id := strings.ToLower(env.Stack + "-" + logical + "-1a2b3c")
		obs.StackResources[logical] = live.StackResource{LogicalID: logical, PhysicalID: id, Type: typ}
		return id
	}
	for _, d := range env.Databases {
		id := d.Identifier
		if id == "" {
			id = physical(d.LogicalID, "AWS::RDS::DBInstance")
		}
		storage := int64(20)
		if d.AllocatedStorage != nil {
			storage = *d.AllocatedStorage
		}
		obs.Databases[id] = &live.Database{Identifier: id, Exists: true, Status: "available", Engine: or(d.Engine, "postgres"),
			EngineVersion: or(d.EngineVersion, "16.4"), InstanceClass: "db.t3.medium", AllocatedStorage: storage, StorageType: "gp3",
			DBSubnetGroup: "private", ParameterGroup: "default.postgres16", VPCSecurityGroupIDs: []string{"sg-0a1b2c3d"}, Port: 5432, Tags: d.Tags}
		if d.KMSKeyID != "" {
			obs.KMSKeys[d.KMSKeyID] = &live.KMSKey{Ref: d.KMSKeyID, ARN: "arn:aws:kms:us-east-1:123456789012:key/5c1f", Readable: true, Enabled: true}
		}
	}
	for _, b := range env.Buckets {
		name := b.BucketName
		if name == "" {
			name = physical(b.LogicalID, "AWS::S3::Bucket")
		}
		src := name
		if b.MovedFrom != "" {
			src = b.MovedFrom
		}
		obs.Buckets[src] = &live.Bucket{Name: src, Exists: true, Region: "us-east-1", Versioning: "Enabled", Tags: b.Tags,
			Objects: 1204, Bytes: 2469606195, RecentObjects: 240, RecentBytes: 52428800}
	}
	for _, s := range env.Services {
		name := s.AutoScalingGroup
		if name == "" {
			name = physical(s.LogicalID, "AWS::AutoScaling::AutoScalingGroup")
		}
		obs.Groups[name] = &live.Group{Name: name, Exists: true, MinSize: 2, MaxSize: 6, DesiredCapacity: 3,
			Instances: []live.Instance{{ID: "i-01", LifecycleState: "InService"}, {ID: "i-02", LifecycleState: "InService"}, {ID: "i-03", LifecycleState: "InService"}}}
	}
	if env.Template != nil {
		// The stack runs the template's previous version with the
		// pipeline's parameters; no temporary stack exists.
		info := &live.StackInfo{Name: env.Stack, Exists: true, Status: "CREATE_COMPLETE",
			ID:             "arn:aws:cloudformation:us-east-1:123456789012:stack/" + env.Stack + "/5e1f0a20-ad1b-11ef-9c3a-0a1b2c3d4e5f",
			TemplateDigest: "sha256:previous-version", Tags: map[string]string{},
			Parameters: map[string]string{env.Template.EnvironmentParameter: env.Stack, env.Template.SnapshotParameter: ""},
			Outputs:    map[string]string{}, Resources: map[string]live.StackResourceInfo{}}
		for id, r := range obs.StackResources {
			info.Resources[id] = live.StackResourceInfo{StackResource: r, Status: "CREATE_COMPLETE"}
			if r.Type == "AWS::RDS::DBInstance" {
				info.DBProperties = map[string]map[string]string{id: {"Engine": "postgres", "EngineVersion": "16.4",
					"DBInstanceClass": "db.t3.medium", "AllocatedStorage": "20", "StorageEncrypted": "false"}}
			}
		}
		obs.Stacks = map[string]*live.StackInfo{env.Stack: info, env.Stack + env.Migration.TemporarySuffix: {Name: env.Stack + env.Migration.TemporarySuffix}}
	}
	return obs
}

func or(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func TestGoldenPlansOfEveryExample(t *testing.T) {
	dirs, _ := filepath.Glob("../../../examples/*")
	n := 0
	for _, dir := range dirs {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() || filepath.Base(dir) == "ci" {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			cfg, diags := config.Load(dir, config.LoadOptions{})
			if diags.HasErrors() {
				t.Fatal(diags)
			}
			for _, env := range cfg.Environments {
				p, err := planner.Plan(cfg, env, fixedWorld(cfg, env), planner.Options{Lineage: "3fa2c91b", Now: time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC), Tool: "golden"})
				if err != nil {
					t.Fatal(err)
				}
				if !p.HasChanges() && len(p.Errors()) == 0 {
					t.Fatalf("the example %s plans no change against the fixed world", dir)
				}
				var txt, js, md bytes.Buffer
				if err := PlanText(&txt, p, Style{}); err != nil {
					t.Fatal(err)
				}
				if err := plan.Encode(&js, p); err != nil {
					t.Fatal(err)
				}
				if err := PlanMarkdown(&md, p, "plan.json"); err != nil {
					t.Fatal(err)
				}
				if md.Len() > MarkdownLimit {
					t.Errorf("markdown is %d bytes", md.Len())
				}
				// The footer names the file the plan was saved to.
				var other, unsaved bytes.Buffer
				if err := PlanMarkdown(&other, p, "out/reviewed.json"); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(other.String(), "envmig apply out/reviewed.json") || strings.Contains(other.String(), "plan.json") {
					t.Errorf("the footer does not name the saved file:\n%s", other.String())
				}
				if err := PlanMarkdown(&unsaved, p, ""); err != nil {
					t.Fatal(err)
				}
				if !strings.Contains(unsaved.String(), "was not saved") {
					t.Errorf("the footer of an unsaved plan does not say so")
				}
				validatePlanJSON(t, js.Bytes())
				// The plan computes again from the spec and its own
				// observations: what apply FILE relies on.
				if d, err := planner.Rederive(cfg, p); err != nil || d != "" {
					t.Errorf("the plan does not re-derive from its spec and observations: %v %s", err, d)
				}
				golden(t, filepath.Join(dir, "plan.golden.txt"), txt.Bytes())
				golden(t, filepath.Join(dir, "plan.golden.json"), js.Bytes())
				golden(t, filepath.Join(dir, "plan.golden.md"), md.Bytes())
			}
		})
	}
	if n < 3 {
		t.Fatalf("only %d examples", n)
	}
}

func golden(t *testing.T, path string, got []byte) {
	t.Helper()
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/envmig/view -update to create it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Fatalf("%s differs from the golden file; review the change and run go test ./cmd/envmig/view -update\n--- got:\n%s", path, got)
	}
}

// validatePlanJSON checks a plan's JSON against docs/plan.schema.json.
func validatePlanJSON(t *testing.T, js []byte) {
	t.Helper()
	sch, err := jsonschema.NewCompiler().Compile("../../../docs/plan.schema.json")
	if err != nil {
		t.Fatalf("compile the plan schema: %v", err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(js))
	if err != nil {
		t.Fatal(err)
	}
	if err := sch.Validate(inst); err != nil {
		t.Fatalf("the plan does not validate against docs/plan.schema.json: %v", err)
	}
}

func TestSchemaRejectsAnInvalidPlan(t *testing.T) {
	sch, err := jsonschema.NewCompiler().Compile("../../../docs/plan.schema.json")
	if err != nil {
		t.Fatal(err)
	}
	inst, _ := jsonschema.UnmarshalJSON(strings.NewReader(`{"format_version": "2.0", "steps": [{"id": "x", "phase": "sideways"}]}`))
	if sch.Validate(inst) == nil {
		t.Fatal("the schema accepts anything")
	}
}
