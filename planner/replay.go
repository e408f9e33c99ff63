package planner

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// Replay rebuilds, from the observations a plan recorded, the live
// observation the planner computed it from. The planner is a pure function
// of (spec, observation, options) and a plan records all three (the spec by
// the working directory it is applied in), so a plan can be computed again
// and compared with the one under review: see Rederive. Everything the
// planner reads of live.Observed must be recorded in a plan's observations;
// TestReplayRoundTrip holds the planner to it.
func Replay(p *plan.Plan) *live.Observed {
	obs := &live.Observed{
		Identity:  live.Identity{Account: p.Account},
		Region:    p.Region,
		ReadAt:    p.CreatedAt,
		Databases: map[string]*live.Database{},
		Snapshots: map[string]*live.Snapshot{},
		Buckets:   map[string]*live.Bucket{},
		Groups:    map[string]*live.Group{},
		KMSKeys:   map[string]*live.KMSKey{},
		Switches:  map[string]*live.Switch{},
	}
	for _, o := range p.Observations {
		aux := isAux(o.Address)
		switch o.Kind {
		case plan.KindDatabase:
			if _, seen := obs.Databases[o.ID]; seen && aux {
				continue // the full observation of the same instance wins
			}
			obs.Databases[o.ID] = replayDatabase(o)
		case plan.KindBucket:
			if _, seen := obs.Buckets[o.ID]; seen && aux {
				continue
			}
			obs.Buckets[o.ID] = replayBucket(o)
		case plan.KindService:
			obs.Groups[o.ID] = replayGroup(o)
		case plan.KindKMSKey:
			obs.KMSKeys[o.ID] = &live.KMSKey{Ref: o.ID, Readable: o.Exists, ARN: o.Attrs["arn"], Enabled: o.Attrs["enabled"] == "true", Error: o.Info["error"]}
		case plan.KindSwitch:
			k, sw := replaySwitch(o)
			obs.Switches[k] = sw
		case plan.KindStack:
			if o.Address != stackAddress {
				if obs.Stacks == nil {
					obs.Stacks = map[string]*live.StackInfo{}
				}
				obs.Stacks[o.ID] = replayStackInfo(o)
				continue
			}
			obs.StackFound = o.Exists
			obs.StackResources = map[string]live.StackResource{}
			for k, v := range o.Attrs {
				id := strings.TrimPrefix(k, "resource.")
				typ, phys, _ := strings.Cut(v, " ")
				if v != "" {
					obs.StackResources[id] = live.StackResource{LogicalID: id, Type: typ, PhysicalID: phys}
				}
			}
		}
	}
	return obs
}

func isAux(address string) bool {
	for _, s := range []string{auxTemporary, auxRetired, auxClone} {
		if strings.HasSuffix(address, s) {
			return true
		}
	}
	return false
}

// replayTags returns the user's tags recorded as "tags.<key>" attributes,
// with the run's tag when one was recorded.
func replayTags(o plan.Observation) map[string]string {
	tags := map[string]string{}
	for k, v := range o.Attrs {
		if key, ok := strings.CutPrefix(k, "tags."); ok {
			tags[key] = v
		}
	}
	if run := o.Attrs["envmig_run"]; run != "" {
		tags["envmig:run"] = run
	}
	if of := o.Attrs["envmig_clone_of"]; of != "" {
		tags[CloneTagKey] = of
	}
	return tags
}

func replayDatabase(o plan.Observation) *live.Database {
	d := &live.Database{Identifier: o.ID, Exists: o.Exists, Tags: replayTags(o)}
	if !o.Exists {
		return d
	}
	a := o.Attrs
	num := func(k string) int64 { n, _ := strconv.ParseInt(a[k], 10, 64); return n }
	d.Engine, d.EngineVersion, d.InstanceClass = a["engine"], a["engine_version"], a["instance_class"]
	d.AllocatedStorage = num("allocated_storage")
	d.StorageType = a["storage_type"]
	d.StorageEncrypted = a["storage_encrypted"] == "true"
	d.KMSKeyID = a["kms_key_id"]
	d.MultiAZ = a["multi_az"] == "true"
	d.DBSubnetGroup, d.ParameterGroup, d.OptionGroup = a["db_subnet_group"], a["parameter_group"], a["option_group"]
	if s := a["vpc_security_group_ids"]; s != "" {
		d.VPCSecurityGroupIDs = strings.Split(s, ",")
	}
	d.Port = int32(num("port"))
	d.PubliclyAccessible = a["publicly_accessible"] == "true"
	d.DeletionProtection = a["deletion_protection"] == "true"
	d.Status, d.Endpoint = o.Info["status"], o.Info["endpoint"]
	if by := a["retired_by"]; by != "" {
		d.Tags[retiredTag] = by
	}
	return d
}

