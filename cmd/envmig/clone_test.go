package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/demo"
)

func TestCloneAnEnvironmentForExperiments(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, clitest.ShopSpec("rename-swap"))
	before := clitest.Observe(t, cl)
	r := c.Must(0, "clone", "production", "-to", "exp1", "-auto-approve")
	if !strings.Contains(r.Stdout, "Clone complete!") {
		t.Fatalf("%s", r)
	}
	after := clitest.Observe(t, cl)
	// The originals are untouched, the group never left service.
	for _, id := range []string{demo.Database} {
		if before.Databases[id] != after.Databases[id] {
			t.Fatalf("the original %s changed: %s -> %s", id, before.Databases[id], after.Databases[id])
		}
	}
	if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
		t.Fatalf("the group changed:\n%s", diff)
	}
	if got := after.Databases[demo.Database+"-exp1"]; !strings.Contains(got, "available db.t3.medium") || !strings.Contains(got, "envmig:clone-of="+demo.Database) {
		t.Fatalf("clone database = %q", got)
	}
	for _, b := range []string{demo.UploadsBucket, demo.LegacyAssets} {
		if diff := cmp.Diff(before.Buckets[b], after.Buckets[b+"-exp1"]); diff != "" {
			t.Fatalf("clone of %s differs (-original +clone):\n%s", b, diff)
		}
	}
	if len(after.Snapshots) != 0 {
		t.Fatalf("the clone's snapshot was kept: %v", after.Snapshots)
	}
	// A second clone of the same name is refused: nothing is overwritten.
	r = c.Must(1, "clone", "production", "-to", "exp1", "-auto-approve")
	if !strings.Contains(r.Stdout+r.Stderr, "already exists") {
		t.Fatalf("%s", r)
	}
	st := c.Must(0, "status", "-environment", "production.clone-exp1")
	if !strings.Contains(st.Stdout, "applied") {
		t.Fatalf("%s", st)
	}
	c.Calls()
}

func TestCloneABucketOnlyEnvironment(t *testing.T) {
	cl := clitest.SeedShop(t)
	c := newCLI(t, `environment "assets" {
  bucket "uploads" {
    name = "shop-prod-uploads"
  }
}
`)
	before := clitest.Observe(t, cl)
	c.Must(0, "clone", "assets", "-to", "copy", "-auto-approve")
	after := clitest.Observe(t, cl)
	if diff := cmp.Diff(before.Buckets[demo.UploadsBucket], after.Buckets[demo.UploadsBucket+"-copy"]); diff != "" {
		t.Fatalf("(-original +clone):\n%s", diff)
	}
	c.Calls()
}

func TestBucketMovesToAnotherRegionUnderItsName(t *testing.T) {
	cl := clitest.SeedShop(t)
	before := clitest.Observe(t, cl)
	c := newCLI(t, `aws {
  region = "us-east-1"
}

environment "production" {
  bucket "uploads" {
    name   = "shop-prod-uploads"
    region = "eu-west-1"
  }

  service "web" {
    autoscaling_group = "shop-prod-web"
  }
}
`)
	r := c.Must(exitChanges, "plan", "-detailed-exitcode", "-out", "plan.json")
	if !strings.Contains(r.Stdout, "region us-east-1 -> eu-west-1") {
		t.Fatalf("%s", r)
	}
	c.Must(0, "apply", "-auto-approve", "plan.json")
	after := clitest.Observe(t, cl)
	if diff := cmp.Diff(before.Buckets[demo.UploadsBucket], after.Buckets[demo.UploadsBucket]); diff != "" {
		t.Fatalf("the moved bucket's objects differ (-before +after):\n%s", diff)
	}
	c.Must(0, "plan", "-detailed-exitcode")
	c.Must(0, "cleanup", "-auto-approve")
	if _, ok := clitest.Observe(t, cl).Buckets[demo.UploadsBucket+"-envmig"]; ok {
		t.Fatal("cleanup left the temporary copy")
	}
	c.Calls()
}
