// Package e2e holds the longest end-to-end tests of the envmig binary
// against the emulator: the writers switched off through a run (switches)
// and the CloudFormation stack-swap (stacks). They live apart from package
// main's tests so that `go test ./...` runs them beside those, each package
// with its own emulator.
package e2e
