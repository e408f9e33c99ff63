package s3state

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/envmig/envmig/statefile"
)

// lockObject is the content of the lock object: the holder and the length
// of its lease.
type lockObject struct {
	statefile.LockInfo
	LeaseMillis int64 `json:"lease_ms"`
}

// holder is the lock object as read.
type holder struct {
	info    statefile.LockInfo // zero when unreadable
	etag    string
	expired bool
}

// readLock reads the lock object; ok is false when there is none. The lease
// is judged by S3's clock, so that the holders' clocks do not matter: it
// has expired when the response's Date is at least the lease (plus a
// second, both being whole seconds) past the object's Last-Modified, which
// every renewal moves.
func (j *Journal) readLock(ctx context.Context) (h holder, ok bool, err error) {
	key := j.lockKey()
	out, err := j.b.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &j.b.o.Bucket, Key: &key, ExpectedBucketOwner: j.b.owner()})
	if notFound(err) {
		return holder{}, false, nil
	}
	if err != nil {
		return holder{}, false, fmt.Errorf("read the state lock %s: %w", j.b.url(key), err)
	}
	defer out.Body.Close()
	data, err := io.ReadAll(out.Body)
	if err != nil {
		return holder{}, false, fmt.Errorf("read the state lock %s: %w", j.b.url(key), err)
	}
	h.etag = aws.ToString(out.ETag)
	lease := j.b.o.Lease // for a lock object that cannot be read
	var obj lockObject
	if json.Unmarshal(data, &obj) == nil && obj.ID != "" {
		h.info = obj.LockInfo
		if obj.LeaseMillis > 0 {
			lease = time.Duration(obj.LeaseMillis) * time.Millisecond
		}
	}
	now := time.Now()
	if raw, ok := awsmiddleware.GetRawResponse(out.ResultMetadata).(*smithyhttp.Response); ok {
		if d, err := http.ParseTime(raw.Header.Get("Date")); err == nil {
			now = d
		}
	}
	if out.LastModified != nil {
		h.expired = now.Sub(*out.LastModified) >= lease+time.Second
	}
	return h, true, nil
}

// lockBody is the lock object of info, whose lease starts at sent.
func (j *Journal) lockBody(info statefile.LockInfo, sent time.Time) []byte {
	info.Expires = sent.Add(j.b.o.Lease).UTC()
	data, err := json.MarshalIndent(lockObject{LockInfo: info, LeaseMillis: j.b.o.Lease.Milliseconds()}, "", "  ")
	if err != nil {
		panic(err) // strings, numbers and times always encode
	}
	return data
}

// Lock takes the journal's lock: it creates the lock object with
// If-None-Match: *, or takes over one whose lease has expired with If-Match
// on that object's ETag (TookOver then names the previous holder). A live
// holder is refused with a *statefile.LockError naming it, at once with
// timeout 0 (one round trip: well under a second), or when timeout passes,
// trying again every RetryEvery. The holder renews its lease every
// RenewEvery (If-Match on its own ETag) until Unlock. If it cannot (another
// process took the lock over or force-unlocked it, or S3 could not be
// reached before the lease ended), the Lock is lost (Lock.Lost, Lock.Err)
// and this Journal refuses to save from then on.
func (j *Journal) Lock(ctx context.Context, info statefile.LockInfo, timeout time.Duration) (*statefile.Lock, error) {
	if err := j.checkName(); err != nil {
		return nil, err
	}
	info = info.Filled()
	var deadline <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		deadline = t.C
	}
	var tookOver *statefile.LockInfo // the holder of the last takeover tried
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("wait for the state lock of %q: %w", j.name, err)
		}
		sent := time.Now()
		cctx, cancel := context.WithTimeout(ctx, j.b.o.CallTimeout)
		etag, err := j.putIf(cctx, j.lockKey(), j.lockBody(info, sent), "")
		if err == nil {
			cancel()
			return j.hold(info, etag, sent, nil), nil
		}
		if !preconditionFailed(err) {
			cancel()
			return nil, fmt.Errorf("lock state %s: %w", j.b.url(j.lockKey()), err)
		}
		h, ok, err := j.readLock(cctx)
		switch {
		case err != nil:
			cancel()
			return nil, err
		case !ok:
			cancel()
			continue // released in between: try again at once
		case h.info.ID == info.ID:
			// Our own write, whose answer was lost and whose retry the SDK
			// made: we hold the lock.
			cancel()
			return j.hold(info, h.etag, sent, tookOver), nil
		case h.expired:
			sent = time.Now()
			prev := h.info
			tookOver = &prev
			etag, err := j.putIf(cctx, j.lockKey(), j.lockBody(info, sent), h.etag)
			cancel()
			if err == nil {
				return j.hold(info, etag, sent, tookOver), nil
			}
			if !preconditionFailed(err) {
				return nil, fmt.Errorf("take over the state lock %s: %w", j.b.url(j.lockKey()), err)
			}
			continue // someone else renewed or took it: look again
		}
		cancel()
		lockErr := &statefile.LockError{Name: j.name, Path: j.b.url(j.lockKey()), Info: h.info}
		if timeout <= 0 {
			return nil, lockErr
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("wait for the state lock of %q: %w", j.name, ctx.Err())
		case <-deadline:
			return nil, lockErr
		case <-time.After(j.b.o.RetryEvery):
		}
	}
}

