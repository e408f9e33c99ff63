package switches

import (
	"context"
	"fmt"
	"time"

	"github.com/envmig/envmig/executor"
	"github.com/envmig/envmig/planner/plan"
)

// Clients are the services of the switch kinds; a nil one makes a switch
// of its kind fail with a clear error (the plan observed it, so a missing
// client is a wiring mistake).
type Clients struct {
	Rules     RuleAPI
	Schedules ScheduleAPI
	Services  ServiceAPI
	Scaling   ScalingAPI
	Mappings  MappingAPI
	// Dir is where command switches run (the spec's directory).
	Dir string
}

// switcher is what each kind offers the step handlers.
type switcher interface {
	Off(ctx context.Context, sc *executor.StepContext, ref string) error
	On(ctx context.Context, sc *executor.StepContext, ref string, get func(string) string) error
	StillOff(ctx context.Context, ref string, get func(string) string) (string, error)
}

// Checker re-observes, for verify.frozen, every resource the run's switch
// off steps turned off.
type Checker struct{ h *handlers }

// NewChecker returns the Checker over c.
func NewChecker(c Clients, o Options) *Checker { return &Checker{h: &handlers{c: c, o: o}} }

// StillOff lists what is wrong with the switches of sc's plan whose off
// step has run: each resource that is on again or gone. A command switch
// cannot be observed and is not checked. Read-only.
func (c *Checker) StillOff(ctx context.Context, sc *executor.StepContext) ([]string, error) {
	var problems []string
	for _, step := range sc.Plan.Steps {
		p, ok := step.Params.(plan.SwitchOffParams)
		if !ok || p.Kind == "command" {
			continue
		}
		s, err := c.h.kind(p.Kind)
		if err != nil {
			return nil, err
		}
		problem, err := s.StillOff(ctx, p.Ref, func(key string) string { return sc.StepValue(step.ID, key) })
		if err != nil {
			return nil, fmt.Errorf("check that %s is still off: %w", p.Ref, err)
		}
		if problem != "" {
			problems = append(problems, problem)
		}
	}
	return problems, nil
}

// Handlers returns the handlers of plan.SwitchOff and plan.SwitchOn. The
// off step's undo is the on logic with what the off step recorded; the on
// step restores what its OffStep recorded.
func Handlers(c Clients, o Options) map[plan.StepAction]executor.Handler {
	h := &handlers{c: c, o: o}
	return map[plan.StepAction]executor.Handler{
		plan.SwitchOff: offHandler{h},
		plan.SwitchOn:  onHandler{h},
	}
}

type handlers struct {
	c Clients
	o Options
}

func (h *handlers) kind(kind string) (switcher, error) {
	missing := func(what string) error { return fmt.Errorf("switch of kind %s: envmig has no %s client", kind, what) }
	switch kind {
	case "eventbridge_rule":
		if h.c.Rules == nil {
			return nil, missing("EventBridge")
		}
		return NewRules(h.c.Rules, h.o), nil
	case "schedule":
		if h.c.Schedules == nil {
			return nil, missing("EventBridge Scheduler")
		}
		return NewSchedules(h.c.Schedules, h.o), nil
	case "ecs_service":
		if h.c.Services == nil || h.c.Scaling == nil {
			return nil, missing("ECS")
		}
		return NewServices(h.c.Services, h.c.Scaling, h.o), nil
	case "lambda_event_source":
		if h.c.Mappings == nil {
			return nil, missing("Lambda")
		}
		return NewMappings(h.c.Mappings, h.o), nil
	}
	return nil, fmt.Errorf("unknown switch kind %q", kind)
}

func (h *handlers) commands(timeout string) *Commands {
	c := &Commands{Dir: h.c.Dir}
	if d, err := time.ParseDuration(timeout); err == nil && d > 0 {
		c.Timeout = d
	}
	return c
}

type offHandler struct{ *handlers }

var _ executor.Handler = offHandler{}

func (h offHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.SwitchOffParams](sc)
	if err != nil {
		return err
	}
	if p.Kind == "command" {
		return h.commands(p.Timeout).Off(ctx, sc, p.Name, p.Off)
	}
	s, err := h.kind(p.Kind)
	if err != nil {
		return err
	}
	return s.Off(ctx, sc, p.Ref)
}

// Revert switches back on what Apply switched off, from what it recorded.
func (h offHandler) Revert(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.SwitchOffParams](sc)
	if err != nil {
		return err
	}
	if p.Kind == "command" {
		return h.commands(p.Timeout).On(ctx, sc, p.Name, p.On, sc.Value)
	}
	s, err := h.kind(p.Kind)
	if err != nil {
		return err
	}
	return s.On(ctx, sc, p.Ref, sc.Value)
}

type onHandler struct{ *handlers }

var _ executor.Handler = onHandler{}

func (h onHandler) Apply(ctx context.Context, sc *executor.StepContext) error {
	p, err := executor.Params[plan.SwitchOnParams](sc)
	if err != nil {
		return err
	}
	get := func(key string) string { return sc.StepValue(p.OffStep, key) }
	if p.Kind == "command" {
		return h.commands(p.Timeout).On(ctx, sc, p.Name, p.On, get)
	}
	s, err := h.kind(p.Kind)
	if err != nil {
		return err
	}
	return s.On(ctx, sc, p.Ref, get)
}

// Revert does nothing: the on step runs after the point of no return.
func (h onHandler) Revert(context.Context, *executor.StepContext) error { return nil }
