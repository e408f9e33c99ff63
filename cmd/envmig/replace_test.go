package main

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/demo"
)

// unchangedShop names the seeded shop as it is: a plan of it has no
// changes.
const unchangedShop = `environment "production" {
  database "main" {
    identifier = "shop-prod-db"
  }
  bucket "uploads" {
    name = "shop-prod-uploads"
  }
  service "web" {
    autoscaling_group = "shop-prod-web"
  }
  migration {
    verify {
      command "rows" {
        run = "true"
      }
    }
  }
}
`

func TestReplaceMigratesWhatNoSettingRequires(t *testing.T) {
	cl := clitest.SeedShop(t)
	before := clitest.Observe(t, cl)
	c := newCLI(t, unchangedShop)
	c.Must(0, "plan", "-detailed-exitcode")

	r := c.Must(1, "plan", "-replace", "database.mian")
	if !strings.Contains(r.Stderr, "database.main, bucket.uploads") {
		t.Fatalf("an unknown address does not list the known ones:\n%s", r)
	}
	p := c.Must(2, "plan", "-detailed-exitcode", "-replace", "database.main", "-replace", "bucket.uploads", "-out", "plan.json")
	for _, want := range []string{"-replace database.main", "-replace bucket.uploads", "re-created under its name"} {
		if !strings.Contains(p.Stdout, want) {
			t.Fatalf("the plan does not say %q:\n%s", want, p)
		}
	}
	r = c.Must(1, "apply", "-auto-approve", "-replace", "bucket.uploads", "plan.json")
	if !strings.Contains(r.Stderr, "a saved plan already records it") {
		t.Fatalf("%s", r)
	}
	c.Must(0, "apply", "-auto-approve", "plan.json")

	after := clitest.Observe(t, cl)
	if diff := cmp.Diff(before.Buckets[demo.UploadsBucket], after.Buckets[demo.UploadsBucket]); diff != "" {
		t.Fatalf("the replaced bucket does not hold what it held (-before +after):\n%s", diff)
	}
	if _, ok := after.Databases[demo.Database+"-envmig-old"]; !ok {
		t.Fatalf("the database was not replaced (no retired original): %v", after.Databases)
	}
	if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
		t.Fatalf("the group is not as it was (-before +after):\n%s", diff)
	}
	c.Must(0, "plan", "-detailed-exitcode")
	c.Calls()
}
