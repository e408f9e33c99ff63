package planner

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// Request lists what the live reader must observe for env: every physical
// name the spec names (after resolving logical IDs in stack) and every name
// a run would use, so the plan can tell a free name from a taken one.
func Request(cfg *config.Config, env *config.Environment, stack map[string]live.StackResource, stackFound bool) live.Request {
	t := resolve(env, stack, stackFound)
	req := live.Request{
		Stack:             env.Stack,
		CountObjects:      true,
		AllowedAccountIDs: cfg.AWS.AllowedAccountIDs,
		Region:            cfg.AWS.Region,
	}
	for _, d := range t.dbs {
		req.Databases = append(req.Databases, d.id, d.temp, d.retired)
		if d.cfg.KMSKeyID != "" {
			req.KMSKeys = append(req.KMSKeys, d.cfg.KMSKeyID)
		}
	}
	for _, b := range t.buckets {
		req.Buckets = append(req.Buckets, b.name, b.temp)
		if b.source != b.name {
			req.Buckets = append(req.Buckets, b.source)
		}
	}
	for _, s := range t.services {
		req.Groups = append(req.Groups, s.group)
	}
	for _, s := range switchTargets(env) {
		req.Switches = append(req.Switches, s.ref())
	}
	swapRequest(env, &req)
	req.Databases = uniq(req.Databases)
	req.Buckets = uniq(req.Buckets)
	req.Groups = uniq(req.Groups)
	req.KMSKeys = uniq(req.KMSKeys)
	return req
}

