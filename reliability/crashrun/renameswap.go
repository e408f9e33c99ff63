package crashrun

import (
	"testing"

	"github.com/envmig/envmig/internal/clitest"
	"github.com/envmig/envmig/planner/plan"
)

// mattersMost are the actions the CI sample of the rename-swap plan kills
// at every point.
var mattersMost = map[plan.StepAction]bool{plan.DBSnapshot: true, plan.DBRename: true, plan.GroupResume: true}

// RenameSwap is the demo's plan, suite C: the database cloned, encrypted
// and renamed in, the legacy assets moved to a new name. Its CI sample
// kills the steps that matter most (the snapshot, the renames that swap
// the clone in, the group's return to service) at every point, and every
// other step at one point (rotating through the four, so every point kind
// is exercised). After a resume the world is migrated with every object
// identical, the group restored exactly and no duplicate snapshot
// (clitest.CheckShopMigrated).
func RenameSwap() Scenario {
	return Scenario{
		Suite:   "C",
		Spec:    clitest.ShopSpec("rename-swap"),
		Seed:    clitest.SeedShop,
		Observe: ObserveWorld,
		Sample: func(i int, s plan.Step) []string {
			if mattersMost[s.Action] {
				return Points
			}
			return []string{Points[i%len(Points)]}
		},
		Migrated: func(t *testing.T, before, after World) { clitest.CheckShopMigrated(t, before.World, after.World) },
	}
}
