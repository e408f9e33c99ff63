package statefile

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"syscall"
)

// FlockHeld reads /proc/locks, the kernel's list of the locks held now, for
// an flock on path's inode: it sees the lock without taking it, so a
// reader never makes a concurrent Lock fail.
func (OSFS) FlockHeld(path string) (bool, error) {
	fi, err := os.Stat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return false, errors.ErrUnsupported
	}
	f, err := os.Open("/proc/locks")
	if err != nil {
		return false, fmt.Errorf("read /proc/locks: %w", errors.Join(errors.ErrUnsupported, err))
	}
	defer f.Close()
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^uint64(0xfff)
	minor := dev&0xff | (dev>>12)&^uint64(0xff)
	// "1: FLOCK  ADVISORY  WRITE 31099 fe:00:9977864 0 EOF"; a waiter's
	// line starts "1: -> FLOCK ...".
	want := fmt.Sprintf("%02x:%02x:%d", major, minor, st.Ino)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || fields[1] != "FLOCK" {
			continue
		}
		if fields[5] == want {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read /proc/locks: %w", err)
	}
	return false, nil
}
