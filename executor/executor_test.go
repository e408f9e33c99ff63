package executor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/planner/plan"
	"github.com/envmig/envmig/statefile"
)

// memStore keeps every saved state as JSON, as a durable store would.
type memStore struct {
	saves []string
	fail  error
}

func (m *memStore) Save(st *statefile.State) error {
	if m.fail != nil {
		return m.fail
	}
	st.Serial++
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	m.saves = append(m.saves, string(b))
	return nil
}

func (m *memStore) last(t *testing.T) *statefile.State {
	t.Helper()
	var st statefile.State
	if err := json.Unmarshal([]byte(m.saves[len(m.saves)-1]), &st); err != nil {
		t.Fatal(err)
	}
	return &st
}

// world records what the fake handlers did, in order.
type world struct {
	log   []string
	fail  map[string]error // "apply:ID" or "revert:ID" -> error
	block map[string]func()
}

type fakeHandler struct{ w *world }

func (f fakeHandler) Apply(ctx context.Context, sc *StepContext) error {
	return f.do(ctx, sc, "apply")
}

func (f fakeHandler) Revert(ctx context.Context, sc *StepContext) error {
	return f.do(ctx, sc, "revert")
}

func (f fakeHandler) do(ctx context.Context, sc *StepContext, op string) error {
	key := op + ":" + sc.Step.ID
	if fn := f.w.block[key]; fn != nil {
		fn()
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := f.w.fail[key]; err != nil {
		return err
	}
	if op == "apply" {
		if err := sc.Record("did", "yes"); err != nil {
			return err
		}
	}
	f.w.log = append(f.w.log, key)
	return nil
}

func testPlan() *plan.Plan {
	p := &plan.Plan{Lineage: "r1", Environment: "prod"}
	add := func(id string, phase plan.Phase, action plan.StepAction) {
		p.Steps = append(p.Steps, plan.Step{ID: id, Phase: phase, Action: action, Description: id})
	}
	add("standby", plan.PhasePrepare, plan.GroupStandby)
	add("snapshot", plan.PhasePrepare, plan.DBSnapshot)
	add("restore", plan.PhasePrepare, plan.DBRestore)
	add("gate", plan.PhaseGate, plan.Gate)
	add("rename", plan.PhaseCommit, plan.DBRename)
	add("resume", plan.PhaseCommit, plan.GroupResume)
	p.Leftovers = []plan.Leftover{{Kind: plan.LeftoverDBSnapshot, ID: "envmig-r1-main", Why: "test"}}
	plan.Seal(p)
	return p
}

func newExec(w *world, store *memStore) *Executor {
	p := testPlan()
	h := fakeHandler{w}
	handlers := map[plan.StepAction]Handler{}
	for _, s := range p.Steps {
		handlers[s.Action] = h
	}
	return &Executor{
		State:    statefile.NewState(p, "apply", time.Unix(0, 0)),
		Store:    store,
		Handlers: handlers,
		Now:      func() time.Time { return time.Unix(100, 0).UTC() },
	}
}

func statuses(st *statefile.State) map[string]string {
	out := map[string]string{}
	for _, r := range st.Steps {
		out[r.ID] = r.Status
	}
	return out
}

func TestApplyRunsEveryStepAndJournalsBeforeAndAfter(t *testing.T) {
	w := &world{}
	store := &memStore{}
	e := newExec(w, store)
	if err := e.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"apply:standby", "apply:snapshot", "apply:restore", "apply:gate", "apply:rename", "apply:resume"}
	if diff := cmp.Diff(want, w.log); diff != "" {
		t.Fatalf("steps (-want +got):\n%s", diff)
	}
	st := store.last(t)
	if st.Status != statefile.RunApplied {
		t.Fatalf("status = %q", st.Status)
	}
	if len(st.Kept) != 1 || st.Kept[0].ID != "envmig-r1-main" {
		t.Fatalf("kept = %+v", st.Kept)
	}
	if len(st.History) != 1 || st.History[0].Status != statefile.RunApplied {
		t.Fatalf("history = %+v", st.History)
	}
	// Each step: started, a recorded value, done = 3 saves; plus the final one.
	if got, want := len(store.saves), 3*6+1; got != want {
		t.Fatalf("saves = %d, want %d", got, want)
	}
	if st.Steps[0].Values["did"] != "yes" {
		t.Fatalf("recorded value lost: %+v", st.Steps[0])
	}
}

