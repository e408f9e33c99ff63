package statefile

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"runtime"
	"syscall"

	"github.com/gofrs/flock"
)

// FS is every filesystem operation a Store performs: Save, Load and the
// lock go through it and through nothing else, so a test can replace the
// disk with one that models what a power failure keeps (suite J).
type FS interface {
	// OpenFile opens or creates a file (os.OpenFile flags).
	OpenFile(name string, flag int, perm fs.FileMode) (File, error)
	ReadFile(name string) ([]byte, error)
	// Open opens a file for reading (a blob).
	Open(name string) (io.ReadCloser, error)
	// ReadDir lists a directory's entries, sorted by name.
	ReadDir(name string) ([]fs.DirEntry, error)
	Stat(name string) (fs.FileInfo, error)
	Lstat(name string) (fs.FileInfo, error)
	// Rename replaces newpath atomically; the Store only renames within one
	// directory.
	Rename(oldpath, newpath string) error
	// Link makes newname a second name of oldname's file.
	Link(oldname, newname string) error
	Remove(name string) error
	MkdirAll(path string, perm fs.FileMode) error
	Chmod(name string, mode fs.FileMode) error
	// SyncDir makes the directory's entries (creates, renames, links,
	// removes) durable.
	SyncDir(dir string) error
	// Flock returns an advisory exclusive lock on path, created if missing.
	Flock(path string) Flocker
	// FlockHeld reports whether some process holds a Flock on path,
	// without taking it. It returns an error matching
	// errors.ErrUnsupported when this system cannot tell.
	FlockHeld(path string) (bool, error)
}

// File is an open file being written.
type File interface {
	Write(p []byte) (int, error)
	// Sync makes the file's content durable.
	Sync() error
	Chmod(mode fs.FileMode) error
	Close() error
}

// Flocker is an advisory lock held through one open file description;
// *flock.Flock satisfies it. TryLock never blocks.
type Flocker interface {
	TryLock() (bool, error)
	Unlock() error
}

// OSFS is the real filesystem.
type OSFS struct{}

var (
	_ FS      = OSFS{}
	_ File    = (*os.File)(nil)
	_ Flocker = (*flock.Flock)(nil)
)

func (OSFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	f, err := os.OpenFile(name, flag, perm)
	if err != nil {
		return nil, err // a nil *os.File must not become a non-nil File
	}
	return f, nil
}

func (OSFS) ReadFile(name string) ([]byte, error)         { return os.ReadFile(name) }
func (OSFS) ReadDir(name string) ([]fs.DirEntry, error)   { return os.ReadDir(name) }
func (OSFS) Stat(name string) (fs.FileInfo, error)        { return os.Stat(name) }
func (OSFS) Lstat(name string) (fs.FileInfo, error)       { return os.Lstat(name) }
func (OSFS) Rename(oldpath, newpath string) error         { return os.Rename(oldpath, newpath) }
func (OSFS) Link(oldname, newname string) error           { return os.Link(oldname, newname) }
func (OSFS) Remove(name string) error                     { return os.Remove(name) }
func (OSFS) MkdirAll(path string, perm fs.FileMode) error { return os.MkdirAll(path, perm) }
func (OSFS) Chmod(name string, mode fs.FileMode) error    { return os.Chmod(name, mode) }

// Open opens name for reading.
func (OSFS) Open(name string) (io.ReadCloser, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err // a nil *os.File must not become a non-nil ReadCloser
	}
	return f, nil
}

// Flock locks path with flock(2) (fcntl on systems without it). The lock
// belongs to the open file description: it is released when the process
// exits, however it exits.
func (OSFS) Flock(path string) Flocker {
	return flock.New(path, flock.SetPermissions(0o600))
}

// SyncDir fsyncs the directory. Filesystems that cannot sync a directory
// (EINVAL, ENOTSUP) and Windows, where directories cannot be opened for
// syncing, offer nothing stronger, so those errors are ignored.
func (OSFS) SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP) {
		err = nil
	}
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	return err
}
