package executor

import (
	"context"
	"time"
)

// Eventually looks for something that must exist — a resource whose create
// was sent, or that an earlier step made — in services whose reads are
// eventually consistent: while found reports false, it looks again 1 s,
// 2 s, 4 s ... later until within has passed, reporting that it waits. It
// returns found's last answer.
func Eventually(ctx context.Context, sc *StepContext, within time.Duration, what string, found func() (bool, error)) (bool, error) {
	deadline := time.Now().Add(within)
	delay := time.Second
	for {
		ok, err := found()
		if err != nil || ok || !time.Now().Before(deadline) {
			return ok, err
		}
		sc.Report(Progress{Message: "waiting for " + what + " to become visible", Percent: -1})
		t := time.NewTimer(min(delay, time.Until(deadline)))
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
		delay *= 2
	}
}
