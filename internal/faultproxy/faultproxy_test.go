package faultproxy

import (
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// The faults a seed injects do not depend on how concurrent requests
// interleave: each operation's n-th request gets the same fault in any
// arrival order, so a failing seed replays.
func TestASeedReplaysWhateverTheInterleaving(t *testing.T) {
	cfg := Config{Seed: 7, ServerError: 0.1, ThrottleBurst: 0.07, BurstLength: 3, Reset: 0.05, LostResponse: 0.05}
	var ops []op
	for i := range 200 {
		ops = append(ops, op{service: "s3", name: "Put", mutating: true})
		if i%4 == 0 {
			ops = append(ops, op{service: "rds", name: "CreateDBSnapshot", mutating: true})
		}
		if i%3 == 0 {
			ops = append(ops, op{service: "autoscaling", name: "DescribeAutoScalingGroups"})
		}
	}
	decide := func(order []op) map[string][]string {
		p := &Proxy{cfg: cfg, seen: map[string]int{}, burst: map[string]int{}, created: nil}
		out := map[string][]string{}
		for _, o := range order {
			k := o.service + ":" + o.name
			out[k] = append(out[k], p.pick(o))
		}
		return out
	}
	first := decide(ops)
	shuffled := append([]op(nil), ops...)
	rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	if diff := cmp.Diff(first, decide(shuffled)); diff != "" {
		t.Fatalf("the same seed injected other faults in another order (-first +shuffled):\n%s", diff)
	}
	faults := 0
	for _, d := range first["s3:Put"] {
		if d != "" {
			faults++
		}
	}
	if faults == 0 || faults == len(first["s3:Put"]) {
		t.Fatalf("%d faults of %d requests: the rates are not applied", faults, len(first["s3:Put"]))
	}
	other := cfg
	other.Seed = 8
	p := &Proxy{cfg: other, seen: map[string]int{}, burst: map[string]int{}}
	var second []string
	for _, o := range ops {
		if o.name == "Put" {
			second = append(second, p.pick(o))
		}
	}
	if cmp.Equal(first["s3:Put"], second) {
		t.Fatal("seeds 7 and 8 inject the same faults")
	}
}
