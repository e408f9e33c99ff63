package executor

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/envmig/envmig/planner/plan"
)

// Handler runs the steps of one plan.StepAction.
//
// Apply must be idempotent: it may be called again after a crash at any
// point, including after AWS accepted a call whose result was never
// journaled. It observes first (deterministic names from the step's Params,
// the envmig:run tag from sc.RunTags) and then finishes, adopts or redoes
// what an earlier attempt did. It refuses, with an error, to adopt a resource
// that exists but is not tagged with this run.
//
// Revert undoes Apply. It is called for steps that were started, done or
// failed, so it must also succeed when Apply never acted, and be idempotent.
// Revert is only ever called for PhasePrepare steps.
//
// Both return errors wrapped with what was being done; an error that will not
// go away by retrying (access denied, invalid state) should say what to do.
type Handler interface {
	Apply(ctx context.Context, sc *StepContext) error
	Revert(ctx context.Context, sc *StepContext) error
}

// HandlerFunc adapts a function to a Handler whose Revert does nothing.
type HandlerFunc func(ctx context.Context, sc *StepContext) error

func (f HandlerFunc) Apply(ctx context.Context, sc *StepContext) error  { return f(ctx, sc) }
func (f HandlerFunc) Revert(ctx context.Context, sc *StepContext) error { return nil }

// Progress is a snapshot of a step's progress. Zero fields are unknown.
type Progress struct {
	// Message says what the step is doing or waiting for
	// ("waiting for snapshot envmig-3fa2-main to be available").
	Message string
	// Percent is 0..100 when the service reports it, or -1.
	Percent float64
	// Objects and Bytes done, and their totals when known.
	Objects, ObjectsTotal int64
	Bytes, BytesTotal     int64
	// Line, when set, is a line of output to show at once (a check's
	// output, a notice); the rest of the Progress is then ignored.
	Line string
}

// Hook points: where the executor (and handlers, through StepContext) call
// the crash hook. The test-only crash build kills the process at a chosen
// point; release builds do nothing.
const (
	PointBeforeIntent = "before-intent" // before the step's start is journaled
	PointAfterIntent  = "after-intent"  // after it, before the side effect
	PointAccepted     = "accepted"      // AWS accepted a mutating call; its result is not journaled yet
	PointWaiting      = "waiting"       // while waiting for AWS to finish
)

// CrashEnv names the variable that arms the crash hook of test builds (built
// with -tags crashtest; release builds ignore it): "OP:STEP:POINT" or
// "OP:STEP:POINT:N" (the Nth time that point is reached; default 1). OP is
// apply or revert, STEP a step ID or "*", POINT one of the Point constants.
// The process kills itself with SIGKILL there, as a power cut or `kill -9`
// would: no deferred function runs.
const CrashEnv = "ENVMIG_CRASH_AT"

// BreakEnv names the variable that deliberately breaks one handler in test
// builds (-tags crashtest; release builds ignore it), so that the suites
// can be seen to fail: "bucket.copy" makes every bucket copy of the
// process skip one object (the first key it is asked to copy) while
// reporting success. See Broken.
const BreakEnv = "ENVMIG_BREAK"

// StepContext is what a handler sees of the run.
type StepContext struct {
	Plan *plan.Plan
	Step plan.Step
	// Op is "apply" or "revert".
	Op string

	started time.Time
	blobs   Blobs
	values  map[string]string
	lookup  func(stepID, key string) string
	record  func(key, value string) error
	hook    func(point string)
	observe func(Progress)
	now     func() time.Time
}

// RunTagKey is the tag every resource a run creates carries, valued with the
// plan's lineage.
const RunTagKey = "envmig:run"

// RunTags returns the tags that mark a resource as this run's.
func (sc *StepContext) RunTags() map[string]string {
	return map[string]string{RunTagKey: sc.Plan.Lineage}
}

