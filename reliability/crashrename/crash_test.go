package crashrename

import (
	"testing"

	"github.com/envmig/envmig/reliability/crashrun"
)

// TestCrashSuitePart2 is suite C's second half: see the reliability
// package's TestCrashSuite.
func TestCrashSuitePart2(t *testing.T) { crashrun.RunPart(t, crashrun.RenameSwap(), 2, 2) }
