package statefile

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"
)

// memFS is an in-memory FS that models what a power failure keeps:
//
//   - a file's content is durable as of its last Sync; data written since
//     may be lost, kept, or kept in part (torn);
//   - a directory's entries are durable as of its last SyncDir; the entry
//     changes since (create, link, rename, remove) are kept as a prefix of
//     the order they were made in (0 = all lost, the POSIX minimum; longer
//     prefixes model a journaling filesystem committing some of them);
//   - modes and locks are not durable state (locks die with the process).
//
// Each mutating call is one "operation". With limit >= 0 the power fails
// when operation limit+1 starts: it and every later call fail with
// errPowerLost and change nothing. With failAt > 0 only operation failAt
// fails, with EIO, and the process goes on (error paths). crashImages
// enumerates every disk a reboot could find.
type memFS struct {
	mu     sync.Mutex
	root   *memNode
	ops    int
	limit  int // power fails after this many operations; -1 = never
	failAt int // this operation fails with EIO; 0 = none
	down   bool
	locks  map[string]*memFlock

	// negative controls: the writer's syncs reach the disk as no-ops
	ignoreDirSync, ignoreFileSync bool
}

var (
	errPowerLost    = errors.New("power lost")
	_            FS = (*memFS)(nil)
)

type memNode struct {
	dir  bool
	mode fs.FileMode
	// files
	data, synced []byte
	// directories
	entries, durable map[string]*memNode
	log              []dirOp // entry changes since the last SyncDir, oldest first
}

// dirOp is one atomic change of a directory's entries; a nil node removes.
type dirOp []entrySet

type entrySet struct {
	name string
	node *memNode
}

func newMemFS() *memFS {
	root := &memNode{dir: true, mode: 0o755, entries: map[string]*memNode{}, durable: map[string]*memNode{}}
	return &memFS{root: root, limit: -1, locks: map[string]*memFlock{}}
}

// step starts one operation.
func (m *memFS) step(op, name string) error {
	if m.down {
		return &fs.PathError{Op: op, Path: name, Err: errPowerLost}
	}
	if m.limit >= 0 && m.ops >= m.limit {
		m.down = true
		return &fs.PathError{Op: op, Path: name, Err: errPowerLost}
	}
	m.ops++
	if m.ops == m.failAt {
		return &fs.PathError{Op: op, Path: name, Err: syscall.EIO}
	}
	return nil
}

func (m *memFS) lookup(name string) (*memNode, error) {
	n := m.root
	for _, part := range strings.Split(strings.Trim(path.Clean(name), "/"), "/") {
		if part == "" {
			continue
		}
		if !n.dir {
			return nil, syscall.ENOTDIR
		}
		c, ok := n.entries[part]
		if !ok {
			return nil, fs.ErrNotExist
		}
		n = c
	}
	return n, nil
}

// parent returns the directory holding name, and name's base.
func (m *memFS) parent(name string) (*memNode, string, error) {
	d, err := m.lookup(path.Dir(path.Clean(name)))
	if err != nil {
		return nil, "", err
	}
	if !d.dir {
		return nil, "", syscall.ENOTDIR
	}
	return d, path.Base(name), nil
}

func (d *memNode) apply(op dirOp) {
	for _, e := range op {
		if e.node == nil {
			delete(d.entries, e.name)
		} else {
			d.entries[e.name] = e.node
		}
	}
	d.log = append(d.log, op)
}

func (m *memFS) OpenFile(name string, flag int, perm fs.FileMode) (File, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if flag&os.O_CREATE == 0 {
		if m.down {
			return nil, &fs.PathError{Op: "open", Path: name, Err: errPowerLost}
		}
		n, err := m.lookup(name)
		if err != nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: err}
		}
		return &memFile{m: m, n: n, name: name}, nil
	}
	if err := m.step("open", name); err != nil {
		return nil, err
	}
	d, base, err := m.parent(name)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	n, ok := d.entries[base]
	switch {
	case ok && flag&os.O_EXCL != 0:
		return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrExist}
	case !ok:
		n = &memNode{mode: perm}
		d.apply(dirOp{{base, n}})
	}
	if flag&os.O_TRUNC != 0 {
		n.data = nil
	}
	return &memFile{m: m, n: n, name: name}, nil
}

type memFile struct {
	m      *memFS
	n      *memNode
	name   string
	closed bool
}

func (f *memFile) Write(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.m.step("write", f.name); err != nil {
		return 0, err
	}
	f.n.data = append(f.n.data, p...)
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.m.step("fsync", f.name); err != nil {
		return err
	}
	if !f.m.ignoreFileSync {
		f.n.synced = slices.Clone(f.n.data)
	}
	return nil
}

func (f *memFile) Chmod(mode fs.FileMode) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.m.step("fchmod", f.name); err != nil {
		return err
	}
	f.n.mode = mode
	return nil
}

func (f *memFile) Close() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if f.closed {
		return fs.ErrClosed
	}
	f.closed = true
	return f.m.step("close", f.name)
}

func (m *memFS) ReadFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, &fs.PathError{Op: "read", Path: name, Err: errPowerLost}
	}
	n, err := m.lookup(name)
	if err == nil && n.dir {
		err = syscall.EISDIR
	}
	if err != nil {
		return nil, &fs.PathError{Op: "read", Path: name, Err: err}
	}
	return slices.Clone(n.data), nil
}

func (m *memFS) Stat(name string) (fs.FileInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: errPowerLost}
	}
	n, err := m.lookup(name)
	if err != nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: err}
	}
	return memInfo{name: path.Base(name), n: n}, nil
}

