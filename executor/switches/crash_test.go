package switches

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/executor"
)

// crash is what the hook panics with: the process "dies" there.
type crash struct{}

// crashAt runs f with a hook that crashes at the nth accepted call; it
// reports whether the crash happened (false: f finished with fewer
// accepted calls).
func crashAt(t *testing.T, sc *executor.StepContext, j *journal, n int, f func() error) (crashed bool) {
	t.Helper()
	seen := 0
	sc.TestHooks(func(id, key string) string { return j.values[id][key] }, func(point string) {
		if point == executor.PointAccepted {
			if seen++; seen == n {
				panic(crash{})
			}
		}
	}, nil)
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(crash); !ok {
				panic(r)
			}
			crashed = true
		}
	}()
	if err := f(); err != nil {
		t.Fatalf("before the crash point: %v", err)
	}
	return false
}

// A crash after each accepted call of the off side, then of the on side:
// the re-run finishes, and the resource ends exactly as before.
func TestACrashAtEveryAcceptedCallRecovers(t *testing.T) {
	for _, side := range []string{"off", "on"} {
		for n := 1; ; n++ {
			crashedAny := false
			t.Run(side+"/"+string(rune('0'+n)), func(t *testing.T) {
				forEachKind(t, func(t *testing.T, k kind, w *world, ref string) {
					ctx := context.Background()
					before := k.snap(t, w, ref)
					j := newJournal("run1")
					sw := k.sw(w)
					off := func() error { return sw.Off(ctx, j.sc(offID, "apply"), ref) }
					on := func() error { return sw.On(ctx, j.sc(onID, "apply"), ref, j.offGet) }
					if side == "off" {
						sc := j.sc(offID, "apply")
						if crashAt(t, sc, j, n, func() error { return sw.Off(ctx, sc, ref) }) {
							crashedAny = true
						}
						if err := off(); err != nil {
							t.Fatalf("off after the crash: %v", err)
						}
					} else {
						if err := off(); err != nil {
							t.Fatal(err)
						}
						sc := j.sc(onID, "apply")
						if crashAt(t, sc, j, n, func() error { return sw.On(ctx, sc, ref, j.offGet) }) {
							crashedAny = true
						}
					}
					if !k.off(k.snap(t, w, ref)) && side == "off" {
						t.Errorf("not off after the re-run: %v", k.snap(t, w, ref))
					}
					if err := on(); err != nil {
						t.Fatalf("on after the crash: %v", err)
					}
					if diff := cmp.Diff(before, k.snap(t, w, ref)); diff != "" {
						t.Errorf("(-before +after):\n%s", diff)
					}
					if tag := k.tagged(t, w, ref); tag != "" {
						t.Errorf("tag %q left", tag)
					}
				})
			})
			// Stop once no kind reached the nth accepted call.
			if !crashedAny || n == 6 {
				break
			}
		}
	}
}
