package switches

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	aas "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling"
	aastypes "github.com/aws/aws-sdk-go-v2/service/applicationautoscaling/types"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"
	"github.com/aws/aws-sdk-go-v2/service/eventbridge"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/scheduler"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
)

// allSwitcher is what every AWS kind offers.
type allSwitcher interface {
	Off(ctx context.Context, sc *executor.StepContext, ref string) error
	On(ctx context.Context, sc *executor.StepContext, ref string, get func(string) string) error
	Find(ctx context.Context, refs []string) ([]Found, error)
	Recover(ctx context.Context, ref, run string, report func(executor.Progress)) error
	StillOff(ctx context.Context, ref string, get func(string) string) (string, error)
}

var (
	_ allSwitcher = (*Rules)(nil)
	_ allSwitcher = (*Schedules)(nil)
	_ allSwitcher = (*Services)(nil)
	_ allSwitcher = (*Mappings)(nil)
)

// kind is one switch kind's test harness over moto.
type kind struct {
	// create makes an "on" resource and returns its reference.
	create func(*world, *testing.T) string
	sw     func(*world) allSwitcher
	// snap is everything a restore must bring back, read from AWS.
	snap func(*testing.T, *world, string) any
	// off says whether snap shows it off.
	off func(any) bool
	// switchOffByHand switches it off as its owner would.
	switchOffByHand func(*testing.T, *world, string)
	// remove deletes it out of band.
	remove func(*testing.T, *world, string)
	// tagged reads its TagOff tag ("" when it has none or no tags).
	tagged   func(*testing.T, *world, string) string
	taggable bool
}