func TestPrepareFailureRollsBackInReverse(t *testing.T) {
	boom := errors.New("restore failed: quota exceeded")
	w := &world{fail: map[string]error{"apply:restore": boom}}
	store := &memStore{}
	e := newExec(w, store)
	err := e.Apply(context.Background())
	var serr *StepError
	if !errors.As(err, &serr) || !serr.RolledBack || !errors.Is(err, boom) {
		t.Fatalf("err = %v, want a rolled-back StepError wrapping the cause", err)
	}
	want := []string{"apply:standby", "apply:snapshot", "revert:restore", "revert:snapshot", "revert:standby"}
	if diff := cmp.Diff(want, w.log); diff != "" {
		t.Fatalf("(-want +got):\n%s", diff)
	}
	st := store.last(t)
	if st.Status != statefile.RunRolledBack {
		t.Fatalf("status = %q", st.Status)
	}
	if diff := cmp.Diff(map[string]string{"standby": "reverted", "snapshot": "reverted", "restore": "reverted", "gate": "", "rename": "", "resume": ""}, statuses(st)); diff != "" {
		t.Fatal(diff)
	}
	if len(st.Kept) != 0 {
		t.Fatalf("a rolled-back run keeps nothing, got %+v", st.Kept)
	}
}

func TestDeclinedGateRollsBack(t *testing.T) {
	w := &world{fail: map[string]error{"apply:gate": ErrDeclined}}
	e := newExec(w, &memStore{})
	err := e.Apply(context.Background())
	if !errors.Is(err, ErrDeclined) {
		t.Fatalf("err = %v", err)
	}
	if got := w.log[len(w.log)-1]; got != "revert:standby" {
		t.Fatalf("last action = %s, want the standby undone", got)
	}
}

func TestCommitFailureStopsResumablyAndRollbackIsRefused(t *testing.T) {
	w := &world{fail: map[string]error{"apply:rename": errors.New("throttled")}}
	store := &memStore{}
	e := newExec(w, store)
	err := e.Apply(context.Background())
	var serr *StepError
	if !errors.As(err, &serr) || serr.RolledBack {
		t.Fatalf("err = %v", err)
	}
	if !strings.Contains(err.Error(), "envmig resume") {
		t.Fatalf("message does not say how to continue: %v", err)
	}
	var refused *RollbackRefusedError
	if err := e.Rollback(context.Background()); !errors.As(err, &refused) {
		t.Fatalf("rollback after the gate: %v", err)
	}
	delete(w.fail, "apply:rename")
	if err := e.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.last(t).Status != statefile.RunApplied {
		t.Fatal("resume did not finish the run")
	}
	if r := store.last(t).Step("rename"); r.Attempts != 2 {
		t.Fatalf("rename attempts = %d, want 2", r.Attempts)
	}
}

func TestFirstInterruptStopsAfterTheCurrentStep(t *testing.T) {
	stop := make(chan struct{})
	w := &world{block: map[string]func(){"apply:snapshot": func() { close(stop) }}}
	store := &memStore{}
	e := newExec(w, store)
	e.Stop = stop
	err := e.Apply(context.Background())
	var ierr *InterruptedError
	if !errors.As(err, &ierr) || ierr.Last != "snapshot" || ierr.InFlight != "" {
		t.Fatalf("err = %#v", err)
	}
	if diff := cmp.Diff(map[string]string{"standby": "done", "snapshot": "done", "restore": "", "gate": "", "rename": "", "resume": ""}, statuses(store.last(t))); diff != "" {
		t.Fatal(diff)
	}
	// A later process resumes from the journal alone.
	var st statefile.State
	if err := json.Unmarshal([]byte(store.saves[len(store.saves)-1]), &st); err != nil {
		t.Fatal(err)
	}
	e2 := newExec(w, store)
	e2.State = &st
	if err := e2.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"apply:standby", "apply:snapshot", "apply:restore", "apply:gate", "apply:rename", "apply:resume"}, w.log); diff != "" {
		t.Fatal(diff)
	}
}

func TestSecondInterruptCancelsTheStepInFlight(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	w := &world{block: map[string]func(){"apply:restore": cancel}}
	store := &memStore{}
	e := newExec(w, store)
	err := e.Apply(ctx)
	var ierr *InterruptedError
	if !errors.As(err, &ierr) || ierr.InFlight != "restore" {
		t.Fatalf("err = %v", err)
	}
	st := store.last(t)
	if st.Status != statefile.RunRunning {
		t.Fatalf("an interrupted run must not roll back by itself; status %q", st.Status)
	}
	if r := st.Step("restore"); r.Status != statefile.StepFailed {
		t.Fatalf("restore = %q", r.Status)
	}
}

