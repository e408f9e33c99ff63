package switches

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge/types"
)

// RuleAPI is the part of EventBridge a rule switch uses;
// *eventbridge.Client satisfies it.
type RuleAPI interface {
	DescribeRule(ctx context.Context, in *eventbridge.DescribeRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DescribeRuleOutput, error)
	DisableRule(ctx context.Context, in *eventbridge.DisableRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.DisableRuleOutput, error)
	EnableRule(ctx context.Context, in *eventbridge.EnableRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.EnableRuleOutput, error)
	PutRule(ctx context.Context, in *eventbridge.PutRuleInput, optFns ...func(*eventbridge.Options)) (*eventbridge.PutRuleOutput, error)
	ListTagsForResource(ctx context.Context, in *eventbridge.ListTagsForResourceInput, optFns ...func(*eventbridge.Options)) (*eventbridge.ListTagsForResourceOutput, error)
	TagResource(ctx context.Context, in *eventbridge.TagResourceInput, optFns ...func(*eventbridge.Options)) (*eventbridge.TagResourceOutput, error)
	UntagResource(ctx context.Context, in *eventbridge.UntagResourceInput, optFns ...func(*eventbridge.Options)) (*eventbridge.UntagResourceOutput, error)
}

var _ RuleAPI = (*eventbridge.Client)(nil)

// KeyState is the journal key (and TagOff field) of a switch's state as
// found: a rule's or schedule's State, an event source mapping's State.
const KeyState = "state"

// Rules switches EventBridge rules: DisableRule, then EnableRule (or, for a
// rule that was ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS, PutRule
// with its whole definition and that state, which EnableRule would lose).
// A rule is named "name" (on the default event bus) or "bus/name": the
// last "/" separates them, since rule names never contain one and partner
// event bus names may. Records KeyState; tags the rule with TagOff.
type Rules struct{ base }

// NewRules returns the rule switch over c.
func NewRules(c RuleAPI, o Options) *Rules {
	o = o.withDefaults()
	return &Rules{base{o: o, keys: []string{KeyState}, bind: func(ref string) (resource, error) {
		bus, name, err := ParseRule(ref)
		if err != nil {
			return nil, err
		}
		return &rule{c: c, bus: bus, name: name}, nil
	}}}
}

// ParseRule splits "bus/name" (or "name": bus "default").
func ParseRule(ref string) (bus, name string, err error) {
	bus, name = "default", ref
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		bus, name = ref[:i], ref[i+1:]
	}
	if bus == "" || name == "" {
		return "", "", fmt.Errorf("EventBridge rule %q: want NAME or EVENT_BUS/NAME", ref)
	}
	return bus, name, nil
}

type rule struct {
	c         RuleAPI
	bus, name string
	arn       string
}

func (r *rule) what() string { return "EventBridge rule " + r.bus + "/" + r.name }

func (r *rule) describe(ctx context.Context) (*eventbridge.DescribeRuleOutput, error) {
	out, err := r.c.DescribeRule(ctx, &eventbridge.DescribeRuleInput{Name: aws.String(r.name), EventBusName: aws.String(r.bus)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return nil, fmt.Errorf("%s %w", r.what(), ErrGone)
	}
	if err != nil {
		return nil, fmt.Errorf("describe %s: %w", r.what(), err)
	}
	return out, nil
}

func (r *rule) observe(ctx context.Context) (observation, error) {
	out, err := r.describe(ctx)
	if err != nil {
		return observation{}, err
	}
	r.arn = aws.ToString(out.Arn)
	tags, err := r.c.ListTagsForResource(ctx, &eventbridge.ListTagsForResourceInput{ResourceARN: out.Arn})
	if err != nil {
		return observation{}, fmt.Errorf("read the tags of %s: %w", r.what(), err)
	}
	obs := observation{On: out.State != types.RuleStateDisabled, Settled: true, State: string(out.State),
		Found: map[string]string{KeyState: string(out.State)}}
	for _, t := range tags.Tags {
		if aws.ToString(t.Key) == TagOff {
			obs.Tag = aws.ToString(t.Value)
		}
	}
	return obs, nil
}

func (r *rule) wasOn(rec map[string]string) bool {
	return rec[KeyState] != "" && rec[KeyState] != string(types.RuleStateDisabled)
}

func (r *rule) reached(obs observation, rec map[string]string, on bool) (bool, string) {
	want := string(types.RuleStateDisabled)
	if on {
		want = rec[KeyState]
	}
	return obs.State == want, "it is " + obs.State
}

func (r *rule) off(ctx context.Context, _ observation) error {
	_, err := r.c.DisableRule(ctx, &eventbridge.DisableRuleInput{Name: aws.String(r.name), EventBusName: aws.String(r.bus)})
	return err
}

func (r *rule) on(ctx context.Context, rec map[string]string) error {
	state := types.RuleState(rec[KeyState])
	if state == types.RuleStateEnabled {
		_, err := r.c.EnableRule(ctx, &eventbridge.EnableRuleInput{Name: aws.String(r.name), EventBusName: aws.String(r.bus)})
		return err
	}
	// PutRule replaces the definition: carry every field back.
	cur, err := r.describe(ctx)
	if err != nil {
		return err
	}
	_, err = r.c.PutRule(ctx, &eventbridge.PutRuleInput{
		Name: aws.String(r.name), EventBusName: aws.String(r.bus), State: state,
		Description: cur.Description, EventPattern: cur.EventPattern, RoleArn: cur.RoleArn,
		ScheduleExpression: cur.ScheduleExpression,
	})
	return err
}

func (r *rule) taggable() bool { return true }

func (r *rule) tag(ctx context.Context, value string) error {
	_, err := r.c.TagResource(ctx, &eventbridge.TagResourceInput{ResourceARN: aws.String(r.arn), Tags: []types.Tag{{Key: aws.String(TagOff), Value: aws.String(value)}}})
	return err
}

func (r *rule) untag(ctx context.Context) error {
	_, err := r.c.UntagResource(ctx, &eventbridge.UntagResourceInput{ResourceARN: aws.String(r.arn), TagKeys: []string{TagOff}})
	return err
}
