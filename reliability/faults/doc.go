// Package faults holds the reliability suites that change the world under a
// run: API faults (F, through a fault-injecting proxy) with the permanent
// errors, and out-of-band changes during the standby (O). They live apart
// from package reliability so that `go test ./...` runs them beside the
// crash suite, each package with its own emulator.
package faults
