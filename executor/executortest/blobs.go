// Package executortest holds test doubles for code that runs under an
// executor: an in-memory blob store.
package executortest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"sync"

	"github.com/envmig/envmig/executor"
)

// MemBlobs is an in-memory executor.Blobs: a blob becomes visible when its
// writer is closed, like the real stores.
type MemBlobs struct {
	mu    sync.Mutex
	blobs map[string][]byte
}

var _ executor.Blobs = (*MemBlobs)(nil)

func key(run, name string) string { return run + "/" + name }

// CreateBlob starts a blob.
func (m *MemBlobs) CreateBlob(_ context.Context, run, name string) (executor.BlobWriter, error) {
	return &memWriter{m: m, key: key(run, name)}, nil
}

// OpenBlob reads a blob; a missing one is fs.ErrNotExist.
func (m *MemBlobs) OpenBlob(_ context.Context, run, name string) (io.ReadCloser, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.blobs[key(run, name)]
	if !ok {
		return nil, &fs.PathError{Op: "open", Path: key(run, name), Err: fs.ErrNotExist}
	}
	return io.NopCloser(bytes.NewReader(b)), nil
}

type memWriter struct {
	m    *MemBlobs
	key  string
	buf  bytes.Buffer
	done bool
}

func (w *memWriter) Write(p []byte) (int, error) {
	if w.done {
		return 0, errors.New("blob already closed")
	}
	return w.buf.Write(p)
}

func (w *memWriter) Close() error {
	if w.done {
		return errors.New("blob already closed")
	}
	w.done = true
	w.m.mu.Lock()
	defer w.m.mu.Unlock()
	if w.m.blobs == nil {
		w.m.blobs = map[string][]byte{}
	}
	w.m.blobs[w.key] = bytes.Clone(w.buf.Bytes())
	return nil
}

func (w *memWriter) Abort() error {
	w.done = true
	return nil
}
