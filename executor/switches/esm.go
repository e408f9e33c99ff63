package switches

import (
	"context"
	"errors"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
)

// MappingAPI is the part of Lambda an event source mapping switch uses;
// *lambda.Client satisfies it.
type MappingAPI interface {
	GetEventSourceMapping(ctx context.Context, in *lambda.GetEventSourceMappingInput, optFns ...func(*lambda.Options)) (*lambda.GetEventSourceMappingOutput, error)
	UpdateEventSourceMapping(ctx context.Context, in *lambda.UpdateEventSourceMappingInput, optFns ...func(*lambda.Options)) (*lambda.UpdateEventSourceMappingOutput, error)
	ListTags(ctx context.Context, in *lambda.ListTagsInput, optFns ...func(*lambda.Options)) (*lambda.ListTagsOutput, error)
	TagResource(ctx context.Context, in *lambda.TagResourceInput, optFns ...func(*lambda.Options)) (*lambda.TagResourceOutput, error)
	UntagResource(ctx context.Context, in *lambda.UntagResourceInput, optFns ...func(*lambda.Options)) (*lambda.UntagResourceOutput, error)
}

var _ MappingAPI = (*lambda.Client)(nil)

// Mappings switches Lambda event source mappings, named by UUID:
// UpdateEventSourceMapping Enabled=false, waiting for State Disabled, and
// back with Enabled=true, waiting for Enabled. A mapping found Creating,
// Enabling, Disabling or Updating is waited for until it settles before
// it is recorded. Records KeyState ("Enabled" or "Disabled"); tags the
// mapping's ARN with TagOff.
type Mappings struct{ base }

// NewMappings returns the event source mapping switch over c.
func NewMappings(c MappingAPI, o Options) *Mappings {
	o = o.withDefaults()
	return &Mappings{base{o: o, keys: []string{KeyState}, bind: func(ref string) (resource, error) {
		if ref == "" {
			return nil, errors.New("Lambda event source mapping: no UUID")
		}
		return &mapping{c: c, uuid: ref}, nil
	}}}
}

// Mapping states (Lambda's State strings).
const (
	MappingEnabled  = "Enabled"
	MappingDisabled = "Disabled"
)

type mapping struct {
	c    MappingAPI
	uuid string
	arn  string
}

func (m *mapping) what() string { return "Lambda event source mapping " + m.uuid }

func (m *mapping) observe(ctx context.Context) (observation, error) {
	out, err := m.c.GetEventSourceMapping(ctx, &lambda.GetEventSourceMappingInput{UUID: aws.String(m.uuid)})
	var nf *types.ResourceNotFoundException
	if errors.As(err, &nf) {
		return observation{}, fmt.Errorf("%s %w", m.what(), ErrGone)
	}
	if err != nil {
		return observation{}, fmt.Errorf("read %s: %w", m.what(), err)
	}
	state := aws.ToString(out.State)
	m.arn = aws.ToString(out.EventSourceMappingArn)
	obs := observation{On: state != MappingDisabled, Settled: state == MappingEnabled || state == MappingDisabled,
		State: state, Found: map[string]string{KeyState: state}}
	if m.arn == "" {
		return obs, fmt.Errorf("read %s: Lambda returned no ARN to tag it with", m.what())
	}
	tags, err := m.c.ListTags(ctx, &lambda.ListTagsInput{Resource: aws.String(m.arn)})
	if err != nil {
		return obs, fmt.Errorf("read the tags of %s: %w", m.what(), err)
	}
	obs.Tag = tags.Tags[TagOff]
	return obs, nil
}

func (m *mapping) wasOn(rec map[string]string) bool { return rec[KeyState] == MappingEnabled }

func (m *mapping) reached(obs observation, _ map[string]string, on bool) (bool, string) {
	want := MappingDisabled
	if on {
		want = MappingEnabled
	}
	return obs.State == want, "it is " + obs.State
}

func (m *mapping) off(ctx context.Context, _ observation) error {
	_, err := m.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(m.uuid), Enabled: aws.Bool(false)})
	return err
}

func (m *mapping) on(ctx context.Context, _ map[string]string) error {
	_, err := m.c.UpdateEventSourceMapping(ctx, &lambda.UpdateEventSourceMappingInput{UUID: aws.String(m.uuid), Enabled: aws.Bool(true)})
	return err
}

func (m *mapping) taggable() bool { return true }

func (m *mapping) tag(ctx context.Context, value string) error {
	_, err := m.c.TagResource(ctx, &lambda.TagResourceInput{Resource: aws.String(m.arn), Tags: map[string]string{TagOff: value}})
	return err
}

func (m *mapping) untag(ctx context.Context) error {
	_, err := m.c.UntagResource(ctx, &lambda.UntagResourceInput{Resource: aws.String(m.arn), TagKeys: []string{TagOff}})
	return err
}
