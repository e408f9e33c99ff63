package bucket

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// limiter bounds the requests in flight with a limit that adapts (AIMD):
// throttling halves it, at most once per window of as many completions as
// the cut allowed in flight (a burst of throttled replies to requests sent
// before the cut counts once); every `limit` completions add one.
type limiter struct {
	mu       sync.Mutex
	limit    int
	min, max int
	inflight int
	wake     chan struct{} // closed when a slot may have freed
	// sinceCut counts completions since the last cut; -1 = no cut yet.
	sinceCut  int
	cutLimit  int // the limit the last cut set
	successes int
	cuts      atomic.Int64
	report    func(limit int)
}

func newLimiter(min, max int, report func(int)) *limiter {
	min = max1(min)
	if max < min {
		max = min
	}
	l := &limiter{limit: max, min: min, max: max, sinceCut: -1, report: report}
	l.changed()
	return l
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// acquire waits for a slot.
func (l *limiter) acquire(ctx context.Context) error {
	for {
		l.mu.Lock()
		if l.inflight < l.limit {
			l.inflight++
			l.mu.Unlock()
			return nil
		}
		if l.wake == nil {
			l.wake = make(chan struct{})
		}
		w := l.wake
		l.mu.Unlock()
		select {
		case <-w:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// release frees a slot.
func (l *limiter) release() {
	l.mu.Lock()
	l.inflight--
	if l.sinceCut >= 0 {
		l.sinceCut++
	}
	l.successes++
	if l.successes >= l.limit && l.limit < l.max {
		l.limit++
		l.successes = 0
		l.changed()
	}
	l.signal()
	l.mu.Unlock()
}

// throttled records a throttling reply.
func (l *limiter) throttled() {
	l.mu.Lock()
	if l.sinceCut < 0 || l.sinceCut >= l.cutLimit {
		l.limit = max(l.min, l.limit/2)
		l.cutLimit = l.limit
		l.sinceCut = 0
		l.successes = 0
		l.cuts.Add(1)
		l.changed()
	}
	l.mu.Unlock()
}

func (l *limiter) current() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.limit
}

func (l *limiter) signal() {
	if l.wake != nil && l.inflight < l.limit {
		close(l.wake)
		l.wake = nil
	}
}

func (l *limiter) changed() {
	if l.report != nil {
		l.report(l.limit)
	}
}

// isThrottle reports whether err is S3 (or any AWS service) asking the
// client to slow down.
func isThrottle(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code := ae.ErrorCode()
		if _, ok := retry.DefaultThrottleErrorCodes[code]; ok || code == "ServiceUnavailable" || code == "RequestLimitExceeded" {
			return true
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == 503 {
		return true
	}
	return false
}

// observingRetryer wraps the client's retryer: the SDK still retries, and
// every throttled attempt it sees is reported to the limiter.
type observingRetryer struct {
	aws.RetryerV2
	onThrottle func()
}

func (r *observingRetryer) IsErrorRetryable(err error) bool {
	if isThrottle(err) {
		r.onThrottle()
	}
	return r.RetryerV2.IsErrorRetryable(err)
}

// retryerV2 adapts a plain aws.Retryer the way the SDK does.
type retryerV2 struct{ aws.Retryer }

func (r retryerV2) GetAttemptToken(context.Context) (func(error) error, error) {
	return r.GetInitialToken(), nil
}

// observeThrottling returns a per-call option that makes the client's
// retryer report throttling to onThrottle.
func observeThrottling(onThrottle func()) func(*s3.Options) {
	return func(o *s3.Options) {
		if o.Retryer == nil {
			return
		}
		v2, ok := o.Retryer.(aws.RetryerV2)
		if !ok {
			v2 = retryerV2{o.Retryer}
		}
		o.Retryer = &observingRetryer{RetryerV2: v2, onThrottle: onThrottle}
	}
}