func TestCrashedStepIsRedoneOnResumeAndUndoneOnRollback(t *testing.T) {
	// The journal of a process killed after journaling "restore" started.
	w := &world{}
	e := newExec(w, &memStore{})
	e.State.Steps[0].Status = statefile.StepDone
	e.State.Steps[1].Status = statefile.StepDone
	e.State.Steps[2].Status = statefile.StepStarted
	if err := e.Rollback(context.Background()); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"revert:restore", "revert:snapshot", "revert:standby"}, w.log); diff != "" {
		t.Fatal(diff)
	}
}

func TestInterruptedRollbackResumesAsRollback(t *testing.T) {
	w := &world{fail: map[string]error{"revert:snapshot": errors.New("api down")}}
	store := &memStore{}
	e := newExec(w, store)
	for i := 0; i < 3; i++ {
		e.State.Steps[i].Status = statefile.StepDone
	}
	err := e.Rollback(context.Background())
	var serr *StepError
	if !errors.As(err, &serr) || serr.Op != "revert" {
		t.Fatalf("err = %v", err)
	}
	if store.last(t).Status != statefile.RunRollingBack {
		t.Fatal("status must say a rollback is under way")
	}
	if err := e.Apply(context.Background()); err == nil {
		t.Fatal("apply must refuse while a rollback is under way")
	}
	delete(w.fail, "revert:snapshot")
	if err := e.Resume(context.Background()); err != nil {
		t.Fatal(err)
	}
	if store.last(t).Status != statefile.RunRolledBack {
		t.Fatal("resume did not finish the rollback")
	}
	if diff := cmp.Diff([]string{"revert:restore", "revert:snapshot", "revert:standby"}, w.log); diff != "" {
		t.Fatal(diff)
	}
}

func TestJournalFailureStopsBeforeActing(t *testing.T) {
	w := &world{}
	store := &memStore{fail: errors.New("disk full")}
	e := newExec(w, store)
	err := e.Apply(context.Background())
	var je *JournalError
	if !errors.As(err, &je) {
		t.Fatalf("err = %v", err)
	}
	if len(w.log) != 0 {
		t.Fatalf("acted without a journal: %v", w.log)
	}
}

func TestHookPointsInOrder(t *testing.T) {
	w := &world{}
	e := newExec(w, &memStore{})
	var points []string
	e.Hook = func(op, id, point string) {
		if id == "standby" {
			points = append(points, op+":"+point)
		}
	}
	e.Handlers[plan.GroupStandby] = HandlerFunc(func(ctx context.Context, sc *StepContext) error {
		sc.Accepted()
		sc.Report(Progress{Message: "waiting"})
		return nil
	})
	if err := e.Apply(context.Background()); err != nil {
		t.Fatal(err)
	}
	want := []string{"apply:before-intent", "apply:after-intent", "apply:accepted", "apply:waiting"}
	if diff := cmp.Diff(want, points); diff != "" {
		t.Fatal(diff)
	}
}

func TestStateInconsistentWithPlanIsRefused(t *testing.T) {
	e := newExec(&world{}, &memStore{})
	e.State.Steps = e.State.Steps[:2]
	if err := e.Apply(context.Background()); err == nil || !strings.Contains(err.Error(), "inconsistent") {
		t.Fatalf("err = %v", err)
	}
}

func TestRefusedOnlyWhenOneAttemptWasRefused(t *testing.T) {
	denied := &smithy.GenericAPIError{Code: "AccessDenied", Fault: smithy.FaultClient}
	cases := map[string]struct {
		err  error
		want bool
	}{
		"access denied":           {fmt.Errorf("restore: %w", denied), true},
		"server fault":            {&smithy.GenericAPIError{Code: "InternalFailure", Fault: smithy.FaultServer}, false},
		"throttled after retries": {&retry.MaxAttemptsError{Attempt: 10, Err: &smithy.GenericAPIError{Code: "Throttling", Fault: smithy.FaultClient}}, false},
		"connection reset":        {errors.New("read: connection reset by peer"), false},
		"nil":                     {nil, false},
	}
	for name, tc := range cases {
		if got := Refused(tc.err); got != tc.want {
			t.Errorf("%s: Refused = %v, want %v", name, got, tc.want)
		}
	}
}

func httpError(status int) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status}}, Err: errors.New("api error")}}
}
