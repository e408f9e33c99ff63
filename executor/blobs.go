package executor

import (
	"context"
	"errors"
	"io"

	"github.com/envmig/envmig/statefile"
)

// BlobWriter is a blob being written: Close stores it (readers see the
// previous blob or the complete new one, never a part), Abort discards it.
type BlobWriter = statefile.BlobWriter

// Blobs keeps large records of a run beside its journal (the manifests of
// the buckets it copies): too big for the journal itself, and needed by
// whichever machine resumes the run. The journal's backend provides them.
type Blobs interface {
	CreateBlob(ctx context.Context, run, name string) (BlobWriter, error)
	OpenBlob(ctx context.Context, run, name string) (io.ReadCloser, error)
}

// A journal of any backend keeps the blobs of its runs.
var _ Blobs = (statefile.Journal)(nil)

// ErrNoBlobs is returned by a StepContext that has no blob store (a
// handler test that did not set one).
var ErrNoBlobs = errors.New("this run has no blob store")

// CreateBlob starts writing the run's blob name.
func (sc *StepContext) CreateBlob(ctx context.Context, name string) (BlobWriter, error) {
	if sc.blobs == nil {
		return nil, ErrNoBlobs
	}
	return sc.blobs.CreateBlob(ctx, sc.Lineage(), name)
}

// OpenBlob reads the blob name of run ("" = this run).
func (sc *StepContext) OpenBlob(ctx context.Context, run, name string) (io.ReadCloser, error) {
	if sc.blobs == nil {
		return nil, ErrNoBlobs
	}
	if run == "" {
		run = sc.Lineage()
	}
	return sc.blobs.OpenBlob(ctx, run, name)
}

// TestBlobs sets a StepContext's blob store; for handler tests.
func (sc *StepContext) TestBlobs(b Blobs) { sc.blobs = b }
