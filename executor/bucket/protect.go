package bucket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// MaxKeptKeys is how many kept keys a Result names; Kept counts them all.
const MaxKeptKeys = 100

// errKept says a protected destination object changed after the guard
// allowed the copy: the copy was not made and the object is kept.
var errKept = errors.New("the destination object changed since its manifest")

// guard decides, for a Syncer with Protect, which destination objects the
// sync may overwrite or delete: only those that still equal their entry
// in the destination's verified manifest. It is read by the planning
// goroutine alone, in key order.
type guard struct {
	mc *manifestCursor
}

func newGuard(r io.Reader, dstBucket string) (*guard, error) {
	if err := checkFirst(r); err != nil {
		return nil, fmt.Errorf("read the protecting manifest of %s: %w", dstBucket, err)
	}
	m, err := OpenManifest(r)
	if err != nil {
		return nil, fmt.Errorf("read the protecting manifest of %s: %w", dstBucket, err)
	}
	if h := m.Header(); h.Bucket != dstBucket {
		return nil, fmt.Errorf("the protecting manifest is of bucket %s, not of the destination %s", h.Bucket, dstBucket)
	}
	return &guard{mc: &manifestCursor{r: m, currentOnly: m.Header().Versions}}, nil
}

// allow reports whether the sync may act on key, whose destination object
// is dst (nil: absent). A present object may be overwritten or deleted
// only when it equals its manifest entry; an absent one may be created
// only when the manifest does not have it either (otherwise it was
// deleted after verification, and stays deleted). Keys must come in
// increasing order.
func (g *guard) allow(key string, dst *Object) (bool, error) {
	e, ok, err := g.mc.seek(key, nil)
	if err != nil {
		return false, err
	}
	if ok {
		g.mc.next()
	}
	if dst == nil {
		return !ok, nil
	}
	return ok && sameState(e, entryOf(dst)), nil
}

// finish reads the rest of the manifest so that its trailer is checked.
func (g *guard) finish() error { return g.mc.rest(nil) }

// keptKeys collects the objects protection kept; safe for concurrent use.
type keptKeys struct {
	mu   sync.Mutex
	n    int64
	keys []string
}

func (k *keptKeys) add(key string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.n++
	k.keys = append(k.keys, key)
	if len(k.keys) >= 2*MaxKeptKeys {
		k.trim()
	}
}

// trim keeps the first MaxKeptKeys keys in key order.
func (k *keptKeys) trim() {
	sort.Strings(k.keys)
	k.keys = k.keys[:min(len(k.keys), MaxKeptKeys)]
}

func (k *keptKeys) result() (int64, []string) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.trim()
	return k.n, append([]string(nil), k.keys...)
}

// recheck looks at the destination object right before a protected copy
// replaces or creates it: it must still have the ETag the listing showed
// (t.dst), or still be absent. Otherwise it returns errKept.
func (s *Syncer) recheck(ctx context.Context, t task) error {
	in := &s3.HeadObjectInput{Bucket: aws.String(s.DstBucket), Key: aws.String(t.src.Key)}
	if t.dst.Key != "" {
		in.IfMatch = aws.String(`"` + t.dst.ETag + `"`)
	}
	_, err := s.Dst.HeadObject(ctx, in, s.observe)
	switch {
	case err == nil && t.dst.Key == "":
		return errKept // written since the listing
	case err == nil:
		return nil
	case t.dst.Key != "" && (isNotFound(err) || errorCode(err) == "PreconditionFailed"):
		return errKept // deleted or rewritten since the listing
	case t.dst.Key == "" && isNotFound(err):
		return nil
	}
	return fmt.Errorf("read destination %s: %w", t.src.Key, err)
}

// allowed asks Protect whether the sync may act on key; a refusal counts
// the object as kept.
func (s *Syncer) allowed(key string, dst *Object) (bool, error) {
	if s.guard == nil {
		return true, nil
	}
	ok, err := s.guard.allow(key, dst)
	if err == nil && !ok {
		s.kept.add(key)
		s.Progress.kept.Add(1)
	}
	return ok, err
}