func replayBucket(o plan.Observation) *live.Bucket {
	b := &live.Bucket{Name: o.ID, Exists: o.Exists, Tags: replayTags(o)}
	if !o.Exists {
		return b
	}
	a, info := o.Attrs, o.Info
	num := func(k string) int64 { n, _ := strconv.ParseInt(info[k], 10, 64); return n }
	b.Region, b.Versioning, b.Encryption = a["region"], a["versioning"], a["encryption"]
	b.ObjectLock = a["object_lock"] == "true"
	b.HasPolicy = a["policy"] == "true"
	b.PolicyHasConditions = a["policy_conditions"] == "true"
	b.Objects, b.Bytes = num("objects"), num("bytes")
	b.RecentObjects, b.RecentBytes = num("recent_objects"), num("recent_bytes")
	b.Truncated = info["truncated"] == "true"
	b.NoncurrentVersions, b.DeleteMarkers = num("noncurrent_versions"), num("delete_markers")
	b.HistoryTruncated = info["history_truncated"] == "true"
	if b.ArchivedObjects = num("archived_objects"); b.ArchivedObjects > 0 {
		b.ArchivedKeys = strings.Split(info["archived_keys"], "\n")
	}
	b.ArchivedNoncurrent = num("archived_noncurrent")
	replaySettings(b, o)
	return b
}

func replayGroup(o plan.Observation) *live.Group {
	g := &live.Group{Name: o.ID, Exists: o.Exists}
	if !o.Exists {
		return g
	}
	num := func(v string) int32 { n, _ := strconv.ParseInt(v, 10, 32); return int32(n) }
	g.MinSize, g.MaxSize = num(o.Attrs["min_size"]), num(o.Attrs["max_size"])
	g.DesiredCapacity = num(o.Info["desired_capacity"])
	if s := o.Attrs["suspended_processes"]; s != "" {
		g.SuspendedProcesses = strings.Split(s, ",")
	}
	g.StandbyRun = o.Attrs["standby_run"]
	for _, e := range strings.Split(o.Info["instance_states"], ",") {
		if id, state, ok := strings.Cut(e, "="); ok {
			g.Instances = append(g.Instances, live.Instance{ID: id, LifecycleState: state})
		}
	}
	return g
}

// Rederive computes again, from the spec and the observations p recorded,
// the plan p claims to be, and returns the first difference between the
// two ("" when p is exactly what the spec gives). Only a plan that the spec
// in the working directory produces runs: a plan made from another spec, or
// edited with its digest recomputed, differs here.
func Rederive(cfg *config.Config, p *plan.Plan) (string, error) {
	var q *plan.Plan
	var err error
	opts := Options{Lineage: p.Lineage, Now: p.CreatedAt, Tool: p.Tool, Replace: p.Replace}
	switch p.Strategy {
	case "cleanup":
		return "", fmt.Errorf("a cleanup plan is derived from the journal, not from the spec: use RederiveCleanup")
	case "clone", StrategyCloneDestroy:
		envName, name, ok := strings.Cut(p.Environment, cloneJournalInfix)
		env := cfg.Environment(envName)
		if !ok || env == nil {
			return fmt.Sprintf("the plan is a clone of environment %q, which the spec does not define", envName), nil
		}
		if p.Strategy == StrategyCloneDestroy {
			q, err = CloneDestroy(cfg, env, Replay(p), name, opts)
		} else {
			q, err = Clone(cfg, env, Replay(p), name, opts)
		}
	default:
		env := cfg.Environment(p.Environment)
		if env == nil {
			return fmt.Sprintf("the plan is for environment %q, which the spec does not define", p.Environment), nil
		}
		q, err = Plan(cfg, env, Replay(p), opts)
	}
	if err != nil {
		return "", err
	}
	return plan.FirstDifference(p, q), nil
}

// RederiveCleanup is Rederive for a cleanup plan, which is computed from
// what the journal kept rather than from the spec.
func RederiveCleanup(kept []plan.Leftover, p *plan.Plan) string {
	q := Cleanup(p.Environment, kept, Replay(p), Options{Lineage: p.Lineage, Now: p.CreatedAt, Tool: p.Tool})
	return plan.FirstDifference(p, q)
}

// replaySettings is addSettings' inverse.
func replaySettings(b *live.Bucket, o plan.Observation) {
	a := o.Attrs
	for k, v := range a {
		name, ok := strings.CutPrefix(k, "setting.")
		if !ok {
			continue
		}
		if b.Settings == nil {
			b.Settings = map[string]live.BucketSetting{}
		}
		state, digest, _ := strings.Cut(v, " ")
		b.Settings[name] = live.BucketSetting{State: state, Digest: digest, Summary: o.Info["setting."+name]}
	}
	list := func(k string) []string {
		if a[k] == "" {
			return nil
		}
		return strings.Split(a[k], ",")
	}
	b.EncryptionKMSKey = a["encryption_kms_key"]
	b.EncryptionBucketKey = a["encryption_bucket_key"] == "true"
	b.PolicyNameMentions, _ = strconv.Atoi(a["policy_name_mentions"])
	b.NotificationTargets = list("notification_targets")
	b.NotificationEventBridge = a["notification_eventbridge"] == "true"
	b.LoggingTarget = a["logging_target"]
	b.ReplicationRole = a["replication_role"]
	b.ReplicationDestinations = list("replication_destinations")
	b.ObjectLockRetention = a["object_lock_retention"]
}
