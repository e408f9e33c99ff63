package statefile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"
)

// Blobs beside a local journal: <dir>/<name>.blobs/<run>/<blob>, each file
// 0600 in directories 0700, written like the state (temp file, fsync,
// rename, fsync of the directory).

func (s *Store) blobDir() string { return filepath.Join(s.dir, s.name+".blobs") }

// blobPath checks run and name and returns the blob's file.
func (s *Store) blobPath(run, name string) (string, error) {
	if err := s.checkName(); err != nil {
		return "", err
	}
	if !ValidName(run) || !ValidName(name) {
		return "", fmt.Errorf("%w: blob %q of run %q: use letters, digits, '.', '-' and '_'", ErrInvalidName, name, run)
	}
	return filepath.Join(s.blobDir(), run, name), nil
}

// CreateBlob starts writing the blob name of run; see Journal.CreateBlob.
// The content goes to a temp file beside the blob; Close fsyncs it, renames
// it over the blob and fsyncs the directory.
func (s *Store) CreateBlob(ctx context.Context, run, name string) (BlobWriter, error) {
	path, err := s.blobPath(run, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	held := s.held
	s.mu.Unlock()
	if held != nil {
		if err := held.Err(); err != nil {
			return nil, err
		}
	}
	if err := ensureDirs(s.fs, filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("create blob %s: %w", path, err)
	}
	tmp := tempName(path)
	f, err := s.fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if err != nil {
		return nil, fmt.Errorf("create blob %s: %w", path, err)
	}
	if err := f.Chmod(fileMode); err != nil {
		f.Close()
		_ = s.fs.Remove(tmp)
		return nil, fmt.Errorf("create blob %s: %w", path, err)
	}
	return &localBlob{s: s, ctx: ctx, f: f, tmp: tmp, path: path}, nil
}

type localBlob struct {
	s         *Store
	ctx       context.Context
	f         File
	tmp, path string

	mu   sync.Mutex
	done bool
}

var errBlobDone = errors.New("blob already closed or aborted")

func (b *localBlob) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return 0, errBlobDone
	}
	if err := b.ctx.Err(); err != nil {
		return 0, err
	}
	return b.f.Write(p)
}

// Close stores the blob; on error the blob is as it was before.
func (b *localBlob) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return errBlobDone
	}
	b.done = true
	err := b.ctx.Err()
	if err == nil {
		err = b.f.Sync()
	}
	if cerr := b.f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = b.s.fs.Rename(b.tmp, b.path)
	}
	if err != nil {
		_ = b.s.fs.Remove(b.tmp)
		return fmt.Errorf("store blob %s: %w", b.path, err)
	}
	if err := b.s.fs.SyncDir(filepath.Dir(b.path)); err != nil {
		return fmt.Errorf("store blob %s: sync directory: %w", b.path, err)
	}
	return nil
}

// Abort discards the blob.
func (b *localBlob) Abort() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.done {
		return errBlobDone
	}
	b.done = true
	b.f.Close() // the temp file is removed either way
	return b.s.fs.Remove(b.tmp)
}

// OpenBlob streams a blob; see Journal.OpenBlob.
func (s *Store) OpenBlob(ctx context.Context, run, name string) (io.ReadCloser, error) {
	path, err := s.blobPath(run, name)
	if err != nil {
		return nil, err
	}
	r, err := s.fs.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, &NotFoundError{Path: path}
	}
	if err != nil {
		return nil, fmt.Errorf("open blob: %w", err)
	}
	return r, nil
}

// Blobs lists the journal's blobs, sorted by run then name; temp files of
// unfinished writes are not listed.
func (s *Store) Blobs(ctx context.Context) ([]BlobInfo, error) {
	if err := s.checkName(); err != nil {
		return nil, err
	}
	runs, err := s.fs.ReadDir(s.blobDir())
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list blobs: %w", err)
	}
	var out []BlobInfo
	for _, r := range runs {
		if !r.IsDir() || !ValidName(r.Name()) {
			continue
		}
		files, err := s.fs.ReadDir(filepath.Join(s.blobDir(), r.Name()))
		if err != nil {
			return nil, fmt.Errorf("list blobs: %w", err)
		}
		for _, f := range files {
			if !f.Type().IsRegular() || !ValidName(f.Name()) {
				continue
			}
			fi, err := f.Info()
			if err != nil {
				return nil, fmt.Errorf("list blobs: %w", err)
			}
			out = append(out, BlobInfo{Run: r.Name(), Name: f.Name(), Size: fi.Size()})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Run != out[j].Run {
			return out[i].Run < out[j].Run
		}
		return out[i].Name < out[j].Name
	})
	return out, nil
}