var kinds = map[string]kind{
	"rule": {
		create: (*world).rule,
		sw:     func(w *world) allSwitcher { return NewRules(w.events, fast) },
		snap: func(t *testing.T, w *world, ref string) any {
			bus, name, _ := ParseRule(ref)
			out, err := w.events.DescribeRule(context.Background(), &eventbridge.DescribeRuleInput{Name: aws.String(name), EventBusName: aws.String(bus)})
			if err != nil {
				t.Fatal(err)
			}
			return [5]string{string(out.State), aws.ToString(out.EventPattern), aws.ToString(out.Description), aws.ToString(out.ScheduleExpression), aws.ToString(out.Arn)}
		},
		off: func(s any) bool { return s.([5]string)[0] == "DISABLED" },
		switchOffByHand: func(t *testing.T, w *world, ref string) {
			bus, name, _ := ParseRule(ref)
			tryer(t)(w.events.DisableRule(context.Background(), &eventbridge.DisableRuleInput{Name: aws.String(name), EventBusName: aws.String(bus)}))
		},
		remove: func(t *testing.T, w *world, ref string) {
			bus, name, _ := ParseRule(ref)
			tryer(t)(w.events.DeleteRule(context.Background(), &eventbridge.DeleteRuleInput{Name: aws.String(name), EventBusName: aws.String(bus)}))
		},
		tagged: func(t *testing.T, w *world, ref string) string {
			bus, name, _ := ParseRule(ref)
			r := &rule{c: w.events, bus: bus, name: name}
			obs, err := r.observe(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return obs.Tag
		},
		taggable: true,
	},
	"schedule": {
		create: (*world).schedule,
		sw:     func(w *world) allSwitcher { return NewSchedules(w.sched, fast) },
		snap: func(t *testing.T, w *world, ref string) any {
			group, name, _ := ParseSchedule(ref)
			out, err := w.sched.GetSchedule(context.Background(), &scheduler.GetScheduleInput{Name: aws.String(name), GroupName: aws.String(group)})
			if err != nil {
				t.Fatal(err)
			}
			return scheduleView(out)
		},
		off: func(s any) bool { return strings.HasPrefix(s.(string), "DISABLED ") },
		switchOffByHand: func(t *testing.T, w *world, ref string) {
			s := &schedule{c: w.sched}
			s.group, s.name, _ = ParseSchedule(ref)
			if err := s.set(context.Background(), "DISABLED"); err != nil {
				t.Fatal(err)
			}
		},
		remove: func(t *testing.T, w *world, ref string) {
			group, name, _ := ParseSchedule(ref)
			tryer(t)(w.sched.DeleteSchedule(context.Background(), &scheduler.DeleteScheduleInput{Name: aws.String(name), GroupName: aws.String(group)}))
		},
		tagged: func(*testing.T, *world, string) string { return "" },
	},
	"ecs": {
		create: (*world).service,
		sw:     func(w *world) allSwitcher { return NewServices(w.ecs, w.aas, fast) },
		snap: func(t *testing.T, w *world, ref string) any {
			cluster, name, _ := ParseService(ref)
			out, err := w.ecs.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{name}})
			if err != nil || len(out.Services) != 1 {
				t.Fatalf("describe %s: %v", ref, err)
			}
			st, err := w.aas.DescribeScalableTargets(context.Background(), &aas.DescribeScalableTargetsInput{ServiceNamespace: aastypes.ServiceNamespaceEcs})
			if err != nil || len(st.ScalableTargets) != 1 {
				t.Fatalf("scalable targets: %v", err)
			}
			s := st.ScalableTargets[0].SuspendedState
			return [6]int32{out.Services[0].DesiredCount, out.Services[0].RunningCount, out.Services[0].PendingCount, b(s.DynamicScalingInSuspended), b(s.DynamicScalingOutSuspended), b(s.ScheduledScalingSuspended)}
		},
		off: func(s any) bool { v := s.([6]int32); return v[0] == 0 && v[1] == 0 && v[3]+v[4]+v[5] == 3 },
		switchOffByHand: func(t *testing.T, w *world, ref string) {
			cluster, name, _ := ParseService(ref)
			tryer(t)(w.ecs.UpdateService(context.Background(), &ecs.UpdateServiceInput{Cluster: aws.String(cluster), Service: aws.String(name), DesiredCount: aws.Int32(0)}))
		},
		remove: func(t *testing.T, w *world, ref string) {
			cluster, name, _ := ParseService(ref)
			tryer(t)(w.ecs.DeleteService(context.Background(), &ecs.DeleteServiceInput{Cluster: aws.String(cluster), Service: aws.String(name), Force: aws.Bool(true)}))
		},
		tagged: func(t *testing.T, w *world, ref string) string {
			cluster, name, _ := ParseService(ref)
			out, err := w.ecs.DescribeServices(context.Background(), &ecs.DescribeServicesInput{Cluster: aws.String(cluster), Services: []string{name}, Include: []ecstypes.ServiceField{ecstypes.ServiceFieldTags}})
			if err != nil {
				t.Fatal(err)
			}
			for _, tg := range out.Services[0].Tags {
				if aws.ToString(tg.Key) == TagOff {
					return aws.ToString(tg.Value)
				}
			}
			return ""
		},
		taggable: true,
	},
	"lambda": {
		create: (*world).mapping,
		sw:     func(w *world) allSwitcher { return NewMappings(w.lambda, fast) },
		snap: func(t *testing.T, w *world, uuid string) any {
			out, err := w.lambda.GetEventSourceMapping(context.Background(), &lambda.GetEventSourceMappingInput{UUID: aws.String(uuid)})
			if err != nil {
				t.Fatal(err)
			}
			return [4]string{aws.ToString(out.State), aws.ToString(out.FunctionArn), aws.ToString(out.EventSourceArn), fmt.Sprint(aws.ToInt32(out.BatchSize))}
		},
		off: func(s any) bool { return s.([4]string)[0] == MappingDisabled },
		switchOffByHand: func(t *testing.T, w *world, uuid string) {
			tryer(t)(w.lambda.UpdateEventSourceMapping(context.Background(), &lambda.UpdateEventSourceMappingInput{UUID: aws.String(uuid), Enabled: aws.Bool(false)}))
		},
		remove: func(t *testing.T, w *world, uuid string) {
			tryer(t)(w.lambda.DeleteEventSourceMapping(context.Background(), &lambda.DeleteEventSourceMappingInput{UUID: aws.String(uuid)}))
		},
		tagged: func(t *testing.T, w *world, uuid string) string {
			m := &mapping{c: w.lambda, uuid: uuid}
			obs, err := m.observe(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			return obs.Tag
		},
		taggable: true,
	},
}

func b(p *bool) int32 {
	if aws.ToBool(p) {
		return 1
	}
	return 0
}

// forEachKind runs f for every kind against a fresh emulator.
func forEachKind(t *testing.T, f func(t *testing.T, k kind, w *world, ref string)) {
	for name, k := range kinds {
		t.Run(name, func(t *testing.T) {
			w := newWorld(t)
			ref := k.create(w, t)
			f(t, k, w, ref)
		})
	}
}

