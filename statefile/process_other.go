//go:build !unix

package statefile

// processAlive cannot tell here: the holder is taken to be running.
func processAlive(pid int) bool { return pid > 0 }