// lease is a held lock being renewed.
type lease struct {
	j    *Journal
	info statefile.LockInfo
	lock *statefile.Lock
	lose func(error)
	stop chan struct{}
	done chan struct{}

	mu       sync.Mutex
	etag     string    // of the lock object as last written
	deadline time.Time // the lease's end by this clock: when its last write was sent, plus the lease
}

// hold starts renewing the lock just written.
func (j *Journal) hold(info statefile.LockInfo, etag string, sent time.Time, prev *statefile.LockInfo) *statefile.Lock {
	ls := &lease{j: j, info: info, etag: etag, deadline: sent.Add(j.b.o.Lease), stop: make(chan struct{}), done: make(chan struct{})}
	ls.lock, ls.lose = statefile.NewLock(info, prev, ls.release)
	j.mu.Lock()
	j.held = ls
	j.mu.Unlock()
	go ls.renew()
	return ls.lock
}

// check returns why the lock is lost, or nil. A lease whose end has passed
// without a renewal is lost, even if the renewal has not noticed yet: by
// S3's clock it may soon be taken over.
func (ls *lease) check() error {
	if err := ls.lock.Err(); err != nil {
		return err
	}
	ls.mu.Lock()
	expired := time.Now().After(ls.deadline)
	ls.mu.Unlock()
	if expired {
		ls.lost("its lease ended before it could be renewed", nil, false)
		return ls.lock.Err()
	}
	return nil
}

// lost marks the lock lost. With lookup (S3 just refused a renewal, so it
// answers) it first reads who holds the lock now; otherwise the loss is
// signalled at once, before anyone may take the lock over.
func (ls *lease) lost(reason string, err error, lookup bool) {
	e := &statefile.LockLostError{Name: ls.j.name, Lock: ls.info, Reason: reason, Err: err}
	if lookup {
		ctx, cancel := ls.j.b.call()
		if h, ok, rerr := ls.j.readLock(ctx); rerr == nil && ok && h.info.ID != "" && h.info.ID != ls.info.ID {
			e.By = &h.info
		}
		cancel()
	}
	ls.lose(e)
}

// renew rewrites the lock object every RenewEvery, conditional on its own
// ETag, until release or the loss of the lock. Failed renewals are tried
// again every RetryEvery until the lease ends; then the lock is lost. A
// renewal that comes late (the process stalled) is still tried: it is
// conditional, so it succeeds only if nobody took the lock meanwhile, and
// otherwise names who did.
func (ls *lease) renew() {
	defer close(ls.done)
	o := ls.j.b.o
	t := time.NewTimer(o.RenewEvery)
	defer t.Stop()
	var lastErr error // of the renewals that failed since the last success
	for {
		select {
		case <-ls.stop:
			return
		case <-t.C:
		}
		if gate := ls.j.b.renewGate; gate != nil {
			select {
			case <-ls.stop:
				return
			case <-gate:
			}
		}
		if ls.lock.Err() != nil {
			return // a Save found the lease ended
		}
		ls.mu.Lock()
		etag, deadline := ls.etag, ls.deadline
		ls.mu.Unlock()
		if lastErr != nil && time.Now().After(deadline) {
			ls.lost("it could not be renewed before its lease ended", lastErr, false)
			return
		}
		sent := time.Now()
		callEnd := deadline
		if sent.After(deadline) {
			callEnd = sent.Add(o.CallTimeout) // late: nothing left to protect by hurrying
		}
		ctx, cancel := context.WithDeadline(context.Background(), callEnd)
		newETag, err := ls.j.putIf(ctx, ls.j.lockKey(), ls.j.lockBody(ls.info, sent), etag)
		cancel()
		switch {
		case err == nil:
			ls.mu.Lock()
			ls.etag, ls.deadline = newETag, sent.Add(o.Lease)
			ls.mu.Unlock()
			lastErr = nil
			t.Reset(o.RenewEvery)
		case preconditionFailed(err) && ls.adopt(sent):
			lastErr = nil
			t.Reset(o.RenewEvery)
		case preconditionFailed(err):
			ls.lost("another process took it over or force-unlocked it", nil, true)
			return
		case time.Now().After(deadline):
			ls.lost("it could not be renewed before its lease ended", err, false)
			return
		default:
			lastErr = err
			t.Reset(min(o.RetryEvery, time.Until(deadline)))
		}
	}
}

