package switches

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/envmig/envmig/executor"
)

// TagOff is the tag a switch that turned a resource off leaves on it (where
// the service has tags): "run=RUN;KEY=VALUE;..." with the keys the kind
// records (state, desired, ...), sorted. Values are short (a state, a
// count), so the tag never nears the 256-character limit.
const TagOff = "envmig:off"

// KeyRecordedAt is the journal key every switch records last: its presence
// means the record of the resource as found is complete.
const KeyRecordedAt = "recorded_at"

// ErrGone is wrapped by the error for a switched resource that no longer
// exists.
var ErrGone = errors.New("no longer exists")

// Options tune the waits. Zero fields take the defaults.
type Options struct {
	// MinDelay and MaxDelay bound the backoff between two observations
	// (defaults 1 s and 15 s).
	MinDelay, MaxDelay time.Duration
	// MaxWait bounds one wait for a switch to be off or on (default 15
	// minutes; an ECS service's tasks may take their deregistration delay
	// and stop timeout to drain).
	MaxWait time.Duration
}

func (o Options) withDefaults() Options {
	if o.MinDelay <= 0 {
		o.MinDelay = time.Second
	}
	if o.MaxDelay <= 0 {
		o.MaxDelay = 15 * time.Second
	}
	o.MaxDelay = max(o.MaxDelay, o.MinDelay)
	if o.MaxWait <= 0 {
		o.MaxWait = 15 * time.Minute
	}
	return o
}

// tracker is what a switch needs of a run: a StepContext, or the adapter
// Recover builds when there is no run.
type tracker interface {
	Accepted()
	Report(executor.Progress)
	Record(key, value string) error
	Lineage() string
}

var _ tracker = (*executor.StepContext)(nil)

// noRun is the tracker of a recovery without a journal.
type noRun struct {
	run    string
	report func(executor.Progress)
}

func (n noRun) Accepted()                   {}
func (n noRun) Record(string, string) error { return nil }
func (n noRun) Lineage() string             { return n.run }
func (n noRun) Report(p executor.Progress) {
	if n.report != nil {
		n.report(p)
	}
}

// observation is a switched resource as it is now.
type observation struct {
	// On says whether it is on now; Settled that it is not between states.
	On, Settled bool
	// Found is what the switch records of it (without KeyRecordedAt) when
	// this is the state before the run.
	Found map[string]string
	// Tag is the value of its TagOff tag, "" when it has none.
	Tag string
	// State says in words what it is ("ENABLED", "desired 2, running 2").
	State string
}

// resource is one switch kind bound to one resource.
type resource interface {
	// what names it: "EventBridge rule default/nightly".
	what() string
	// observe reads it; an error wrapping ErrGone when it does not exist.
	observe(ctx context.Context) (observation, error)
	// wasOn says whether a record describes a resource that was on.
	wasOn(rec map[string]string) bool
	// off and on make the one call that switches it; on restores rec.
	off(ctx context.Context, obs observation) error
	on(ctx context.Context, rec map[string]string) error
	// isOn says whether obs is rec restored (on is true) or off (false),
	// with a progress message while not.
	reached(obs observation, rec map[string]string, on bool) (bool, string)
	// tag and untag write and remove TagOff; taggable is false for a
	// kind without tags.
	taggable() bool
	tag(ctx context.Context, value string) error
	untag(ctx context.Context) error
}

// waiter is a resource with its own wait (the SDK's waiter).
type waiter interface {
	wait(ctx context.Context, tr tracker, o Options, rec map[string]string, on bool) error
}

// tagValue formats the TagOff value of rec made by run.
func tagValue(run string, rec map[string]string) string {
	parts := []string{"run=" + run}
	for _, k := range slices.Sorted(mapKeys(rec)) {
		if k != KeyRecordedAt {
			parts = append(parts, k+"="+rec[k])
		}
	}
	return strings.Join(parts, ";")
}

// parseTag reads a TagOff value; ok is false when it names no run.
func parseTag(v string) (run string, rec map[string]string, ok bool) {
	rec = map[string]string{}
	for _, kv := range strings.Split(v, ";") {
		k, val, _ := strings.Cut(kv, "=")
		if k == "run" {
			run = val
		} else if k != "" {
			rec[k] = val
		}
	}
	return run, rec, run != ""
}

func mapKeys(m map[string]string) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// readRecord reads the record of keys through get; ok is false when it is
// not complete.
func readRecord(get func(string) string, keys []string) (map[string]string, bool) {
	if get == nil || get(KeyRecordedAt) == "" {
		return nil, false
	}
	rec := map[string]string{KeyRecordedAt: get(KeyRecordedAt)}
	for _, k := range keys {
		rec[k] = get(k)
	}
	return rec, true
}

func keysOf(m map[string]string) []string { return slices.Sorted(mapKeys(m)) }

