package planner

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// target is one spec resource with its physical names resolved.
type dbTarget struct {
	cfg     *config.Database
	address string
	id      string // the original identifier
	temp    string // <id><suffix>
	retired string // <id><suffix>-old
}

type bucketTarget struct {
	cfg     *config.Bucket
	address string
	name    string // the bucket the spec wants
	source  string // where its objects are now: moved_from, or name
	temp    string // <name><suffix>
}

type serviceTarget struct {
	cfg     *config.Service
	address string
	group   string
}

type targets struct {
	dbs      []dbTarget
	buckets  []bucketTarget
	services []serviceTarget
	diags    []plan.Diagnostic
	// stack and logicalIDs: the stack the spec names resources of, and
	// the logical IDs it names.
	stack      string
	logicalIDs []string
	switches   []switchTarget
}

// CloudFormation types a logical ID must have for each block.
const (
	cfnDBInstance = "AWS::RDS::DBInstance"
	cfnBucket     = "AWS::S3::Bucket"
	cfnGroup      = "AWS::AutoScaling::AutoScalingGroup"
)

// resolve maps every resource of env to physical names, from the spec or
// from the stack's resources for logical IDs.
func resolve(env *config.Environment, stack map[string]live.StackResource, stackFound bool) targets {
	var t targets
	m := env.Migration
	t.stack = env.Stack
	t.switches = switchTargets(env)
	physical := func(address, logicalID, wantType string) string {
		t.logicalIDs = append(t.logicalIDs, logicalID)
		if env.Stack != "" && !stackFound {
			t.diags = append(t.diags, plan.Diagnostic{
				Severity: plan.SeverityError, Code: "EM100", Resource: address,
				Summary: fmt.Sprintf("CloudFormation stack %q does not exist", env.Stack),
				Detail:  fmt.Sprintf("%s is named by logical ID %q in stack %q, which this account and region do not have.", address, logicalID, env.Stack),
				Fix:     "Check the stack name in the environment block, AWS_PROFILE and the region.",
			})
			return ""
		}
		r, ok := stack[logicalID]
		if !ok || r.PhysicalID == "" {
			t.diags = append(t.diags, plan.Diagnostic{
				Severity: plan.SeverityError, Code: "EM100", Resource: address,
				Summary: fmt.Sprintf("stack %q has no resource with logical ID %q", env.Stack, logicalID),
				Fix:     "Use a logical ID from the stack's template, or name the resource by its physical name.",
			})
			return ""
		}
		if r.Type != "" && r.Type != wantType {
			t.diags = append(t.diags, plan.Diagnostic{
				Severity: plan.SeverityError, Code: "EM100", Resource: address,
				Summary: fmt.Sprintf("logical ID %q is a %s, not a %s", logicalID, r.Type, wantType),
			})
			return ""
		}
		return r.PhysicalID
	}
	for _, d := range env.Databases {
		addr := "database." + d.Name
		id := d.Identifier
		if id == "" {
			id = unretire(physical(addr, d.LogicalID, cfnDBInstance), m)
		}
		if id == "" {
			continue
		}
		t.dbs = append(t.dbs, dbTarget{cfg: d, address: addr, id: id, temp: config.TemporaryName(id, m), retired: config.RetiredName(id, m)})
	}
	for _, b := range env.Buckets {
		addr := "bucket." + b.Name
		name := b.BucketName
		if name == "" {
			name = physical(addr, b.LogicalID, cfnBucket)
		}
		if name == "" {
			continue
		}
		src := name
		if b.MovedFrom != "" {
			src = b.MovedFrom
		}
		t.buckets = append(t.buckets, bucketTarget{cfg: b, address: addr, name: name, source: src, temp: config.TemporaryName(name, m)})
	}
	for _, s := range env.Services {
		addr := "service." + s.Name
		g := s.AutoScalingGroup
		if g == "" {
			g = physical(addr, s.LogicalID, cfnGroup)
		}
		if g == "" {
			continue
		}
		t.services = append(t.services, serviceTarget{cfg: s, address: addr, group: g})
	}
	return t
}

var nonSnapshotChars = regexp.MustCompile(`[^a-z0-9]+`)

// snapshotID is the deterministic snapshot name of a run's resource: a valid
// RDS snapshot identifier (letters, digits, single hyphens).
func snapshotID(lineage, resource, suffix string) string {
	r := strings.Trim(nonSnapshotChars.ReplaceAllString(strings.ToLower(resource), "-"), "-")
	id := "envmig-" + lineage + "-" + r
	if suffix != "" {
		id += "-" + suffix
	}
	if len(id) > 255 {
		id = id[:255]
	}
	return strings.TrimRight(id, "-")
}
