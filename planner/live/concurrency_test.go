package live_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/envmig/envmig/planner/live"
)

// inFlight runs observe in a synctest bubble in which every call of the
// operations ops blocks until released. Whenever the reader can make no
// further progress, it counts the calls in flight, then releases them. It
// returns those counts, wave by wave, and Observe's result.
func inFlight(t *testing.T, f *fake, ops []string, observe func() (*live.Observed, error)) ([]int, *live.Observed) {
	var (
		mu      sync.Mutex
		n       int
		release = make(chan struct{})
	)
	f.block = func(op string) {
		if !slices.Contains(ops, op) {
			return
		}
		mu.Lock()
		n++
		mu.Unlock()
		<-release
		mu.Lock()
		n--
		mu.Unlock()
	}
	type result struct {
		obs *live.Observed
		err error
	}
	done := make(chan result, 1)
	go func() {
		obs, err := observe()
		done <- result{obs, err}
	}()
	var waves []int
	for {
		synctest.Wait()
		select {
		case res := <-done:
			if res.err != nil {
				t.Fatal(res.err)
			}
			return waves, res.obs
		default:
		}
		mu.Lock()
		now := n
		mu.Unlock()
		if now == 0 {
			t.Fatal("the reader is stuck with no call in flight")
		}
		waves = append(waves, now)
		for range now {
			release <- struct{}{}
		}
	}
}

// TestListingConcurrencyBound: across every bucket of an observation, at
// most Concurrency ListObjectsV2 requests are in flight, and the listing
// keeps that many in flight while it has the work.
func TestListingConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 4
		f := newFake()
		f.pageSize = 2
		var buckets []string
		for i := range 3 {
			name := fmt.Sprintf("bucket-%d", i)
			buckets = append(buckets, name)
			for p := range 10 {
				f.addObjects(name, fmt.Sprintf("p%02d/", p), 5, 1, time.Now())
			}
		}
		r := f.reader()
		r.Concurrency = limit
		waves, obs := inFlight(t, f, []string{"ListObjectsV2"}, func() (*live.Observed, error) {
			return r.Observe(context.Background(), live.Request{Buckets: buckets, CountObjects: true})
		})
		for _, name := range buckets {
			if b := obs.Buckets[name]; b.Objects != 50 || b.Truncated {
				t.Errorf("%s: %d objects, truncated %v; want 50, false", name, b.Objects, b.Truncated)
			}
		}
		// 3 buckets: 5 root pages and 10 prefixes of 3 pages each.
		if n := f.count("ListObjectsV2"); n != 3*(5+10*3) {
			t.Errorf("ListObjectsV2 calls = %d, want %d", n, 3*(5+10*3))
		}
		if peak := slices.Max(waves); peak != limit {
			t.Errorf("peak in-flight listings = %d, want exactly %d (waves %v)", peak, limit, waves)
		}
	})
}

// TestResourceConcurrencyBound: at most Concurrency resources are read at
// once, and that many are.
func TestResourceConcurrencyBound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 3
		f := newFake()
		var req live.Request
		for i := range 5 {
			req.Databases = append(req.Databases, fmt.Sprintf("db-%d", i))
			req.Groups = append(req.Groups, fmt.Sprintf("group-%d", i))
			req.KMSKeys = append(req.KMSKeys, fmt.Sprintf("alias/key-%d", i))
		}
		r := f.reader()
		r.Concurrency = limit
		waves, obs := inFlight(t, f, []string{"DescribeDBInstances", "DescribeDBSnapshots", "DescribeAutoScalingGroups", "DescribeKey"}, func() (*live.Observed, error) {
			return r.Observe(context.Background(), req)
		})
		if len(obs.Databases)+len(obs.Groups)+len(obs.KMSKeys) != 15 {
			t.Errorf("observed %d resources, want 15", len(obs.Databases)+len(obs.Groups)+len(obs.KMSKeys))
		}
		// 16 reads (with the snapshots) in waves of 3.
		if diff := cmp.Diff([]int{3, 3, 3, 3, 3, 1}, waves); diff != "" {
			t.Errorf("reads in flight per wave (-want +got):\n%s", diff)
		}
	})
}