// adopt recognises a renewal sent at sent whose answer was lost, and whose
// retry by the SDK failed its condition on the renewal itself: the lock
// object is still this holder's. It takes the object's ETag.
func (ls *lease) adopt(sent time.Time) bool {
	ctx, cancel := ls.j.b.call()
	defer cancel()
	h, ok, err := ls.j.readLock(ctx)
	if err != nil || !ok || h.info.ID != ls.info.ID {
		return false
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	ls.etag = h.etag
	if h.info.Expires.Equal(sent.Add(ls.j.b.o.Lease).UTC()) {
		ls.deadline = sent.Add(ls.j.b.o.Lease)
	}
	return true
}

// release stops the renewal and deletes the lock object if it is still
// this lock's (If-Match on its last ETag), lost or not: a lock taken over
// is left to its new holder.
func (ls *lease) release() error {
	close(ls.stop)
	<-ls.done
	j := ls.j
	j.mu.Lock()
	if j.held == ls {
		j.held = nil
	}
	j.mu.Unlock()
	ls.mu.Lock()
	etag := ls.etag
	ls.mu.Unlock()
	ctx, cancel := j.b.call()
	defer cancel()
	_, err := j.b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &j.b.o.Bucket, Key: aws.String(j.lockKey()), IfMatch: aws.String(etag), ExpectedBucketOwner: j.b.owner()})
	if err != nil && !preconditionFailed(err) {
		return fmt.Errorf("release the state lock %s: %w", j.b.url(j.lockKey()), err)
	}
	return nil
}

// LockInfo returns the holder recorded in the lock object (nil when there is
// none) and whether its lease is live. It never takes the lock.
func (j *Journal) LockInfo() (*statefile.LockInfo, bool, error) {
	if err := j.checkName(); err != nil {
		return nil, false, err
	}
	ctx, cancel := j.b.call()
	defer cancel()
	h, ok, err := j.readLock(ctx)
	if err != nil || !ok {
		return nil, false, err
	}
	info := h.info
	return &info, !h.expired, nil
}

// ForceUnlock deletes the lock object when its holder's ID is id (If-Match
// on the ETag read, so a lock that changes meanwhile is not deleted). A
// holder that is in fact alive finds out at its next renewal: its lock is
// lost and its saves refused.
func (j *Journal) ForceUnlock(id string) (statefile.LockInfo, error) {
	if err := j.checkName(); err != nil {
		return statefile.LockInfo{}, err
	}
	ctx, cancel := j.b.call()
	defer cancel()
	h, ok, err := j.readLock(ctx)
	if err != nil {
		return statefile.LockInfo{}, err
	}
	if !ok || id == "" || h.info.ID != id {
		e := &statefile.LockMismatchError{Name: j.name, Given: id}
		if ok && h.info.ID != "" {
			e.Current = &h.info
		}
		return statefile.LockInfo{}, e
	}
	_, err = j.b.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &j.b.o.Bucket, Key: aws.String(j.lockKey()), IfMatch: aws.String(h.etag), ExpectedBucketOwner: j.b.owner()})
	if preconditionFailed(err) {
		return statefile.LockInfo{}, fmt.Errorf("force-unlock %q: the lock changed while it was being removed; run `envmig status` and try again", j.name)
	}
	if err != nil {
		return statefile.LockInfo{}, fmt.Errorf("force-unlock %q: %w", j.name, err)
	}
	return h.info, nil
}