func TestOffThenOnRestoresExactlyAndBothAreIdempotent(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind, w *world, ref string) {
		ctx := context.Background()
		before := k.snap(t, w, ref)
		if k.off(before) {
			t.Fatalf("fixture is off: %v", before)
		}
		j := newJournal("run1")
		sw := k.sw(w)
		if err := sw.Off(ctx, j.sc(offID, "apply"), ref); err != nil {
			t.Fatal(err)
		}
		if s := k.snap(t, w, ref); !k.off(s) {
			t.Fatalf("after off: %v", s)
		}
		if tag := k.tagged(t, w, ref); k.taggable && !strings.HasPrefix(tag, "run=run1;") {
			t.Errorf("after off: tag %q, want the run's record", tag)
		}
		recorded := maps.Clone(j.values[offID])
		if recorded[KeyRecordedAt] == "" {
			t.Fatalf("nothing recorded: %v", recorded)
		}
		// A crash after the off call: the step runs again.
		n := w.mutating()
		if err := sw.Off(ctx, j.sc(offID, "apply"), ref); err != nil {
			t.Fatal(err)
		}
		if got := w.mutating() - n; got != 0 {
			t.Errorf("second off made %d mutating calls: %v", got, w.rec.Mutating()[n:])
		}
		if diff := cmp.Diff(recorded, j.values[offID]); diff != "" {
			t.Errorf("second off changed the record:\n%s", diff)
		}

		if err := sw.On(ctx, j.sc(onID, "apply"), ref, j.offGet); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, k.snap(t, w, ref)); diff != "" {
			t.Fatalf("after on (-before +after):\n%s", diff)
		}
		if tag := k.tagged(t, w, ref); tag != "" {
			t.Errorf("after on: tag %q left", tag)
		}
		n = w.mutating()
		if err := sw.On(ctx, j.sc(onID, "apply"), ref, j.offGet); err != nil {
			t.Fatal(err)
		}
		if got := w.mutating() - n; got != 0 {
			t.Errorf("second on made %d mutating calls: %v", got, w.rec.Mutating()[n:])
		}
	})
}

func TestASwitchOffBeforeTheRunStaysOff(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind, w *world, ref string) {
		ctx := context.Background()
		k.switchOffByHand(t, w, ref)
		before := k.snap(t, w, ref)
		j := newJournal("run1")
		sw := k.sw(w)
		n := w.mutating()
		if err := sw.Off(ctx, j.sc(offID, "apply"), ref); err != nil {
			t.Fatal(err)
		}
		if err := sw.On(ctx, j.sc(onID, "apply"), ref, j.offGet); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, k.snap(t, w, ref)); diff != "" {
			t.Errorf("(-before +after):\n%s", diff)
		}
		// The ECS fixture's scalable target is on while its desired count
		// is 0: the owner's business, left alone.
		if got := w.mutating() - n; got != 0 {
			t.Errorf("%d mutating calls for a switch off before the run: %v", got, w.rec.Mutating()[n:])
		}
	})
}

// The journal is lost after the off side: the finder names the run, and
// the on side (from the tag alone), or Recover, restores the resource.
func TestOnWithoutTheJournalRestoresFromTheTag(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind, w *world, ref string) {
		ctx := context.Background()
		before := k.snap(t, w, ref)
		sw := k.sw(w)
		if err := sw.Off(ctx, newJournal("run1").sc(offID, "apply"), ref); err != nil {
			t.Fatal(err)
		}
		found, err := sw.Find(ctx, []string{ref})
		if err != nil {
			t.Fatal(err)
		}
		if !k.taggable {
			// A schedule leaves nothing on AWS: nothing is found, the on
			// side without a record does nothing, Recover refuses, and
			// FindDisabled lists it as a suspect.
			if len(found) != 0 {
				t.Errorf("found %+v for an untaggable kind", found)
			}
			if err := sw.On(ctx, newJournal("run1").sc(onID, "apply"), ref, func(string) string { return "" }); err != nil {
				t.Fatal(err)
			}
			if !k.off(k.snap(t, w, ref)) {
				t.Error("the on side without a record switched the schedule on")
			}
			if err := sw.Recover(ctx, ref, "run1", nil); err == nil {
				t.Error("Recover of a schedule did not refuse")
			}
			d, err := sw.(*Schedules).FindDisabled(ctx, []string{ref, "billing/absent"})
			if err != nil || len(d) != 1 || d[0].Run != "" {
				t.Errorf("FindDisabled = %+v, %v", d, err)
			}
			return
		}
		if len(found) != 1 || found[0].Run != "run1" || found[0].Record == nil {
			t.Fatalf("found %+v", found)
		}
		if err := sw.Recover(ctx, ref, "run2", nil); err == nil || !strings.Contains(err.Error(), "run1") {
			t.Errorf("Recover for another run = %v, want a refusal naming run1", err)
		}
		if err := sw.On(ctx, newJournal("run1").sc(onID, "apply"), ref, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, k.snap(t, w, ref)); diff != "" {
			t.Fatalf("after on from the tag (-before +after):\n%s", diff)
		}
		if found, _ := sw.Find(ctx, []string{ref}); len(found) != 0 {
			t.Errorf("found after on: %+v", found)
		}

		// Recover, without any run at all.
		if err := sw.Off(ctx, newJournal("run3").sc(offID, "apply"), ref); err != nil {
			t.Fatal(err)
		}
		var lines int
		if err := sw.Recover(ctx, ref, "", func(executor.Progress) { lines++ }); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, k.snap(t, w, ref)); diff != "" {
			t.Fatalf("after recover (-before +after):\n%s", diff)
		}
		if err := sw.Recover(ctx, ref, "", nil); !errors.Is(err, ErrNotTagged) {
			t.Errorf("second recover = %v, want ErrNotTagged", err)
		}
	})
}

