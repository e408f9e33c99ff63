//go:build !linux

package statefile

import "errors"

// FlockHeld cannot see another process's flock without taking it here:
// LockInfo falls back on the holder's process ID.
func (OSFS) FlockHeld(path string) (bool, error) { return false, errors.ErrUnsupported }
