//go:build crashtest

package main

import "time"

// stateLease is the lease test builds give the S3 state lock: the
// duration in stateLeaseEnv (0: the backend's default).
func (g *globals) stateLease() time.Duration {
	d, err := time.ParseDuration(g.getenv(stateLeaseEnv))
	if err != nil || d <= 0 {
		return 0
	}
	return d
}
