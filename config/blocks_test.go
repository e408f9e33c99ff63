package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

// blockBadCases are the mistakes of the state, switch and template blocks.
var blockBadCases = map[string]badCase{
	"state without a backend": {src: `state {
}
environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
}
`, summary: "Empty state block", line: 1},
	"state bucket missing": {src: `state {
  s3 {
    prefix = "envmig/"
  }
}
environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
}
`, summary: "Missing state bucket", line: 2},
	"state bucket migrated": {src: `state {
  s3 {
    bucket = "shop-b"
  }
}
environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
}
`, summary: "State bucket is migrated", line: 2},
	"state prefix absolute": {src: `state {
  s3 {
    bucket = "acme-state"
    prefix = "/envmig/"
  }
}
environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
}
`, summary: "Invalid state prefix", line: 4},
	"switch of two kinds": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  switch "jobs" {
    eventbridge_rule = "nightly"
    schedule         = "billing"
  }
}
`, summary: "Switch of several kinds", line: 5},
	"empty switch": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  switch "jobs" {
  }
}
`, summary: "Empty switch", line: 5},
	"ecs service without cluster": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  switch "worker" {
    ecs_service = "worker"
  }
}
`, summary: "Invalid ECS service", line: 6},
	"event source not a UUID": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  switch "consumer" {
    lambda_event_source = "my-function"
  }
}
`, summary: "Invalid event source mapping", line: 6},
	"command switch without on": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  switch "cron" {
    command {
      off = "./stop.sh"
    }
  }
}
`, summary: "Missing on", line: 6},
	"command switch bad timeout": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  switch "cron" {
    command {
      off     = "./stop.sh"
      on      = "./start.sh"
      timeout = "forever"
    }
  }
}
`, summary: "Invalid timeout", line: 9},
	"template without stack": {src: `environment "prod" {
  bucket "b" {
    name = "shop-b"
  }
  template {
    file = "name.envmig.hcl"
  }
}
`, summary: "Template without a stack", line: 5},
	"template file missing": {src: `environment "prod" {
  stack = "shop"
  bucket "b" {
    logical_id = "Uploads"
  }
  template {
    file = "env-v2.yaml"
  }
}
`, summary: "Template file not found", line: 7},
	"template outside the spec": {src: `environment "prod" {
  stack = "shop"
  bucket "b" {
    logical_id = "Uploads"
  }
  template {
    file = "../env-v2.yaml"
  }
}
`, summary: "Template outside the spec's directory", line: 7},
	"stack-swap without a template": {src: `environment "prod" {
  stack = "shop"
  bucket "b" {
    logical_id = "Uploads"
  }
  migration {
    strategy = "stack-swap"
  }
}
`, summary: "stack-swap without a template", line: 6},
	"stack-swap without environment parameter": {src: `environment "prod" {
  stack = "shop"
  bucket "b" {
    logical_id = "Uploads"
  }
  template {
    file = "name.envmig.hcl"
  }
  migration {
    strategy = "stack-swap"
  }
}
`, summary: "Missing environment_parameter", line: 6},
	"discard versions not a bool": {src: `environment "prod" {
  bucket "b" {
    name                        = "shop-b"
    discard_noncurrent_versions = "yes please"
  }
}
`, summary: "Incorrect attribute value type", line: 4},
}

// TestDesignContractAdditions loads DESIGN.md §2's additions (state, stack,
// template, switches, stack-swap) as written there.
func TestDesignContractAdditions(t *testing.T) {
	dir := t.TempDir()
	spec := `state {
  s3 {
    bucket = "acme-envmig-state"
    prefix = "envmig/"
    region = "us-east-1"
  }
}

environment "staging" {
  stack = "acme-staging"

  template {
    file                  = "env-v2.yaml"
    parameters            = { DBInstanceClass = "db.t3.large" }
    environment_parameter = "EnvironmentName"
    snapshot_parameter    = "DBSnapshotIdentifier"
  }

  database "main" { logical_id = "Database" }
  bucket "uploads" { logical_id = "Uploads" }
  service "web" { logical_id = "WebGroup" }

  switch "nightly"  { eventbridge_rule    = "acme-nightly-import" }
  switch "billing"  { schedule            = "acme-billing" }
  switch "worker"   { ecs_service         = "acme/worker" }
  switch "consumer" { lambda_event_source = "a1b2c3d4-5678-90ab-cdef-11111EXAMPLE" }
  switch "cron" {
    command {
      off = "./scripts/stop-cron.sh"
      on  = "./scripts/start-cron.sh"
    }
  }

  migration {
    strategy = "stack-swap"
  }
}
`
	for name, body := range map[string]string{"staging.envmig.hcl": spec, "env-v2.yaml": "Resources: {}\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, diags := Load(dir, LoadOptions{})
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	if diff := cmp.Diff(&S3State{Bucket: "acme-envmig-state", Prefix: "envmig/", Region: "us-east-1"}, cfg.State.S3, cmpopts.IgnoreTypes(hcl.Range{})); diff != "" {
		t.Error(diff)
	}
	env := cfg.Environment("staging")
	if env.Migration.Strategy != StrategyStackSwap || env.Template == nil || env.Template.SnapshotParameter != "DBSnapshotIdentifier" ||
		env.Template.Parameters["DBInstanceClass"] != "db.t3.large" {
		t.Errorf("template = %+v, strategy %s", env.Template, env.Migration.Strategy)
	}
	var got []string
	for _, s := range env.Switches {
		got = append(got, s.Name+":"+s.Kind+":"+s.Target+":"+s.Off+":"+s.On+":"+s.Timeout)
	}
	want := []string{
		"nightly:eventbridge_rule:acme-nightly-import:::", "billing:schedule:acme-billing:::",
		"worker:ecs_service:acme/worker:::", "consumer:lambda_event_source:a1b2c3d4-5678-90ab-cdef-11111EXAMPLE:::",
		"cron:command::./scripts/stop-cron.sh:./scripts/start-cron.sh:5m",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
}