func uniq(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

// Observation address suffixes for the names a run would use.
const (
	auxTemporary = ":temporary"
	auxRetired   = ":retired"
	auxSource    = ":source"
	auxClone     = ":clone"
)

// observations flattens what the plan depends on.
func observations(t targets, obs *live.Observed) []plan.Observation {
	var out []plan.Observation
	for _, d := range t.dbs {
		out = append(out, dbObservation(d.address, d.id, obs.Databases[d.id]))
		out = append(out, presence(d.address+auxTemporary, plan.KindDatabase, d.temp, dbOwner(obs.Databases[d.temp])))
		out = append(out, presence(d.address+auxRetired, plan.KindDatabase, d.retired, dbOwner(obs.Databases[d.retired])))
		if ref := d.cfg.KMSKeyID; ref != "" {
			out = append(out, kmsObservation(ref, obs.KMSKeys[ref]))
		}
	}
	for _, b := range t.buckets {
		out = append(out, bucketObservation(b.address, b.name, obs.Buckets[b.name]))
		if b.source != b.name {
			out = append(out, bucketObservation(b.address+auxSource, b.source, obs.Buckets[b.source]))
		}
		out = append(out, presence(b.address+auxTemporary, plan.KindBucket, b.temp, bucketOwner(obs.Buckets[b.temp])))
	}
	for _, s := range t.services {
		out = append(out, groupObservation(s.address, s.group, obs.Groups[s.group]))
	}
	if t.stack != "" {
		out = append(out, stackObservation(t.stack, t.logicalIDs, obs.StackResources, obs.StackFound))
	}
	for _, s := range t.switches {
		out = append(out, switchObservation(s, s.observed(obs)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return dedupe(out)
}

// stackObservation records the stack's resources the spec names by logical
// ID: "<type> <physical ID>" per logical ID ("" when the stack has none).
func stackObservation(name string, logicalIDs []string, res map[string]live.StackResource, found bool) plan.Observation {
	o := plan.Observation{Address: stackAddress, Kind: plan.KindStack, ID: name, Exists: found}
	if !found {
		return o
	}
	o.Attrs = map[string]string{}
	for _, id := range logicalIDs {
		o.Attrs["resource."+id] = ""
		if r, ok := res[id]; ok {
			o.Attrs["resource."+id] = r.Type + " " + r.PhysicalID
		}
	}
	return o
}

// stackAddress is the address of the stack observation.
const stackAddress = "stack"

func dedupe(in []plan.Observation) []plan.Observation {
	out := in[:0]
	for i, o := range in {
		if i > 0 && in[i-1].Address == o.Address {
			continue
		}
		out = append(out, o)
	}
	return out
}

// owner is whether a name is taken, and by which run ("" = not envmig's).
type owner struct {
	exists bool
	run    string
}

func dbOwner(d *live.Database) owner {
	if d == nil || !d.Exists {
		return owner{}
	}
	return owner{true, d.RunTag()}
}

func bucketOwner(b *live.Bucket) owner {
	if b == nil || !b.Exists {
		return owner{}
	}
	return owner{true, b.RunTag()}
}

func presence(address string, kind plan.Kind, id string, o owner) plan.Observation {
	obs := plan.Observation{Address: address, Kind: kind, ID: id, Exists: o.exists}
	if o.exists {
		obs.Attrs = map[string]string{"envmig_run": o.run}
	}
	return obs
}

func dbObservation(address, id string, d *live.Database) plan.Observation {
	o := plan.Observation{Address: address, Kind: plan.KindDatabase, ID: id}
	if d == nil || !d.Exists {
		return o
	}
	o.Exists = true
	o.Attrs = map[string]string{
		"engine":                 d.Engine,
		"engine_version":         d.EngineVersion,
		"instance_class":         d.InstanceClass,
		"allocated_storage":      strconv.FormatInt(d.AllocatedStorage, 10),
		"storage_type":           d.StorageType,
		"storage_encrypted":      strconv.FormatBool(d.StorageEncrypted),
		"kms_key_id":             d.KMSKeyID,
		"multi_az":               strconv.FormatBool(d.MultiAZ),
		"db_subnet_group":        d.DBSubnetGroup,
		"parameter_group":        d.ParameterGroup,
		"option_group":           d.OptionGroup,
		"vpc_security_group_ids": strings.Join(d.VPCSecurityGroupIDs, ","),
		"port":                   strconv.Itoa(int(d.Port)),
		"publicly_accessible":    strconv.FormatBool(d.PubliclyAccessible),
		"deletion_protection":    strconv.FormatBool(d.DeletionProtection),
	}
	addTags(o.Attrs, d.Tags)
	if by := d.Tags[retiredTag]; by != "" {
		o.Attrs["retired_by"] = by
	}
	o.Info = map[string]string{"status": d.Status, "endpoint": d.Endpoint}
	return o
}

func bucketObservation(address, name string, b *live.Bucket) plan.Observation {
	o := plan.Observation{Address: address, Kind: plan.KindBucket, ID: name}
	if b == nil || !b.Exists {
		return o
	}
	o.Exists = true
	o.Attrs = map[string]string{
		"region":            b.Region,
		"versioning":        b.Versioning,
		"encryption":        b.Encryption,
		"object_lock":       strconv.FormatBool(b.ObjectLock),
		"policy":            strconv.FormatBool(b.HasPolicy),
		"policy_conditions": strconv.FormatBool(b.PolicyHasConditions),
	}
	addTags(o.Attrs, b.Tags)
	if run := b.RunTag(); run != "" {
		o.Attrs["envmig_run"] = run
	}
	addSettings(o.Attrs, b)
	o.Info = map[string]string{
		"objects":        strconv.FormatInt(b.Objects, 10),
		"bytes":          strconv.FormatInt(b.Bytes, 10),
		"recent_objects": strconv.FormatInt(b.RecentObjects, 10),
		"recent_bytes":   strconv.FormatInt(b.RecentBytes, 10),
		"truncated":      strconv.FormatBool(b.Truncated),
	}
	if b.ArchivedObjects > 0 {
		o.Info["archived_objects"] = strconv.FormatInt(b.ArchivedObjects, 10)
		o.Info["archived_keys"] = strings.Join(b.ArchivedKeys, "\n")
	}
	if b.ArchivedNoncurrent > 0 {
		o.Info["archived_noncurrent"] = strconv.FormatInt(b.ArchivedNoncurrent, 10)
	}
	if b.Versioning != "" {
		o.Info["noncurrent_versions"] = strconv.FormatInt(b.NoncurrentVersions, 10)
		o.Info["delete_markers"] = strconv.FormatInt(b.DeleteMarkers, 10)
		o.Info["history_truncated"] = strconv.FormatBool(b.HistoryTruncated)
	}
	for name, st := range b.Settings {
		if st.Summary != "" {
			o.Info["setting."+name] = st.Summary
		}
	}
	return o
}

func groupObservation(address, name string, g *live.Group) plan.Observation {
	o := plan.Observation{Address: address, Kind: plan.KindService, ID: name}
	if g == nil || !g.Exists {
		return o
	}
	o.Exists = true
	o.Attrs = map[string]string{
		"min_size":            strconv.Itoa(int(g.MinSize)),
		"max_size":            strconv.Itoa(int(g.MaxSize)),
		"suspended_processes": strings.Join(g.SuspendedProcesses, ","),
		"standby_run":         g.StandbyRun,
	}
	states := make([]string, len(g.Instances))
	for i, in := range g.Instances {
		states[i] = in.ID + "=" + in.LifecycleState
	}
	o.Info = map[string]string{
		"desired_capacity": strconv.Itoa(int(g.DesiredCapacity)),
		"in_service":       strconv.Itoa(g.InService()),
		"instances":        strconv.Itoa(len(g.Instances)),
		"instance_states":  strings.Join(states, ","),
	}
	return o
}

func kmsObservation(ref string, k *live.KMSKey) plan.Observation {
	o := plan.Observation{Address: "kms:" + ref, Kind: plan.KindKMSKey, ID: ref}
	if k == nil {
		return o
	}
	o.Exists = k.Readable
	if k.Readable {
		o.Attrs = map[string]string{"arn": k.ARN, "enabled": strconv.FormatBool(k.Enabled)}
	} else if k.Error != "" {
		o.Info = map[string]string{"error": k.Error}
	}
	return o
}

// addTags adds the user's tags as "tags.<key>" attributes; envmig's own and
// AWS's reserved tags are not the user's.
func addTags(attrs, tags map[string]string) {
	for k, v := range userTags(tags) {
		attrs["tags."+k] = v
	}
}

func userTags(tags map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range tags {
		if strings.HasPrefix(k, "envmig:") || strings.HasPrefix(k, "aws:") {
			continue
		}
		out[k] = v
	}
	return out
}

// Observations flattens what a re-read of live AWS saw for the plan's
// resources, in the same form as the plan's own observations.
func Observations(env *config.Environment, obs *live.Observed) []plan.Observation {
	return observations(resolve(env, obs.StackResources, obs.StackFound), obs)
}

// Stale compares the observations a plan depended on with fresh ones and
// says, per resource, what changed. An empty result means the plan is
// current. Info (counts, desired capacity) never makes a plan stale.
func Stale(planned, now []plan.Observation) []string {
	cur := map[string]plan.Observation{}
	for _, o := range now {
		cur[o.Address] = o
	}
	var out []string
	for _, p := range planned {
		n, ok := cur[p.Address]
		name := p.ID
		if name == "" {
			name = p.Address
		}
		switch {
		case !ok:
			out = append(out, fmt.Sprintf("%s: no longer part of the environment", p.Address))
			continue
		case p.ID != n.ID:
			out = append(out, fmt.Sprintf("%s: was %s, now %s", p.Address, p.ID, n.ID))
			continue
		case p.Exists && !n.Exists:
			out = append(out, fmt.Sprintf("%s: no longer exists", name))
			continue
		case !p.Exists && n.Exists:
			out = append(out, fmt.Sprintf("%s: exists now (it did not when the plan was made)", name))
			continue
		}
		keys := slices.Sorted(maps.Keys(unionKeys(p.Attrs, n.Attrs)))
		for _, k := range keys {
			a, b := p.Attrs[k], n.Attrs[k]
			if a != b {
				out = append(out, fmt.Sprintf("%s: %s was %s, now %s", name, k, show(a), show(b)))
			}
		}
	}
	planned2 := map[string]bool{}
	for _, p := range planned {
		planned2[p.Address] = true
	}
	for _, n := range now {
		if !planned2[n.Address] {
			out = append(out, fmt.Sprintf("%s: new in the environment since the plan was made", n.Address))
		}
	}
	return out
}

func unionKeys(a, b map[string]string) map[string]bool {
	u := map[string]bool{}
	for k := range a {
		u[k] = true
	}
	for k := range b {
		u[k] = true
	}
	return u
}

func show(v string) string {
	if v == "" {
		return "(none)"
	}
	return v
}

// Reobserve lists what to read to check a saved plan is still current:
// every resource it observed, by the physical names it recorded. It needs no
// spec, so a plan file can be applied on its own.
func Reobserve(p *plan.Plan) live.Request {
	req := live.Request{Region: p.Region}
	for _, o := range p.Observations {
		switch o.Kind {
		case plan.KindDatabase:
			req.Databases = append(req.Databases, o.ID)
		case plan.KindBucket:
			req.Buckets = append(req.Buckets, o.ID)
		case plan.KindService:
			req.Groups = append(req.Groups, o.ID)
		case plan.KindKMSKey:
			req.KMSKeys = append(req.KMSKeys, o.ID)
		case plan.KindStack:
			if o.Address == stackAddress {
				req.Stack = o.ID
			} else {
				req.StackInfo = append(req.StackInfo, o.ID)
			}
		}
	}
	req.Databases, req.Buckets = uniq(req.Databases), uniq(req.Buckets)
	req.Groups, req.KMSKeys = uniq(req.Groups), uniq(req.KMSKeys)
	return req
}

// Refresh flattens a fresh observation in the shape of p's observations,
// address by address, for Stale.
func Refresh(p *plan.Plan, obs *live.Observed) []plan.Observation {
	out := make([]plan.Observation, 0, len(p.Observations))
	for _, o := range p.Observations {
		aux := strings.HasSuffix(o.Address, auxTemporary) || strings.HasSuffix(o.Address, auxRetired) || strings.HasSuffix(o.Address, auxClone)
		switch o.Kind {
		case plan.KindDatabase:
			if aux {
				out = append(out, presence(o.Address, o.Kind, o.ID, dbOwner(obs.Databases[o.ID])))
			} else {
				out = append(out, dbObservation(o.Address, o.ID, obs.Databases[o.ID]))
			}
		case plan.KindBucket:
			if aux {
				out = append(out, presence(o.Address, o.Kind, o.ID, bucketOwner(obs.Buckets[o.ID])))
			} else {
				out = append(out, bucketObservation(o.Address, o.ID, obs.Buckets[o.ID]))
			}
		case plan.KindService:
			out = append(out, groupObservation(o.Address, o.ID, obs.Groups[o.ID]))
		case plan.KindKMSKey:
			out = append(out, kmsObservation(o.ID, obs.KMSKeys[o.ID]))
		case plan.KindStack:
			if o.Address != stackAddress {
				out = append(out, stackInfoObservation(o.Address, o.ID, obs.Stacks[o.ID]))
				continue
			}
			var ids []string
			for k := range o.Attrs {
				ids = append(ids, strings.TrimPrefix(k, "resource."))
			}
			sort.Strings(ids)
			out = append(out, stackObservation(o.ID, ids, obs.StackResources, obs.StackFound))
		default:
			out = append(out, o)
		}
	}
	return out
}

// addSettings records what the planner reads of a bucket's settings: each
// setting's state and digest (a change makes the plan stale) and the
// details the carry's analysis uses.
func addSettings(attrs map[string]string, b *live.Bucket) {
	for name, st := range b.Settings {
		attrs["setting."+name] = st.State + " " + st.Digest
	}
	put := func(k, v string) {
		if v != "" {
			attrs[k] = v
		}
	}
	put("encryption_kms_key", b.EncryptionKMSKey)
	if b.EncryptionBucketKey {
		attrs["encryption_bucket_key"] = "true"
	}
	if b.PolicyNameMentions > 0 {
		attrs["policy_name_mentions"] = strconv.Itoa(b.PolicyNameMentions)
	}
	put("notification_targets", strings.Join(b.NotificationTargets, ","))
	if b.NotificationEventBridge {
		attrs["notification_eventbridge"] = "true"
	}
	put("logging_target", b.LoggingTarget)
	put("replication_role", b.ReplicationRole)
	put("replication_destinations", strings.Join(b.ReplicationDestinations, ","))
	put("object_lock_retention", b.ObjectLockRetention)
}
