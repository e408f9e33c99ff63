//go:build !crashtest

package main

import "time"

// stateLease is 0 in release builds: the S3 state lock has the backend's
// default lease (test builds can shorten it, lease_crashtest.go).
func (g *globals) stateLease() time.Duration { return 0 }
