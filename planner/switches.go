package planner

import (
	"fmt"
	"strconv"
	"time"

	"github.com/envmig/envmig/config"
	"github.com/envmig/envmig/planner/live"
	"github.com/envmig/envmig/planner/plan"
)

// switchTarget is one switch block of the spec.
type switchTarget struct {
	cfg     *config.Switch
	address string
}

func switchTargets(env *config.Environment) []switchTarget {
	var out []switchTarget
	for _, s := range env.Switches {
		out = append(out, switchTarget{cfg: s, address: "switch." + s.Name})
	}
	return out
}

// ref is what the live reader observes the switch by: its resource, or a
// command switch's off command.
func (s switchTarget) ref() live.SwitchRef {
	if s.cfg.Kind == config.SwitchCommand {
		return live.SwitchRef{Kind: s.cfg.Kind, Ref: s.cfg.Off}
	}
	return live.SwitchRef{Kind: s.cfg.Kind, Ref: s.cfg.Target}
}

func (s switchTarget) observed(obs *live.Observed) *live.Switch {
	r := s.ref()
	return obs.Switches[live.SwitchKey(r.Kind, r.Ref)]
}

// switchObservation records what the plan saw of a switch: whether it
// exists and is on (fingerprinted: a switch turned off by hand since the
// plan makes it stale), and what it stops and how long it takes (shown).
func switchObservation(s switchTarget, sw *live.Switch) plan.Observation {
	r := s.ref()
	o := plan.Observation{Address: s.address, Kind: plan.KindSwitch, ID: r.Kind + ":" + r.Ref}
	if sw == nil || !sw.Exists {
		return o
	}
	o.Exists = true
	o.Attrs = map[string]string{"on": strconv.FormatBool(sw.On), "off_by_run": sw.OffByRun}
	if sw.Kind == live.SwitchService {
		o.Attrs["desired_count"] = strconv.Itoa(int(sw.DesiredCount))
	}
	o.Info = map[string]string{
		"state": sw.State, "stops": sw.Stops, "scaling": sw.Scaling,
		"stop_seconds": strconv.Itoa(int(sw.Stop / time.Second)), "start_seconds": strconv.Itoa(int(sw.Start / time.Second)),
	}
	return o
}

func replaySwitch(o plan.Observation) (key string, sw *live.Switch) {
	kind, ref := splitSwitchID(o.ID)
	sw = &live.Switch{Kind: kind, Ref: ref, Exists: o.Exists}
	if o.Exists {
		sw.On = o.Attrs["on"] == "true"
		sw.OffByRun = o.Attrs["off_by_run"]
		n, _ := strconv.Atoi(o.Attrs["desired_count"])
		sw.DesiredCount = int32(n)
		sw.State, sw.Stops, sw.Scaling = o.Info["state"], o.Info["stops"], o.Info["scaling"]
		stop, _ := strconv.Atoi(o.Info["stop_seconds"])
		start, _ := strconv.Atoi(o.Info["start_seconds"])
		sw.Stop, sw.Start = time.Duration(stop)*time.Second, time.Duration(start)*time.Second
	}
	return live.SwitchKey(kind, ref), sw
}

func splitSwitchID(id string) (kind, ref string) {
	for i := range len(id) {
		if id[i] == ':' {
			return id[:i], id[i+1:]
		}
	}
	return id, ""
}

// switchOff adds the step that switches sw off, inside the standby.
func (b *builder) switchOff(s switchTarget) {
	c := s.cfg
	p := plan.SwitchOffParams{Name: c.Name, Kind: c.Kind, Ref: c.Target}
	desc := fmt.Sprintf("Switch off %s %s", kindWords(c.Kind), c.Target)
	if c.Kind == config.SwitchCommand {
		p.Ref, p.Off, p.On, p.Timeout = "", c.Off, c.On, c.Timeout
		desc = fmt.Sprintf("Switch off %q: run `%s` (bounded by %s)", c.Name, c.Off, c.Timeout)
	}
	if sw := b.switches[s.address]; sw != nil && sw.Stops != "" {
		desc += ": it stops " + sw.Stops
	}
	b.add(plan.PhasePrepare, plan.Step{
		ID: "switch.off." + c.Name, Action: plan.SwitchOff, Resource: s.address,
		Description: desc + "; what it was is recorded first, in the journal and on the resource",
		Undo:        "Switch it back on exactly as it was found",
		Params:      p,
	})
}

// switchOn adds the step that restores sw after the standby.
func (b *builder) switchOn(s switchTarget) {
	c := s.cfg
	p := plan.SwitchOnParams{Name: c.Name, Kind: c.Kind, Ref: c.Target, OffStep: "switch.off." + c.Name}
	desc := fmt.Sprintf("Switch %s %s back on as it was found", kindWords(c.Kind), c.Target)
	if c.Kind == config.SwitchCommand {
		p.Ref, p.On, p.Timeout = "", c.On, c.Timeout
		desc = fmt.Sprintf("Switch %q back on: run `%s`", c.Name, c.On)
	}
	b.add(plan.PhaseCommit, plan.Step{
		ID: "switch.on." + c.Name, Action: plan.SwitchOn, Resource: s.address,
		Description: desc, Params: p,
	})
}

func kindWords(kind string) string {
	switch kind {
	case config.SwitchEventBridgeRule:
		return "EventBridge rule"
	case config.SwitchSchedule:
		return "EventBridge Scheduler schedule"
	case config.SwitchECSService:
		return "ECS service"
	case config.SwitchLambdaEventSource:
		return "Lambda event source mapping"
	}
	return kind
}

// switches checks every switch: it must exist, and must not be one a run
// switched off and never restored (the state to restore would be wrong).
func (a *analyzer) switches(sws []switchTarget, obs *live.Observed, migrate bool) {
	for _, s := range sws {
		if s.cfg.Kind == config.SwitchCommand {
			continue
		}
		sw := s.observed(obs)
		switch {
		case sw == nil || !sw.Exists:
			a.errorf("EM190", s.address, fmt.Sprintf("%s %s does not exist", kindWords(s.cfg.Kind), s.cfg.Target),
				"A switch names a writer envmig turns off during the standby and back on after it.",
				"Check the name, the account and the region, or remove the switch block.")
		case sw.OffByRun != "":
			a.orphan(s.address, fmt.Sprintf("%s %s", kindWords(s.cfg.Kind), s.cfg.Target), sw.OffByRun)
		case migrate && !sw.On:
			a.warnf("EM191", s.address, fmt.Sprintf("%s %s is already off (%s)", kindWords(s.cfg.Kind), s.cfg.Target, sw.State),
				"envmig leaves it off, and leaves it off afterwards: it restores what it found.", "")
		}
	}
}

// orphan reports a resource an earlier run switched off and never put
// back: its journal is gone or elsewhere.
func (a *analyzer) orphan(address, what, run string) {
	a.errorf("EM155", address, fmt.Sprintf("%s was switched off by envmig run %s, which never put it back", what, run),
		"Its journal is not here (a CI runner died, or the run was made from another machine). Planning now would record the switched-off state as the state to restore.",
		"Run `envmig status` to see the run, then `envmig resume` or `envmig rollback` where its journal is, or `envmig recover` to bring everything it switched off back from the tags it left; then plan again.")
}