func TestAResourceGoneOutOfBandIsAClearError(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind, w *world, ref string) {
		ctx := context.Background()
		j := newJournal("run1")
		sw := k.sw(w)
		if err := sw.Off(ctx, j.sc(offID, "apply"), ref); err != nil {
			t.Fatal(err)
		}
		k.remove(t, w, ref)
		err := sw.On(ctx, j.sc(onID, "apply"), ref, j.offGet)
		if !errors.Is(err, ErrGone) || !strings.Contains(err.Error(), "recreate it by hand") {
			t.Fatalf("on = %v, want ErrGone saying what was recorded", err)
		}
		if err := sw.Off(ctx, newJournal("run2").sc(offID, "apply"), ref); !errors.Is(err, ErrGone) {
			t.Errorf("off of a missing resource = %v, want ErrGone", err)
		}
	})
}

func TestOffRefusesAResourceAnotherRunSwitchedOff(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind, w *world, ref string) {
		if !k.taggable {
			t.Skip("no tags: another run's switch cannot be seen")
		}
		ctx := context.Background()
		sw := k.sw(w)
		if err := sw.Off(ctx, newJournal("run1").sc(offID, "apply"), ref); err != nil {
			t.Fatal(err)
		}
		j := newJournal("run2")
		n := w.mutating()
		err := sw.Off(ctx, j.sc(offID, "apply"), ref)
		if err == nil || !strings.Contains(err.Error(), "run1") {
			t.Fatalf("second run's off = %v, want a refusal naming run1", err)
		}
		if got := w.mutating() - n; got != 0 || len(j.values[offID]) != 0 {
			t.Errorf("refused off made %d calls and recorded %v", got, j.values[offID])
		}
	})
}

// verify.frozen's view of a switch: nothing to say before the off step
// recorded it and while it stays off; a writer switched back on during
// the standby, or deleted, is named.
func TestStillOffSeesAWriterSwitchedBackOn(t *testing.T) {
	forEachKind(t, func(t *testing.T, k kind, w *world, ref string) {
		ctx := context.Background()
		j := newJournal("run1")
		sw := k.sw(w)
		still := func() string {
			t.Helper()
			p, err := sw.StillOff(ctx, ref, j.offGet)
			if err != nil {
				t.Fatal(err)
			}
			return p
		}
		if p := still(); p != "" {
			t.Fatalf("before the off step: %q", p)
		}
		if err := sw.Off(ctx, j.sc(offID, "apply"), ref); err != nil {
			t.Fatal(err)
		}
		mutating := w.mutating()
		if p := still(); p != "" {
			t.Fatalf("while off: %q", p)
		}
		if n := w.mutating() - mutating; n != 0 {
			t.Fatalf("StillOff made %d mutating calls", n)
		}
		// Someone switches it back on (as the run's own on step would).
		if err := sw.On(ctx, j.sc(onID, "apply"), ref, j.offGet); err != nil {
			t.Fatal(err)
		}
		if p := still(); !strings.Contains(p, "is on again") {
			t.Fatalf("switched back on: %q, want it named", p)
		}
		k.remove(t, w, ref)
		if p := still(); !strings.Contains(p, "no longer exists") {
			t.Fatalf("deleted: %q, want it named", p)
		}
	})
}
