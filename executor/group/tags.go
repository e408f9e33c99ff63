package group

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling"
	"github.com/aws/aws-sdk-go-v2/service/autoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
)

// The tags a standby leaves on AWS itself, so that a group can be brought
// back when the journal is lost (a dead CI runner). Tag values are at most
// 256 characters, so the group's record is split:
//
//	on the group     envmig:standby            run=RUN;min=2;max=6;desired=3;at=RFC3339NANO
//	on the group     envmig:standby:suspended  the processes suspended before envmig, comma-joined ("" for none)
//	on each instance envmig:standby            RUN   (every InService instance the standby moves)
//
// The longest group value is under 120 characters (9 processes of at most
// 17 characters), so neither is ever cut.
const (
	TagStandby   = "envmig:standby"
	TagSuspended = "envmig:standby:suspended"
)

// standbyTags are the group's tags for rec made by run.
func standbyTags(name, run string, rec Record) []types.Tag {
	v := fmt.Sprintf("run=%s;min=%d;max=%d;desired=%d;at=%s", run, rec.Min, rec.Max, rec.Desired, rec.StartedAt.UTC().Format(time.RFC3339Nano))
	tag := func(k, v string) types.Tag {
		return types.Tag{ResourceId: aws.String(name), ResourceType: aws.String("auto-scaling-group"), Key: aws.String(k), Value: aws.String(v), PropagateAtLaunch: aws.Bool(false)}
	}
	return []types.Tag{tag(TagStandby, v), tag(TagSuspended, strings.Join(rec.Suspended, ","))}
}

// tagged is what a group's standby tags say; ok is false when it has none.
// Instances is not set here: it comes from the instances' tags.
func tagged(grp *types.AutoScalingGroup) (run string, rec Record, ok bool, err error) {
	var main, susp string
	var hasSusp bool
	for _, t := range grp.Tags {
		switch aws.ToString(t.Key) {
		case TagStandby:
			main, ok = aws.ToString(t.Value), true
		case TagSuspended:
			susp, hasSusp = aws.ToString(t.Value), true
		}
	}
	if !ok {
		return "", Record{}, false, nil
	}
	name := aws.ToString(grp.AutoScalingGroupName)
	fields := map[string]string{}
	for _, kv := range strings.Split(main, ";") {
		k, v, _ := strings.Cut(kv, "=")
		fields[k] = v
	}
	run = fields["run"]
	bad := func(why string) error {
		return fmt.Errorf("the %s tag of %s (%q) %s; restore the group by hand, then delete the tags %s and %s", TagStandby, name, main, why, TagStandby, TagSuspended)
	}
	if run == "" {
		return "", Record{}, true, bad("names no run")
	}
	for k, dst := range map[string]*int32{"min": &rec.Min, "max": &rec.Max, "desired": &rec.Desired} {
		n, perr := strconv.ParseInt(fields[k], 10, 32)
		if perr != nil {
			return run, Record{}, true, bad("has no valid " + k)
		}
		*dst = int32(n)
	}
	if rec.StartedAt, err = time.Parse(time.RFC3339Nano, fields["at"]); err != nil {
		return run, Record{}, true, bad("has no valid time")
	}
	if !hasSusp {
		// The two tags are written in one call: one without the other was
		// changed by hand.
		return run, Record{}, true, bad("comes without " + TagSuspended)
	}
	rec.Suspended = splitList(susp)
	return run, rec, true, nil
}

// tagGroup writes the group's standby tags unless they are there already.
func (g *Groups) tagGroup(ctx context.Context, sc progress, grp *types.AutoScalingGroup, run string, rec Record) error {
	name := aws.ToString(grp.AutoScalingGroupName)
	if r, _, ok, _ := tagged(grp); ok && r == run {
		return nil
	}
	if _, err := g.c.ASG.CreateOrUpdateTags(ctx, &autoscaling.CreateOrUpdateTagsInput{Tags: standbyTags(name, run, rec)}); err != nil {
		return fmt.Errorf("tag %s with its standby record (%s): %w", name, TagStandby, err)
	}
	sc.Accepted()
	return nil
}

