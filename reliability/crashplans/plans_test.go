package crashplans

import (
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/internal/awsclient"
	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/internal/demo"
	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/reliability/crashrun"
)

// Suite C, clone-swap and region moves: reliability/crashrun's runner on two
// more plans. The CI sample kills the steps after the point of no return
// that destroy or re-create an original, and the copy back into it, at the
// points where the kill leaves the most half done; the full suite kills
// every step at every point.

// sampleOf makes a CI sample from the points to kill per step ID.
func sampleOf(points map[string][]string) func(int, plan.Step) []string {
	return func(_ int, s plan.Step) []string { return points[s.ID] }
}

// TestCrashCloneSwap: the demo's plan under clone-swap. After a resume the
// database is back under its name with the spec's settings and no clone
// left, the run's four snapshots exist once each (before the migration, the
// encrypted copy, the clone's and the original's final one), the uploads
// bucket holds exactly its objects with the temporary gone, the legacy
// bucket is kept (docs: what a run keeps) and the group is restored.
func TestCrashCloneSwap(t *testing.T) {
	crashrun.Run(t, crashrun.Scenario{
		Suite:   "C-clone-swap",
		Spec:    clitest.ShopSpec("clone-swap"),
		Seed:    clitest.SeedShop,
		Observe: crashrun.ObserveWorld,
		Sample: sampleOf(map[string][]string{
			"db.delete.main":            {executor.PointAfterIntent, executor.PointAccepted},
			"db.restore.main.original":  {executor.PointAccepted},
			"bucket.copy.uploads.final": {executor.PointWaiting},
		}),
		Migrated: func(t *testing.T, before, after crashrun.World) {
			if got := after.Databases[demo.Database]; !strings.Contains(got, "available db.t3.large enc=true") {
				t.Fatalf("database after the run: %s", got)
			}
			if got := keys(after.Databases); !slices.Equal(got, []string{demo.Database}) {
				t.Fatalf("databases after the run: %v, want only %s (the clone deleted)", got, demo.Database)
			}
			var snaps []string
			for _, s := range after.Snapshots {
				snaps = append(snaps, runID.ReplaceAllString(s, "envmig-RUN-"))
			}
			want := []string{"envmig-RUN-main", "envmig-RUN-main-clone", "envmig-RUN-main-enc", "envmig-RUN-main-final"}
			if !slices.Equal(snaps, want) {
				t.Fatalf("snapshots = %v, want exactly the run's four (no duplicate)", after.Snapshots)
			}
			if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
				t.Fatalf("group not restored exactly:\n%s", diff)
			}
			if got, want := keys(after.Buckets), []string{demo.Assets, demo.LegacyAssets, demo.UploadsBucket}; !slices.Equal(got, want) {
				t.Fatalf("buckets after the run: %v, want %v (the temporary removed, the legacy bucket kept)", got, want)
			}
			if diff := cmp.Diff(before.Buckets[demo.UploadsBucket], after.Buckets[demo.UploadsBucket]); diff != "" {
				t.Fatalf("uploads changed:\n%s", diff)
			}
			if diff := cmp.Diff(before.Buckets[demo.LegacyAssets], after.Buckets[demo.Assets]); diff != "" {
				t.Fatalf("moved objects differ from the source:\n%s", diff)
			}
			if diff := cmp.Diff(before.Buckets[demo.LegacyAssets], after.Buckets[demo.LegacyAssets]); diff != "" {
				t.Fatalf("the legacy bucket, kept until cleanup, changed:\n%s", diff)
			}
		},
	})
}

var runID = regexp.MustCompile(`^envmig-[0-9a-f]+-`)

// regionSpec moves the (versioned) uploads bucket from us-east-1 to
// eu-west-1 under its own name.
const regionSpec = `aws {
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
`

// TestCrashRegionMove: the uploads bucket, with a noncurrent version, a
// delete marker, a lifecycle rule and a CORS rule, moves to another region
// under its name (copied into a temporary, the original emptied and
// deleted, re-created in the new region, copied back). After a resume it is
// in the new region with every version and delete marker and its settings,
// every other resource is as before, and the only thing added is the
// temporary, the verified copy a region move keeps until cleanup (docs:
// what a run keeps), holding exactly the bucket's objects.
func TestCrashRegionMove(t *testing.T) {
	crashrun.Run(t, crashrun.Scenario{
		Suite: "C-region",
		Spec:  regionSpec,
		Seed: func(t testing.TB) *awsclient.Clients {
			cl := clitest.SeedShop(t)
			clitest.AddHistoryAndSettings(t, cl, demo.UploadsBucket)
			return cl
		},
		Observe: func(t testing.TB, cl *awsclient.Clients) crashrun.World {
			b := demo.UploadsBucket
			extra := append(clitest.Versions(t, cl, b), clitest.BucketSettings(t, cl, b)...)
			return crashrun.World{World: clitest.Observe(t, cl), Extra: append(extra, "region "+clitest.BucketRegion(t, cl, b))}
		},
		Sample: sampleOf(map[string][]string{
			"bucket.delete.uploads":          {executor.PointAccepted},
			"bucket.create.uploads.recreate": {executor.PointAfterIntent, executor.PointAccepted},
			"bucket.copy.uploads.final":      {executor.PointAccepted},
		}),
		Migrated: func(t *testing.T, before, after crashrun.World) {
			want := slices.Clone(before.Extra)
			want[len(want)-1] = "region eu-west-1"
			if diff := cmp.Diff(want, after.Extra); diff != "" {
				t.Fatalf("the moved bucket's history, settings or region (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(before.Databases, after.Databases); diff != "" {
				t.Fatalf("databases changed:\n%s", diff)
			}
			if diff := cmp.Diff(before.Snapshots, after.Snapshots); diff != "" {
				t.Fatalf("snapshots changed:\n%s", diff)
			}
			if diff := cmp.Diff(before.Groups, after.Groups); diff != "" {
				t.Fatalf("group not restored exactly:\n%s", diff)
			}
			temporary := demo.UploadsBucket + "-envmig"
			if got, want := keys(after.Buckets), append(keys(before.Buckets), temporary); !cmp.Equal(got, sorted(want)) {
				t.Fatalf("buckets after the run: %v, want the original ones and the kept temporary %s", got, temporary)
			}
			for name, objs := range before.Buckets {
				if diff := cmp.Diff(objs, after.Buckets[name]); diff != "" {
					t.Fatalf("%s changed:\n%s", name, diff)
				}
			}
			if diff := cmp.Diff(before.Buckets[demo.UploadsBucket], after.Buckets[temporary]); diff != "" {
				t.Fatalf("the kept temporary is not the bucket's copy:\n%s", diff)
			}
		},
	})
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func sorted(s []string) []string { s = slices.Clone(s); sort.Strings(s); return s }