func (m *memFS) Lstat(name string) (fs.FileInfo, error) { return m.Stat(name) }

func (m *memFS) Rename(oldpath, newpath string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.step("rename", oldpath); err != nil {
		return err
	}
	if path.Dir(path.Clean(oldpath)) != path.Dir(path.Clean(newpath)) {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: syscall.EXDEV} // the model renames within a directory only
	}
	d, base, err := m.parent(oldpath)
	if err != nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: err}
	}
	n, ok := d.entries[base]
	if !ok {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	d.apply(dirOp{{base, nil}, {path.Base(newpath), n}})
	return nil
}

func (m *memFS) Link(oldname, newname string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.step("link", newname); err != nil {
		return err
	}
	n, err := m.lookup(oldname)
	if err == nil && n.dir {
		err = syscall.EPERM
	}
	if err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	d, base, err := m.parent(newname)
	if err != nil {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: err}
	}
	if _, ok := d.entries[base]; ok {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: fs.ErrExist}
	}
	d.apply(dirOp{{base, n}})
	return nil
}

func (m *memFS) Remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.step("remove", name); err != nil {
		return err
	}
	d, base, err := m.parent(name)
	if err == nil {
		if n, ok := d.entries[base]; !ok {
			err = fs.ErrNotExist
		} else if n.dir && len(n.entries) > 0 {
			err = syscall.ENOTEMPTY
		}
	}
	if err != nil {
		return &fs.PathError{Op: "remove", Path: name, Err: err}
	}
	d.apply(dirOp{{base, nil}})
	return nil
}

func (m *memFS) MkdirAll(name string, perm fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.root
	for _, part := range strings.Split(strings.Trim(path.Clean(name), "/"), "/") {
		if part == "" {
			continue
		}
		if c, ok := d.entries[part]; ok {
			if !c.dir {
				return &fs.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
			}
			d = c
			continue
		}
		if err := m.step("mkdir", name); err != nil {
			return err
		}
		c := &memNode{dir: true, mode: perm, entries: map[string]*memNode{}, durable: map[string]*memNode{}}
		d.apply(dirOp{{part, c}})
		d = c
	}
	return nil
}

func (m *memFS) Chmod(name string, mode fs.FileMode) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.step("chmod", name); err != nil {
		return err
	}
	n, err := m.lookup(name)
	if err != nil {
		return &fs.PathError{Op: "chmod", Path: name, Err: err}
	}
	n.mode = mode
	return nil
}

func (m *memFS) SyncDir(dir string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if err := m.step("fsync-dir", dir); err != nil {
		return err
	}
	d, err := m.lookup(dir)
	if err == nil && !d.dir {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return &fs.PathError{Op: "fsync", Path: dir, Err: err}
	}
	if !m.ignoreDirSync {
		d.durable = maps.Clone(d.entries)
		d.log = nil
	}
	return nil
}

// memFlock is a lock on a path, held by one memFlock at a time.
type memFlock struct {
	m    *memFS
	path string
}

func (m *memFS) Flock(name string) Flocker { return &memFlock{m: m, path: path.Clean(name)} }

func (l *memFlock) TryLock() (bool, error) {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if err := l.m.step("flock", l.path); err != nil {
		return false, err
	}
	d, base, err := l.m.parent(l.path)
	if err != nil {
		return false, &fs.PathError{Op: "open", Path: l.path, Err: err}
	}
	if _, ok := d.entries[base]; !ok {
		d.apply(dirOp{{base, &memNode{mode: 0o600}}})
	}
	if h := l.m.locks[l.path]; h != nil && h != l {
		return false, nil
	}
	l.m.locks[l.path] = l
	return true, nil
}

func (l *memFlock) Unlock() error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if l.m.locks[l.path] == l {
		delete(l.m.locks, l.path)
	}
	return nil
}

type memInfo struct {
	name string
	n    *memNode
}

func (i memInfo) Name() string { return i.name }
func (i memInfo) Size() int64  { return int64(len(i.n.data)) }
func (i memInfo) Mode() fs.FileMode {
	if i.n.dir {
		return fs.ModeDir | i.n.mode
	}
	return i.n.mode
}
func (i memInfo) ModTime() time.Time { return time.Time{} }
func (i memInfo) IsDir() bool        { return i.n.dir }
func (i memInfo) Sys() any           { return nil }

// names lists the entries of dir, sorted.
func (m *memFS) names(dir string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	d, err := m.lookup(dir)
	if err != nil || !d.dir {
		return nil
	}
	out := slices.Collect(maps.Keys(d.entries))
	sort.Strings(out)
	return out
}

func (m *memFS) Open(name string) (io.ReadCloser, error) {
	data, err := m.ReadFile(name)
	if err != nil {
		return nil, err
	}
	return io.NopCloser(bytes.NewReader(data)), nil
}

func (m *memFS) ReadDir(name string) ([]fs.DirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.down {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: errPowerLost}
	}
	d, err := m.lookup(name)
	if err == nil && !d.dir {
		err = syscall.ENOTDIR
	}
	if err != nil {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: err}
	}
	var out []fs.DirEntry
	for _, n := range slices.Sorted(maps.Keys(d.entries)) {
		out = append(out, fs.FileInfoToDirEntry(memInfo{name: n, n: d.entries[n]}))
	}
	return out, nil
}

func (m *memFS) FlockHeld(name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.locks[path.Clean(name)] != nil, nil
}
