package executor

import (
	"context"
	"errors"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
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

// Refused reports whether AWS refused a call outright: its one attempt got
// a client fault (access denied, invalid state, quota exceeded). Such a call
// was not applied. A call retried before it failed is never "refused": an
// earlier attempt may have been applied and its response lost.
func Refused(err error) bool {
	var retried *retry.MaxAttemptsError
	if err == nil || errors.As(err, &retried) {
		return false
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode() >= 400 && re.HTTPStatusCode() < 500
	}
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorFault() == smithy.FaultClient
}
