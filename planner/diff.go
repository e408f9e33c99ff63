package planner

import (
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// dbPlan is the decision for one database.
type dbPlan struct {
	t    dbTarget
	live *live.Database
	res  plan.Resource
	// settings are the desired settings: live overlaid with the spec.
	settings map[string]string
	tags     map[string]string
	// encryptKey is set when the snapshot must be copied with a KMS key
	// ("default" for the account's RDS key).
	encryptKey string
	// modify lists settings a restore cannot set, changed on the clone.
	modify map[string]string
	// update lists in-place changes for an unmigrated instance.
	update     map[string]string
	updateTags bool
	// upgrade is set for a major engine upgrade: the groups it changes.
	upgrade *groupUpgrade
}

// dbSettingKeys are the settings a restore carries over from the original
// unless the spec changes them.
var dbSettingKeys = []string{
	"instance_class", "db_subnet_group", "parameter_group", "option_group", "multi_az",
	"port", "publicly_accessible", "storage_type", "vpc_security_group_ids",
}

func diffDatabase(t dbTarget, d *live.Database, kms map[string]*live.KMSKey) dbPlan {
	dp := dbPlan{t: t, live: d, res: plan.Resource{Address: t.address, Kind: plan.KindDatabase, Name: t.cfg.Name, ID: t.id}}
	if d == nil || !d.Exists {
		return dp
	}
	c := t.cfg
	dp.settings = map[string]string{
		"instance_class":         d.InstanceClass,
		"db_subnet_group":        d.DBSubnetGroup,
		"parameter_group":        d.ParameterGroup,
		"option_group":           d.OptionGroup,
		"multi_az":               strconv.FormatBool(d.MultiAZ),
		"port":                   strconv.Itoa(int(d.Port)),
		"publicly_accessible":    strconv.FormatBool(d.PubliclyAccessible),
		"storage_type":           d.StorageType,
		"vpc_security_group_ids": strings.Join(d.VPCSecurityGroupIDs, ","),
		"engine":                 d.Engine,
		"engine_version":         d.EngineVersion,
		"allocated_storage":      strconv.FormatInt(d.AllocatedStorage, 10),
		"storage_encrypted":      strconv.FormatBool(d.StorageEncrypted),
		"kms_key_id":             d.KMSKeyID,
		"deletion_protection":    strconv.FormatBool(d.DeletionProtection),
	}
	dp.update = map[string]string{}
	dp.modify = map[string]string{}
	change := func(attr, before, after string, forces bool, reason string) {
		dp.res.Changes = append(dp.res.Changes, plan.Change{Attribute: attr, Before: before, After: after, ForcesMigration: forces})
		dp.settings[attr] = after
		if forces {
			dp.res.Reasons = append(dp.res.Reasons, reason)
		}
	}
	if c.Engine != "" && c.Engine != d.Engine {
		change("engine", d.Engine, c.Engine, true, fmt.Sprintf("engine %s -> %s", d.Engine, c.Engine))
	}
	if c.EngineVersion != "" && c.EngineVersion != d.EngineVersion {
		change("engine_version", d.EngineVersion, c.EngineVersion, true,
			fmt.Sprintf("engine_version %s -> %s: the upgrade is tested on a copy first", d.EngineVersion, c.EngineVersion))
		dp.modify["engine_version"] = c.EngineVersion
		if u, ok := upgradeGroups(d.Engine, d.EngineVersion, c.EngineVersion, d.ParameterGroup, d.OptionGroup, c.ParameterGroup); ok {
			dp.upgrade = &u
			if u.parameter != "" && c.ParameterGroup == "" {
				// RDS moves an instance on a default group to the new
				// family's default by itself; shown for the review.
				dp.res.Changes = append(dp.res.Changes, plan.Change{Attribute: "parameter_group", Before: d.ParameterGroup, After: u.parameter})
				dp.settings["parameter_group"] = u.parameter
			}
			if c.ParameterGroup != "" && c.ParameterGroup != d.ParameterGroup {
				// A custom group of the new family goes with the
				// upgrade, in the same modification.
				dp.modify["parameter_group"] = c.ParameterGroup
			}
		}
	}
	if c.InstanceClass != "" && c.InstanceClass != d.InstanceClass {
		change("instance_class", d.InstanceClass, c.InstanceClass, false, "")
		dp.update["instance_class"] = c.InstanceClass
	}
	if c.AllocatedStorage != nil && *c.AllocatedStorage != d.AllocatedStorage {
		want := strconv.FormatInt(*c.AllocatedStorage, 10)
		shrink := *c.AllocatedStorage < d.AllocatedStorage
		change("allocated_storage", strconv.FormatInt(d.AllocatedStorage, 10), want, shrink,
			fmt.Sprintf("allocated_storage %d -> %d: RDS storage cannot shrink in place", d.AllocatedStorage, *c.AllocatedStorage))
		dp.modify["allocated_storage"] = want
		if !shrink {
			dp.update["allocated_storage"] = want
		}
	}
	wantEncrypted := c.StorageEncrypted
	if wantEncrypted == nil && c.KMSKeyID != "" {
		yes := true
		wantEncrypted = &yes
	}
	if wantEncrypted != nil && *wantEncrypted != d.StorageEncrypted {
		change("storage_encrypted", strconv.FormatBool(d.StorageEncrypted), strconv.FormatBool(*wantEncrypted), true,
			fmt.Sprintf("storage_encrypted %t -> %t: RDS encrypts only through a snapshot copy", d.StorageEncrypted, *wantEncrypted))
		if *wantEncrypted {
			dp.encryptKey = "default"
		}
	}
	if c.KMSKeyID != "" {
		want := c.KMSKeyID
		if k := kms[c.KMSKeyID]; k != nil && k.ARN != "" {
			want = k.ARN
		}
		if want != d.KMSKeyID {
			if d.StorageEncrypted {
				change("kms_key_id", show(d.KMSKeyID), want, true, fmt.Sprintf("kms_key_id %s -> %s: a key changes only through a snapshot copy", show(d.KMSKeyID), want))
			} else {
				dp.res.Changes = append(dp.res.Changes, plan.Change{Attribute: "kms_key_id", Before: show(d.KMSKeyID), After: want})
				dp.settings["kms_key_id"] = want
			}
			dp.encryptKey = want
		}
	}
	if c.MultiAZ != nil && *c.MultiAZ != d.MultiAZ {
		change("multi_az", strconv.FormatBool(d.MultiAZ), strconv.FormatBool(*c.MultiAZ), false, "")
		dp.update["multi_az"] = strconv.FormatBool(*c.MultiAZ)
	}
	if c.DBSubnetGroup != "" && c.DBSubnetGroup != d.DBSubnetGroup {
		change("db_subnet_group", d.DBSubnetGroup, c.DBSubnetGroup, true,
			fmt.Sprintf("db_subnet_group %s -> %s: moving subnets needs a new instance", d.DBSubnetGroup, c.DBSubnetGroup))
	}
	if c.ParameterGroup != "" && c.ParameterGroup != d.ParameterGroup {
		change("parameter_group", d.ParameterGroup, c.ParameterGroup, false, "")
		dp.update["parameter_group"] = c.ParameterGroup
	}
	if c.DeletionProtection != nil && *c.DeletionProtection != d.DeletionProtection {
		change("deletion_protection", strconv.FormatBool(d.DeletionProtection), strconv.FormatBool(*c.DeletionProtection), false, "")
		dp.update["deletion_protection"] = strconv.FormatBool(*c.DeletionProtection)
	}
	dp.tags = userTags(d.Tags)
	if c.Tags != nil && !maps.Equal(c.Tags, dp.tags) {
		dp.res.Changes = append(dp.res.Changes, tagChanges(dp.tags, c.Tags)...)
		dp.tags = maps.Clone(c.Tags)
		dp.updateTags = true
	}
	switch {
	case len(dp.res.Reasons) > 0:
		dp.res.Action = plan.ActionMigrate
	case len(dp.res.Changes) > 0:
		dp.res.Action = plan.ActionUpdate
	default:
		dp.res.Action = plan.ActionNoOp
	}
	return dp
}

// tagChanges lists one change per added, changed or removed tag.
func tagChanges(before, after map[string]string) []plan.Change {
	var out []plan.Change
	keys := slices.Sorted(maps.Keys(unionKeys(before, after)))
	for _, k := range keys {
		b, inB := before[k]
		a, inA := after[k]
		if inB && inA && a == b {
			continue
		}
		ch := plan.Change{Attribute: "tags." + k, Before: b, After: a}
		if !inB {
			ch.Before = "(none)"
		}
		if !inA {
			ch.After = "(none)"
		}
		out = append(out, ch)
	}
	return out
}

// bucketPlan is the decision for one bucket.
type bucketPlan struct {
	t       bucketTarget
	live    *live.Bucket // the bucket under the spec's name
	src     *live.Bucket // where the objects are now (== live unless moved)
	res     plan.Resource
	region  string // where the bucket must be
	move    bool   // objects move from another bucket (moved_from)
	regions bool   // same name, new region: needs a temporary and a re-create
	create  bool   // an empty new bucket
	// versioning is "true"/"false" when the spec manages it.
	versioning string
	tags       map[string]string
	update     bool
	done       bool // moved_from names a bucket already moved
}

func diffBucket(t bucketTarget, obs map[string]*live.Bucket, defaultRegion string) bucketPlan {
	bp := bucketPlan{t: t, live: obs[t.name], src: obs[t.source]}
	bp.res = plan.Resource{Address: t.address, Kind: plan.KindBucket, Name: t.cfg.Name, ID: t.name}
	exists := func(b *live.Bucket) bool { return b != nil && b.Exists }
	c := t.cfg
	if c.Versioning != nil {
		bp.versioning = strconv.FormatBool(*c.Versioning)
	}
	bp.tags = c.Tags
	if t.source != t.name {
		switch {
		case exists(bp.src) && !exists(bp.live):
			bp.move = true
			bp.region = firstNonEmpty(c.Region, bp.src.Region)
			bp.res.Action = plan.ActionMigrate
			bp.res.Reasons = append(bp.res.Reasons, fmt.Sprintf("moved_from %s: objects move into a new bucket", t.source))
			bp.res.Changes = append(bp.res.Changes, plan.Change{Attribute: "name", Before: t.source, After: t.name, ForcesMigration: true})
			if bp.region != bp.src.Region {
				bp.res.Changes = append(bp.res.Changes, plan.Change{Attribute: "region", Before: bp.src.Region, After: bp.region, ForcesMigration: true})
			}
			if bp.tags == nil {
				bp.tags = userTags(bp.src.Tags)
			}
			return bp
		case exists(bp.live) && (!exists(bp.src) || bp.live.RunTag() != ""):
			bp.done = true // already moved: diff the destination as any bucket
			bp.src = bp.live
		default:
			return bp // analyzers report what is wrong
		}
	}
	if !exists(bp.live) {
		bp.create = true
		bp.region = firstNonEmpty(c.Region, defaultRegion)
		bp.res.Action = plan.ActionCreate
		return bp
	}
	l := bp.live
	bp.region = l.Region
	if c.Region != "" && c.Region != l.Region {
		bp.regions = true
		bp.region = c.Region
		bp.res.Changes = append(bp.res.Changes, plan.Change{Attribute: "region", Before: l.Region, After: c.Region, ForcesMigration: true})
		bp.res.Reasons = append(bp.res.Reasons, fmt.Sprintf("region %s -> %s: a bucket cannot move between regions", l.Region, c.Region))
	}
	if c.Versioning != nil && versioningDiffers(l.Versioning, *c.Versioning) {
		bp.res.Changes = append(bp.res.Changes, plan.Change{Attribute: "versioning", Before: strconv.FormatBool(l.Versioning == "Enabled"), After: bp.versioning})
		bp.update = true
	}
	have := userTags(l.Tags)
	if c.Tags != nil && !maps.Equal(have, c.Tags) {
		bp.res.Changes = append(bp.res.Changes, tagChanges(have, c.Tags)...)
		bp.update = true
	} else if c.Tags == nil {
		bp.tags = have
	}
	switch {
	case bp.regions:
		bp.res.Action = plan.ActionMigrate
	case bp.update:
		bp.res.Action = plan.ActionUpdate
	default:
		bp.res.Action = plan.ActionNoOp
	}
	return bp
}

func versioningDiffers(live string, want bool) bool {
	if want {
		return live != "Enabled"
	}
	return live == "Enabled" // never-enabled and suspended both mean off
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// versionLess compares dotted engine versions numerically ("9.6" < "10.1").
func versionLess(a, b string) bool {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, errX := strconv.Atoi(as[i])
		y, errY := strconv.Atoi(bs[i])
		if errX != nil || errY != nil {
			if as[i] != bs[i] {
				return as[i] < bs[i]
			}
			continue
		}
		if x != y {
			return x < y
		}
	}
	return len(as) < len(bs)
}
