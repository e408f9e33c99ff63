package testaws

import (
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/envmig/envmig/internal/awsclient"
)

// Recording collects every AWS operation made through a traced config.
type Recording struct {
	mu    sync.Mutex
	calls []awsclient.Call
}

// Record makes every client built from cfg report to the returned Recording.
func Record(cfg *aws.Config) *Recording {
	r := &Recording{}
	awsclient.Trace(cfg, func(c awsclient.Call) {
		r.mu.Lock()
		r.calls = append(r.calls, c)
		r.mu.Unlock()
	})
	return r
}

// Calls returns a copy of every call so far.
func (r *Recording) Calls() []awsclient.Call {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]awsclient.Call(nil), r.calls...)
}

// Mutating returns the calls that can change anything.
func (r *Recording) Mutating() []awsclient.Call {
	var out []awsclient.Call
	for _, c := range r.Calls() {
		if c.Mutating() {
			out = append(out, c)
		}
	}
	return out
}
