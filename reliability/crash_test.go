package reliability

import (
	"testing"

	"github.com/envmig/envmig/reliability/crashrun"
)

// Suite C on the demo's plan, rename-swap: envmig killed with SIGKILL at
// the crash points of its steps, then recovered by resume and, before the
// point of no return, by rollback (the runner and the CI sample are
// crashrun's, see crashrun.RenameSwap). The full suite kills every step at
// every point. This package runs every other case, from the first;
// reliability/crashrename the others, side by side.
//
// The same runner kills the plan with the journal in the S3 state backend
// and kills the recoveries themselves (reliability/crashs3), and kills two
// more plans, clone-swap and a region move (reliability/crashplans): each
// its own package, so that go test runs them side by side.
func TestCrashSuite(t *testing.T) { crashrun.RunPart(t, crashrun.RenameSwap(), 1, 2) }