// Lineage is the run's identity.
func (sc *StepContext) Lineage() string { return sc.Plan.Lineage }

// AdoptionSlack is how long before the run began a resource carrying the
// run's tag may have been created and still be adopted as the run's: room
// for the skew between this machine's clock and AWS's.
const AdoptionSlack = 5 * time.Minute

// CreatedByRun reports whether a resource created at created can be this
// run's: not before the run began (less AdoptionSlack). A resource that
// carries the run's tag but is older was made by someone who read the
// plan, and is never adopted. A zero time (unknown) or a context without a
// run start (handler tests) does not decide.
func (sc *StepContext) CreatedByRun(created time.Time) bool {
	if created.IsZero() || sc.started.IsZero() {
		return true
	}
	return !created.Before(sc.started.Add(-AdoptionSlack))
}

// RunStarted is when the run began ("" time in handler tests).
func (sc *StepContext) RunStarted() time.Time { return sc.started }

// Params returns the step's parameters as P, the type of its action. A
// plan is checked when it is decoded, so a mismatch is a wiring mistake; it
// is still returned as an error rather than a panic mid-run.
func Params[P plan.Params](sc *StepContext) (P, error) {
	p, ok := sc.Step.Params.(P)
	if !ok {
		var want P
		return want, fmt.Errorf("step %s (%s) carries %T parameters where %T were expected: the plan is malformed", sc.Step.ID, sc.Step.Action, sc.Step.Params, want)
	}
	return p, nil
}

// Value returns what an earlier attempt of this step recorded under key.
func (sc *StepContext) Value(key string) string { return sc.values[key] }

// Values returns a copy of everything this step recorded.
func (sc *StepContext) Values() map[string]string { return maps.Clone(sc.values) }

// StepValue returns what another step of the run recorded under key (a
// resume step reading what the standby step recorded).
func (sc *StepContext) StepValue(stepID, key string) string {
	if sc.lookup == nil {
		return ""
	}
	return sc.lookup(stepID, key)
}

// Record journals key=value durably before it returns. Handlers record what
// they must know after a crash (original settings, created IDs) before the
// side effect that needs it.
func (sc *StepContext) Record(key, value string) error {
	if sc.values == nil {
		sc.values = map[string]string{}
	}
	if old, ok := sc.values[key]; ok && old == value {
		return nil
	}
	sc.values[key] = value
	if sc.record == nil {
		return nil
	}
	return sc.record(key, value)
}

// Accepted marks that AWS accepted a mutating call whose result is not yet
// journaled (a crash point).
func (sc *StepContext) Accepted() { sc.callHook(PointAccepted) }

// Report publishes progress (a heartbeat for the reporter) and is a crash
// point while waiting.
func (sc *StepContext) Report(p Progress) {
	sc.callHook(PointWaiting)
	if sc.observe != nil {
		sc.observe(p)
	}
}

// Now returns the run's clock.
func (sc *StepContext) Now() time.Time {
	if sc.now != nil {
		return sc.now()
	}
	return time.Now()
}

func (sc *StepContext) callHook(point string) {
	if sc.hook != nil {
		sc.hook(point)
	}
}

// NewStepContext builds a context for tests of handlers: values are kept in
// memory, hooks and progress go nowhere unless set with the returned
// context's fields through TestHooks.
func NewStepContext(p *plan.Plan, step plan.Step, op string, values map[string]string) *StepContext {
	if values == nil {
		values = map[string]string{}
	}
	return &StepContext{Plan: p, Step: step, Op: op, values: values}
}

// TestHooks sets a StepContext's cross-step lookup, hook and progress
// observer; for handler tests.
func (sc *StepContext) TestHooks(lookup func(stepID, key string) string, hook func(point string), observe func(Progress)) {
	sc.lookup, sc.hook, sc.observe = lookup, hook, observe
}

// TestStarted sets when the run began; for handler tests.
func (sc *StepContext) TestStarted(t time.Time) { sc.started = t }
