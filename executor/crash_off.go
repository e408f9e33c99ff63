//go:build !crashtest

package executor

// crashHook is nil in release builds: crash points cost one nil check.
var crashHook func(op, stepID, point string)
