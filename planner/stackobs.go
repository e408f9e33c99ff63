package planner

import (
	"sort"
	"strings"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// swapRequest adds what a stack-swap plan reads: the stack in full and the
// temporary stack's name.
func swapRequest(env *config.Environment, req *live.Request) {
	if env.Stack == "" {
		return
	}
	req.StackInfo = append(req.StackInfo, env.Stack)
	if env.Migration.Strategy == config.StrategyStackSwap {
		req.StackInfo = append(req.StackInfo, SwapTemporaryStack(env))
	}
}

// stackInfoObservation records what the planner reads of a stack read in
// full: its ID, status, template digest, parameters and persistent
// resources (outputs in Info, not compared). The temporary stack's name is
// recorded as a presence.
func stackInfoObservation(address, name string, info *live.StackInfo) plan.Observation {
	o := plan.Observation{Address: address, Kind: plan.KindStack, ID: name}
	if info == nil || !info.Exists {
		return o
	}
	o.Exists = true
	o.Attrs = map[string]string{"envmig_run": info.RunTag()}
	if address == stackTemporaryAddress {
		return o
	}
	o.Attrs["stack_id"] = info.ID
	o.Attrs["status"] = info.Status
	o.Attrs["template_digest"] = info.TemplateDigest
	for k, v := range info.Parameters {
		o.Attrs["param."+k] = v
	}
	for k, r := range info.Resources {
		if r.Type == cfnDBInstance || r.Type == cfnBucket || r.Type == cfnGroup {
			o.Attrs["resource."+k] = r.Type + " " + r.PhysicalID
		}
	}
	for id, props := range info.DBProperties {
		for k, v := range props {
			o.Attrs["db."+id+"."+k] = v
		}
	}
	o.Info = map[string]string{}
	for k, v := range info.Outputs {
		o.Info["output."+k] = v
	}
	if info.Template != "" {
		o.Info["template"] = info.Template
	}
	return o
}

// replayStackInfo is stackInfoObservation's inverse.
func replayStackInfo(o plan.Observation) *live.StackInfo {
	info := &live.StackInfo{Name: o.ID, Exists: o.Exists}
	if !o.Exists {
		return info
	}
	info.Tags = map[string]string{}
	if r := o.Attrs["envmig_run"]; r != "" {
		info.Tags["envmig:run"] = r
	}
	info.ID, info.Status, info.TemplateDigest = o.Attrs["stack_id"], o.Attrs["status"], o.Attrs["template_digest"]
	info.Parameters = map[string]string{}
	info.Resources = map[string]live.StackResourceInfo{}
	info.Outputs = map[string]string{}
	for k, v := range o.Attrs {
		if p, ok := strings.CutPrefix(k, "param."); ok {
			info.Parameters[p] = v
		}
		if rest, ok := strings.CutPrefix(k, "db."); ok {
			id, prop, _ := strings.Cut(rest, ".")
			if info.DBProperties == nil {
				info.DBProperties = map[string]map[string]string{}
			}
			if info.DBProperties[id] == nil {
				info.DBProperties[id] = map[string]string{}
			}
			info.DBProperties[id][prop] = v
		}
		if id, ok := strings.CutPrefix(k, "resource."); ok {
			typ, phys, _ := strings.Cut(v, " ")
			info.Resources[id] = live.StackResourceInfo{StackResource: live.StackResource{LogicalID: id, Type: typ, PhysicalID: phys}}
		}
	}
	for k, v := range o.Info {
		if out, ok := strings.CutPrefix(k, "output."); ok {
			info.Outputs[out] = v
		}
	}
	info.Template = o.Info["template"]
	return info
}

// stackInfoObservations are the observations of the stacks read in full.
func stackInfoObservations(env *config.Environment, obs *live.Observed) []plan.Observation {
	if env.Stack == "" || obs.Stacks == nil {
		return nil
	}
	var out []plan.Observation
	if info, ok := obs.Stacks[env.Stack]; ok {
		out = append(out, stackInfoObservation(stackInfoAddress, env.Stack, info))
	}
	if env.Migration.Strategy == config.StrategyStackSwap {
		temp := SwapTemporaryStack(env)
		if info, ok := obs.Stacks[temp]; ok {
			out = append(out, stackInfoObservation(stackTemporaryAddress, temp, info))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Address < out[j].Address })
	return out
}