// switchOff is the "off" side every kind shares: observe; refuse a resource
// another run switched off; record it (once: the journal's record, else
// this run's own tag, else the resource as found now once it is settled) in
// the journal and then in its tag, before the call that switches it; switch
// it off unless it is off; wait until it is off.
func switchOff(ctx context.Context, tr tracker, o Options, r resource, get func(string) string, keys []string) error {
	run := tr.Lineage()
	obs, err := r.observe(ctx)
	if err != nil {
		return err
	}
	var tagRec map[string]string
	if obs.Tag != "" {
		trun, trec, ok := parseTag(obs.Tag)
		if !ok || trun != run {
			return fmt.Errorf("switch off %s: it carries the %s tag of run %s (%q), so its state now is not the one to restore; bring it back first with `envmig recover` (or by hand, then delete the tag)", r.what(), TagOff, trun, obs.Tag)
		}
		tagRec = trec
	}
	rec, ok := readRecord(get, keys)
	if !ok {
		switch {
		case tagRec != nil:
			rec = tagRec
		default:
			if !obs.Settled {
				if obs, err = waitSettled(ctx, tr, o, r); err != nil {
					return err
				}
			}
			rec = obs.Found
		}
		for _, k := range keysOf(rec) {
			if err := tr.Record(k, rec[k]); err != nil {
				return fmt.Errorf("record %s's %s: %w", r.what(), k, err)
			}
		}
		if err := tr.Record(KeyRecordedAt, time.Now().UTC().Format(time.RFC3339Nano)); err != nil {
			return fmt.Errorf("record %s: %w", r.what(), err)
		}
	}
	if !r.wasOn(rec) {
		// Off before the run: it stays off, and there is nothing to
		// restore, so nothing to tag.
		if !obs.On {
			tr.Report(executor.Progress{Line: r.what() + " was already off before the run; it stays off"})
			return nil
		}
	} else if r.taggable() && obs.Tag == "" {
		if err := r.tag(ctx, tagValue(run, rec)); err != nil {
			return fmt.Errorf("tag %s with its state (%s): %w", r.what(), TagOff, err)
		}
		tr.Accepted()
	}
	if done, _ := r.reached(obs, rec, false); !done {
		if err := r.off(ctx, obs); err != nil {
			return fmt.Errorf("switch off %s: %w", r.what(), err)
		}
		tr.Accepted()
	}
	return waitFor(ctx, tr, o, r, rec, false)
}

// switchOn is the "on" side: the record from get (the off step's journal),
// else this run's tag on the resource; nothing recorded and no tag: the off
// side never acted, nothing to do. A resource that was on is switched on as
// recorded and waited for; one that was off stays off. Then this run's tag
// is removed.
func switchOn(ctx context.Context, tr tracker, o Options, r resource, get func(string) string, keys []string) error {
	run := tr.Lineage()
	rec, ok := readRecord(get, keys)
	obs, err := r.observe(ctx)
	if err != nil {
		if ok && errors.Is(err, ErrGone) {
			return fmt.Errorf("switch on %s: %w; it was recorded as %s: recreate it by hand", r.what(), err, tagValue(run, rec))
		}
		if !ok && errors.Is(err, ErrGone) {
			return nil // never recorded, and gone: nothing of ours to restore
		}
		return err
	}
	trun, trec, tagged := parseTag(obs.Tag)
	ours := tagged && trun == run
	if !ok {
		if !ours {
			return nil
		}
		rec = trec
	}
	if r.wasOn(rec) {
		if done, _ := r.reached(obs, rec, true); !done {
			if err := r.on(ctx, rec); err != nil {
				return fmt.Errorf("switch on %s: %w", r.what(), err)
			}
			tr.Accepted()
		}
		if err := waitFor(ctx, tr, o, r, rec, true); err != nil {
			return err
		}
	}
	if ours {
		if err := r.untag(ctx); err != nil {
			return fmt.Errorf("remove the %s tag of %s: %w", TagOff, r.what(), err)
		}
		tr.Accepted()
	}
	return nil
}

// waitFor waits until r is off (on false) or restored to rec (on true).
func waitFor(ctx context.Context, tr tracker, o Options, r resource, rec map[string]string, on bool) error {
	if w, ok := r.(waiter); ok {
		return w.wait(ctx, tr, o, rec, on)
	}
	goal := "off"
	if on {
		goal = "on"
	}
	_, err := poll(ctx, tr, o, r, "for "+r.what()+" to be "+goal, func(obs observation) (bool, string) { return r.reached(obs, rec, on) })
	return err
}

func waitSettled(ctx context.Context, tr tracker, o Options, r resource) (observation, error) {
	return poll(ctx, tr, o, r, "for "+r.what()+" to settle", func(obs observation) (bool, string) {
		return obs.Settled, r.what() + " is " + obs.State
	})
}

