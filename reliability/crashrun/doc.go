// Package crashrun is the runner of the crash suite (suite C of the design's
// RELIABILITY.md), shared by the test packages that kill envmig's plans:
// reliability (rename-swap), reliability/crashs3 (rename-swap with the
// journal in the S3 state backend, and the recoveries themselves killed)
// and reliability/crashplans (clone-swap and a region move). They are
// separate packages so that `go test -p N` runs them side by side, each
// against its own emulator.
//
// The crashtest build's hook kills envmig with SIGKILL at a crash point of
// a step (before the intent is journaled, after it, after AWS accepted the
// call, while waiting); then resume, and before the point of no return
// also rollback, must converge: after a rollback the world is exactly as
// before; after a resume it is migrated as the Scenario says. The killed
// process held the lock: the recovery must take it over by itself.
//
// A Scenario is one plan, the world it starts from, the CI sample of its
// crash points and what a finished run must have made of the world. Run
// kills it at every case of the sample (every step at every point under
// clitest.Full, that is ENVMIG_RELIABILITY=full) and reports the suite's
// figures (clitest.Report) under Scenario.Suite.
//
// The package is used by tests only: its functions take a *testing.T and
// need the binaries clitest.Main builds in the test package's TestMain.
package crashrun
