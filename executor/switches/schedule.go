package switches

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/aws/aws-sdk-go-v2/service/scheduler/types"

	"github.com/envmig/envmig/executor"
)

// ScheduleAPI is the part of EventBridge Scheduler a schedule switch uses;
// *scheduler.Client satisfies it.
type ScheduleAPI interface {
	GetSchedule(ctx context.Context, in *scheduler.GetScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.GetScheduleOutput, error)
	UpdateSchedule(ctx context.Context, in *scheduler.UpdateScheduleInput, optFns ...func(*scheduler.Options)) (*scheduler.UpdateScheduleOutput, error)
}

var _ ScheduleAPI = (*scheduler.Client)(nil)

// Schedules switches EventBridge Scheduler schedules, named "name" (group
// "default") or "group/name". UpdateSchedule replaces the whole
// definition, so both sides read the schedule just before and send every
// field of GetSchedule back unchanged except State (ScheduleUpdate).
// Records KeyState.
//
// Schedules cannot be tagged (only schedule groups can), so a schedule
// leaves no trace on AWS: with the journal, On restores it exactly; without
// it, nothing can tell a schedule a run disabled from one its owner
// disabled. Find therefore reports nothing and Recover refuses;
// FindDisabled lists the named schedules that are DISABLED, for status and
// plan to show as "disabled: maybe by an interrupted run; enable it by hand
// if it was enabled before" (aws scheduler update-schedule ... --state
// ENABLED, with the whole definition).
type Schedules struct{ base }

// NewSchedules returns the schedule switch over c.
func NewSchedules(c ScheduleAPI, o Options) *Schedules {
	o = o.withDefaults()
	return &Schedules{base{o: o, keys: []string{KeyState}, bind: func(ref string) (resource, error) {
		group, name, err := ParseSchedule(ref)
		if err != nil {
			return nil, err
		}
		return &schedule{c: c, group: group, name: name}, nil
	}}}
}

// ParseSchedule splits "group/name" (or "name": group "default").
func ParseSchedule(ref string) (group, name string, err error) {
	group, name = "default", ref
	if g, n, ok := strings.Cut(ref, "/"); ok {
		group, name = g, n
	}
	if group == "" || name == "" || strings.Contains(name, "/") {
		return "", "", fmt.Errorf("EventBridge Scheduler schedule %q: want NAME or GROUP/NAME", ref)
	}
	return group, name, nil
}

// Recover refuses: a schedule carries no record of a run (see Schedules).
func (s *Schedules) Recover(_ context.Context, ref, _ string, _ func(executor.Progress)) error {
	return fmt.Errorf("recover EventBridge Scheduler schedule %s: schedules cannot be tagged, so without the run's journal envmig cannot know whether it was enabled before the run; if it was, enable it by hand", ref)
}

// FindDisabled lists the refs whose schedule exists and is DISABLED: each
// may have been disabled by a run whose journal is lost (Run is "" and
// Record nil in what it returns: nothing says which).
func (s *Schedules) FindDisabled(ctx context.Context, refs []string) ([]Found, error) {
	var out []Found
	for _, ref := range refs {
		r, err := s.bind(ref)
		if err != nil {
			return nil, err
		}
		obs, err := r.observe(ctx)
		if errors.Is(err, ErrGone) {
			continue
		}
		if err != nil {
			return nil, err
		}
		if !obs.On {
			out = append(out, Found{What: r.what(), State: obs.State})
		}
	}
	return out, nil
}

type schedule struct {
	c           ScheduleAPI
	group, name string
}

func (s *schedule) what() string {
	return "EventBridge Scheduler schedule " + s.group + "/" + s.name
}

func (s *schedule) get(ctx context.Context) (*scheduler.GetScheduleOutput, error) {
	out, err := s.c.GetSchedule(ctx, &scheduler.GetScheduleInput{Name: aws.String(s.name), GroupName: aws.String(s.group)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("%s %w", s.what(), ErrGone)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", s.what(), err)
	}
	return out, nil
}

func (s *schedule) observe(ctx context.Context) (observation, error) {
	out, err := s.get(ctx)
	if err != nil {
		return observation{}, err
	}
	return observation{On: out.State != types.ScheduleStateDisabled, Settled: true, State: string(out.State),
		Found: map[string]string{KeyState: string(out.State)}}, nil
}

func (s *schedule) wasOn(rec map[string]string) bool {
	return rec[KeyState] != "" && rec[KeyState] != string(types.ScheduleStateDisabled)
}

func (s *schedule) reached(obs observation, rec map[string]string, on bool) (bool, string) {
	want := string(types.ScheduleStateDisabled)
	if on {
		want = rec[KeyState]
	}
	return obs.State == want, "it is " + obs.State
}

func (s *schedule) off(ctx context.Context, _ observation) error {
	return s.set(ctx, types.ScheduleStateDisabled)
}

func (s *schedule) on(ctx context.Context, rec map[string]string) error {
	return s.set(ctx, types.ScheduleState(rec[KeyState]))
}

// set reads the schedule and writes it back with state.
func (s *schedule) set(ctx context.Context, state types.ScheduleState) error {
	cur, err := s.get(ctx)
	if err != nil {
		return err
	}
	_, err = s.c.UpdateSchedule(ctx, ScheduleUpdate(cur, state))
	return err
}

// ScheduleUpdate is the UpdateSchedule input that keeps every field of cur
// and sets State.
func ScheduleUpdate(cur *scheduler.GetScheduleOutput, state types.ScheduleState) *scheduler.UpdateScheduleInput {
	return &scheduler.UpdateScheduleInput{
		Name:                       cur.Name,
		GroupName:                  cur.GroupName,
		ActionAfterCompletion:      cur.ActionAfterCompletion,
		Description:                cur.Description,
		EndDate:                    cur.EndDate,
		FlexibleTimeWindow:         cur.FlexibleTimeWindow,
		KmsKeyArn:                  cur.KmsKeyArn,
		ScheduleExpression:         cur.ScheduleExpression,
		ScheduleExpressionTimezone: cur.ScheduleExpressionTimezone,
		StartDate:                  cur.StartDate,
		Target:                     cur.Target,
		State:                      state,
	}
}

func (s *schedule) taggable() bool                    { return false }
func (s *schedule) tag(context.Context, string) error { return nil }
func (s *schedule) untag(context.Context) error       { return nil }