// poll observes r with a doubling delay until done says so or
// Options.MaxWait has passed.
func poll(ctx context.Context, tr tracker, o Options, r resource, goal string, done func(observation) (bool, string)) (observation, error) {
	deadline := time.Now().Add(o.MaxWait)
	delay := o.MinDelay
	for {
		obs, err := r.observe(ctx)
		if err != nil {
			return obs, fmt.Errorf("wait %s: %w", goal, err)
		}
		ok, msg := done(obs)
		if ok {
			return obs, nil
		}
		if !time.Now().Before(deadline) {
			return obs, fmt.Errorf("wait %s: not reached after %s (%s); run `envmig resume` to check again", goal, o.MaxWait, msg)
		}
		tr.Report(executor.Progress{Message: "waiting " + goal + ": " + msg, Percent: -1})
		t := time.NewTimer(min(delay, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return obs, fmt.Errorf("wait %s: %w", goal, ctx.Err())
		case <-t.C:
		}
		delay = min(2*delay, o.MaxDelay)
	}
}

// Found is a resource that carries a run's TagOff tag: a run switched it
// off and has not switched it back on.
type Found struct {
	// What names the resource ("EventBridge rule default/nightly").
	What string
	// Run is the run that left the tag.
	Run string
	// Record is what the run recorded of it (the kind's keys).
	Record map[string]string
	// State is what it is now.
	State string
}

// find reads r's tag; ok is false when it carries none or r is gone.
func find(ctx context.Context, r resource) (Found, bool, error) {
	obs, err := r.observe(ctx)
	if errors.Is(err, ErrGone) {
		return Found{}, false, nil
	}
	if err != nil || obs.Tag == "" {
		return Found{}, false, err
	}
	run, rec, _ := parseTag(obs.Tag)
	return Found{What: r.what(), Run: run, Record: rec, State: obs.State}, true, nil
}

// recoverOne switches r back on from its tag alone, for run ("" for
// whichever run tagged it).
func recoverOne(ctx context.Context, o Options, r resource, keys []string, run string, report func(executor.Progress)) error {
	f, ok, err := find(ctx, r)
	switch {
	case err != nil:
		return err
	case !ok:
		return fmt.Errorf("recover %s: %w", r.what(), ErrNotTagged)
	case run != "" && f.Run != run:
		return fmt.Errorf("recover %s: it carries the %s tag of run %s, not %s", r.what(), TagOff, f.Run, run)
	}
	return switchOn(ctx, noRun{run: f.Run, report: report}, o, r, nil, keys)
}

// ErrNotTagged is wrapped by Recover for a resource without a TagOff tag:
// nothing to bring back.
var ErrNotTagged = errors.New("it carries no " + TagOff + " tag")

// base is what every kind shares: the record keys, the options, and how a
// reference ("bus/name", "cluster/service", ...) becomes a resource.
type base struct {
	o    Options
	keys []string
	bind func(ref string) (resource, error)
}

// Off switches the resource ref names off for the run sc belongs to,
// recording it first (see the package documentation). Idempotent: a re-run
// after a crash at any point finishes the work and records nothing new.
func (b base) Off(ctx context.Context, sc *executor.StepContext, ref string) error {
	r, err := b.bind(ref)
	if err != nil {
		return err
	}
	return switchOff(ctx, sc, b.o, r, sc.Value, b.keys)
}

// On restores what the off step recorded (get reads its record: sc.Value
// for the off step's own Revert, StepValue bound to it for the on step),
// or, without a record, what this run's tag on the resource says; with
// neither it does nothing. A resource that was off before the run stays
// off. Idempotent.
func (b base) On(ctx context.Context, sc *executor.StepContext, ref string, get func(string) string) error {
	r, err := b.bind(ref)
	if err != nil {
		return err
	}
	return switchOn(ctx, sc, b.o, r, get, b.keys)
}

// StillOff checks the resource ref names against the record of the run's
// off step (get reads it): "" when it is still off (or was off before the
// run, or nothing was recorded), else what is wrong: it is on again, or
// gone. Read-only: verify.frozen and the point of no return use it to see
// a writer switched back on during the standby.
func (b base) StillOff(ctx context.Context, ref string, get func(string) string) (string, error) {
	r, err := b.bind(ref)
	if err != nil {
		return "", err
	}
	rec, ok := readRecord(get, b.keys)
	if !ok || !r.wasOn(rec) {
		return "", nil
	}
	obs, err := r.observe(ctx)
	if errors.Is(err, ErrGone) {
		return fmt.Sprintf("%s, switched off by this run, no longer exists", r.what()), nil
	}
	if err != nil {
		return "", err
	}
	if off, _ := r.reached(obs, rec, false); !off {
		return fmt.Sprintf("%s, switched off by this run, is on again (%s): something switched it back on during the standby", r.what(), obs.State), nil
	}
	return "", nil
}

// Find reports which of refs carry a run's TagOff tag (for status and plan
// without the journal). Resources that do not exist are skipped.
// Read-only.
func (b base) Find(ctx context.Context, refs []string) ([]Found, error) {
	var out []Found
	for _, ref := range refs {
		r, err := b.bind(ref)
		if err != nil {
			return nil, err
		}
		f, ok, err := find(ctx, r)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, f)
		}
	}
	return out, nil
}

// Recover switches ref back on from its tag alone, without a journal, for
// run ("" accepts whichever run tagged it), and removes the tag; report
// receives progress (may be nil). Once done the tag is gone, and a second
// call returns an error wrapping ErrNotTagged.
func (b base) Recover(ctx context.Context, ref, run string, report func(executor.Progress)) error {
	r, err := b.bind(ref)
	if err != nil {
		return err
	}
	return recoverOne(ctx, b.o, r, b.keys, run, report)
}