// untagGroup removes the group's standby tags when they are run's.
func (g *Groups) untagGroup(ctx context.Context, sc progress, grp *types.AutoScalingGroup, run string) error {
	name := aws.ToString(grp.AutoScalingGroupName)
	r, _, ok, _ := tagged(grp)
	if !ok || r != run {
		return nil
	}
	var tags []types.Tag
	for _, k := range []string{TagStandby, TagSuspended} {
		tags = append(tags, types.Tag{ResourceId: aws.String(name), ResourceType: aws.String("auto-scaling-group"), Key: aws.String(k)})
	}
	if _, err := g.c.ASG.DeleteTags(ctx, &autoscaling.DeleteTagsInput{Tags: tags}); err != nil {
		return fmt.Errorf("remove the standby tags of %s: %w", name, err)
	}
	sc.Accepted()
	return nil
}

// ec2Batch is how many instances one EC2 tag call names (the API takes
// 1,000 resources; DescribeTags filters take 200 values).
const ec2Batch = 200

// tagInstances tags ids with run's standby tag.
func (g *Groups) tagInstances(ctx context.Context, sc progress, name, run string, ids []string) error {
	if len(ids) == 0 {
		return nil
	}
	if g.c.EC2 == nil {
		return fmt.Errorf("standby of %s: no EC2 client to tag the instances it moves with %s (a wiring error)", name, TagStandby)
	}
	have, err := g.instanceTags(ctx, ids)
	if err != nil {
		return err
	}
	var todo []string
	for _, id := range ids {
		if have[id] != run {
			todo = append(todo, id)
		}
	}
	for _, b := range batches(todo, ec2Batch) {
		if _, err := g.c.EC2.CreateTags(ctx, &ec2.CreateTagsInput{Resources: b, Tags: []ec2types.Tag{{Key: aws.String(TagStandby), Value: aws.String(run)}}}); err != nil {
			return fmt.Errorf("tag the instances of %s with %s: %w", name, TagStandby, err)
		}
		sc.Accepted()
	}
	return nil
}

// untagInstances removes run's standby tag from ids that carry it.
func (g *Groups) untagInstances(ctx context.Context, sc progress, name, run string, ids []string) error {
	if len(ids) == 0 || g.c.EC2 == nil {
		return nil
	}
	have, err := g.instanceTags(ctx, ids)
	if err != nil {
		return err
	}
	var todo []string
	for _, id := range ids {
		if have[id] == run {
			todo = append(todo, id)
		}
	}
	for _, b := range batches(todo, ec2Batch) {
		// Value given: a tag another run put back in the meantime stays.
		if _, err := g.c.EC2.DeleteTags(ctx, &ec2.DeleteTagsInput{Resources: b, Tags: []ec2types.Tag{{Key: aws.String(TagStandby), Value: aws.String(run)}}}); err != nil {
			return fmt.Errorf("remove the %s tag from the instances of %s: %w", TagStandby, name, err)
		}
		sc.Accepted()
	}
	return nil
}

// instanceTags returns the standby tag's value of each of ids that has one.
func (g *Groups) instanceTags(ctx context.Context, ids []string) (map[string]string, error) {
	out := map[string]string{}
	for _, b := range batches(slices.Clone(ids), ec2Batch) {
		p := ec2.NewDescribeTagsPaginator(g.c.EC2, &ec2.DescribeTagsInput{Filters: []ec2types.Filter{
			{Name: aws.String("resource-type"), Values: []string{"instance"}},
			{Name: aws.String("key"), Values: []string{TagStandby}},
			{Name: aws.String("resource-id"), Values: b},
		}})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return nil, fmt.Errorf("read the %s tags of instances: %w", TagStandby, err)
			}
			for _, t := range page.Tags {
				if aws.ToString(t.Key) == TagStandby {
					out[aws.ToString(t.ResourceId)] = aws.ToString(t.Value)
				}
			}
		}
	}
	return out, nil
}

// instanceIDs lists the group's instances.
func instanceIDs(grp *types.AutoScalingGroup) []string {
	var ids []string
	for _, in := range grp.Instances {
		ids = append(ids, aws.ToString(in.InstanceId))
	}
	return ids
}
